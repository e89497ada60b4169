"""Confidence is calibrated per class: 85, the default MinConfidence, means the same for each."""

from __future__ import annotations

import numpy as np
import pytest

from proctoring.analysis import objects
from proctoring.checks import Policy, evaluate


@pytest.mark.parametrize("coco", sorted(objects.CONFIDENCE_85))
def test_each_measured_class_reports_its_chosen_cut_as_85(coco: str) -> None:
    cut = objects.CONFIDENCE_85[coco]
    assert objects.calibrated(cut, coco) == pytest.approx(85.0)
    assert objects.calibrated(1.0, coco) == 100.0
    assert objects.calibrated(0.0, coco) == 0.0
    assert objects.raw_score(55.0, coco) < cut  # Rekognition's default 55 is a looser cut
    scores = np.linspace(0.0, 1.0, 201)
    values = [objects.calibrated(float(s), coco) for s in scores]
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    for s in (0.05, cut, 0.5, 0.93):
        assert objects.raw_score(objects.calibrated(s, coco), coco) == pytest.approx(s, abs=1e-5)


def test_the_default_policy_keeps_a_detection_at_its_classs_cut_and_drops_one_below() -> None:
    assert Policy().min_confidence == objects.POLICY_CONFIDENCE
    frame = np.zeros((100, 100, 3), np.uint8)
    for coco, cut in objects.CONFIDENCE_85.items():
        at = objects.Detection(coco, cut, (10, 10, 20, 20))
        below = objects.Detection(coco, cut - 1e-3, (10, 10, 20, 20))
        assert [lab["Name"] for lab in objects.labels([at], frame, Policy().min_confidence, None)][:1] == [
            objects.label_info(coco).name
        ]
        assert objects.labels([below], frame, Policy().min_confidence, None) == []


def test_the_measured_cuts_sit_where_the_dev_set_put_them() -> None:
    # Each class's own cut (measurement's rules on the dev images): one shared 85 used to need
    # raw >= 0.667 whatever the class, far above where the objects (0.13-0.17) and people (0.37) are found.
    assert set(objects.CONFIDENCE_85) == {"person", "cell phone", "laptop", "book", "tvmonitor"}
    assert all(cut < 0.5 for cut in objects.CONFIDENCE_85.values())


def test_an_unmeasured_class_keeps_the_floor_at_55() -> None:
    floor = objects.label_info("keyboard").floor
    assert "keyboard" not in objects.CONFIDENCE_85
    assert objects.calibrated(floor, "keyboard") == pytest.approx(55.0)
    assert objects.calibrated(1.0, "keyboard") == 100.0
    assert objects.raw_score(55.0, "keyboard") == pytest.approx(floor)


def test_a_second_screen_is_a_monitor_that_a_policy_can_name_as_a_screen() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    found = objects.labels([objects.Detection("tvmonitor", 0.3, (10, 10, 20, 20))], frame, 85.0, None)
    names = {lab["Name"]: lab for lab in found}
    assert names["Monitor"]["Aliases"] == [{"Name": "Display"}] and "Screen" in names  # parents are labels too
    watching = Policy(objects_of_interest=("Screen",), checks_enabled=("Objects of Interest",))
    outcome = evaluate({"Labels": found, "FaceDetails": [], "FaceMatches": [], "ModerationLabels": []}, watching,
                       name_of=lambda _: None)
    assert outcome.results == [{"TestName": "Objects of Interest", "Success": False, "Details": "Screen"}]
