from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from proctoring.analysis.local import LocalEngine
from proctoring.analysis.store import MemoryFaceStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "images"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_image(name: str) -> Image.Image:
    return Image.open(FIXTURES / name).convert("RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def engine() -> LocalEngine:
    """One engine for the suite: models load once per process anyway."""
    return LocalEngine(store=MemoryFaceStore())


@pytest.fixture
def collection(engine: LocalEngine) -> Callable[[str], str]:
    """Creates uniquely named collections and deletes them afterwards."""
    made: list[str] = []

    def make(name: str = "test") -> str:
        collection_id = f"{name}-{len(made)}-{np.random.randint(1 << 30)}"
        engine.create_collection(CollectionId=collection_id)
        made.append(collection_id)
        return collection_id

    yield make
    for collection_id in made:
        if engine.store.collection_exists(collection_id):
            engine.delete_collection(CollectionId=collection_id)


# A small labelled set from the fixture photos: file, num_people, num_clear_faces, objects, identity, extra_tags.
LABELLED = [
    ("signer1_a.jpg", 1, 1, "", "signer1", ""),
    ("signer1_b.jpg", 1, 1, "", "signer1", ""),
    ("signer2_a.jpg", 1, 1, "", "signer2", ""),
    ("grace_hopper.jpg", 1, 1, "", "grace_hopper", "capture=photo;eyewear=none;lighting=good"),
    ("desk_laptop.jpg", 0, 0, "laptop, tablet, papers", "", ""),
    ("empty_room.jpg", 0, 0, "3 water bottles", "", ""),
]


def make_dataset(root: Path) -> Path:
    """``root/images``: the LABELLED fixture photos and their manifest.csv, as shared/data's."""
    images = root / "images"
    images.mkdir()
    with open(images / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "split", "num_people", "num_clear_faces", "objects", "identity", "source",
                         "extra_tags"])
        for name, people, faces, objects, identity, tags in LABELLED:
            shutil.copy(FIXTURES / name, images / name)
            writer.writerow([name, "dev", people, faces, objects, identity, name.split("_")[0], tags])
    return images


@pytest.fixture(scope="session")
def labelled_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("labelled"))


@pytest.fixture(scope="session")
def fixture_report(labelled_images: Path, engine: LocalEngine) -> dict[str, Any]:
    """``evaluate``'s report on the labelled fixture photos, once per run (the evaluation and the model
    card tests both read it); the ROC lands beside the images."""
    from proctoring.analysis.evaluation import evaluate

    return evaluate(labelled_images, backend=engine, roc_path=labelled_images.parent / "roc.png", detection_folds=2)
