"""A frozen camera: an exam frame that repeats, byte for byte, the frame the session sent before it.

A real camera never sends the same picture twice: its sensor's noise changes every pixel a little from one
capture to the next, so two JPEGs of a student sitting still still differ (scripts/measure_skipping.py: the
closest two captures of one still scene differ by 1.0 on the thumbnail's scale, never 0). The same bytes
again mean the camera stalled (the browser kept drawing its last picture) or a virtual camera sends a still
picture: what happened in the room meanwhile was not seen. An audit's cheater sent the same frame for the whole
exam and went unflagged (risk 0). Three such frames in a row open a High incident (``incidents.MIN_FRAMES``), as a
stopped camera's is: the picture unchanged for 15 s at one frame every 5 s.

A frame holds ``IncidentKind.CAMERA_FROZEN`` when its ``Frame.digest`` (BLAKE2b of the uploaded bytes, taken
on ingest) is that of the session's frame captured before it, at most ``LOOKBACK`` before. Only that one: a
client that replays a short loop of recorded frames repeats one of several (the audit's loop of four went
unflagged) and is not caught here; nor is one that adds noise to each copy, which any script can. Comparing with
several earlier frames would catch such a loop, but then a camera that plays a file of a few dozen frames (as the
browser tests' fake camera does) repeats one of them now and then by chance. Not counted:
- the same capture sent twice (the browser retried an upload whose answer it lost: the same capture time);
- a picture with nothing in it (``UNIFORM_BELOW``): a covered or black camera gives the same bytes every time,
  and "camera covered" (below) says so;
- the pre-exam check's frames (the liveness challenge already refuses a still picture there).

A picture with nothing in it (``uniform``) holds ``IncidentKind.CAMERA_COVERED`` instead of "nobody in view": a hand
or a note over the lens, or a room gone dark. An audit's cheater covered the camera for two minutes and got one Low
"nobody in view" (risk 6, under a phone's 16 and the same as a glance aside); the same Low as a student who stepped
away in view of the camera. The dev set's least varied photo has a thumbnail spread of 25 grey levels, six times the
cut: only a picture with nothing to see is under it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import numpy as np

from proctoring.models import Frame, FrameStatus, IncidentKind

LOOKBACK = timedelta(minutes=10)
# A thumbnail (proctoring.skipping, 48 x 36 grey) whose grey levels spread less than this: nothing to see.
UNIFORM_BELOW = 4.0
# ``findings["Repeats"]`` of a frame that repeats an earlier one: that frame's id and capture time.
REPEATS = "Repeats"
# ``findings["Covered"]`` of a frame whose picture shows nothing (``uniform``).
COVERED = "Covered"
# What a covered camera's frame says instead: nothing in view because nothing is seen.
COVERED_ABSORBS = {IncidentKind.NO_PERSON, IncidentKind.NO_FACE, IncidentKind.FACE_NOT_VERIFIABLE}

STUDENT_MESSAGE = ("Your camera's picture has not changed since the frame before: check that your camera is working "
                   "(close other apps that use it, or reload the page).")
COVERED_MESSAGE = "Your camera shows nothing: uncover it, or turn on a light."
COVERED_REVIEWER_MESSAGE = (
    "The camera's picture showed nothing, on most of several frames in a row: a hand or a note over the lens, the "
    "camera turned to a wall, or a room gone dark. What happened meanwhile was not seen. Compare the frames before "
    "and after; ask the student what happened.")
REVIEWER_MESSAGE = (
    "Frames of the exam repeated the frame before them byte for byte. A real camera never sends the same picture twice "
    "(its sensor's noise changes every pixel a little), so the camera stalled (the browser kept showing its last "
    "picture) or a virtual camera sent a still picture: what happened in the room meanwhile was not seen. Compare the "
    "frames and their times; ask the student what happened.")


def digest(image: bytes) -> str:
    return hashlib.blake2b(image, digest_size=16).hexdigest()


def uniform(thumbnail: bytes) -> bool:
    return float(np.frombuffer(thumbnail, dtype=np.uint8).std()) < UNIFORM_BELOW


def repeated(frame: Frame) -> Frame | None:
    """The session's frame captured before ``frame`` when it has the same bytes, or None. Asked only of an exam frame
    whose picture is not ``uniform`` (see the module's doc)."""
    if not frame.digest:
        return None
    before = (Frame.objects.filter(session_id=frame.session_id, captured_at__lt=frame.captured_at,
                                   captured_at__gte=frame.captured_at - LOOKBACK)
              .order_by("-captured_at", "-pk").only("pk", "captured_at", "digest").first())
    return before if before is not None and before.digest == frame.digest else None


def findings_with(analysis: dict[str, Any], earlier: Frame | None, covered: bool = False) -> dict[str, Any]:
    """``analysis`` saying which earlier frame this one repeats, and whether its picture shows nothing (a carried
    analysis loses its source's say)."""
    kept = {key: value for key, value in analysis.items() if key not in {REPEATS, COVERED}}
    if earlier is not None:
        kept[REPEATS] = {"Frame": earlier.pk, "CapturedAt": earlier.captured_at.isoformat()}
    if covered:
        kept[COVERED] = True
    return kept


def kinds_with(kinds: set[str], earlier: Frame | None, covered: bool) -> set[str]:
    """The frame's kinds with what its camera says: frozen, or covered (instead of nobody in view)."""
    if earlier is not None:
        kinds = set(kinds) | {IncidentKind.CAMERA_FROZEN}
    if covered:
        kinds = (set(kinds) - COVERED_ABSORBS) | {IncidentKind.CAMERA_COVERED}
    return kinds


def frame_camera(frame: Frame) -> dict[str, Any] | None:
    """What the student is told of a frame's camera: whether its picture is frozen or shows nothing; None before
    analysis."""
    if frame.status != FrameStatus.DONE or not isinstance(frame.findings, dict):
        return None
    frozen, covered = REPEATS in frame.findings, COVERED in frame.findings
    return {"frozen": frozen, "covered": covered,
            "message": STUDENT_MESSAGE if frozen else COVERED_MESSAGE if covered else ""}
