"""The vocabularies of exams and exam sessions and their transition tables, in one place."""

from __future__ import annotations

from django.db import models


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CHECKING = "checking", "Identity and camera check"
    # The student asked for a proctor to check their photo ID (the gate's fallback); no frames meanwhile.
    AWAITING_APPROVAL = "awaiting_approval", "Waiting for a proctor to check the photo ID"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    EXPIRED = "expired", "Expired"
    TERMINATED = "terminated", "Terminated"


S = SessionStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.CHECKING, S.EXPIRED, S.TERMINATED}),
    S.CHECKING: frozenset({S.IN_PROGRESS, S.AWAITING_APPROVAL, S.EXPIRED, S.TERMINATED}),
    # Back to the checks once a proctor decided (proctoring.approvals.identity_request_decide).
    S.AWAITING_APPROVAL: frozenset({S.CHECKING, S.EXPIRED, S.TERMINATED}),
    S.IN_PROGRESS: frozenset({S.SUBMITTED, S.EXPIRED, S.TERMINATED}),
    S.SUBMITTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.TERMINATED: frozenset(),
}
# What an admin may do outside the student's own flow (exams.services.session_reset / session_unlock),
# and from which statuses: a reset starts the sitting over from scheduled (a crashed computer, a wrong
# room); an unlock lets a student who ran out of time or was ended by mistake write on, answers kept.
# A submitted session is never unlocked: the student handed it in.
RESET_FROM = frozenset({S.CHECKING, S.AWAITING_APPROVAL, S.IN_PROGRESS, S.EXPIRED, S.TERMINATED, S.SUBMITTED})
UNLOCK_FROM = frozenset({S.EXPIRED, S.TERMINATED})
# Frames are accepted while the student is being checked or is writing the exam.
ACCEPTS_FRAMES = frozenset({S.CHECKING, S.IN_PROGRESS})
FINISHED = frozenset({S.SUBMITTED, S.EXPIRED, S.TERMINATED})


class ApprovalStatus(models.TextChoices):
    """A photo-ID request of the gate's fallback (proctoring.models.IdentityApproval)."""

    PENDING = "pending", "Waiting for a proctor"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"


A = ApprovalStatus
# A request is decided once; a student whose request was denied may send a new one.
APPROVAL_TRANSITIONS: dict[str, frozenset[str]] = {
    A.PENDING: frozenset({A.APPROVED, A.DENIED}),
    A.APPROVED: frozenset(),
    A.DENIED: frozenset(),
}


class AppealStatus(models.TextChoices):
    """A student's appeal of a confirmed incident (proctoring.models.Appeal, proctoring.appeals)."""

    OPEN = "open", "Waiting for staff"
    UPHELD = "upheld", "Upheld: the decision stands"
    OVERTURNED = "overturned", "Overturned: the incident was dismissed"


P = AppealStatus
# An appeal is decided once, by an admin or proctor of the institution.
APPEAL_TRANSITIONS: dict[str, frozenset[str]] = {
    P.OPEN: frozenset({P.UPHELD, P.OVERTURNED}),
    P.UPHELD: frozenset(),
    P.OVERTURNED: frozenset(),
}


class ExamStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


E = ExamStatus
# Which exam statuses may follow which (publish, unpublish, archive, restore). Every change goes
# through exams.authoring.exam_set_status; the API and /manage/ show the status read-only.
EXAM_TRANSITIONS: dict[str, frozenset[str]] = {
    E.DRAFT: frozenset({E.PUBLISHED, E.ARCHIVED}),
    E.PUBLISHED: frozenset({E.DRAFT, E.ARCHIVED}),
    E.ARCHIVED: frozenset({E.DRAFT}),
}
