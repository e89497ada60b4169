"""Writes on exams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.deletion import Erasure, erase_dependents
from accounts.errors import AppError, Conflict
from accounts.models import Role, User
from exams.models import AuditEvent, Exam, ExamSession
from exams.statuses import FINISHED, TRANSITIONS, SessionStatus


def _check_window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at and closes_at and closes_at <= opens_at:
        raise AppError("The exam must close after it opens.", code="invalid_window",
                       details={"closes_at": ["Must be later than opens_at."]})


def exam_create(*, actor: User, title: str, **fields: Any) -> Exam:
    _check_window(fields.get("opens_at"), fields.get("closes_at"))
    return Exam.objects.create(institution=actor.institution, created_by=actor, title=title, **fields)


def exam_update(*, exam: Exam, **fields: Any) -> Exam:
    _check_window(fields.get("opens_at", exam.opens_at), fields.get("closes_at", exam.closes_at))
    for name, value in fields.items():
        setattr(exam, name, value)
    exam.save()
    return exam


@transaction.atomic
def exam_delete(*, exam: Exam, actor: User | None) -> None:
    """Delete an exam with its sessions, erasing their biometric data everywhere (accounts.deletion)."""
    erase_dependents(Erasure(exam_ids=(exam.pk,)))
    audit(institution_id=exam.institution_id, actor=actor, action="exam.delete", target=exam,
          data={"sessions": exam.sessions.count()})
    exam.delete()


@transaction.atomic
def session_delete(*, session: ExamSession, actor: User | None) -> None:
    """Delete a session (answers, frames, incidents), erasing its biometric data everywhere."""
    erase_dependents(Erasure(session_ids=(session.pk,)))
    audit(institution_id=session.institution_id, actor=actor, action="session.delete", target=session,
          data={"exam": session.exam_id, "student": session.student_id})
    session.delete()


def audit(*, institution_id: int, actor: User | None, action: str, target: Any, data: dict[str, Any]) -> None:
    AuditEvent.objects.create(
        institution_id=institution_id, actor=actor, action=action,
        target_type=type(target).__name__, target_id=str(target.pk), data=data,
    )


def session_create(*, exam: Exam, student: User) -> ExamSession:
    if student.institution_id != exam.institution_id or student.role != Role.STUDENT:
        raise AppError("Only a student of the exam's institution can sit it.", code="not_a_student")
    session, _ = ExamSession.objects.get_or_create(
        exam=exam, student=student, defaults={"institution_id": exam.institution_id}
    )
    return session


@transaction.atomic
def session_transition(*, session_id: int, to: str, actor: User | None) -> ExamSession:
    """The one way a session changes status: row lock, transition table, audit event."""
    session = ExamSession.objects.select_for_update(of=("self",)).get(pk=session_id)
    if to not in TRANSITIONS[session.status]:
        raise Conflict(
            f"A session that is {session.get_status_display().lower()} cannot become {to}.",
            code="invalid_transition", details={"from": session.status, "to": to},
        )
    previous = session.status
    session.status = to
    now = timezone.now()
    if to == SessionStatus.IN_PROGRESS:
        session.started_at = now
    if to in FINISHED:
        session.ended_at = now
    session.save(update_fields=["status", "started_at", "ended_at"])
    audit(institution_id=session.institution_id, actor=actor, action="session.transition", target=session,
          data={"from": previous, "to": to})
    return session
