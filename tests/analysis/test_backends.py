"""get_backend picks, caches and configures the backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import proctoring.analysis as analysis
from proctoring.analysis.local import LocalEngine
from proctoring.analysis.rekognition import RekognitionBackend
from proctoring.analysis.store import MemoryFaceStore


@pytest.fixture(autouse=True)
def _fresh_backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ANALYSIS_BACKEND", raising=False)
    monkeypatch.delenv("ANALYSIS_FACE_STORE", raising=False)
    analysis.set_face_store_factory(None)
    analysis.reset_backends()
    yield
    analysis.set_face_store_factory(None)
    analysis.reset_backends()


class CountingStore(MemoryFaceStore):
    made = 0

    def __init__(self) -> None:
        super().__init__()
        CountingStore.made += 1


def test_it_defaults_to_the_local_engine_once_per_process() -> None:
    backend = analysis.get_backend()
    assert isinstance(backend, LocalEngine)
    assert analysis.get_backend("local") is backend


def test_it_reads_the_backend_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYSIS_BACKEND", "rekognition")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    backend = analysis.get_backend()
    assert isinstance(backend, RekognitionBackend)
    assert backend.client.meta.region_name == "eu-west-2"
    assert analysis.get_backend("rekognition") is backend


def test_it_refuses_an_unknown_backend() -> None:
    with pytest.raises(ValueError, match="nope"):
        analysis.get_backend("nope")


def test_it_uses_an_injected_face_store_factory() -> None:
    analysis.set_face_store_factory(CountingStore)
    backend = analysis.get_backend("local")
    assert isinstance(backend, LocalEngine) and isinstance(backend.store, CountingStore)
    before = CountingStore.made
    assert analysis.get_backend("local") is backend and CountingStore.made == before


def test_it_loads_a_face_store_from_a_dotted_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYSIS_FACE_STORE", "tests.analysis.test_backends:CountingStore")
    backend = analysis.get_backend("local")
    assert isinstance(backend, LocalEngine) and type(backend.store).__name__ == "CountingStore"
