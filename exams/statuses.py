"""The exam-session vocabulary and its transition table, in one place."""

from __future__ import annotations

from django.db import models


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CHECKING = "checking", "Identity and camera check"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    EXPIRED = "expired", "Expired"
    TERMINATED = "terminated", "Terminated"


S = SessionStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.CHECKING, S.EXPIRED, S.TERMINATED}),
    S.CHECKING: frozenset({S.IN_PROGRESS, S.EXPIRED, S.TERMINATED}),
    S.IN_PROGRESS: frozenset({S.SUBMITTED, S.EXPIRED, S.TERMINATED}),
    S.SUBMITTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.TERMINATED: frozenset(),
}
# Frames are accepted while the student is being checked or is writing the exam.
ACCEPTS_FRAMES = frozenset({S.CHECKING, S.IN_PROGRESS})
FINISHED = frozenset({S.SUBMITTED, S.EXPIRED, S.TERMINATED})
