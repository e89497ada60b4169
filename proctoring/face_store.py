"""The local engine's face collections in the database, shared by every web and worker process.

Each process keeps the vectors of a collection as one numpy matrix and reloads it only when the
collection's version (bumped by every write) has moved, so a search costs one small query plus a
matrix product even at 100,000 faces.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import F

from proctoring.analysis.store import VECTOR_SIZE, CollectionExists, CollectionNotFound, FaceRecord, nearest
from proctoring.models import StoredCollection, StoredFace


def _record(row: StoredFace) -> FaceRecord:
    return FaceRecord(
        face_id=row.face_id, image_id=row.image_id, external_image_id=row.external_image_id,
        bounding_box=row.bounding_box, confidence=row.confidence,
        vector=np.frombuffer(bytes(row.vector), dtype=np.float32),
    )


@dataclass(frozen=True)
class _Loaded:
    """A collection as this process last loaded it."""

    version: int
    records: list[FaceRecord]
    matrix: np.ndarray
    max_id: int


def _stack(matrix: np.ndarray | None, rows: list[StoredFace]) -> np.ndarray:
    vectors = [np.frombuffer(bytes(row.vector), dtype=np.float32) for row in rows]
    parts = ([matrix] if matrix is not None else []) + ([np.stack(vectors)] if vectors else [])
    return np.concatenate(parts) if parts else np.zeros((0, VECTOR_SIZE), dtype=np.float32)


class DatabaseFaceStore:
    """Implements proctoring.analysis.store.FaceStore on StoredCollection/StoredFace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, _Loaded] = {}

    def create_collection(self, collection_id: str) -> None:
        try:
            with transaction.atomic():
                StoredCollection.objects.create(collection_id=collection_id)
        except IntegrityError as exc:
            raise CollectionExists(collection_id) from exc

    def delete_collection(self, collection_id: str) -> None:
        with transaction.atomic():
            deleted, _ = StoredCollection.objects.filter(collection_id=collection_id).delete()
            if not deleted:
                raise CollectionNotFound(collection_id)
            StoredFace.objects.filter(collection_id=collection_id).delete()
        with self._lock:
            self._cache.pop(collection_id, None)

    def collection_exists(self, collection_id: str) -> bool:
        return StoredCollection.objects.filter(collection_id=collection_id).exists()

    def _bump(self, collection_id: str) -> None:
        if not StoredCollection.objects.filter(collection_id=collection_id).update(version=F("version") + 1):
            raise CollectionNotFound(collection_id)

    def add_faces(self, collection_id: str, records: Sequence[FaceRecord]) -> None:
        with transaction.atomic():
            self._bump(collection_id)
            StoredFace.objects.bulk_create([
                StoredFace(
                    collection_id=collection_id, face_id=r.face_id, image_id=r.image_id,
                    external_image_id=r.external_image_id, bounding_box=r.bounding_box, confidence=r.confidence,
                    vector=np.asarray(r.vector, dtype=np.float32).tobytes(),
                )
                for r in records
            ])

    def list_faces(self, collection_id: str, *, offset: int, limit: int) -> tuple[list[FaceRecord], bool]:
        if not self.collection_exists(collection_id):
            raise CollectionNotFound(collection_id)
        rows = list(StoredFace.objects.filter(collection_id=collection_id).order_by("id")[offset : offset + limit + 1])
        return [_record(row) for row in rows[:limit]], len(rows) > limit

    def delete_faces(self, collection_id: str, face_ids: Iterable[str]) -> list[str]:
        face_ids = list(face_ids)
        with transaction.atomic():
            self._bump(collection_id)
            existing = list(
                StoredFace.objects.filter(collection_id=collection_id, face_id__in=face_ids)
                .values_list("face_id", flat=True)
            )
            StoredFace.objects.filter(collection_id=collection_id, face_id__in=existing).delete()
        return existing

    def _matrix(self, collection_id: str) -> tuple[list[FaceRecord], np.ndarray]:
        version = (
            StoredCollection.objects.filter(collection_id=collection_id).values_list("version", flat=True).first()
        )
        if version is None:
            raise CollectionNotFound(collection_id)
        with self._lock:
            cached = self._cache.get(collection_id)
        if cached and cached.version == version:
            return cached.records, cached.matrix
        faces = StoredFace.objects.filter(collection_id=collection_id).order_by("id")
        loaded = None
        if cached:
            # Registrations only add rows: append them rather than reload 100,000 vectors.
            added = list(faces.filter(id__gt=cached.max_id))
            if faces.count() == len(cached.records) + len(added):
                loaded = _Loaded(version, cached.records + [_record(row) for row in added],
                                 _stack(cached.matrix, added), max([cached.max_id, *(r.pk for r in added)]))
        if loaded is None:  # first use, or faces were deleted
            rows = list(faces)
            loaded = _Loaded(version, [_record(row) for row in rows], _stack(None, rows),
                             rows[-1].pk if rows else 0)
        with self._lock:
            self._cache[collection_id] = loaded
        return loaded.records, loaded.matrix

    def search(self, collection_id: str, vector: np.ndarray, k: int) -> list[tuple[FaceRecord, float]]:
        records, matrix = self._matrix(collection_id)
        return nearest(records, matrix, vector, k)

    def get_faces(self, collection_id: str, face_ids: Iterable[str]) -> list[FaceRecord]:
        face_ids = list(face_ids)
        if not self.collection_exists(collection_id):
            raise CollectionNotFound(collection_id)
        found = StoredFace.objects.filter(collection_id=collection_id, face_id__in=face_ids)
        rows = {row.face_id: row for row in found}
        return [_record(rows[face_id]) for face_id in face_ids if face_id in rows]
