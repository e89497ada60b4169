"""Liveness at the gate: "turn your head left, then right", judged from the head yaw of gate frames.

Pure functions, no ORM (the selector in proctoring.gate feeds them). A still photograph or a phone
screen held up to the camera shows one head pose, whatever the hand does with it: tilting a flat
picture scales its landmarks together, so the yaw estimated from them barely moves (measured in
scripts/measure_liveness.py). A real head swings its yaw tens of degrees each way.

Yaw sign (proctoring/analysis/faces.py::pose): positive when the nose points towards image-right.
The browser sends the camera's image unmirrored, in which the student's own left is image-right:
turning the head to one's left gives a positive yaw.

What it does not stop: a video of the student turning their head played on a screen, or two
photos of turned heads swapped in the right order. Those need a challenge the attacker cannot
predict (a random order, more steps) or a depth/texture cue; see the report of issue 9.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A frontal pose: the first face within this yaw becomes the student's own baseline.
FRONTAL_DEGREES = 20.0
# Yaw from five landmarks is unreliable near profile: the landmarks of a near-profile face flip sides
# and its estimate jumps between about -70 and +80 degrees on one still photo (scripts/measure_liveness.py,
# G_yudas1337_fahrul_02). Frames beyond this are skipped rather than read as a turn.
TRUSTED_DEGREES = 50.0
STEADY_DEGREES = 10.0

STEP_FACE = "face"  # waiting for a frontal face
STEP_LEFT = "left"  # waiting for a turn to the student's left
STEP_RIGHT = "right"  # waiting for a turn to the student's right
STEP_DONE = "done"

INSTRUCTIONS = {
    STEP_FACE: "Look straight at the camera.",
    STEP_LEFT: "Slowly turn your head to your left…",
    STEP_RIGHT: "…now slowly turn your head to your right.",
    STEP_DONE: "Thank you: you turned your head as asked.",
}


@dataclass(frozen=True)
class Liveness:
    passed: bool
    step: str
    at: datetime | None = None  # when the last turn was seen (passed only)

    @property
    def instruction(self) -> str:
        return INSTRUCTIONS[self.step]


def judge(samples: Iterable[tuple[datetime, float | None]], *, turn_degrees: float) -> Liveness:
    """Judge the challenge on ``samples``: (capture time, yaw of the one clear face or None), oldest first.

    The baseline is the student's own frontal pose, seen on two consecutive frames (each within
    FRONTAL_DEGREES, and within STEADY_DEGREES of each other): a near-profile photo, whose yaw jumps
    about, rarely reads frontal twice in a row. Then a yaw at least ``turn_degrees`` above the
    baseline (the student's left), then one at least as far below it (their right), in that order.
    Frames without exactly one face, or turned past TRUSTED_DEGREES, are skipped (and break a
    frontal pair).
    """
    baseline: float | None = None
    previous: float | None = None  # the last frame's yaw while looking for the frontal pair
    step = STEP_FACE
    for at, yaw in samples:
        if yaw is None or abs(yaw) > TRUSTED_DEGREES:
            previous = None
            continue
        if step == STEP_FACE:
            frontal = abs(yaw) <= FRONTAL_DEGREES
            if frontal and previous is not None and abs(yaw - previous) <= STEADY_DEGREES:
                baseline, step = (yaw + previous) / 2, STEP_LEFT
            previous = yaw if frontal else None
        elif step == STEP_LEFT:
            if baseline is not None and yaw - baseline >= turn_degrees:
                step = STEP_RIGHT
        elif step == STEP_RIGHT and baseline is not None and baseline - yaw >= turn_degrees:
            return Liveness(passed=True, step=STEP_DONE, at=at)
    return Liveness(passed=False, step=step)


def yaw_of(findings: Any) -> float | None:
    """The yaw of the single face of an analysed frame (None without exactly one face)."""
    details = findings.get("FaceDetails") if isinstance(findings, dict) else None
    if not isinstance(details, list) or len(details) != 1:
        return None
    yaw = (details[0].get("Pose") or {}).get("Yaw") if isinstance(details[0], dict) else None
    return float(yaw) if isinstance(yaw, int | float) else None
