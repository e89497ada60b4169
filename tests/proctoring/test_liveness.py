"""The liveness judge on yaw sequences: a held-up still photo never passes, a turning head does, in the
order the server chose for the session."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from proctoring.liveness import (
    ORDERS,
    STEP_DONE,
    STEP_FACE,
    STEP_LEFT,
    STEP_RIGHT,
    Liveness,
    challenge_order,
    judge,
    yaw_of,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TURN = 15.0
LEFT_FIRST, RIGHT_FIRST = ORDERS
# Yaws the local engine measures on real frames of one woman turning her head (Intel's
# head-pose-face-detection-female sample: frames 20, 12 and 0; see scripts/measure_liveness.py).
WOMAN_FRONTAL, WOMAN_HER_LEFT, WOMAN_HER_RIGHT = -13.5466, 24.7155, -45.2462


def samples(*yaws: float | None) -> list[tuple[datetime, float | None]]:
    return [(T0 + timedelta(seconds=2 * index), yaw) for index, yaw in enumerate(yaws)]


def left_first(*yaws: float | None) -> Liveness:
    """The judge on a session asked to turn left, then right."""
    return judge(samples(*yaws), turn_degrees=TURN, order=LEFT_FIRST)


def test_it_passes_a_head_that_turns_left_then_right() -> None:
    turned = samples(WOMAN_FRONTAL, WOMAN_FRONTAL, WOMAN_HER_LEFT, WOMAN_HER_RIGHT)
    result = judge(turned, turn_degrees=TURN, order=LEFT_FIRST)
    assert result.passed and result.step == STEP_DONE and result.at == T0 + timedelta(seconds=6)


def test_it_never_passes_a_still_photo_whatever_its_pose() -> None:
    for yaw in (-40.0, -13.5, 0.0, 5.3, 24.7, 40.0):
        for order in ORDERS:
            assert not judge(samples(*[yaw] * 60), turn_degrees=TURN, order=order).passed


def test_it_never_passes_a_still_photo_with_the_jitter_of_a_hand() -> None:
    shaky = random.Random(9)
    for base in (-10.0, 0.0, 10.0):
        yaws = [base + shaky.uniform(-6.0, 6.0) for _ in range(150)]  # a hand-held picture: +-6 degrees
        for order in ORDERS:
            assert not judge(samples(*yaws), turn_degrees=TURN, order=order).passed


def test_it_needs_the_turns_in_the_order_asked() -> None:
    result = left_first(0.0, 0.0, -30.0, 0.0, 30.0)  # right first, then left
    assert not result.passed and result.step == STEP_RIGHT


def test_it_passes_a_head_that_turns_right_then_left_when_asked_in_that_order() -> None:
    turned = samples(WOMAN_FRONTAL, WOMAN_FRONTAL, WOMAN_HER_RIGHT, WOMAN_HER_LEFT)
    result = judge(turned, turn_degrees=TURN, order=RIGHT_FIRST)
    assert result.passed and result.step == STEP_DONE and result.at == T0 + timedelta(seconds=6)
    wrong_way = judge(samples(WOMAN_FRONTAL, WOMAN_FRONTAL, WOMAN_HER_LEFT, WOMAN_HER_RIGHT), turn_degrees=TURN,
                      order=RIGHT_FIRST)
    assert not wrong_way.passed and wrong_way.step == STEP_LEFT  # the right turn counted; the left one came first


def test_it_asks_for_the_turns_in_the_sessions_order() -> None:
    assert Liveness(passed=False, step=STEP_LEFT, order=LEFT_FIRST).instruction == "Slowly turn your head to your left…"
    assert Liveness(passed=False, step=STEP_RIGHT, order=LEFT_FIRST).instruction == \
        "…now slowly turn your head to your right."
    assert Liveness(passed=False, step=STEP_RIGHT, order=RIGHT_FIRST).instruction == \
        "Slowly turn your head to your right…"
    assert Liveness(passed=False, step=STEP_LEFT, order=RIGHT_FIRST).instruction == \
        "…now slowly turn your head to your left."
    assert judge(samples(0.0, 0.0), turn_degrees=TURN, order=RIGHT_FIRST).step == STEP_RIGHT


def test_it_refuses_an_order_that_is_not_one_of_the_two() -> None:
    with pytest.raises(ValueError):
        judge(samples(0.0, 0.0, 30.0, 30.0), turn_degrees=TURN, order=(STEP_LEFT, STEP_LEFT))


def test_it_derives_each_sessions_order_from_the_server_secret() -> None:
    orders = [challenge_order(session_id=n, secret="one secret") for n in range(1, 41)]
    assert set(orders) == set(ORDERS)  # both orders occur among sessions
    assert orders == [challenge_order(session_id=n, secret="one secret") for n in range(1, 41)]  # fixed per session
    assert orders != [challenge_order(session_id=n, secret="another secret") for n in range(1, 41)]


def test_it_judges_turns_against_the_students_own_frontal_pose() -> None:
    # A frontal pose of -13.5: a "turn" to -25 is only 11.5 degrees, not enough.
    assert not left_first(WOMAN_FRONTAL, WOMAN_FRONTAL, WOMAN_HER_LEFT, -25.0).passed


def test_it_waits_for_a_frontal_face_and_skips_frames_without_one_face() -> None:
    assert left_first(None, 35.0, 35.0, None).step == STEP_FACE  # turned from the start
    assert left_first(None, 0.0, 2.0, None).step == STEP_LEFT
    assert left_first(0.0, 1.0, None, 20.0, None, -20.0).passed


def test_it_wants_the_frontal_pose_on_two_frames_in_a_row() -> None:
    # A near-profile photo's yaw jumps about (measured: -85..+88 on one still photo); one frontal reading
    # among them is no baseline.
    jumpy = [-65.0, 12.0, 44.0, -60.0, 3.0, -43.0, 81.0]
    assert left_first(*jumpy).step == STEP_FACE
    assert left_first(0.0, None, 1.0, 30.0, -30.0).step == STEP_FACE  # not in a row
    assert left_first(-15.0, 15.0, 30.0, -30.0).step == STEP_FACE  # not steady


def test_it_ignores_yaws_too_far_turned_to_be_trusted() -> None:
    # Near profile, the five landmarks flip sides: +80 then -70 on one still photo is no turn.
    assert left_first(0.0, 0.0, 80.0, -70.0).step == STEP_LEFT


def test_it_reads_the_yaw_of_exactly_one_face() -> None:
    face = {"Pose": {"Yaw": 12.5, "Pitch": 0.0, "Roll": 0.0}}
    assert yaw_of({"FaceDetails": [face]}) == 12.5
    assert yaw_of({"FaceDetails": [face, face]}) is None
    assert yaw_of({"FaceDetails": []}) is None
    assert yaw_of(None) is None and yaw_of({"FaceDetails": [{"Pose": {}}]}) is None
