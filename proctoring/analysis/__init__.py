"""One Rekognition-shaped interface for image analysis, with two backends.

``get_backend()`` answers the backend named by ANALYSIS_BACKEND: ``local`` (default, embedded
offline models) or ``rekognition`` (boto3). Both take Rekognition's keyword arguments, answer
Rekognition's response shapes and raise ``botocore.exceptions.ClientError`` with Rekognition's
error codes. Bytes in, dicts out: no ORM, no tenant logic (STYLE rule 6).

The local backend keeps face collections in a ``FaceStore``. By default that is an in-process
``MemoryFaceStore``; Django injects its database-backed store with
``set_face_store_factory(factory)`` at start-up, or ANALYSIS_FACE_STORE="package.module:factory".
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .errors import client_error, error_code
from .store import FaceRecord, FaceStore, MemoryFaceStore

__all__ = [
    "AnalysisBackend",
    "FaceRecord",
    "FaceStore",
    "MemoryFaceStore",
    "client_error",
    "error_code",
    "get_backend",
    "reset_backends",
    "set_face_store_factory",
]

BACKENDS = ("local", "rekognition")


class AnalysisBackend(Protocol):
    """The operations both backends answer (keyword arguments as boto3's Rekognition client).

    ``analyze`` is ours: the four calls of a proctoring check from one image. Its face part is
    either a 1:N search (``CollectionId``: FaceMatches of the largest face, as
    SearchFacesByImage) or, with ``References=[{"FaceId": ..., "Image": {"Bytes": ...}}, ...]``
    (one person's reference faces, indexed in ``CollectionId``), a 1:1 verification against those
    references only, answered as ``"Verification"`` (``analysis.verification``). A reference's
    ``Image`` (its registered photo) is needed only by backends whose ``reference_images`` is
    True (Rekognition compares photos; the local engine reads the FaceIds' stored vectors).
    ``Moderation=False`` leaves the unsafe-content model (DetectModerationLabels) out, and
    ``ModerationLabels`` out of the answer.
    ``five_point_pose``: FaceDetails' Pose is estimated from five 2D landmarks (the local engine), so the
    gate's liveness challenge reads the face mesh's yaw instead (``proctoring.liveness.gate_reading``).
    """

    reference_images: bool
    five_point_pose: bool

    def create_collection(self, *args: Any, **kwargs: Any) -> dict: ...
    def delete_collection(self, *args: Any, **kwargs: Any) -> dict: ...
    def list_faces(self, *args: Any, **kwargs: Any) -> dict: ...
    def index_faces(self, *args: Any, **kwargs: Any) -> dict: ...
    def search_faces_by_image(self, *args: Any, **kwargs: Any) -> dict: ...
    def compare_faces(self, *args: Any, **kwargs: Any) -> dict: ...
    def delete_faces(self, *args: Any, **kwargs: Any) -> dict: ...
    def detect_faces(self, *args: Any, **kwargs: Any) -> dict: ...
    def detect_labels(self, *args: Any, **kwargs: Any) -> dict: ...
    def detect_moderation_labels(self, *args: Any, **kwargs: Any) -> dict: ...
    def analyze(self, *args: Any, **kwargs: Any) -> dict: ...


_lock = threading.Lock()
_instances: dict[str, AnalysisBackend] = {}
_store_factory: Callable[[], FaceStore] | None = None


def set_face_store_factory(factory: Callable[[], FaceStore] | None) -> None:
    """Use ``factory()`` for the local backend's face store (None: back to the default).

    Drops the cached local backend so that the next ``get_backend`` builds one with it.
    """
    global _store_factory
    with _lock:
        _store_factory = factory
        _instances.pop("local", None)


def reset_backends() -> None:
    """Forget cached backends (tests; after changing the environment)."""
    with _lock:
        _instances.clear()


def get_backend(name: str | None = None) -> AnalysisBackend:
    """The backend called ``name`` (default: ANALYSIS_BACKEND, else "local"), one per process."""
    key = (name or os.environ.get("ANALYSIS_BACKEND", "") or "local").strip().lower()
    if key not in BACKENDS:
        raise ValueError(f"Unknown analysis backend {key!r}; expected one of {BACKENDS}.")
    with _lock:
        backend = _instances.get(key)
        if backend is None:
            backend = _build(key)
            _instances[key] = backend
        return backend


def _build(key: str) -> AnalysisBackend:
    if key == "rekognition":
        from .rekognition import RekognitionBackend

        return RekognitionBackend()
    from .local import LocalEngine

    return LocalEngine(store=_make_store())


def _make_store() -> FaceStore:
    if _store_factory is not None:
        return _store_factory()
    dotted = os.environ.get("ANALYSIS_FACE_STORE", "").strip()
    if dotted:
        module_name, _, attr = dotted.partition(":")
        factory = getattr(importlib.import_module(module_name), attr or "FaceStore")
        return factory()  # type: ignore[no-any-return]
    return MemoryFaceStore()
