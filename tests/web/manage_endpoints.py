"""Rows for the tenancy table (tests/accounts/test_tenancy.py): every institution-admin page that takes an id."""

from __future__ import annotations

from accounts import tenancy
from exams.models import ExamSession, Question
from tests.accounts.test_tenancy import Endpoint, exam, face, session, student
from tests.conftest import Tenant


class QuestionKey(int):
    """A question's id that also knows its exam's id, for paths with both; a bare int uses itself for both."""

    exam_pk: int


def question(t: Tenant) -> QuestionKey:
    with tenancy.tenant_scope(t.institution):
        q, _ = Question.objects.get_or_create(institution=t.institution, exam=t.exam, prompt="Tenancy question",
                                              defaults={"kind": "text", "position": 1})
    key = QuestionKey(q.pk)
    key.exam_pk = t.exam.pk
    return key


def _question_path(key: int, action: str) -> str:
    return f"/exams/{getattr(key, 'exam_pk', key)}/questions/{key}/{action}"


def _session_path(session_id: int) -> str:
    with tenancy.tenant_scope(None):
        exam_id = ExamSession.objects.filter(pk=session_id).values_list("exam_id", flat=True).first() or session_id
    return f"/exams/{exam_id}/sessions/{session_id}/delete"


MANAGE_ENDPOINTS: list[Endpoint] = [
    Endpoint("manage-exam-edit", "GET", lambda i: f"/exams/{i}/edit", exam, "admin", "proctor"),
    Endpoint("manage-exam-edit", "POST", lambda i: f"/exams/{i}/edit", exam, "admin", "student",
             {"title": ""}),  # invalid on purpose: the owner gets the form back (200), nothing changes
    Endpoint("manage-exam-questions", "GET", lambda i: f"/exams/{i}/questions", exam, "admin", "proctor"),
    Endpoint("manage-exam-question-edit", "GET", lambda k: _question_path(k, "edit"), question, "admin", "proctor"),
    Endpoint("manage-exam-question-delete", "GET", lambda k: _question_path(k, "delete"), question, "admin",
             "student"),
    Endpoint("manage-exam-publish", "GET", lambda i: f"/exams/{i}/publish", exam, "admin", "proctor"),
    Endpoint("manage-exam-enrolments", "GET", lambda i: f"/exams/{i}/enrolments", exam, "admin", "student"),
    Endpoint("manage-student-face", "GET", lambda i: f"/students/{i}/face", student, "admin", "proctor"),
    Endpoint("manage-face-delete", "GET", lambda i: f"/faces/{i}/delete", face, "admin", "proctor"),
    Endpoint("manage-person-invite", "GET", lambda i: f"/people/{i}/invite", student, "admin", "student"),
    # Mails the invite again; the owner's student already has a password: 409, nothing sent.
    Endpoint("manage-person-invite", "POST", lambda i: f"/people/{i}/invite", student, "admin", "proctor"),
    Endpoint("manage-student-delete", "GET", lambda i: f"/students/{i}/delete", student, "admin", "proctor"),
    Endpoint("manage-exam-delete", "GET", lambda i: f"/exams/{i}/delete", exam, "admin", "student"),
    Endpoint("manage-session-delete", "GET", lambda k: _session_path(k), session, "admin", "proctor"),
]
