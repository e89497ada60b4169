"""The liveness judge on yaw sequences: a held-up still photo never passes, a turning head does, in the
sequence of turns the server chose for the session, back at the camera between turns."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from proctoring.liveness import (
    ORDERS,
    STEP_BACK,
    STEP_DONE,
    STEP_FACE,
    STEP_LEFT,
    STEP_RIGHT,
    Liveness,
    Order,
    challenge_order,
    judge,
    own_face,
    yaw_of,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TURN = 15.0
LLR = (STEP_LEFT, STEP_LEFT, STEP_RIGHT)
# Yaws the local engine measures on real frames of one woman turning her head (Intel's
# head-pose-face-detection-female sample: frames 20, 12 and 0; see scripts/measure_liveness.py).
WOMAN_FRONTAL, WOMAN_HER_LEFT, WOMAN_HER_RIGHT = -13.5466, 24.7155, -45.2462
WOMAN = {STEP_LEFT: WOMAN_HER_LEFT, STEP_RIGHT: WOMAN_HER_RIGHT}


def samples(*yaws: float | None) -> list[tuple[datetime, float | None]]:
    return [(T0 + timedelta(seconds=2 * index), yaw) for index, yaw in enumerate(yaws)]


def turning(order: Order, front: float = WOMAN_FRONTAL) -> list[float | None]:
    """A student who looks at the camera, then turns as ``order`` asks, looking back at the camera after each turn."""
    yaws: list[float | None] = [front, front]
    for step in order:
        yaws += [WOMAN[step], front]
    return yaws


def asked(order: Order, *yaws: float | None) -> Liveness:
    return judge(samples(*yaws), turn_degrees=TURN, order=order)


def test_it_passes_a_head_that_turns_as_asked_in_every_order() -> None:
    for order in ORDERS:
        result = asked(order, *turning(order))
        assert result.passed and result.step == STEP_DONE and result.turns_done == 3
        assert result.at == T0 + timedelta(seconds=2 * 6)  # the frame of the last turn


def test_it_never_passes_a_still_photo_whatever_its_pose() -> None:
    for yaw in (-40.0, -13.5, 0.0, 5.3, 24.7, 40.0):
        for order in ORDERS:
            assert not asked(order, *[yaw] * 60).passed


def test_it_never_passes_a_still_photo_with_the_jitter_of_a_hand() -> None:
    shaky = random.Random(9)
    for base in (-10.0, 0.0, 10.0):
        yaws = [base + shaky.uniform(-6.0, 6.0) for _ in range(150)]  # a hand-held picture: +-6 degrees
        for order in ORDERS:
            assert not asked(order, *yaws).passed


def test_it_passes_a_recording_of_one_sessions_turns_only_in_that_session_order() -> None:
    for recorded in ORDERS:
        replayed = turning(recorded)
        assert [asked(order, *replayed).passed for order in ORDERS] == [order == recorded for order in ORDERS]


def test_a_recording_played_in_a_loop_passes_one_other_order_too() -> None:
    # Played over and over, left-left-right is also right-left-left (a known limit: one session in two).
    looped = turning(LLR) * 3
    assert [order for order in ORDERS if asked(order, *looped).passed] == [LLR, (STEP_RIGHT, STEP_LEFT, STEP_LEFT)]


def test_it_never_passes_a_video_of_the_student_turning_both_ways_in_turn() -> None:
    F, L, R = WOMAN_FRONTAL, WOMAN_HER_LEFT, WOMAN_HER_RIGHT
    for video in ([F, F, L, F, R] * 8, [F, F, L, R] * 8, [F, F, R, F, L] * 8, [F, F, L, L, F, R, R, F] * 8):
        for order in ORDERS:
            assert not asked(order, *video).passed, (video[:8], order)


def test_a_turn_the_other_way_starts_the_turns_again() -> None:
    F, L, R = 0.0, 30.0, -30.0
    wrong = asked(LLR, F, F, L, F, R)  # one left, then a right where the second left was asked
    assert not wrong.passed and wrong.step == STEP_BACK and wrong.turns_done == 0 and wrong.wrong_way
    assert wrong.instruction == "That was the other way. Look straight at the camera, then start again."
    again = asked(LLR, F, F, L, F, R, F)
    assert again.step == STEP_LEFT and again.turns_done == 0
    assert asked(LLR, F, F, L, F, R, F, L, F, L, F, R).passed  # started again, and done as asked


def test_it_wants_the_face_back_at_the_camera_between_turns() -> None:
    F, L, R = 0.0, 30.0, -30.0
    assert asked(LLR, F, F, L, L, L, R).step == STEP_BACK  # one turn held: counted once
    assert asked(LLR, F, F, L, 10.0, L).turns_done == 1  # 10 degrees off is not back (half the turn: 7.5)
    assert asked(LLR, F, F, L, 5.0, L, F, R).passed


def test_it_asks_for_each_turn_in_the_sessions_order() -> None:
    assert Liveness(passed=False, step=STEP_FACE, order=LLR).instruction == "Look straight at the camera."
    assert Liveness(passed=False, step=STEP_LEFT, order=LLR).instruction == \
        "Turn 1 of 3: slowly turn your head to your left…"
    assert Liveness(passed=False, step=STEP_BACK, order=LLR, turns_done=1).instruction == \
        "Good. Now look straight at the camera again."
    assert Liveness(passed=False, step=STEP_RIGHT, order=LLR, turns_done=2).instruction == \
        "Turn 3 of 3: slowly turn your head to your right…"
    F, L = 0.0, 30.0
    assert [asked(LLR, *yaws).step for yaws in ([F, F], [F, F, L], [F, F, L, F], [F, F, L, F, L, F])] == \
        [STEP_LEFT, STEP_BACK, STEP_LEFT, STEP_RIGHT]


def test_it_asks_for_a_little_further_when_a_turn_falls_short() -> None:
    F = 0.0
    short = asked(LLR, F, F, 8.0)  # to the left as asked, but 8 of the 15 degrees
    assert short.step == STEP_LEFT and short.further
    assert short.instruction == "Turn 1 of 3: a little further to your left…"
    assert not asked(LLR, F, F, 5.0).further  # under FURTHER_FRACTION of the turn: the face is just not still
    assert not asked(LLR, F, F, -8.0).further  # the other way
    assert not asked(LLR, F, F, 8.0, F).further  # only while the latest frame falls short
    assert asked(LLR, F, F, 8.0, None).further  # a frame without a reading keeps the last advice
    counted = asked(LLR, F, F, 8.0, 20.0)  # further, then counted
    assert counted.step == STEP_BACK and counted.turns_done == 1 and not counted.further


def test_it_refuses_an_order_that_is_not_one_of_the_four() -> None:
    for order in ((STEP_LEFT, STEP_RIGHT), (STEP_LEFT, STEP_RIGHT, STEP_LEFT), (STEP_LEFT,) * 3):
        with pytest.raises(ValueError):
            judge(samples(0.0, 0.0, 30.0, 30.0), turn_degrees=TURN, order=order)


def test_it_derives_each_sessions_order_from_the_server_secret() -> None:
    orders = [challenge_order(session_id=n, secret="one secret") for n in range(1, 41)]
    assert set(orders) == set(ORDERS)  # every order occurs among sessions
    assert orders == [challenge_order(session_id=n, secret="one secret") for n in range(1, 41)]  # fixed per session
    assert orders != [challenge_order(session_id=n, secret="another secret") for n in range(1, 41)]


def test_it_judges_turns_against_the_students_own_frontal_pose() -> None:
    # A frontal pose of -13.5: a "turn" to -25 is only 11.5 degrees, not enough.
    yaws = turning(LLR)
    yaws[-2] = -25.0
    assert not asked(LLR, *yaws).passed


def test_it_waits_for_a_frontal_face_and_skips_frames_without_one_face() -> None:
    assert asked(LLR, None, 35.0, 35.0, None).step == STEP_FACE  # turned from the start
    assert asked(LLR, None, 0.0, 2.0, None).step == STEP_LEFT
    assert asked(LLR, 0.0, 1.0, None, 20.0, None, 0.0, 20.0, 0.0, None, -20.0).passed


def test_it_wants_the_frontal_pose_on_two_frames_in_a_row() -> None:
    # A near-profile photo's yaw jumps about (measured: -85..+88 on one still photo); one frontal reading
    # among them is no baseline.
    jumpy = [-65.0, 12.0, 44.0, -60.0, 3.0, -43.0, 81.0]
    assert asked(LLR, *jumpy).step == STEP_FACE
    assert asked(LLR, 0.0, None, 1.0, 30.0, 0.0, 30.0, 0.0, -30.0).step == STEP_FACE  # not in a row
    assert asked(LLR, -15.0, 15.0, 30.0, 0.0, 30.0, 0.0, -30.0).step == STEP_FACE  # not steady


def test_it_ignores_yaws_too_far_turned_to_be_trusted() -> None:
    # Near profile, the five landmarks flip sides: +85 then -88 on one still photo is no turn.
    assert asked(LLR, 0.0, 0.0, 85.0, 0.0, 85.0, 0.0, -88.0).step == STEP_LEFT
    assert asked(LLR, 0.0, 0.0, 60.0, 0.0, 70.0, 0.0, -75.0).passed  # a real turn to near profile counts


def test_it_reads_the_yaw_of_exactly_one_face() -> None:
    face = {"Pose": {"Yaw": 12.5, "Pitch": 0.0, "Roll": 0.0}}
    assert yaw_of({"FaceDetails": [face]}) == 12.5
    assert yaw_of({"FaceDetails": [face, face]}) is None
    assert yaw_of({"FaceDetails": []}) is None
    assert yaw_of(None) is None and yaw_of({"FaceDetails": [{"Pose": {}}]}) is None


def test_it_reads_the_face_meshs_yaw_where_the_pipeline_kept_one() -> None:
    # The local engine's Pose.Yaw comes from five landmarks; a gate frame keeps the mesh's yaw (``Liveness``).
    face = {"Pose": {"Yaw": 3.0, "Pitch": 0.0, "Roll": 0.0}}
    assert yaw_of({"FaceDetails": [face], "Liveness": {"Yaw": 31.5}}) == 31.5
    assert yaw_of({"FaceDetails": [face], "Liveness": {"Yaw": None}}) is None  # unread: skipped, never Pose.Yaw
    assert yaw_of({"FaceDetails": [face, face], "Liveness": {"Yaw": 31.5}}) is None


def test_it_counts_a_frame_only_when_its_face_is_the_students() -> None:
    def verified(similarity: float | None, reason: str = "not_matching") -> dict[str, object]:
        return {"Verification": {"Passed": False, "Reason": reason, "Similarity": similarity, "FaceId": None}}

    assert own_face(verified(85.0, "turned_away"), min_similarity=80, has_reference=True)  # a turned own face
    assert not own_face(verified(40.0), min_similarity=80, has_reference=True)  # someone else
    assert not own_face(verified(None, "no_face"), min_similarity=80, has_reference=True)
    # Judged before the student had a reference: counts only while they still have none.
    assert own_face(verified(None, "no_reference"), min_similarity=80, has_reference=False)
    assert not own_face(verified(None, "no_reference"), min_similarity=80, has_reference=True)
    assert not own_face({"FaceDetails": []}, min_similarity=80, has_reference=True)  # no verdict at all
