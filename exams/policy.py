"""The proctoring policy of an exam: which checks run and how strictly."""

from __future__ import annotations

CHECK_OBJECTS = "Objects of Interest"
CHECK_PERSON_DETECTION = "Person Detection"
CHECK_PERSON_RECOGNITION = "Person Recognition"
CHECK_FACE_DETECTION = "Face Detection"
CHECK_UNSAFE = "Unsafe Content"
# The sample's order; responses keep it.
ALL_CHECKS = [CHECK_OBJECTS, CHECK_PERSON_DETECTION, CHECK_PERSON_RECOGNITION, CHECK_FACE_DETECTION, CHECK_UNSAFE]
DEFAULT_OBJECTS_OF_INTEREST = ["Mobile Phone", "Cell Phone"]
DEFAULT_MIN_CONFIDENCE = 85.0
DEFAULT_FACE_MATCH_THRESHOLD = 90.0
# Looking away (proctoring.attention) is not one of the sample's five checks: it has no row in the
# answer, only incidents. On for every new exam; exams made before it keep it off (exams 0007), and
# the sample's stateless /process never judges it (no session, no baseline).
DEFAULT_LOOKING_AWAY = True


def default_checks() -> list[str]:
    return list(ALL_CHECKS)


def default_objects() -> list[str]:
    return list(DEFAULT_OBJECTS_OF_INTEREST)
