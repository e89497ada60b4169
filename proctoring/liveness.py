"""Liveness at the gate: three head turns, each to the side the server asks ("turn your head to your left",
"now look at the camera again", "turn to your left", "again", "turn to your right"), judged from the head yaw of
gate frames.

Pure functions, no ORM (the selector in proctoring.gate feeds them). A still photograph or a phone screen held up
to the camera shows one head pose, whatever the hand does with it: tilting a flat picture moves its face little in
the yaw read from it (measured in scripts/measure_liveness.py). A real head swings its yaw tens of degrees each way.

The yaw read (``yaw_of``): on the local engine, the face mesh's (``gate_reading``: MediaPipe's 468-point mesh, the
3D outer eye corners, ``analysis.landmarks.mesh_yaw``), which the pipeline keeps in a gate frame's findings as
``Liveness``; the engine's own Pose.Yaw comes from five 2D landmarks, which misread three-quarter turns and flip near
profile. The mesh infers the depth of the face it sees, so a tilted picture keeps its face's yaw: over 100 tilted
frames of each still photo its reading swings 10.5 degrees (median; 95th percentile 19.1) where the five points'
swing 18.6 (37.6). Rekognition's Pose is its own 3D estimate: there Pose.Yaw is read as it is.

Yaw sign (as proctoring/analysis/faces.py::pose): positive when the nose points towards image-right. The browser
sends the camera's image unmirrored, in which the student's own left is image-right: turning the head to one's left
gives a positive yaw.

The sequence of turns is the server's, per session (``challenge_order``: an HMAC of the session id under the
server's secret); the client sends nothing that could choose it. Each sequence turns one side twice and the other
once, never alternating (left, left, right; left, right, right; right, left, left; right, right, left), the student
looks back at the camera between turns, and a turn to the side not asked for starts the turns again. So a video of
the student turning both ways in turn, played on a screen, passes none of them, and a recording of one session's
turns passes one session in four (two in four played in a loop: left-left-right looped is also right-left-left).
Whose head turns: only frames whose one face is the session's student count (``own_face``): the 1:1 comparison
with the student's references, which every gate frame gets, at a floor below the identity pass, since a turned
face matches less well (LIVENESS_MIN_SIMILARITY). Without it, the head turns of anyone (or still photos of turned
heads of anyone) before one frontal photo of the student passed the gate.
What it still does not stop: someone who plays chosen parts of a video of the student, or swaps photos of the
student's own turned head, as the page asks; that needs a depth or texture cue (see the report of issue 9).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.crypto import salted_hmac

# A frontal pose: the first face within this yaw becomes the student's own baseline.
FRONTAL_DEGREES = 20.0
# Yaw is unreliable near profile: the five landmarks of a near-profile face flip sides and their estimate jumps
# between about -70 and +80 degrees on one still photo (scripts/measure_liveness.py, G_yudas1337_fahrul_02); the
# mesh's reading of that photo, tilted, spans 108 degrees too. Frames beyond this are skipped rather than read as a
# turn. Chosen on the five-point yaw: it was 50, which skipped the near-profile turns of 7 of 15 real people of the
# dev set (section 5: 7.2 of 15 passed within 2 tries; 12.4 at 80), while no held-up still photo passes at any
# limit from 50 to 90 (0 of 109 at the 20-degree threshold; a near-profile photo rarely reads frontal on two
# frames in a row). Kept, not chosen again, for the mesh's yaw.
TRUSTED_DEGREES = 80.0
STEADY_DEGREES = 10.0
# Back at the camera between turns: within this fraction of the turn threshold of the baseline.
BACK_FRACTION = 0.5
# A turn begun but short of the threshold (at least this fraction of it, to the side asked) on the latest frame:
# the page asks for a little further. A real head can turn further; a photo cannot, so this tells an impostor
# nothing the instruction did not. Not measured: the dev set has one turned photo a person, not a video.
FURTHER_FRACTION = 0.4

STEP_FACE = "face"  # waiting for a frontal face
STEP_LEFT = "left"  # waiting for a turn to the student's left
STEP_RIGHT = "right"  # waiting for a turn to the student's right
STEP_BACK = "back"  # waiting for the face to look at the camera again between turns
STEP_DONE = "done"
STEP_EXCUSED = "excused"  # a proctor who saw the student live on the check's frames excused the turns (gate.py)

Order = tuple[str, ...]  # the turns, in the order asked
ORDERS: tuple[Order, ...] = (
    (STEP_LEFT, STEP_LEFT, STEP_RIGHT), (STEP_LEFT, STEP_RIGHT, STEP_RIGHT),
    (STEP_RIGHT, STEP_LEFT, STEP_LEFT), (STEP_RIGHT, STEP_RIGHT, STEP_LEFT),
)
ORDER_SALT = "proctoring.liveness.challenge_order"
OTHER_SIDE = {STEP_LEFT: STEP_RIGHT, STEP_RIGHT: STEP_LEFT}

INSTRUCTIONS = {STEP_FACE: "Look straight at the camera.", STEP_BACK: "Good. Now look straight at the camera again.",
                STEP_DONE: "Thank you: you turned your head as asked.",
                STEP_EXCUSED: "Not needed: a proctor excused you from the head turns."}


def challenge_order(*, session_id: int, secret: str) -> Order:
    """The turns a session is asked for: two bits of an HMAC of its id under ``secret`` (the server's
    SECRET_KEY), so they are fixed for the session, differ between sessions and cannot be predicted or chosen
    without the secret. Nothing is stored."""
    digest = salted_hmac(ORDER_SALT, str(session_id), secret=secret, algorithm="sha256").digest()
    return ORDERS[digest[0] % len(ORDERS)]


@dataclass(frozen=True)
class Liveness:
    passed: bool
    step: str
    order: Order
    at: datetime | None = None  # when the last turn was seen (passed only)
    turns_done: int = 0  # turns of ``order`` seen so far
    wrong_way: bool = False  # the last turn seen was to the side not asked for (the turns start again)
    further: bool = False  # the latest frame turned the way asked, but not far enough
    seen: int = 0  # frames whose head pose was read (the student's own face, not near profile): how long they tried
    tried_seconds: float = 0.0  # from the first to the last of those, by the server's clock (proctoring.gate)

    @property
    def instruction(self) -> str:
        if self.step == STEP_BACK and self.wrong_way:
            return "That was the other way. Look straight at the camera, then start again."
        if self.step in INSTRUCTIONS:
            return INSTRUCTIONS[self.step]
        if self.further:
            return f"Turn {self.turns_done + 1} of {len(self.order)}: a little further to your {self.step}…"
        return f"Turn {self.turns_done + 1} of {len(self.order)}: slowly turn your head to your {self.step}…"


def _turned(step: str, yaw: float, baseline: float, turn_degrees: float) -> bool:
    """Whether ``yaw`` is a turn to the student's ``step`` side (left: yaw above the baseline)."""
    return (yaw - baseline if step == STEP_LEFT else baseline - yaw) >= turn_degrees


