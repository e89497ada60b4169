"""The signed-in home page. It shows every app's rows, so it lives in the project package (config),
which may import all apps; accounts must not import exams or proctoring."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import selectors
from accounts.models import Role
from exams import taking
from exams.access import sessions_for
from exams.accommodations import minutes_text
from exams.models import Accommodation, Exam
from exams.policy import CHECK_PERSON_RECOGNITION
from exams.statuses import SessionStatus
from proctoring.appeals import appeal_queue
from proctoring.identity import REASON_MESSAGES
from proctoring.models import FaceRegistration
from proctoring.selectors import review_queue
from proctoring.views_identity import pending_requests

# Sessions a student may still start or continue.
AHEAD = {SessionStatus.SCHEDULED, SessionStatus.CHECKING, SessionStatus.IN_PROGRESS}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {"role": getattr(user, "role", "")}
    if user.is_superuser or user.role in (Role.ADMIN, Role.PROCTOR):
        context["exams"] = Exam.objects.all()[:50]
    if user.is_superuser or user.role == Role.ADMIN:
        context["people"] = selectors.user_list()[:50]
    if user.role in (Role.ADMIN, Role.PROCTOR):
        context["to_review"] = review_queue().count()
        context["to_approve"] = len(pending_requests())
        context["appeals_open"] = appeal_queue().count()
    if user.role == Role.STUDENT:
        context["sessions"] = _with_own_times(list(sessions_for(actor=user).select_related("exam")), user)
        context["no_reference"] = _needs_a_reference(user, context["sessions"])
    return render(request, "accounts/dashboard.html", context)


def _with_own_times(sessions: list[Any], student: Any) -> list[Any]:
    """Each session with what its student meets: ``check_opens`` (the consent and camera check are not open yet:
    when they open; the page shows that instead of Start), ``closed`` (its exam closed before it began) and
    ``duration_text`` and ``extra_text`` (their time, with their accommodation's extra time:
    an audit's student with +50% saw the exam's plain duration)."""
    now = timezone.now()
    accommodation = Accommodation.objects.filter(student=student).first()
    for session in sessions:
        session.remember_accommodation(accommodation)
        extra = session.extra_time
        session.extra_text = minutes_text(extra) if extra else ""
        session.duration_text = minutes_text(timedelta(minutes=session.exam.duration_minutes) + extra)
        opens = taking.check_opens_at(session.exam)
        waiting = session.status in (SessionStatus.SCHEDULED, SessionStatus.CHECKING)
        # (also a session at its check of an exam since moved later: its Continue went straight back here, a re-audit)
        session.check_opens = opens if opens and now < opens and waiting else None
        closes = session.exam.closes_at
        session.closed = bool(waiting and closes and now >= closes)  # Start offered, then refused (a re-audit)
    return sessions


def _needs_a_reference(student: Any, sessions: Any) -> str | None:
    """What a student without a reference face should do, when an exam still ahead of them checks identity."""
    if FaceRegistration.objects.filter(student=student).exists():
        return None
    ahead = [s for s in sessions if s.status in AHEAD and CHECK_PERSON_RECOGNITION in (s.exam.checks_enabled or [])]
    return REASON_MESSAGES["no_reference"] if ahead else None
