from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

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
