"""Pay only for what changed: a session frame that barely differs from the session's last analysed
frame carries that frame's result forward instead of running the engine again.

The difference is perceptual and cheap: both frames as small grey thumbnails (the JPEG decoded at
1/8 scale, about a millisecond), each normalised to its own brightness and contrast (a camera's
auto-exposure and lighting jitter move the whole picture, not a part of it), compared block by
block after aligning their global shift, each pixel against its nearest match within a small sway
(on a half-pixel grid: a sharp edge that moved by a fraction of a thumbnail pixel still matches);
the largest block's difference decides, so a phone raised in one corner counts as much as a change
across the whole picture (scripts/measure_skipping.py chose the threshold and measures what it saves).

A frame is analysed in full when:
- skipping is off (``FRAME_SKIP_THRESHOLD`` 0), or the session is at the gate and has not passed it
  (``_gate_settled``): while the head turns are asked for, liveness needs a fresh head pose of every frame
  (a turn too small for the thumbnail's threshold must still count), and a failing identity verdict must
  be judged again on each frame (a student who turned on a light is not told "too dark" for 30 s more);
- its session has no analysed frame in the same stretch (the check or the exam) before it;
- it differs by ``FRAME_SKIP_THRESHOLD`` or more from the session's last analysed frame, and from the one
  before it (a frame like that one is carried from it: ``_closest``);
- past the age limit (below), the session's last full analysis is more than
  ``FRAME_SKIP_FULL_MAX_AGE_SECONDS`` older than it, or it differs from that full analysis's frame by the
  threshold or more (so that small changes cannot add up, refresh by refresh, to another picture).

Otherwise it carries that analysed frame's result when that frame is at most
``FRAME_SKIP_MAX_AGE_SECONDS`` older, and is *refreshed* (``Plan``) when it is older: the engine runs
again on it without the two stages a change too faint for the threshold leaves as they were (the 1:1 face
comparison and the unsafe-content model), whose answers it carries from the frame it refreshes. What the
age limit exists for is a change too faint for the thumbnail (a phone held low, a book opened on the
desk): the object and person detectors and the faces (their count, their pose for looking away) see
every frame again at least that often.

Measured (scripts/measure_skipping.py, seeds 1-6, the code before and after run in turn): a refreshed
frame costs about two thirds of a full analysis (106-113 against 155-168 CPU-ms in that run); a quiet
student 28.5 -> 25.5 CPU-s per student-hour, 31% -> 28% of a busy one's, no incident missed. Comparing with the
analysed frame before the last too (``_closest``; the same script, seeds 1-6, before and after in turn): full
analyses of a quiet session 9-15 -> 7-10 in 10 minutes, a quiet student 18.2 -> 16.5 CPU-s per student-hour,
26.6% -> 25.5% of a busy one's (64.8), no incident missed; seeds 7-12, which chose nothing, 27.0% -> 24.6% (quiet
20.8 -> 17.5). Carrying the
verdict across larger changes too (a second threshold of 10, under what another person's face measures)
was tried and not kept: a head turned a little changes the 1:1 verdict (a turned face no longer matches:
``turned_away``) with a small difference, and a "face not verifiable" incident was missed.

At the gate, once it is passed (the head turns done or excused, and the 1:1 verdict of the frame carried from
passed, or a proctor approved the student's identity: what the check page calls settled, and what a student
who checked in early shows until the exam opens), a frame that barely differs from one of the last analysed
frames at most ``FRAME_SKIP_MAX_AGE_SECONDS`` older carries its result; older, it is analysed in full (never
refreshed: the start rule reads the latest frame's verdict). The start rule (``exams.taking``) accepts an
identity pass up to IDENTITY_PASS_MAX_AGE (300 s) old; a carried verdict is at most 30 s older than its frame,
of the same picture. Copies never pass the head turns: a turn changes the picture, and ``liveness.judge`` stops
at the turn that completed them. Measured (``make bench-scale``'s students waiting at a passed check, before and
after; scripts/profile_frame_cost.py ``gate-carried``: the liveness read): docs/deploy.md, "Capacity".

During the exam the 1:1 identity verdict is carried with the rest: another person's face in front
of the camera changes the thumbnail far beyond the threshold (the face covers a large part of a
webcam frame), and the full analysis at least every ``FRAME_SKIP_FULL_MAX_AGE_SECONDS`` bounds how long
any verdict is trusted.
The seed-compatible session-less ``/process`` has no session and never comes here.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

import cv2
import numpy as np
from django.conf import settings
from django.db.models import QuerySet
from PIL import Image

from exams.models import ExamSession
from exams.policy import CHECK_PERSON_RECOGNITION, EXEMPT_LIVENESS
from exams.statuses import SessionStatus
from proctoring import gate, selectors
from proctoring.models import Frame, FrameStatus

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = (48, 36)  # width, height: 1,728 grey bytes a frame
BLOCK = 4  # compared in 4x4-pixel blocks of the thumbnail (12 x 9 blocks, each about 53 px square at 640x480)
SWAY = 1  # thumbnail pixels (about 13 px at 640x480) a detail may move and still count as unchanged
BLUR = 0.6  # thumbnail pixels (Gaussian sigma)
SCALE = 48.0  # the normalised thumbnails are compared on this scale: about grey levels for a typical frame


def thumbnail(image: bytes) -> bytes | None:
    """The frame as a small grey picture (``THUMBNAIL_SIZE``); None when it cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            picture = Image.open(io.BytesIO(image))
            picture.draft("L", (THUMBNAIL_SIZE[0] * 2, THUMBNAIL_SIZE[1] * 2))  # JPEG: decode at a DCT scale
            grey = picture.convert("L").resize(THUMBNAIL_SIZE, Image.Resampling.BOX)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return grey.tobytes()


