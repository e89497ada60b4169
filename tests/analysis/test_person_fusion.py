"""People: person boxes fused with faces (issue 10). A weak box counts only with a face of its own;
a confident box counts without one (a student turned away); one face supports one box."""

from __future__ import annotations

import numpy as np

from proctoring.analysis import faces as face_ops
from proctoring.analysis import objects
from proctoring.analysis.imaging import Frame
from proctoring.analysis.local.combined import fused_people, labels
from proctoring.checks import Policy

FRAME = Frame(bgr=np.zeros((480, 640, 3), np.uint8), width=640, height=480)
WEAK = objects.CONFIDENCE_85["person"] - 0.05  # a box that alone does not count
STUDENT_BOX = (160, 40, 300, 440)
EDGE_BOX = (500, 60, 140, 400)  # at the frame's right edge: a bystander, or an office chair


def face(x: float, y: float, w: float, h: float, score: float = 0.92) -> face_ops.Face:
    return face_ops.Face(np.array([x, y, w, h, *([0.0] * 10), score], dtype=np.float32))


STUDENT_FACE = face(270, 60, 70, 90)


def person(score: float, box: tuple[float, float, float, float]) -> objects.Detection:
    return objects.Detection("person", score, box)


def people_at_the_policy(detections: list[objects.Detection], found: list[face_ops.Face]) -> int:
    found_labels = labels(FRAME, detections, found, Policy().min_confidence, None)
    return sum(len(lab["Instances"]) for lab in found_labels if lab["Name"] == "Person")


def test_it_counts_a_weak_person_box_with_a_face_in_its_upper_part_once() -> None:
    bystander_face = face(540, 80, 40, 50, 0.85)
    found = [STUDENT_FACE, bystander_face]
    assert people_at_the_policy([person(0.99, STUDENT_BOX), person(WEAK, EDGE_BOX)], found) == 2
    fused = fused_people([person(0.99, STUDENT_BOX), person(WEAK, EDGE_BOX)], found)
    assert [round(p.score, 2) for p in fused] == [0.99, 0.85]  # the box scores as its face; no face-made extra


def test_it_does_not_count_a_weak_person_box_without_a_face() -> None:
    # An office chair beside the student (the held-out frame of issue 10).
    assert people_at_the_policy([person(0.99, STUDENT_BOX), person(WEAK, EDGE_BOX)], [STUDENT_FACE]) == 1


def test_it_counts_a_confident_person_box_without_a_face() -> None:
    # A student turned away, a bystander's back: no face, still somebody.
    assert people_at_the_policy([person(0.9, STUDENT_BOX)], []) == 1
    assert people_at_the_policy([person(objects.CONFIDENCE_85["person"], STUDENT_BOX)], []) == 1


def test_it_lets_one_face_support_one_person_box() -> None:
    # A second, weak box on the same head and shoulders gets no lift from the student's face.
    head = person(WEAK, (220, 30, 180, 200))
    assert people_at_the_policy([person(0.95, STUDENT_BOX), head], [STUDENT_FACE]) == 1


def test_it_does_not_take_a_face_low_in_a_box_or_a_weak_face_as_support() -> None:
    low = face(270, 360, 60, 80)  # at the box's feet: not the head of this box
    assert [p.score for p in fused_people([person(WEAK, STUDENT_BOX)], [low])][0] == WEAK
    assert people_at_the_policy([person(WEAK, STUDENT_BOX)], [low]) == 1  # the face alone is still somebody
    weak_face = face(270, 60, 70, 90, face_ops.PERSON_FACE_SCORE - 0.01)
    assert people_at_the_policy([person(WEAK, STUDENT_BOX)], [weak_face]) == 0
