"""1:1 verification: is the largest face of a frame one of *one person's* reference faces?

Both backends answer ``analyze(..., References=[...])`` with a ``"Verification"`` member built here
from what they measured (the frame's FaceDetails and the best similarity to the references):

    {"Passed": bool, "Reason": str, "Similarity": float | None, "FaceId": str | None}

``Similarity`` (Rekognition's 0..100 scale) is the best similarity of the largest face to any
reference and ``FaceId`` that reference's face id; both are None when nothing was compared.

Reasons, in the order they are decided: ``no_reference`` (the person has no reference face),
``no_face``, ``several_faces`` (more than one face counts: the verdict would be about whom?),
``match``; and when the face does not match, why a non-match says little: ``too_dark``,
``too_far``, ``turned_away``, ``blurred``. Only a clear, frontal, well-lit face that does not match
is ``not_matching``: the one reason that may suggest someone else is in front of the camera.

The cut-offs below explain a non-match; they never turn a match into a failure. They were read
off the 122 clear faces of the dev photos (``shared/data/images``, categories A-G: press photos,
webcam clips, webcam enrolment frames and phone selfies), each face's quality against its best
similarity to the other photos of the same person (``python -m
proctoring.analysis.tools.verification_quality ../shared/data/images``). The cut-offs were read when
similarity 90 sat at cosine 0.365, where every dev face verified its own person; each sits below the
whole dev range of faces that verified at a frontal pose, and above what the dev set never shows.
After the cross-validated recalibration (90 at cosine 0.514, faces.py) five dev faces score under 90
against their own person: two turned far (|Pitch| 83-87: ``turned_away``) and three frontal ones
(77.6 a hand on the forehead, 80.9 and 88.0 dim webcam frames, Brightness 26-33) that this module
calls ``not_matching``; that is why a "someone else" incident needs several frames in a row.
- Brightness: darkest verifying face 24.0 (1st percentile 24.1): too dark below 20.
- Sharpness: blurriest verifying face 23.0 (1st percentile 29.7): blurred below 20. Sharpness
  falls with contrast: a dev photo darkened to Brightness 22 scores Sharpness 8, so a soft face
  under Brightness 30 is called too dark (dev faces under 30 all have Sharpness 50 or more).
- Face height / frame height: smallest 0.119 (5th percentile 0.148; the lowest genuine
  similarity is a face at 0.139): too far below 0.10 (36 px in a 640x360 webcam frame).
- Pose: 90% of dev faces are within |Yaw| 28 and |Pitch| 12.7; the turned ones (Yaw 34-81, Pitch
  28-87) are where the pose estimate itself is poor: turned away beyond |Yaw| 30 or |Pitch| 25.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

REASONS = (
    "match", "no_reference", "no_face", "several_faces", "too_dark", "too_far", "turned_away", "blurred",
    "not_matching",
)
MIN_BRIGHTNESS = 20.0
MIN_SHARPNESS = 20.0
DIM_BRIGHTNESS = 30.0  # dim light flattens contrast, and Sharpness with it: soft and dim is too dark
MIN_FACE_HEIGHT = 0.10  # of the frame's height
MAX_YAW = 30.0
MAX_PITCH = 25.0


def largest(face_details: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The face with the largest bounding box (Rekognition does not order DetectFaces' answer)."""
    def area(detail: dict[str, Any]) -> float:
        box = detail.get("BoundingBox") or {}
        return float(box.get("Width", 0.0)) * float(box.get("Height", 0.0))

    return max(face_details, key=area, default=None)


def unclear_reason(detail: dict[str, Any]) -> str | None:
    """Why this face is not clear enough for a non-match to mean anything; None when it is."""
    quality, pose, box = detail.get("Quality") or {}, detail.get("Pose") or {}, detail.get("BoundingBox") or {}
    brightness, sharpness = quality.get("Brightness", 100.0), quality.get("Sharpness", 100.0)
    if brightness < MIN_BRIGHTNESS or (brightness < DIM_BRIGHTNESS and sharpness < MIN_SHARPNESS):
        return "too_dark"
    if box.get("Height", 1.0) < MIN_FACE_HEIGHT:
        return "too_far"
    if abs(pose.get("Yaw", 0.0)) > MAX_YAW or abs(pose.get("Pitch", 0.0)) > MAX_PITCH:
        return "turned_away"
    if sharpness < MIN_SHARPNESS:
        return "blurred"
    return None


def verdict(
    *,
    face_details: Sequence[dict[str, Any]],
    best: tuple[float, str] | None,
    threshold: float,
    references: int,
) -> dict[str, Any]:
    """The ``Verification`` member. ``best``: (similarity, reference FaceId) for the largest face."""
    similarity, face_id = (round(float(best[0]), 4), best[1]) if best is not None else (None, None)

    def answer(passed: bool, reason: str) -> dict[str, Any]:
        return {"Passed": passed, "Reason": reason, "Similarity": similarity, "FaceId": face_id}

    if references == 0:
        return {"Passed": False, "Reason": "no_reference", "Similarity": None, "FaceId": None}
    face = largest(face_details)
    if face is None:
        return {"Passed": False, "Reason": "no_face", "Similarity": None, "FaceId": None}
    if len(face_details) > 1:
        return answer(False, "several_faces")
    if similarity is not None and similarity >= threshold:
        return answer(True, "match")
    return answer(False, unclear_reason(face) or "not_matching")
