"""Serve a few files of npm packages as static files, without copying or collecting whole packages.

The exam page's voice-activity detection (static/js/listen.js) runs @ricky0123/vad-web with the
ONNX Runtime Web it bundles (1.22.0, so onnxruntime-web is pinned to it for its WebAssembly). Those
packages weigh over 100 MB; the page needs five files. Listing them here keeps collectstatic (and
WhiteNoise) to those files, and nothing is fetched from a CDN. Without node_modules (a checkout
where `npm ci` has not run) the files are simply absent and the page says listening is unavailable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

VAD = "node_modules/@ricky0123/vad-web/dist"
ORT = "node_modules/onnxruntime-web/dist"
# static path -> (package folder, file name)
VENDOR_FILES = {
    "vendor/vad/bundle.min.js": (VAD, "bundle.min.js"),
    "vendor/vad/vad.worklet.bundle.min.js": (VAD, "vad.worklet.bundle.min.js"),
    # The same model as the server's (silero-vad 6.2.3's silero_vad.onnx: byte for byte).
    "vendor/vad/silero_vad_v6.onnx": (VAD, "silero_vad_v6.onnx"),
    "vendor/vad/ort-wasm-simd-threaded.wasm": (ORT, "ort-wasm-simd-threaded.wasm"),
    "vendor/vad/ort-wasm-simd-threaded.mjs": (ORT, "ort-wasm-simd-threaded.mjs"),
}


class VendorFinder(BaseFinder):
    def _source(self, path: str) -> Path | None:
        entry = VENDOR_FILES.get(path)
        if entry is None:
            return None
        source = Path(settings.BASE_DIR) / entry[0] / entry[1]
        return source if source.is_file() else None

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        source = self._source(path)
        if source is None:
            return [] if find_all or kwargs.get("all") else ""
        return [str(source)] if find_all or kwargs.get("all") else str(source)

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        for path, (folder, name) in VENDOR_FILES.items():
            if self._source(path) is None:
                continue
            # A storage rooted so that the file's name relative to it is the static path.
            storage = _PrefixedStorage(location=str(Path(settings.BASE_DIR) / folder), name=name, path=path)
            yield path, storage


class _PrefixedStorage(FileSystemStorage):
    """One package file, answered under its static path (what collectstatic copies from)."""

    def __init__(self, *, location: str, name: str, path: str) -> None:
        super().__init__(location=location)
        self._name, self._path = name, path

    def path(self, name: str) -> str:
        return super().path(self._name if name == self._path else name)

    def open(self, name: str, mode: str = "rb") -> Any:
        return super().open(self._name if name == self._path else name, mode)

    def get_modified_time(self, name: str) -> Any:
        return super().get_modified_time(self._name if name == self._path else name)
