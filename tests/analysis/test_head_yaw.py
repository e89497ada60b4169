"""The face mesh's head yaw (``landmarks.mesh_yaw``), what the gate's liveness challenge reads on the local engine:
a real turn reads on its side, a flat picture tilted in front of the camera does not read as a turn, and a face
whose five landmarks swapped eyes (as YuNet's do near profile) is still read upright."""

from __future__ import annotations

import math

import cv2
import numpy as np

from proctoring.analysis import faces, landmarks
from tests.analysis.conftest import FIXTURES


def frame(name: str) -> np.ndarray:
    return cv2.imread(str(FIXTURES / name))


def read(bgr: np.ndarray, swap_eyes: bool = False) -> float | None:
    """The mesh yaw of the frame's largest face, as the pipeline reads it from analyze's FaceDetail."""
    detail = faces.face_detail(faces.detect(bgr)[0], bgr)
    if swap_eyes:
        marks = {m["Type"]: m for m in detail["Landmarks"]}  # type: ignore[union-attr]
        marks["eyeLeft"], marks["eyeRight"] = ({**marks["eyeRight"], "Type": "eyeLeft"},
                                               {**marks["eyeLeft"], "Type": "eyeRight"})
        detail = {**detail, "Landmarks": list(marks.values())}
    return landmarks.mesh_yaw(cv2.imencode(".jpg", bgr)[1].tobytes(), detail)


def card(bgr: np.ndarray, yaw: float) -> np.ndarray:
    """The picture held up as a flat card turned ``yaw`` degrees about its vertical axis, seen by a camera."""
    h, w = bgr.shape[:2]
    f = float(max(w, h))
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    x, z = corners[:, 0] * c, -corners[:, 0] * s + 1.2 * f
    seen = np.stack([x * f / z + w / 2, corners[:, 1] * f / z + h / 2], axis=1).astype(np.float32)
    matrix = cv2.getPerspectiveTransform((corners + [w / 2, h / 2]).astype(np.float32), seen)
    return cv2.warpPerspective(bgr, matrix, (w, h), borderValue=(40, 40, 40))


def test_it_reads_a_real_turn_on_its_side_and_a_frontal_face_near_zero() -> None:
    # Intel's head-pose woman: her left is image-right (positive yaw), her right image-left.
    front, left, right = (read(frame(f"headpose_woman_{n}.jpg")) for n in ("front", "her_left", "her_right"))
    assert front is not None and left is not None and right is not None
    assert abs(front) < 20 and left - front >= 20 and front - right >= 20, (front, left, right)


def test_a_flat_picture_tilted_before_the_camera_does_not_read_as_a_turn() -> None:
    for name in ("headpose_woman_front.jpg", "signer1_a.jpg", "headpose_woman_her_left.jpg"):
        bgr = frame(name)
        upright = read(bgr)
        tilted = [read(card(bgr, yaw)) for yaw in (-35, -20, 20, 35)]
        assert upright is not None and all(y is not None and abs(y - upright) < 8 for y in tilted), (name, tilted)


def test_it_reads_the_face_upright_when_the_five_landmarks_swap_the_eyes() -> None:
    # Near profile YuNet's eyeLeft can land image-right of its eyeRight; levelled on them as they come, the mesh's
    # crop would turn the face upside down (a profile read +130 degrees where -50 was seen).
    for name in ("headpose_woman_her_right.jpg", "headpose_woman_her_left.jpg"):
        bgr = frame(name)
        as_found, swapped = read(bgr), read(bgr, swap_eyes=True)
        assert as_found is not None and swapped is not None and abs(swapped - as_found) < 1, (name, as_found, swapped)
