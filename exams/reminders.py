"""Exam reminders: each enrolled student is mailed once, EXAM_REMINDER_HOURS before their exam opens.

The beat task ``exams.send_exam_reminders`` claims due enrolments (stamping ``reminder_sent_at`` in the
same transaction, so that a second run or a second beat never claims them again) and queues one
``exams.send_exam_reminder`` per enrolment on commit; that task retries SMTP trouble. Moving an
exam's opening time clears the stamps (exams.services.exam_update): the new time is announced too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts import tenancy
from accounts.mail import send_templated, site_url
from accounts.timezones import zone_for
from exams.accommodations import minutes_text
from exams.models import ExamSession
from exams.statuses import ExamStatus, SessionStatus

CLAIM_BATCH = 500


def _due(now: datetime) -> QuerySet[ExamSession]:
    horizon = now + timedelta(hours=settings.EXAM_REMINDER_HOURS)
    return ExamSession.objects.filter(
        status=SessionStatus.SCHEDULED, reminder_sent_at__isnull=True, student__is_active=True,
        exam__status=ExamStatus.PUBLISHED, exam__opens_at__gt=now, exam__opens_at__lte=horizon,
    )


def reminders_claim(*, now: datetime | None = None) -> list[int]:
    """Claim the enrolments whose exam opens within EXAM_REMINDER_HOURS and queue their emails. Answers their ids."""
    from exams.tasks import send_exam_reminder

    now = now or timezone.now()
    with tenancy.tenant_scope(None), transaction.atomic():
        due = _due(now).order_by("exam__opens_at", "pk").select_for_update(of=("self",), skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:CLAIM_BATCH])
        ExamSession.objects.filter(pk__in=ids, reminder_sent_at__isnull=True).update(reminder_sent_at=now)
        for session_id in ids:
            transaction.on_commit(lambda session_id=session_id: send_exam_reminder.delay(session_id), robust=True)
    return ids


def reminder_deliver(*, session_id: int) -> bool:
    """Mail one claimed reminder; answers False (nothing sent) when the enrolment is gone or no longer due."""
    with tenancy.tenant_scope(None):
        session = (ExamSession.objects.select_related("exam", "student__institution")
                   .filter(pk=session_id, status=SessionStatus.SCHEDULED, student__is_active=True).first())
    if session is None or session.exam.status != ExamStatus.PUBLISHED or session.exam.opens_at is None:
        return False
    if session.exam.opens_at <= timezone.now():
        return False  # mailed too late to be a reminder (a long broker outage): the student sees it on their page
    exam, student = session.exam, session.student
    base = site_url()
    opens = timezone.localtime(exam.opens_at, zone_for(student))
    with tenancy.tenant_scope(student.institution_id):  # their own time: an accommodation's extra time included
        extra = session.extra_time
    send_templated(to=student, name="exam_reminder",
                   subject=f"Reminder: {exam.title} opens {opens.day} {opens:%b %Y, %H:%M}",
                   context={"exam": exam, "link": f"{base}{reverse('dashboard')}" if base else "",
                            "duration": minutes_text(timedelta(minutes=exam.duration_minutes) + extra),
                            "extra": minutes_text(extra) if extra else ""})
    return True
