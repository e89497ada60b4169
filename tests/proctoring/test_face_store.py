"""The database-backed face store: what one process writes, another finds."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from proctoring.analysis.store import CollectionExists, CollectionNotFound, FaceRecord
from proctoring.face_store import DatabaseFaceStore

pytestmark = pytest.mark.django_db


def vector(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return values / np.linalg.norm(values)


def record(seed: int) -> FaceRecord:
    return FaceRecord(face_id=str(uuid.uuid4()), image_id=str(uuid.uuid4()), external_image_id=f"person-{seed}",
                      bounding_box={"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1}, confidence=99.5,
                      vector=vector(seed))


def test_it_shares_collections_between_processes(db: Any) -> None:
    writer, reader = DatabaseFaceStore(), DatabaseFaceStore()  # two processes' stores
    writer.create_collection("c")
    with pytest.raises(CollectionExists):
        reader.create_collection("c")
    writer.add_faces("c", [record(1), record(2)])
    assert [r.external_image_id for r, _ in reader.search("c", vector(2), 1)] == ["person-2"]
    writer.add_faces("c", [record(3)])  # the reader appends what was added
    best, cosine = reader.search("c", vector(3), 1)[0]
    assert best.external_image_id == "person-3" and cosine == pytest.approx(1.0, abs=1e-5)
    removed = writer.delete_faces("c", [best.face_id, "no-such-face"])
    assert removed == [best.face_id]
    assert [r.external_image_id for r, _ in reader.search("c", vector(3), 3)] != ["person-3"]
    assert len(reader.search("c", vector(3), 10)) == 2  # the deletion forced a full reload
    page, more = reader.list_faces("c", offset=0, limit=1)
    assert len(page) == 1 and more


def test_it_raises_for_a_missing_collection(db: Any) -> None:
    store = DatabaseFaceStore()
    for call in (lambda: store.search("nope", vector(1), 1), lambda: store.add_faces("nope", [record(1)]),
                 lambda: store.delete_collection("nope"), lambda: store.list_faces("nope", offset=0, limit=5)):
        with pytest.raises(CollectionNotFound):
            call()


def test_it_reads_faces_by_id_within_their_collection_only(db: Any) -> None:
    store = DatabaseFaceStore()
    store.create_collection("c")
    store.create_collection("other")
    mine, theirs = [record(1), record(2)], record(3)
    store.add_faces("c", mine)
    store.add_faces("other", [theirs])
    found = store.get_faces("c", [mine[1].face_id, theirs.face_id, "missing", mine[0].face_id])
    assert [r.face_id for r in found] == [mine[1].face_id, mine[0].face_id]
    assert np.array_equal(found[0].vector, mine[1].vector)
    with pytest.raises(CollectionNotFound):
        DatabaseFaceStore().get_faces("nope", [mine[0].face_id])
