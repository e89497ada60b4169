"""The shape validator itself must catch what it claims to catch."""

from __future__ import annotations

import pytest
from botocore.model import ShapeResolver

from tests.analysis.rekognition_shapes import problems, validate_analyze, validate_output

GOOD_FACE = {
    "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.1},
    "Landmarks": [{"Type": "eyeLeft", "X": 0.2, "Y": 0.2}],
    "Pose": {"Roll": 1.0, "Yaw": -2.0, "Pitch": 3.0},
    "Quality": {"Brightness": 50.0, "Sharpness": 60.0},
    "Confidence": 99.0,
}


def test_it_accepts_a_well_formed_response() -> None:
    validate_output("DetectFaces", {"FaceDetails": [GOOD_FACE], "ResponseMetadata": {}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Colour": "red"}, "unknown key 'Colour'"),
        ({"Confidence": 101.0}, "> max 100"),
        ({"Confidence": "high"}, "expected a number"),
        ({"Landmarks": [{"Type": "thirdEye", "X": 0.1, "Y": 0.1}]}, "is not one of"),
        ({"Pose": {"Roll": 200.0}}, "> max 180"),
        ({"Landmarks": {"Type": "eyeLeft"}}, "expected a list"),
    ],
)
def test_it_reports_each_kind_of_departure(change: dict, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        validate_output("DetectFaces", {"FaceDetails": [{**GOOD_FACE, **change}]})


def test_it_reports_missing_required_members_and_bad_patterns() -> None:
    # Rekognition's output shapes mark nothing required, so check the rule on a shape of our own.
    resolver = ShapeResolver({
        "Thing": {"type": "structure", "required": ["Name"], "members": {"Name": {"shape": "Text"}}},
        "Text": {"type": "string", "min": 1},
    })
    thing = resolver.get_shape_by_name("Thing")
    assert problems(thing, {}) == ["$: missing required 'Name' of Thing"]
    assert problems(thing, {"Name": ""}) == ["$.Name: length 0 < min 1"]
    with pytest.raises(AssertionError, match="does not match"):
        validate_output("ListFaces", {"Faces": [{"FaceId": "not-a-uuid"}]})


def test_it_checks_analyze_members_against_their_operations() -> None:
    validate_analyze({"Labels": [], "FaceDetails": [GOOD_FACE], "FaceMatches": [], "ModerationLabels": []})
    with pytest.raises(AssertionError, match="analyze keys"):
        validate_analyze({"Labels": []})
    with pytest.raises(AssertionError, match="Similarity"):
        validate_analyze({
            "Labels": [], "FaceDetails": [], "ModerationLabels": [],
            "FaceMatches": [{"Similarity": -1.0}],
        })
