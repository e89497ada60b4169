"""Reads on exams that several views share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accounts.models import Role, User
from accounts.selectors import has_reference_face
from exams.models import Exam, ExamSession
from exams.policy import CHECK_PERSON_RECOGNITION


def checks_identity(exam: Exam) -> bool:
    return CHECK_PERSON_RECOGNITION in (exam.checks_enabled or [])


def students_without_reference(*, exam: Exam, student_ids: Iterable[int] | None = None) -> list[User]:
    """Enrolled students without a reference face, when the exam checks identity (else none matter)."""
    if not checks_identity(exam):
        return []
    students = (User.objects.in_scope().filter(role=Role.STUDENT, pk__in=ExamSession.objects.filter(exam=exam)
                                               .values("student_id"))
                .annotate(has_face=has_reference_face()).filter(has_face=False))
    if student_ids is not None:
        students = students.filter(pk__in=list(student_ids))
    return list(students.order_by("full_name", "email"))


def reference_warnings(*, exam: Exam, student_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The API's form of the warning: publishing or enrolling is allowed, the admin is told whom it concerns."""
    students = students_without_reference(exam=exam, student_ids=student_ids)
    if not students:
        return []
    return [{"code": "students_without_reference", "students": [s.pk for s in students],
             "message": f"{len(students)} enrolled student{'s' if len(students) != 1 else ''} without a reference "
                        "face: the exam checks identity, which cannot recognise them until their face is registered."}]
