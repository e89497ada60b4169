"""Running sessions past their deadline expire on the beat, not only when the student's page touches the server (a
proctor's audit: students whose page had gone stayed "in progress · 0:00" on the live view for good, flagged as stale
cameras, and the exam report listed them as in progress)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts import services as account_services
from accounts import tenancy
from accounts.models import Role
from exams import services as exam_services
from exams import taking
from exams.models import Accommodation, ExamSession
from exams.statuses import SessionStatus
from tests.conftest import Tenant, page_client_for

pytestmark = pytest.mark.django_db


def sitting(tenant: Tenant, email: str, *, started_minutes_ago: float) -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        student = account_services.user_create(institution=tenant.institution, email=email, role=Role.STUDENT,
                                               full_name=email.split("@")[0].title())
        session = exam_services.session_create(exam=tenant.exam, student=student)
    ExamSession.unscoped.filter(pk=session.pk).update(
        status=SessionStatus.IN_PROGRESS, started_at=timezone.now() - timedelta(minutes=started_minutes_ago))
    return session


def status(session: ExamSession) -> str:
    return ExamSession.unscoped.get(pk=session.pk).status


def test_sessions_past_their_deadline_expire_without_their_page(tenant_a: Tenant, tenant_b: Tenant) -> None:
    tenant_a.exam.status, tenant_a.exam.duration_minutes, tenant_a.exam.closes_at = "published", 60, None
    tenant_a.exam.save()
    overdue = sitting(tenant_a, "late@alpha.test", started_minutes_ago=61)
    running = sitting(tenant_a, "busy@alpha.test", started_minutes_ago=30)
    extra = sitting(tenant_a, "extra@alpha.test", started_minutes_ago=61)  # 50% more time: 90 minutes
    Accommodation.unscoped.create(institution=tenant_a.institution, student=extra.student, extra_percent=50,
                                  reason="Dyslexia")
    unlocked = sitting(tenant_a, "unlocked@alpha.test", started_minutes_ago=61)
    ExamSession.unscoped.filter(pk=unlocked.pk).update(unlocked_until=timezone.now() + timedelta(minutes=5))
    tenant_b.exam.status, tenant_b.exam.closes_at = "published", timezone.now() - timedelta(minutes=1)
    tenant_b.exam.save()
    closed = sitting(tenant_b, "closed@beta.test", started_minutes_ago=5)  # the exam closed: every institution's

    assert taking.expire_overdue() == 2
    assert (status(overdue), status(closed)) == (SessionStatus.EXPIRED, SessionStatus.EXPIRED)
    # Ended at its deadline, not when the beat came by (its open incidents close then too).
    ended = ExamSession.unscoped.get(pk=overdue.pk)
    assert ended.ended_at == ended.started_at + timedelta(minutes=60)
    assert ExamSession.unscoped.get(pk=closed.pk).ended_at == tenant_b.exam.closes_at
    for session in (running, extra, unlocked):
        assert status(session) == SessionStatus.IN_PROGRESS
    report = page_client_for(tenant_a.proctor).get(f"/exams/{tenant_a.exam.pk}/live").status_code
    assert report == 200
    # Half an hour on: the extra time, the unlock and the hour of the one who started later have all run out.
    assert taking.expire_overdue(now=timezone.now() + timedelta(minutes=31)) == 3
    assert "expire-overdue-sessions" in settings.CELERY_BEAT_SCHEDULE


def test_a_page_that_finds_its_session_already_expired_by_the_beat_shows_it_ended(tenant_a: Tenant) -> None:
    # An audit (1 time-up in 4): the done page read the session running, the beat expired it meanwhile, and the
    # page's own expiry answered 409 "A session that is expired cannot become expired".
    with tenancy.tenant_scope(tenant_a.institution):
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=tenant_a.session.pk, to=to, actor=tenant_a.student)
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(started_at=timezone.now() - timedelta(days=1))
        stale = ExamSession.objects.select_related("exam").get(pk=tenant_a.session.pk)  # read by the page
        assert taking.expire_overdue() == 1  # the beat, meanwhile
        assert taking.expire_if_due(stale).status == SessionStatus.EXPIRED
