"""Celery tasks of exams: each takes ids, loads, calls one service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from accounts.tasks import MAIL_RETRY
from exams import reminders, taking


@shared_task(name="exams.send_exam_reminders", ignore_result=True)
def send_exam_reminders() -> int:
    """Beat: claim the reminders now due and queue one email each."""
    return len(reminders.reminders_claim())


@shared_task(name="exams.expire_overdue_sessions", ignore_result=True)
def expire_overdue_sessions() -> int:
    """Beat: running sessions past their deadline expire, whether or not the student's page is still there."""
    return taking.expire_overdue()


@shared_task(name="exams.send_exam_reminder", **MAIL_RETRY)
def send_exam_reminder(self: Any, session_id: int) -> bool:
    return reminders.reminder_deliver(session_id=session_id)
