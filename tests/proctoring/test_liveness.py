"""The liveness judge on yaw sequences: a held-up still photo never passes, a turning head does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from proctoring.liveness import STEP_DONE, STEP_FACE, STEP_LEFT, STEP_RIGHT, judge, yaw_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TURN = 15.0
# Yaws the local engine measures on real frames of one woman turning her head (Intel's
# head-pose-face-detection-female sample: frames 20, 12 and 0; see scripts/measure_liveness.py).
WOMAN_FRONTAL, WOMAN_HER_LEFT, WOMAN_HER_RIGHT = -13.5466, 24.7155, -45.2462


def samples(*yaws: float | None) -> list[tuple[datetime, float | None]]:
    return [(T0 + timedelta(seconds=2 * index), yaw) for index, yaw in enumerate(yaws)]


def test_it_passes_a_head_that_turns_left_then_right() -> None:
    result = judge(samples(WOMAN_FRONTAL, WOMAN_FRONTAL, WOMAN_HER_LEFT, WOMAN_HER_RIGHT), turn_degrees=TURN)
    assert result.passed and result.step == STEP_DONE and result.at == T0 + timedelta(seconds=6)


def test_it_never_passes_a_still_photo_whatever_its_pose() -> None:
    for yaw in (-40.0, -13.5, 0.0, 5.3, 24.7, 40.0):
        assert not judge(samples(*[yaw] * 60), turn_degrees=TURN).passed


def test_it_never_passes_a_still_photo_with_the_jitter_of_a_hand() -> None:
    shaky = random.Random(9)
    for base in (-10.0, 0.0, 10.0):
        yaws = [base + shaky.uniform(-6.0, 6.0) for _ in range(150)]  # a hand-held picture: +-6 degrees
        assert not judge(samples(*yaws), turn_degrees=TURN).passed


def test_it_needs_the_turns_in_the_order_asked() -> None:
    result = judge(samples(0.0, 0.0, -30.0, 0.0, 30.0), turn_degrees=TURN)  # right first, then left
    assert not result.passed and result.step == STEP_RIGHT


def test_it_judges_turns_against_the_students_own_frontal_pose() -> None:
    # A frontal pose of -13.5: a "turn" to -25 is only 11.5 degrees, not enough.
    assert not judge(samples(WOMAN_FRONTAL, WOMAN_FRONTAL, WOMAN_HER_LEFT, -25.0), turn_degrees=TURN).passed


def test_it_waits_for_a_frontal_face_and_skips_frames_without_one_face() -> None:
    assert judge(samples(None, 35.0, 35.0, None), turn_degrees=TURN).step == STEP_FACE  # turned from the start
    assert judge(samples(None, 0.0, 2.0, None), turn_degrees=TURN).step == STEP_LEFT
    assert judge(samples(0.0, 1.0, None, 20.0, None, -20.0), turn_degrees=TURN).passed


def test_it_wants_the_frontal_pose_on_two_frames_in_a_row() -> None:
    # A near-profile photo's yaw jumps about (measured: -85..+88 on one still photo); one frontal reading
    # among them is no baseline.
    jumpy = [-65.0, 12.0, 44.0, -60.0, 3.0, -43.0, 81.0]
    assert judge(samples(*jumpy), turn_degrees=TURN).step == STEP_FACE
    assert judge(samples(0.0, None, 1.0, 30.0, -30.0), turn_degrees=TURN).step == STEP_FACE  # not in a row
    assert judge(samples(-15.0, 15.0, 30.0, -30.0), turn_degrees=TURN).step == STEP_FACE  # not steady


def test_it_ignores_yaws_too_far_turned_to_be_trusted() -> None:
    # Near profile, the five landmarks flip sides: +80 then -70 on one still photo is no turn.
    assert judge(samples(0.0, 0.0, 80.0, -70.0), turn_degrees=TURN).step == STEP_LEFT


def test_it_reads_the_yaw_of_exactly_one_face() -> None:
    face = {"Pose": {"Yaw": 12.5, "Pitch": 0.0, "Roll": 0.0}}
    assert yaw_of({"FaceDetails": [face]}) == 12.5
    assert yaw_of({"FaceDetails": [face, face]}) is None
    assert yaw_of({"FaceDetails": []}) is None
    assert yaw_of(None) is None and yaw_of({"FaceDetails": [{"Pose": {}}]}) is None
