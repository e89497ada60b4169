"""Exam reminders: each enrolled student is mailed once before the exam opens, through a real SMTP
server on loopback, with the opening time in their zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts import tenancy
from accounts.models import Institution, User
from exams.models import Accommodation, Exam, ExamSession, ExamStatus
from exams.services import exam_update
from exams.tasks import send_exam_reminders
from tests.conftest import Tenant
from tests.smtp import Mailbox, html_of, link_in, text_of

OPENS = datetime(2030, 1, 15, 14, 0, tzinfo=UTC)  # 09:00 in New York, 15:00 in Paris


@pytest.fixture
def soon(tenant_a: Tenant) -> Tenant:
    """Alpha's exam published and opening at OPENS; Alpha's zone is New York."""
    Institution.objects.filter(pk=tenant_a.institution.pk).update(time_zone="America/New_York")
    with tenancy.tenant_scope(tenant_a.institution):
        Exam.objects.filter(pk=tenant_a.exam.pk).update(status=ExamStatus.PUBLISHED, opens_at=OPENS,
                                                        closes_at=OPENS + timedelta(hours=2))
    return tenant_a


def run_beat(at: datetime, capture: Any, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(timezone, "now", lambda: at)
    with capture(execute=True):
        return send_exam_reminders.apply().get()


def test_it_mails_each_enrolled_student_once_before_the_exam_opens(
        soon: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_beat(OPENS - timedelta(hours=30), django_capture_on_commit_callbacks, monkeypatch) == 0  # too early
    assert run_beat(OPENS - timedelta(hours=20), django_capture_on_commit_callbacks, monkeypatch) == 1
    assert run_beat(OPENS - timedelta(hours=19), django_capture_on_commit_callbacks, monkeypatch) == 0  # once

    message = smtp_server.only(soon.student.email)
    assert message["Subject"] == "Reminder: alpha exam opens 15 Jan 2030, 09:00"
    assert "Opens:    Tuesday 15 January 2030, 09:00 (America/New_York)" in text_of(message)
    assert "11:00" in html_of(message)
    assert link_in(message) == "http://127.0.0.1:8000/"


def test_the_students_own_zone_is_used_in_their_reminder(
        soon: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    User.objects.filter(pk=soon.student.pk).update(time_zone="Europe/Paris")
    run_beat(OPENS - timedelta(hours=1), django_capture_on_commit_callbacks, monkeypatch)
    assert "15 January 2030, 15:00 (Europe/Paris)" in text_of(smtp_server.only(soon.student.email))


def test_a_reminder_gives_the_students_own_time_with_their_extra_time(
        soon: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # An audit: the reminder said the exam's plain duration to a student with extra time.
    Accommodation.unscoped.create(institution=soon.institution, student=soon.student, extra_percent=50,
                                  reason="Dyslexia")
    run_beat(OPENS - timedelta(hours=1), django_capture_on_commit_callbacks, monkeypatch)
    message = smtp_server.only(soon.student.email)
    assert "Duration: 90 min once you start (with your 30 min extra time)" in text_of(message)
    assert "90 min once you start" in html_of(message)


def test_it_reminds_nobody_of_a_draft_a_started_sitting_or_an_inactive_student(
        soon: Tenant, tenant_b: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with tenancy.tenant_scope(None):
        Exam.objects.filter(pk=tenant_b.exam.pk).update(opens_at=OPENS)  # a draft
        ExamSession.objects.filter(pk=soon.session.pk).update(status="checking")
    assert run_beat(OPENS - timedelta(hours=1), django_capture_on_commit_callbacks, monkeypatch) == 0
    with tenancy.tenant_scope(None):
        ExamSession.objects.filter(pk=soon.session.pk).update(status="scheduled")
    User.objects.filter(pk=soon.student.pk).update(is_active=False)
    assert run_beat(OPENS - timedelta(hours=1), django_capture_on_commit_callbacks, monkeypatch) == 0
    assert smtp_server.messages == []


def test_moving_the_exams_opening_sends_a_new_reminder(
        soon: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    run_beat(OPENS - timedelta(hours=2), django_capture_on_commit_callbacks, monkeypatch)
    with tenancy.tenant_scope(soon.institution):
        exam_update(exam=Exam.objects.get(pk=soon.exam.pk), opens_at=OPENS + timedelta(hours=1))
    assert run_beat(OPENS - timedelta(hours=1), django_capture_on_commit_callbacks, monkeypatch) == 1
    subjects = [m["Subject"] for m in smtp_server.to(soon.student.email)]
    assert subjects == ["Reminder: alpha exam opens 15 Jan 2030, 09:00",
                        "Reminder: alpha exam opens 15 Jan 2030, 10:00"]


def test_the_embedded_default_runs_the_periodic_jobs_without_celery_beat(
        soon: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any,
        monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    # An audit: with make run (no broker, no celery beat) no reminder was ever mailed, nor were frames purged.
    from django.core.management import CommandError, call_command

    from proctoring import tasks as proctoring_tasks

    monkeypatch.setattr(timezone, "now", lambda: OPENS - timedelta(hours=20))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("one job fails")
    monkeypatch.setattr(proctoring_tasks.purge_frames, "run", broken)  # the others still run
    with django_capture_on_commit_callbacks(execute=True):
        call_command("periodic", "--once")
    assert smtp_server.only(soon.student.email)["Subject"].startswith("Reminder:")
    settings.CELERY_TASK_ALWAYS_EAGER = False  # with a broker, celery beat runs them
    with pytest.raises(CommandError, match="celery beat"):
        call_command("periodic")
