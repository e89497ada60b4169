"""Liveness at the gate: "turn your head left, then right" (or right, then left), judged from the head yaw
of gate frames.

Pure functions, no ORM (the selector in proctoring.gate feeds them). A still photograph or a phone
screen held up to the camera shows one head pose, whatever the hand does with it: tilting a flat
picture scales its landmarks together, so the yaw estimated from them barely moves (measured in
scripts/measure_liveness.py). A real head swings its yaw tens of degrees each way.

Yaw sign (proctoring/analysis/faces.py::pose): positive when the nose points towards image-right.
The browser sends the camera's image unmirrored, in which the student's own left is image-right:
turning the head to one's left gives a positive yaw.

The order of the two turns is the server's, per session (``challenge_order``: an HMAC of the session id
under the server's secret), so a recording of one order fails a session that asks for the other; the
client sends nothing that could choose it. What it still does not stop: a video of the student turning
both ways, played on a screen, or photos of turned heads swapped in the order shown. Those need more
steps or a depth/texture cue; see the report of issue 9.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.crypto import salted_hmac

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

Order = tuple[str, str]  # the two turns, in the order asked
ORDERS: tuple[Order, Order] = ((STEP_LEFT, STEP_RIGHT), (STEP_RIGHT, STEP_LEFT))
ORDER_SALT = "proctoring.liveness.challenge_order"

FIRST_TURN = {STEP_LEFT: "Slowly turn your head to your left…", STEP_RIGHT: "Slowly turn your head to your right…"}
SECOND_TURN = {STEP_LEFT: "…now slowly turn your head to your left.",
               STEP_RIGHT: "…now slowly turn your head to your right."}
INSTRUCTIONS = {STEP_FACE: "Look straight at the camera.", STEP_DONE: "Thank you: you turned your head as asked."}


def challenge_order(*, session_id: int, secret: str) -> Order:
    """The order of the turns a session is asked for: one bit of an HMAC of its id under ``secret`` (the
    server's SECRET_KEY), so it is fixed for the session, differs between sessions and cannot be
    predicted or chosen without the secret. Nothing is stored."""
    digest = salted_hmac(ORDER_SALT, str(session_id), secret=secret, algorithm="sha256").digest()
    return ORDERS[digest[0] & 1]


@dataclass(frozen=True)
class Liveness:
    passed: bool
    step: str
    order: Order
    at: datetime | None = None  # when the last turn was seen (passed only)

    @property
    def instruction(self) -> str:
        if self.step in INSTRUCTIONS:
            return INSTRUCTIONS[self.step]
        return FIRST_TURN[self.step] if self.step == self.order[0] else SECOND_TURN[self.step]


def _turned(step: str, yaw: float, baseline: float, turn_degrees: float) -> bool:
    """Whether ``yaw`` is a turn to the student's ``step`` side (left: yaw above the baseline)."""
    return (yaw - baseline if step == STEP_LEFT else baseline - yaw) >= turn_degrees


def judge(samples: Iterable[tuple[datetime, float | None]], *, turn_degrees: float, order: Order) -> Liveness:
    """Judge the challenge on ``samples``: (capture time, yaw of the one clear face or None), oldest first.

    The baseline is the student's own frontal pose, seen on two consecutive frames (each within
    FRONTAL_DEGREES, and within STEADY_DEGREES of each other): a near-profile photo, whose yaw jumps
    about, rarely reads frontal twice in a row. Then a turn of at least ``turn_degrees`` from the
    baseline to the side ``order[0]`` names (left: yaw above the baseline), then one at least as far
    to the other side, in that order. Frames without exactly one face, or turned past
    TRUSTED_DEGREES, are skipped (and break a frontal pair).
    """
    if order not in ORDERS:
        raise ValueError(f"not a liveness order: {order!r}")
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
                baseline, step = (yaw + previous) / 2, order[0]
            previous = yaw if frontal else None
        elif baseline is not None and _turned(step, yaw, baseline, turn_degrees):
            if step == order[1]:
                return Liveness(passed=True, step=STEP_DONE, order=order, at=at)
            step = order[1]
    return Liveness(passed=False, step=step, order=order)


def yaw_of(findings: Any) -> float | None:
    """The yaw of the single face of an analysed frame (None without exactly one face)."""
    details = findings.get("FaceDetails") if isinstance(findings, dict) else None
    if not isinstance(details, list) or len(details) != 1:
        return None
    yaw = (details[0].get("Pose") or {}).get("Yaw") if isinstance(details[0], dict) else None
    return float(yaw) if isinstance(yaw, int | float) else None
