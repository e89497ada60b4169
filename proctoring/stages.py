"""Cheap per-stage timing of a frame's analysis (CPU and wall milliseconds), logged by the task.

``timed("engine", fn, ...)`` calls ``fn`` and, inside ``collect()``, adds its CPU time and wall time to that
stage; outside ``collect()`` it only calls ``fn``. CPU is the process's (the engine's models run on their
own threads too): a solo or prefork worker process runs one task at a time, so it is the frame's own.
scripts/bench_scale.py reads the log lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
_current: ContextVar[dict[str, list[float]] | None] = ContextVar("frame_stages", default=None)


def timed(stage: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    found = _current.get()
    if found is None:
        return fn(*args, **kwargs)
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        spent = found.setdefault(stage, [0.0, 0.0])
        spent[0] += (time.process_time() - cpu) * 1000
        spent[1] += (time.perf_counter() - wall) * 1000


@contextmanager
def collect() -> Iterator[dict[str, list[float]]]:
    """Collect the stages timed inside; on exit adds "total" (everything, the untimed rest included)."""
    found: dict[str, list[float]] = {}
    token = _current.set(found)
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        yield found
    finally:
        _current.reset(token)
        found["total"] = [(time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000]


def line(found: dict[str, list[float]]) -> str:
    """``stage=cpu/wall`` in ms, e.g. ``engine=310.2/322.9 total=350.0/371.4``; the rest is "other"."""
    timed_cpu = sum(v[0] for k, v in found.items() if k != "total")
    timed_wall = sum(v[1] for k, v in found.items() if k != "total")
    total = found.get("total", [timed_cpu, timed_wall])
    parts = {**{k: v for k, v in found.items() if k != "total"},
             "other": [max(0.0, total[0] - timed_cpu), max(0.0, total[1] - timed_wall)], "total": total}
    return " ".join(f"{k}={cpu:.1f}/{wall:.1f}" for k, (cpu, wall) in parts.items())
