"""What else must go when people, exams, sessions or institutions are deleted.

Rows go by the database's cascade. What lives outside those rows (frame and face files, the face
engine's collection, DynamoDB items) is known only to the apps above: they register an eraser
here (proctoring does in its AppConfig.ready), and the delete services of accounts and exams call
``erase_dependents`` inside their transaction, before the rows go, so that apps keep depending
one way (accounts <- exams <- proctoring) and no delete path can skip the erasure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Erasure:
    """Ids about to be deleted; an eraser removes everything that belongs to any of them."""

    institution_id: int | None = None
    user_ids: tuple[int, ...] = ()
    exam_ids: tuple[int, ...] = ()
    session_ids: tuple[int, ...] = ()


Eraser = Callable[[Erasure], None]
_erasers: list[Eraser] = []


def register_eraser(eraser: Eraser) -> None:
    if eraser not in _erasers:
        _erasers.append(eraser)


def erase_dependents(erasure: Erasure) -> None:
    """Call every eraser. Precondition: inside the transaction that deletes the rows."""
    for eraser in _erasers:
        eraser(erasure)