def judge(samples: Iterable[tuple[datetime, float | None]], *, turn_degrees: float, order: Order) -> Liveness:
    """Judge the challenge on ``samples``: (capture time, yaw of the one clear face or None), oldest first.

    The baseline is the student's own frontal pose, seen on two consecutive frames (each within
    FRONTAL_DEGREES, and within STEADY_DEGREES of each other): a near-profile photo, whose yaw jumps
    about, rarely reads frontal twice in a row. Then each turn of ``order`` in turn: at least ``turn_degrees``
    from the baseline to the side it names (left: yaw above the baseline), each followed by a frame back at the
    camera (within BACK_FRACTION of ``turn_degrees`` of the baseline) before the next one counts. A turn to the
    other side while a turn is awaited starts the turns again (after a frame back at the camera). Frames without
    exactly one face, or turned past TRUSTED_DEGREES, are skipped (and break a frontal pair).
    """
    if order not in ORDERS:
        raise ValueError(f"not a liveness order: {order!r}")
    baseline: float | None = None
    previous: float | None = None  # the last frame's yaw while looking for the frontal pair
    done = 0  # turns of ``order`` seen
    back = False  # a turn was just seen: waiting for the face to look at the camera again
    wrong_way = False
    further = False
    seen = 0
    for at, yaw in samples:
        if yaw is None or abs(yaw) > TRUSTED_DEGREES:
            previous = None
            continue
        seen += 1
        further = False
        if baseline is None:
            frontal = abs(yaw) <= FRONTAL_DEGREES
            if frontal and previous is not None and abs(yaw - previous) <= STEADY_DEGREES:
                baseline = (yaw + previous) / 2
            previous = yaw if frontal else None
        elif back:
            back = abs(yaw - baseline) >= BACK_FRACTION * turn_degrees
        elif _turned(order[done], yaw, baseline, turn_degrees):
            done, wrong_way = done + 1, False
            if done == len(order):
                return Liveness(passed=True, step=STEP_DONE, order=order, at=at, turns_done=done, seen=seen)
            back = True
        elif _turned(OTHER_SIDE[order[done]], yaw, baseline, turn_degrees):
            done, back, wrong_way = 0, True, True  # the wrong way: the turns start again
        else:
            further = _turned(order[done], yaw, baseline, FURTHER_FRACTION * turn_degrees)
    if baseline is None:
        return Liveness(passed=False, step=STEP_FACE, order=order, seen=seen)
    return Liveness(passed=False, step=STEP_BACK if back else order[done], order=order, turns_done=done,
                    wrong_way=wrong_way, further=further, seen=seen)


