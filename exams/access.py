"""Access helpers: the one place that decides which exams and sessions a person may reach.

As Zulip's ``access_stream_by_id``: "missing" and "not yours" answer the same 404, so an id tells
nobody whether another person's (or institution's) row exists. Tenant scoping already hides other
institutions; these add the role rule on top (a student reaches only their own sessions).
"""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.errors import NotFound
from accounts.models import Role, User
from exams.models import Exam, ExamSession


def sessions_for(*, actor: User) -> QuerySet[ExamSession]:
    """The sessions ``actor`` may see: all of the institution's for staff, their own for a student.

    The student filter is written here once; every view and service that looks a session up by id
    goes through ``access_session_by_id`` (or filters related rows by these sessions).
    """
    sessions = ExamSession.objects.all()
    if getattr(actor, "role", None) == Role.STUDENT and not actor.is_superuser:
        sessions = sessions.filter(student_id=actor.pk)
    return sessions


RELATED = ("exam", "exam__institution", "student")


def access_session_by_id(*, actor: User, session_id: int, for_update: bool = False,
                         related: tuple[str, ...] = RELATED) -> ExamSession:
    """``related``: the relations fetched with it (a frame's upload needs only the exam)."""
    sessions = sessions_for(actor=actor)
    if related:  # select_related() without names would follow every relation
        sessions = sessions.select_related(*related)
    if for_update:
        sessions = sessions.select_for_update(of=("self",))
    session = sessions.filter(pk=session_id).first()
    if session is None:
        raise NotFound("Not found.")
    return session


def access_exam_by_id(*, actor: User, exam_id: int, for_update: bool = False) -> Exam:
    """Staff reach their institution's exams; students reach none by id (they go through sessions)."""
    exams = Exam.objects.all()
    if getattr(actor, "role", None) == Role.STUDENT and not actor.is_superuser:
        exams = exams.none()
    if for_update:
        exams = exams.select_for_update(of=("self",))
    exam = exams.filter(pk=exam_id).first()
    if exam is None:
        raise NotFound("Not found.")
    return exam
