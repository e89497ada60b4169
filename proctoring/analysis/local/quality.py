"""Quality rules: which detected faces count (the clear-face rule) and which may be indexed
(Rekognition's QualityFilter bars)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import faces as face_ops
from ..errors import INVALID_PARAMETER, client_error
from ..imaging import Frame


@dataclass(frozen=True)
class QualityBar:
    min_height: float  # face height in original pixels
    min_sharpness: float
    min_brightness: float
    max_yaw: float
    max_pitch: float
    min_score: float  # YuNet score


# NONE filters nothing; AUTO is LOW. Rekognition documents the reasons, not the numbers.
QUALITY_BARS: dict[str, QualityBar | None] = {
    "NONE": None,
    "LOW": QualityBar(20, 8, 5, 75, 60, 0.6),
    "AUTO": QualityBar(20, 8, 5, 75, 60, 0.6),
    "MEDIUM": QualityBar(40, 20, 10, 50, 40, 0.8),
    "HIGH": QualityBar(64, 35, 15, 30, 30, 0.9),
}


def clear_faces(frame: Frame) -> list[face_ops.Face]:
    return clear(face_ops.detect(frame.bgr), frame)


def clear(found: list[face_ops.Face], frame: Frame) -> list[face_ops.Face]:
    if not found:
        return []
    return [f for f in found if face_ops.is_clear(f, found[0], frame.scale)]



def quality_bar(name: str | None, operation: str) -> QualityBar | None:
    if (name or "AUTO") not in QUALITY_BARS:
        raise client_error(
            INVALID_PARAMETER, f"QualityFilter must be one of {sorted(QUALITY_BARS)}", operation
        )
    return QUALITY_BARS[name or "AUTO"]


def quality_reasons(
    face: face_ops.Face, detail: dict, frame: Frame, bar: QualityBar | None
) -> list[str]:
    if bar is None:
        return []
    reasons = []
    if face.score < bar.min_score:
        reasons.append("LOW_CONFIDENCE")
    if face.box[3] / frame.scale < bar.min_height:
        reasons.append("SMALL_BOUNDING_BOX")
    quality, pose = detail["Quality"], detail["Pose"]
    if quality["Sharpness"] < bar.min_sharpness:
        reasons.append("LOW_SHARPNESS")
    if quality["Brightness"] < bar.min_brightness:
        reasons.append("LOW_BRIGHTNESS")
    if abs(pose["Yaw"]) > bar.max_yaw or abs(pose["Pitch"]) > bar.max_pitch:
        reasons.append("EXTREME_POSE")
    return reasons

