"""Face search at scale in the database-backed store (printed, not asserted): `make bench` runs it.

Fills one collection with N random unit vectors (default 100,000), then times the first search
(loads the matrix), repeated searches (cached matrix) and a search after one more face was added.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from proctoring.analysis.store import FaceRecord  # noqa: E402
from proctoring.face_store import DatabaseFaceStore  # noqa: E402
from proctoring.models import StoredCollection, StoredFace  # noqa: E402


def unit_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((count, 128)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def record(vector: np.ndarray) -> FaceRecord:
    return FaceRecord(face_id=str(uuid.uuid4()), image_id=str(uuid.uuid4()), external_image_id=None,
                      bounding_box={"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.2}, confidence=99.0,
                      vector=vector)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=100_000)
    args = parser.parse_args()
    collection = "bench-face-store"
    StoredFace.objects.filter(collection_id=collection).delete()
    StoredCollection.objects.filter(collection_id=collection).delete()
    store = DatabaseFaceStore()
    store.create_collection(collection)
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    for chunk in range(0, args.faces, 5000):
        store.add_faces(collection, [record(v) for v in unit_vectors(min(5000, args.faces - chunk), rng)])
    filled = time.perf_counter() - started
    probe = unit_vectors(1, rng)[0]
    started = time.perf_counter()
    store.search(collection, probe, 1)
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(50):
        started = time.perf_counter()
        store.search(collection, probe, 1)
        times.append((time.perf_counter() - started) * 1000)
    store.add_faces(collection, [record(unit_vectors(1, rng)[0])])
    started = time.perf_counter()
    store.search(collection, probe, 1)
    after_change = (time.perf_counter() - started) * 1000
    times.sort()
    print(f"face store  {args.faces} faces ({filled:.0f} s to fill): search median {statistics.median(times):.1f} ms, "
          f"p95 {times[int(len(times) * 0.95)]:.1f} ms; first search (loads the matrix) {first:.0f} ms; "
          f"first search after a change {after_change:.0f} ms")
    StoredFace.objects.filter(collection_id=collection).delete()
    StoredCollection.objects.filter(collection_id=collection).delete()


if __name__ == "__main__":
    main()