def yaw_of(findings: Any) -> float | None:
    """The yaw of the single face of an analysed frame (None without exactly one face): the face mesh's
    (``Liveness.Yaw``, ``gate_reading``) where the pipeline read it, else the face's ``Pose.Yaw``."""
    details = findings.get("FaceDetails") if isinstance(findings, dict) else None
    if not isinstance(details, list) or len(details) != 1:
        return None
    if isinstance(findings.get("Liveness"), dict):
        yaw = findings["Liveness"].get("Yaw")  # None: the mesh could not read this face; skipped, not mixed
    else:
        yaw = (details[0].get("Pose") or {}).get("Yaw") if isinstance(details[0], dict) else None
    return float(yaw) if isinstance(yaw, int | float) else None


# In a gate frame's findings after a proctor's approval: {"Similarity": to the approved live photo}
# (proctoring.approvals.approved_live_similarity).
APPROVED_LIVE = "ApprovedLive"


def approved_face(findings: Any, *, min_similarity: float) -> bool:
    """Whether a gate frame's one face is the live photo's that a proctor approved: its ``APPROVED_LIVE``
    similarity at least ``min_similarity`` (no comparison: not)."""
    approved = findings.get(APPROVED_LIVE) if isinstance(findings, dict) else None
    similarity = approved.get("Similarity") if isinstance(approved, dict) else None
    return isinstance(similarity, int | float) and similarity >= min_similarity


def own_face(findings: Any, *, min_similarity: float, has_reference: bool) -> bool:
    """Whether the one face of an analysed gate frame is the session's student, as far as the frame's 1:1
    ``Verification`` tells: its similarity to the student's references at least ``min_similarity``. A frame judged
    without references counts only while the student has none (the photo-ID fallback's turns, before a proctor's
    approval keeps a live frame as a reference); a frame with no verdict at all does not count when they have one."""
    verification = findings.get("Verification") if isinstance(findings, dict) else None
    if not isinstance(verification, dict):
        return not has_reference
    if verification.get("Reason") == "no_reference":
        return not has_reference
    similarity = verification.get("Similarity")
    return isinstance(similarity, int | float) and similarity >= min_similarity


def gate_reading(image: bytes, analysis: dict[str, Any]) -> dict[str, Any] | None:
    """What a gate frame's findings keep for the challenge (``{"Yaw": degrees or None}``, as ``Liveness``): the
    face mesh's head yaw of the frame's one face (``analysis.landmarks.mesh_yaw``, on the engine's face box in
    the frame decoded as the engine decodes it; None where the face meets the frame's edge). None: not exactly
    one face, or the mesh cannot run (no mediapipe wheel, an undecodable frame); ``yaw_of`` then reads Pose.Yaw.
    For the local engine only, whose Pose.Yaw comes from five 2D landmarks."""
    from botocore.exceptions import ClientError

    from proctoring.analysis import landmarks
    from proctoring.analysis.models import ModelFileMissing

    details = analysis.get("FaceDetails")
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict):
        return None
    try:
        yaw = landmarks.mesh_yaw(image, details[0])
    except (ImportError, FileNotFoundError, ModelFileMissing, ClientError):
        return None
    return {"Yaw": None if yaw is None else round(yaw, 2)}
