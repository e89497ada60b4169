"""Celery tasks of exams: each takes ids, loads, calls one service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from accounts.tasks import MAIL_RETRY
from exams import reminders


@shared_task(name="exams.send_exam_reminders", ignore_result=True)
def send_exam_reminders() -> int:
    """Beat: claim the reminders now due and queue one email each."""
    return len(reminders.reminders_claim())


@shared_task(name="exams.send_exam_reminder", **MAIL_RETRY)
def send_exam_reminder(self: Any, session_id: int) -> bool:
    return reminders.reminder_deliver(session_id=session_id)
