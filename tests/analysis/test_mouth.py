"""Mouth movement: the lip aperture of a frame's one clear frontal face, from MediaPipe's face mesh
(run under ai-edge-litert, the model file from the mediapipe wheel), and the talking incident's verdict."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from proctoring import speaker
from proctoring.analysis import faces, landmarks, mouth
from proctoring.analysis.models import ModelFileMissing
from tests.analysis.conftest import FIXTURES


def frame(name: str) -> np.ndarray:
    return cv2.imread(str(FIXTURES / name))


@pytest.mark.parametrize(("name", "opened"), [
    ("headpose_man.jpg", True), ("signer1_a.jpg", False), ("signer1_b.jpg", False), ("grace_hopper.jpg", False),
    ("headpose_woman_front.jpg", False),
])
def test_it_reads_an_open_or_closed_mouth(name: str, opened: bool) -> None:
    reading = mouth.read(frame(name))
    assert reading.aperture is not None and mouth.is_open(reading.aperture) is opened


@pytest.mark.parametrize(("name", "why"), [
    ("empty_room.jpg", "no face"), ("headpose_woman_her_right.jpg", "face turned"),
])
def test_it_does_not_read_a_mouth_without_one_clear_frontal_face(name: str, why: str) -> None:
    assert mouth.read(frame(name)) == mouth.Reading(None, why)


def test_it_does_not_read_a_mouth_when_two_people_are_in_the_frame() -> None:
    pair = np.hstack([frame("signer1_a.jpg"), frame("signer2_a.jpg")])
    assert mouth.read(pair) == mouth.Reading(None, "several faces")


def test_it_puts_the_mesh_on_the_face_in_frame_pixels() -> None:
    image = frame("signer1_a.jpg")
    face = faces.detect(image)[0]
    mesh = landmarks.mesh(image, face.box, face.landmarks[:2])
    x, y, w, h = face.box
    assert mesh.points.shape == (468, 3) and mesh.presence > 0.9
    centre = mesh.points[:, :2].mean(axis=0)
    assert x < centre[0] < x + w and y < centre[1] < y + h


def test_it_judges_moved_still_or_not_judged() -> None:
    assert speaker.verdict([0.02, 0.25, None])["verdict"] == "moved"
    assert speaker.verdict([0.02, 0.03, None])["verdict"] == "still"
    assert speaker.verdict([0.02, None, None])["verdict"] == "not_judged"  # one clear frame is not enough
    assert speaker.verdict([])["verdict"] == "not_judged"


def test_it_says_which_wheel_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(landmarks, "MESH_FILE", "modules/face_landmark/nothing.tflite")
    with pytest.raises(ModelFileMissing, match="mediapipe"):
        landmarks.mesh_path()
