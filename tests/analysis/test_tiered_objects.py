"""YOLO runs only on the frames NanoDet and the faces leave unsure, when the exam watches nothing
NanoDet does not (``local.combined.needs_yolo``), and what such a frame's checks say is unchanged."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError

from proctoring.analysis import faces, nanodet, objects
from proctoring.analysis.imaging import decode
from proctoring.analysis.local import LocalEngine, combined
from proctoring.analysis.local.combined import covered_by_nanodet, needs_yolo
from proctoring.analysis.objects import Detection
from tests.analysis.conftest import fixture_bytes

PHONES = ["Mobile Phone", "Cell Phone"]  # the default policy's objects of interest


def face(x: float, y: float, side: float, score: float = 0.92) -> faces.Face:
    row = np.zeros(15, dtype=np.float32)
    row[:4] = (x, y, side, side)
    row[14] = score
    return faces.Face(row=row)


def person(x: float, y: float, w: float, h: float, score: float = 0.8) -> Detection:
    return Detection("person", score, (x, y, w, h))


STUDENT = face(270, 120, 100)
AROUND = person(180, 60, 300, 420)


def test_it_needs_no_yolo_for_one_confident_face_in_one_person_box_and_no_object() -> None:
    assert not needs_yolo([STUDENT], [], [AROUND])


@pytest.mark.parametrize(("found", "extra", "people"), [
    ([STUDENT], [], None),  # NanoDet's weights missing: nothing to judge by
    ([], [], [AROUND]),  # no face: a student turned away, a person YOLO may see
    ([STUDENT, face(40, 40, 30, score=0.7)], [], [AROUND]),  # a second face, however weak
    ([face(270, 120, 100, score=0.7)], [], [AROUND]),  # a face that is no person by itself
    ([STUDENT], [], [AROUND, person(500, 100, 100, 300, score=0.21)]),  # a second person box, however weak
    ([STUDENT], [], []),  # NanoDet sees nobody around the face
    ([STUDENT], [], [person(0, 0, 150, 400)]),  # its one person box is elsewhere
    ([STUDENT], [Detection("cell phone", 0.05, (400, 300, 40, 80))], [AROUND]),  # an object candidate
])
def test_it_needs_yolo_when_the_frame_is_unsure(
        found: list[faces.Face], extra: list[Detection], people: list[Detection] | None) -> None:
    assert needs_yolo(found, extra, people)


def test_it_knows_which_labels_nanodet_covers() -> None:
    assert covered_by_nanodet(PHONES)
    assert covered_by_nanodet(["laptop", "Book", "Phone"])
    assert covered_by_nanodet([])
    assert covered_by_nanodet(PHONES + ["Monitor", "Screen"])  # NanoDet's tv/monitor class (a second screen)
    assert not covered_by_nanodet(PHONES + ["Computer Keyboard"])
    assert not covered_by_nanodet(["Electronics"])  # a monitor or a keyboard is Electronics too


@pytest.fixture
def yolo_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    detect = objects.detect

    def counted(bgr: np.ndarray) -> list[Detection]:
        calls.append(1)
        return detect(bgr)

    monkeypatch.setattr(combined.objects, "detect", counted)
    return calls


def checks_of(response: dict) -> tuple:
    labels = {label["Name"]: len(label["Instances"]) for label in response["Labels"] if label["Confidence"] >= 85}
    return (labels.get("Person", 0), sorted(n for n in labels if n in {"Mobile Phone", "Laptop", "Book"}),
            len(response["FaceDetails"]), response["ModerationLabels"])


def test_it_skips_yolo_on_a_plain_one_person_frame_and_answers_the_same(
        engine: LocalEngine, yolo_calls: list[int]) -> None:
    image = {"Bytes": fixture_bytes("headpose_woman_front.jpg")}
    frame = decode(image, "Analyze")
    extra, people = nanodet.detect_with_people(frame.bgr)
    assert not needs_yolo(faces.detect(frame.bgr), extra, people)  # the photo is a plain one
    full = engine.analyze(Image=image, MinConfidence=85)
    assert len(yolo_calls) == 1
    tiered = engine.analyze(Image=image, MinConfidence=85, LabelsOfInterest=PHONES)
    assert len(yolo_calls) == 1
    assert checks_of(tiered) == checks_of(full) == (1, [], 1, [])


def test_it_runs_yolo_when_the_exam_watches_a_label_only_yolo_gives(
        engine: LocalEngine, yolo_calls: list[int]) -> None:
    engine.analyze(Image={"Bytes": fixture_bytes("headpose_woman_front.jpg")},
                   LabelsOfInterest=PHONES + ["Computer Keyboard"])
    assert len(yolo_calls) == 1


def test_it_runs_yolo_on_a_second_person(engine: LocalEngine, yolo_calls: list[int]) -> None:
    response = engine.analyze(Image={"Bytes": fixture_bytes("signer2_with_second_person.jpg")},
                              MinConfidence=85, LabelsOfInterest=PHONES)
    assert len(yolo_calls) == 1
    assert checks_of(response)[0] == 2


def test_it_runs_yolo_on_a_frame_without_a_face(engine: LocalEngine, yolo_calls: list[int]) -> None:
    response = engine.analyze(Image={"Bytes": fixture_bytes("desk_laptop.jpg")}, LabelsOfInterest=PHONES)
    assert len(yolo_calls) == 1
    assert "Laptop" in {label["Name"] for label in response["Labels"]}


@pytest.mark.parametrize("value", ["Mobile Phone", [1], {"Name": "Laptop"}])
def test_it_refuses_labels_of_interest_that_are_not_a_list_of_names(engine: LocalEngine, value: object) -> None:
    with pytest.raises(ClientError) as caught:
        engine.analyze(Image={"Bytes": fixture_bytes("signer1_b.jpg")}, LabelsOfInterest=value)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


def test_its_nanodet_input_is_the_plain_formula() -> None:
    bgr = decode({"Bytes": fixture_bytes("desk_laptop.jpg")}, "DetectLabels").bgr
    plain = ((cv2.resize(bgr, (nanodet.SIZE, nanodet.SIZE)).astype(np.float32) - nanodet.MEAN) / nanodet.STD)
    assert np.array_equal(nanodet._blob(bgr), plain.transpose(2, 0, 1)[None])
