"""Rows for the tenancy table (tests/accounts/test_tenancy.py): every institution-admin page that takes an id."""

from __future__ import annotations

from accounts import tenancy
from exams.models import Question
from tests.accounts.test_tenancy import Endpoint, exam, student
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
    Endpoint("manage-person-invite", "GET", lambda i: f"/people/{i}/invite", student, "admin", "student"),
]
