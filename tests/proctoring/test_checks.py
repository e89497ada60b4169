"""The five checks: the sample's JSON types, and what a student may see of them."""

from __future__ import annotations

from typing import Any

from accounts.models import Role, User
from proctoring import checks

CHECK_TYPES = {"Objects of Interest": str, "Person Detection": int, "Person Recognition": str,
               "Face Detection": int, "Unsafe Content": str}


def _analysis(*, people: int, faces: int, match: str | None) -> dict[str, Any]:
    return {
        "Labels": [{"Name": "Person", "Confidence": 99.0, "Instances": [{"Confidence": 99.0}] * people}]
        if people else [],
        "FaceDetails": [{"Confidence": 99.0}] * faces,
        "FaceMatches": [{"Similarity": 99.0, "Face": {"ExternalImageId": match}}] if match else [],
        "ModerationLabels": [],
    }


def test_it_answers_the_five_objects_with_the_samples_json_types() -> None:
    for people, faces in ((1, 1), (2, 2), (0, 0)):
        outcome = checks.evaluate(_analysis(people=people, faces=faces, match="a"), checks.Policy(),
                                  name_of=lambda _: "Ada")
        assert [r["TestName"] for r in outcome.results] == list(CHECK_TYPES)
        for result in outcome.results:
            assert set(result) == {"TestName", "Success", "Details"}
            assert type(result["Success"]) is bool
            assert type(result["Details"]) is CHECK_TYPES[result["TestName"]], result
        by_name = {r["TestName"]: r["Details"] for r in outcome.results}
        assert by_name["Person Detection"] == people and by_name["Face Detection"] == faces


def _stored(name: str, success: bool) -> list[dict[str, Any]]:
    return [{"TestName": "Person Detection", "Success": True, "Details": 1},
            {"TestName": "Person Recognition", "Success": success, "Details": name}]


def test_it_shows_a_student_recognition_as_pass_or_fail_with_their_own_name_at_most() -> None:
    student = User(pk=1, role=Role.STUDENT, full_name="Sam Student")
    proctor = User(pk=2, role=Role.PROCTOR, full_name="Pat Proctor")
    matched_someone_else = _stored("Olga Other", False)
    assert checks.as_seen_by(matched_someone_else, viewer=student, student=student)[1]["Details"] == "0"
    assert checks.as_seen_by(matched_someone_else, viewer=proctor, student=student)[1]["Details"] == "Olga Other"
    # Even a stored pass shows the student's own name, never whatever name was stored.
    assert checks.as_seen_by(_stored("Olga Other", True), viewer=student, student=student)[1]["Details"] == \
        "Sam Student"
    assert checks.as_seen_by(matched_someone_else, viewer=student, student=student)[0]["Details"] == 1
