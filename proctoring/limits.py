"""How fast frames may arrive: per session at the exam's capture rate, and bytes per user."""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.exceptions import Throttled

from accounts.models import User
from accounts.throttle import window_hit
from exams.models import ExamSession
from exams.statuses import SessionStatus

GATE_STATUSES = (SessionStatus.CHECKING,)


def check_frame_rate(*, session: ExamSession, user: User, size: int) -> None:
    """Raise Throttled (429 with Retry-After) past either limit; count the frame otherwise.

    A session takes about one frame per capture interval of its exam (at the identity gate, one per
    GATE_FRAME_INTERVAL at least) plus FRAME_RATE_BURST (the browser resends frames it captured while
    offline); a user sends at most FRAME_BYTES_PER_USER bytes per FRAME_BYTES_WINDOW seconds whatever
    the session. An unreachable cache allows the frame.
    """
    window = settings.FRAME_RATE_WINDOW
    interval = session.exam.capture_interval_seconds
    if session.status in GATE_STATUSES:
        # The identity gate (liveness challenge, reasons) sends a frame every GATE_FRAME_INTERVAL seconds
        # (static/js/check.js), whatever the exam's capture interval.
        interval = min(interval, settings.GATE_FRAME_INTERVAL)
    per_window = math.ceil(window / max(1, interval)) + settings.FRAME_RATE_BURST
    wait = window_hit(f"frames:session:{session.pk}", limit=per_window, window=window)
    if wait is not None:
        raise Throttled(wait=wait, detail="Frames are arriving faster than the exam's capture interval.")
    wait = window_hit(f"frames:bytes:user:{user.pk}", limit=settings.FRAME_BYTES_PER_USER,
                      window=settings.FRAME_BYTES_WINDOW, cost=size)
    if wait is not None:
        raise Throttled(wait=wait, detail="Too much image data in a short time.")
