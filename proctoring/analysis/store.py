"""Face collections behind a small protocol, so Django can plug in a database-backed store.

A store keeps, per collection, face records with a 128-d L2-normalised float32 SFace vector.
It knows nothing of images or Rekognition shapes; the local engine turns its answers into
responses and its errors into Rekognition-coded ClientErrors.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

VECTOR_SIZE = 128


class CollectionNotFound(KeyError):
    """The collection does not exist."""


class CollectionExists(KeyError):
    """The collection already exists."""


@dataclass(frozen=True)
class FaceRecord:
    face_id: str  # uuid4 string
    image_id: str  # uuid4 string, shared by faces indexed from one image
    external_image_id: str | None
    bounding_box: dict[str, float]  # Rekognition BoundingBox (0..1 ratios)
    confidence: float  # detection confidence, 0..100
    vector: np.ndarray = field(repr=False)  # (128,) float32, L2-normalised


@runtime_checkable
class FaceStore(Protocol):
    """What the local engine needs from a face store. Implementations must be thread-safe."""

    def create_collection(self, collection_id: str) -> None:
        """Raises CollectionExists."""

    def delete_collection(self, collection_id: str) -> None:
        """Deletes the collection and its faces. Raises CollectionNotFound."""

    def collection_exists(self, collection_id: str) -> bool: ...

    def add_faces(self, collection_id: str, records: Sequence[FaceRecord]) -> None:
        """Raises CollectionNotFound."""

    def list_faces(
        self, collection_id: str, *, offset: int, limit: int
    ) -> tuple[list[FaceRecord], bool]:
        """A page of faces in a stable order, and whether more follow. Raises CollectionNotFound."""

    def delete_faces(self, collection_id: str, face_ids: Iterable[str]) -> list[str]:
        """Deletes those faces; returns the ids that existed. Raises CollectionNotFound."""

    def search(
        self, collection_id: str, vector: np.ndarray, k: int
    ) -> list[tuple[FaceRecord, float]]:
        """The k nearest faces by cosine similarity, best first. Raises CollectionNotFound."""

    def get_faces(self, collection_id: str, face_ids: Iterable[str]) -> list[FaceRecord]:
        """Those faces of the collection that exist, in the order asked (1:1 verification reads
        one person's references only). Raises CollectionNotFound."""


class _Collection:
    """Records plus a contiguous (capacity x 128) matrix; deletion swaps in the last row."""

    def __init__(self) -> None:
        self.records: list[FaceRecord] = []
        self.index: dict[str, int] = {}
        self.matrix = np.zeros((64, VECTOR_SIZE), dtype=np.float32)
        self._ordered: list[FaceRecord] | None = None

    def add(self, record: FaceRecord) -> None:
        if record.face_id in self.index:
            return
        row = len(self.records)
        if row == self.matrix.shape[0]:
            grown = np.zeros((row * 2, VECTOR_SIZE), dtype=np.float32)
            grown[:row] = self.matrix[:row]
            self.matrix = grown
        self.matrix[row] = _checked_vector(record.vector)
        self.records.append(record)
        self.index[record.face_id] = row
        self._ordered = None

    def remove(self, face_id: str) -> bool:
        row = self.index.pop(face_id, None)
        if row is None:
            return False
        last = len(self.records) - 1
        if row != last:
            moved = self.records[last]
            self.records[row] = moved
            self.matrix[row] = self.matrix[last]
            self.index[moved.face_id] = row
        self.records.pop()
        self._ordered = None
        return True

    def ordered(self) -> list[FaceRecord]:
        # Pages must be stable while faces are deleted (swap-remove reorders rows).
        if self._ordered is None:
            self._ordered = sorted(self.records, key=lambda r: r.face_id)
        return self._ordered


class MemoryFaceStore:
    """A thread-safe in-process FaceStore; search is one matrix product (~5 ms at 100,000)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._collections: dict[str, _Collection] = {}

    def _get(self, collection_id: str) -> _Collection:
        collection = self._collections.get(collection_id)
        if collection is None:
            raise CollectionNotFound(collection_id)
        return collection

    def create_collection(self, collection_id: str) -> None:
        with self._lock:
            if collection_id in self._collections:
                raise CollectionExists(collection_id)
            self._collections[collection_id] = _Collection()

    def delete_collection(self, collection_id: str) -> None:
        with self._lock:
            self._get(collection_id)
            del self._collections[collection_id]

    def collection_exists(self, collection_id: str) -> bool:
        with self._lock:
            return collection_id in self._collections

    def add_faces(self, collection_id: str, records: Sequence[FaceRecord]) -> None:
        with self._lock:
            collection = self._get(collection_id)
            for record in records:
                collection.add(record)

    def list_faces(
        self, collection_id: str, *, offset: int, limit: int
    ) -> tuple[list[FaceRecord], bool]:
        with self._lock:
            ordered = self._get(collection_id).ordered()
        page = ordered[offset : offset + limit]
        return page, offset + limit < len(ordered)

    def delete_faces(self, collection_id: str, face_ids: Iterable[str]) -> list[str]:
        with self._lock:
            collection = self._get(collection_id)
            return [face_id for face_id in face_ids if collection.remove(face_id)]

    def search(
        self, collection_id: str, vector: np.ndarray, k: int
    ) -> list[tuple[FaceRecord, float]]:
        probe = _checked_vector(vector)
        with self._lock:
            collection = self._get(collection_id)
            count = len(collection.records)
            if count == 0 or k <= 0:
                return []
            return nearest(collection.records, collection.matrix[:count], probe, k)

    def get_faces(self, collection_id: str, face_ids: Iterable[str]) -> list[FaceRecord]:
        with self._lock:
            collection = self._get(collection_id)
            rows = [collection.index.get(face_id) for face_id in face_ids]
            return [collection.records[row] for row in rows if row is not None]


def nearest(
    records: Sequence[FaceRecord], matrix: np.ndarray, probe: np.ndarray, k: int
) -> list[tuple[FaceRecord, float]]:
    """The k rows of ``matrix`` (one per record) with the highest cosine to ``probe``, best first."""
    count = len(records)
    if count == 0 or k <= 0:
        return []
    scores = matrix @ _checked_vector(probe)
    k = min(k, count)
    top = np.argpartition(-scores, k - 1)[:k] if k < count else np.arange(count)
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(records[i], float(scores[i])) for i in top]


def _checked_vector(vector: np.ndarray) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape != (VECTOR_SIZE,):
        raise ValueError(f"face vectors have {VECTOR_SIZE} values, got {array.shape}")
    return array
