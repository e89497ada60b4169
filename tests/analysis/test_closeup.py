"""The closer look for phones around the head: where it looks, and what it hands back."""

from __future__ import annotations

import numpy as np
import pytest

from proctoring.analysis import nanodet
from proctoring.analysis.faces import PERSON_FACE_SCORE, Face
from proctoring.analysis.objects import Detection
from proctoring.analysis.tools import closeup


def face(x: float, y: float, side: float, score: float = 0.95) -> Face:
    return Face(np.array([x, y, side, side, *([0.0] * 10), score], dtype=np.float32))


def test_it_looks_around_and_below_the_face_inside_the_frame() -> None:
    assert closeup.region((300, 100, 40, 40), 640, 480) == (240, 60, 400, 220)  # 4 sides wide, centre 0.5 lower
    assert closeup.region((10, 10, 40, 40), 640, 480) == (0, 0, 110, 130)  # clipped at the frame's corner


def test_it_skips_a_face_so_large_that_the_crop_gains_no_resolution() -> None:
    assert closeup.region((200, 100, 200, 200), 640, 480) is None  # the crop would be the whole frame


def test_it_hands_back_only_phones_in_frame_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, ...]] = []

    def detect(crop: np.ndarray) -> list[Detection]:
        seen.append(crop.shape)
        return [Detection("cell phone", 0.4, (10, 20, 30, 40)), Detection("laptop", 0.9, (0, 0, 50, 50))]

    monkeypatch.setattr(nanodet, "detect", detect)
    frame = np.zeros((480, 640, 3), np.uint8)
    found = closeup.phones_near_face(frame, [face(300, 100, 40), face(100, 100, 20)])
    assert seen == [(160, 160, 3)]  # one crop, around the largest face
    assert found == [Detection("cell phone", 0.4, (250, 80, 30, 40))]
    assert closeup.phones_near_face(frame, [face(300, 100, 40, PERSON_FACE_SCORE - 0.01)]) == []
    assert closeup.phones_near_face(frame, []) == []