def difference(a: bytes, b: bytes) -> float:
    """How much two thumbnails differ: the largest block's mean difference, each pixel compared with
    the closest value within ``SWAY`` pixels of it in the other thumbnail (both ways), after each
    thumbnail is slightly blurred and normalised to zero mean and unit contrast (times ``SCALE``)
    and the second is aligned on the first.

    The normalisation absorbs auto-exposure and lighting changes of the whole picture; the sway
    absorbs a student's small movements and the camera's (the ring of ``SWAY`` pixels at the edge,
    which the alignment fills by replication, is left out); what is left is something that appeared
    or went: a phone, a hand, a second face.
    """
    width, height = THUMBNAIL_SIZE
    x, y = (_normalised(np.frombuffer(t, dtype=np.uint8).reshape(height, width)) for t in (a, b))
    y = _aligned(y, to=x)
    delta = np.maximum(_nearest(x, y), _nearest(y, x))
    # The outer ring of the aligned thumbnail is replicated, not seen (what a sway brought into view at
    # the edge): measured, it decided most still frames' difference. A phone or a face is larger than
    # that ring (13 px at 640x480), so what appears still shows inside it.
    delta[:SWAY, :] = delta[-SWAY:, :] = 0
    delta[:, :SWAY] = delta[:, -SWAY:] = 0
    blocks = delta.reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK).mean(axis=(1, 3))
    return float(blocks.max())


def _normalised(grey: np.ndarray) -> np.ndarray:
    # A slight blur first: a student's sub-pixel sway otherwise flickers every sharp edge.
    values = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), BLUR)
    return (values - values.mean()) / (values.std() + 1.0) * SCALE


