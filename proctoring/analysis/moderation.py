"""Unsafe content with Yahoo's open_nsfw (ONNX, onnxruntime), as Rekognition moderation labels.

The model gives one probability. We report it as Rekognition's top-level "Explicit Nudity"
label (the v6 taxonomy, TaxonomyLevel 1) with Confidence = probability x 100, only at or above
MinConfidence. Preprocessing follows the reference (resize 256, centre crop 224, BGR minus the
Caffe mean) but skips its JPEG round trip: we start from already-decoded pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from .models import Lazy, nsfw_path, thread_count

MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
LABEL = "Explicit Nudity"


def _build_session() -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = thread_count()
    options.inter_op_num_threads = 1
    # analyze runs three models at once: spinning idle workers would starve the others.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(nsfw_path(), options, providers=["CPUExecutionProvider"])


NSFW: Lazy[object] = Lazy(_build_session)


def unsafe_probability(bgr: np.ndarray) -> float:
    resized = cv2.resize(bgr, (256, 256), interpolation=cv2.INTER_LINEAR)
    crop = resized[16:240, 16:240].astype(np.float32) - MEAN_BGR
    batch = np.ascontiguousarray(crop[None])
    session = NSFW.get()
    name = session.get_inputs()[0].name  # type: ignore[attr-defined]
    (out,) = session.run(None, {name: batch})  # type: ignore[attr-defined]
    return float(np.asarray(out).reshape(-1)[1])


def moderation_labels(probability: float, min_confidence: float) -> list[dict[str, object]]:
    confidence = round(min(100.0, max(0.0, probability * 100.0)), 4)
    if confidence < min_confidence:
        return []
    return [{"Confidence": confidence, "Name": LABEL, "ParentName": "", "TaxonomyLevel": 1}]
