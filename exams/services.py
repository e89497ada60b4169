"""Writes on exams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accounts.errors import AppError
from accounts.models import User
from exams.models import Exam


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


def exam_delete(*, exam: Exam) -> None:
    exam.delete()