def _aligned(y: np.ndarray, *, to: np.ndarray) -> np.ndarray:
    """``y`` moved onto ``to`` by their sub-pixel global shift (phase correlation), at most ``SWAY``
    pixels and a half each way: a camera's or a whole body's small sway, not a real move."""
    (dx, dy), _ = cv2.phaseCorrelate(to.astype(np.float64), y.astype(np.float64))
    dx, dy = (float(np.clip(v, -SWAY - 0.5, SWAY + 0.5)) for v in (dx, dy))
    shift = np.float32([[1, 0, -dx], [0, 1, -dy]])
    return cv2.warpAffine(y, shift, (y.shape[1], y.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _nearest(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|x - y| at each pixel, taking y's closest value within SWAY pixels, on a half-pixel grid.

    Whole-pixel candidates alone leave a sharp edge that moved by a fraction of a thumbnail pixel
    (a few pixels of the frame: a student's sway) a step apart from every candidate: measured, the
    largest part of what a still scene's frames differ by. The half-pixel points are the linear
    interpolation between neighbours (what a sub-pixel move of that edge gives).
    """
    height, width = x.shape
    padded = np.pad(y, SWAY, mode="edge")
    rows, cols = padded.shape
    dense = np.empty((2 * rows - 1, 2 * cols - 1), dtype=padded.dtype)
    dense[::2, ::2] = padded
    dense[::2, 1::2] = (padded[:, :-1] + padded[:, 1:]) / 2
    dense[1::2, ::2] = (padded[:-1, :] + padded[1:, :]) / 2
    dense[1::2, 1::2] = (padded[:-1, :-1] + padded[:-1, 1:] + padded[1:, :-1] + padded[1:, 1:]) / 4
    best = np.full_like(x, np.inf)
    for dy in range(4 * SWAY + 1):
        for dx in range(4 * SWAY + 1):
            np.minimum(best, np.abs(x - dense[dy:dy + 2 * height:2, dx:dx + 2 * width:2]), out=best)
    return best


# ``findings["Refreshed"]`` of a refreshed frame: the frame whose full analysis it carries the identity of.
REFRESHED = "Refreshed"


@dataclass(frozen=True)
class Plan:
    """What a frame's analysis does: ``full``; ``carry`` the result of ``source``; or ``refresh``: run the
    engine without the face comparison and unsafe content, carrying those from ``source``, whose identity
    comes from the full analysis of ``full`` (``source`` itself when it was analysed in full)."""

    mode: str
    source: Frame | None = None
    full: Frame | None = None


FULL = Plan("full")


def accusing(findings: dict) -> bool:
    """Whether an analysis says the face is not the student's (a clear face whose 1:1 check failed: the one
    reason that opens a "someone else" incident). Such a verdict is never carried or refreshed: the next frame is
    compared again. Carried, one noisy comparison of a student sitting still became three failed ones in a row and
    a High incident (an audit: 7 of 18 quiet sessions with skipping on, 0 of 18 with it off)."""
    verification = findings.get("Verification") if isinstance(findings, dict) else None
    return isinstance(verification, dict) and verification.get("Reason") == "not_matching"


def _analysed_since(frame: Frame, earliest: datetime) -> QuerySet[Frame]:
    """The session's frames analysed in full (with a thumbnail) captured from ``earliest`` up to ``frame``."""
    return (Frame.objects.filter(session_id=frame.session_id, status=FrameStatus.DONE, carried_from__isnull=True,
                                 captured_at__gte=earliest, captured_at__lte=frame.captured_at)
            .exclude(pk=frame.pk).exclude(thumbnail=None))


def _closest(analysed: QuerySet[Frame], thumb: bytes, *, threshold: float, frame: Frame) -> Frame | None:
    """Of ``analysed`` (``_analysed_since``): the session's last analysed frame if ``thumb`` barely differs from it,
    else the one before it if it barely differs from that one; None when it differs from both, or the last one's
    verdict is accusing (never carried).

    A frame analysed because camera noise crossed the threshold (the largest block of a still scene, about 3% of
    pairs) becomes the frame the next ones are compared with, and its own noise made them cross again: measured,
    full analyses of a quiet session came in runs (at 335, 365, 375 and 395 s). Whatever appeared since the one
    before (a phone, a face) differs from both. A frame that differs from the last only is carried from the one
    before, as any frame that barely differs from the frame it is carried from."""
    latest = analysed.order_by("-captured_at", "-pk").only("pk", "captured_at", "thumbnail", "findings")[:2]
    for candidate in latest:
        if candidate.findings is None or accusing(candidate.findings):
            return None
        changed = difference(bytes(candidate.thumbnail), thumb)
        logger.debug("Frame %s differs from frame %s by %.1f.", frame.pk, candidate.pk, changed)
        if changed < threshold:
            return candidate
    return None


def plan(*, frame: Frame, thumb: bytes | None) -> Plan:
    """How to analyse ``frame`` (see the module's doc)."""
    threshold = float(settings.FRAME_SKIP_THRESHOLD)
    session = frame.session
    if threshold <= 0 or thumb is None:
        return FULL
    if session.status == SessionStatus.CHECKING:
        return _at_gate(frame=frame, thumb=thumb, threshold=threshold)
    if session.status != SessionStatus.IN_PROGRESS:
        return FULL
    # A frame analysed longer ago than the full analysis's age limit is of no use: neither carried nor refreshed.
    earliest = frame.captured_at - timedelta(seconds=max(settings.FRAME_SKIP_MAX_AGE_SECONDS,
                                                         settings.FRAME_SKIP_FULL_MAX_AGE_SECONDS))
    if session.started_at and session.started_at > earliest:
        earliest = session.started_at  # never a result of the pre-exam check
    analysed = _analysed_since(frame, earliest)
    source = _closest(analysed, thumb, threshold=threshold, frame=frame)
    if source is None:
        return FULL
    if source.captured_at >= frame.captured_at - timedelta(seconds=settings.FRAME_SKIP_MAX_AGE_SECONDS):
        return Plan("carry", source)
    # Past the age limit: the detectors see the frame again. Its 1:1 verdict and unsafe-content answer are
    # carried only from a recent full analysis whose frame this one still barely differs from.
    full = source
    refreshed = source.findings.get(REFRESHED)
    if refreshed is not None:
        full = analysed.filter(pk=refreshed.get("Frame")).only("pk", "captured_at", "thumbnail").first()
    if full is None or full.captured_at < frame.captured_at - timedelta(
            seconds=settings.FRAME_SKIP_FULL_MAX_AGE_SECONDS):
        return FULL
    if full is not source and difference(bytes(full.thumbnail), thumb) >= threshold:
        return FULL
    return Plan("refresh", source, full)


def _at_gate(*, frame: Frame, thumb: bytes, threshold: float) -> Plan:
    """A frame of the check (see the module's doc): carried from one of the session's last two analysed frames
    at most FRAME_SKIP_MAX_AGE_SECONDS older that it barely differs from, once the gate is passed; else in full."""
    earliest = frame.captured_at - timedelta(seconds=settings.FRAME_SKIP_MAX_AGE_SECONDS)
    source = _closest(_analysed_since(frame, earliest), thumb, threshold=threshold, frame=frame)
    if source is None or not _gate_settled(frame.session, source):
        return FULL
    return Plan("carry", source)


def _gate_settled(session: ExamSession, source: Frame) -> bool:
    """Whether the session has passed its gate, as the check page's ``settled`` reads it (static/js/check.js): the
    head turns done or excused, and the 1:1 verdict of ``source`` passed with the identity held
    (``selectors.identity_held``) or a proctor approved the identity. Read only for a frame that could be carried
    (the liveness read is the session's frames of the last LIVENESS_PASS_MAX_AGE seconds)."""
    if CHECK_PERSON_RECOGNITION not in session.exam.checks_enabled:
        return True  # no identity, no head turns: nothing at the gate needs a fresh frame
    verified = (source.findings.get("Verification") or {}).get("Passed") is True and selectors.held(source.findings)
    if session.identity_approved_at is None and not verified:
        return False
    return EXEMPT_LIVENESS in session.exempt_checks or gate.session_liveness(session).passed
