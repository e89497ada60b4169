"""A closer look for a phone around the student's head: NanoDet on a crop around the largest face.

Issue 10 asks for phones held at the ear or held up. On the full 640x480 frame NanoDet sees the head
region at 416/640 of its pixels; on a crop CONTEXT face-sides wide it sees it two to four times larger.
Not part of ``analyze``, so it lives with the measuring tools: measured on the dev photos
(``phone_closeup.py``, its docstring has the figures) it found no phone the full-frame pass missed,
raised a false phone on images without one, and cost tens of milliseconds of CPU on each frame
where it ran. It stays a function so the figure can be measured again on labelled frames of phones
at the ear.
"""

from __future__ import annotations

import numpy as np

from .. import faces as face_ops
from .. import nanodet
from ..objects import Detection

CONTEXT = 4.0  # crop side, in the face's longer side: the head, a hand at the ear, a phone held up
DROP = 0.5  # the crop's centre sits this many face heights below the face's: hands and phones are lower
MAX_SHARE = 0.6  # a crop covering more of the frame than this gains no resolution: skipped


def region(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The crop (x0, y0, x1, y1) around a face box, clipped to the frame; None when it gains nothing."""
    x, y, w, h = box
    side = CONTEXT * max(w, h)
    cx, cy = x + w / 2, y + h / 2 + DROP * h
    x0, y0 = int(max(0.0, cx - side / 2)), int(max(0.0, cy - side / 2))
    x1, y1 = int(min(float(width), cx + side / 2)), int(min(float(height), cy + side / 2))
    if x1 - x0 < 8 or y1 - y0 < 8 or (x1 - x0) * (y1 - y0) > MAX_SHARE * width * height:
        return None
    return x0, y0, x1, y1


def phones_near_face(bgr: np.ndarray, found: list[face_ops.Face]) -> list[Detection]:
    """Phones NanoDet finds on the crop around the largest confident face, in frame pixels
    (scores on YOLO's scale, as ``nanodet.detect`` gives them). Empty without a face or a crop."""
    confident = [f for f in found if f.score >= face_ops.PERSON_FACE_SCORE]
    if not confident or not nanodet.available():
        return []
    face = max(confident, key=lambda f: f.area)
    crop = region(face.box, bgr.shape[1], bgr.shape[0])
    if crop is None:
        return []
    x0, y0, x1, y1 = crop
    return [
        Detection(d.coco, d.score, (d.box[0] + x0, d.box[1] + y0, d.box[2], d.box[3]))
        for d in nanodet.detect(np.ascontiguousarray(bgr[y0:y1, x0:x1])) if d.coco == "cell phone"
    ]
