"""Scores: multiple choice from the key, short text graded by admins; reports carry them; tenancy; audit."""

from __future__ import annotations

import csv
import io

import pytest

from accounts import tenancy
from accounts.errors import AppError, Conflict
from exams import authoring, grading, services, taking
from exams.models import Answer, AuditEvent, ExamSession, Question
from exams.statuses import SessionStatus
from tests.conftest import Tenant, api_client_for, page_client_for

pytestmark = pytest.mark.django_db


def sat(tenant: Tenant, *, choice: int | None = 1, text: str = "Because squares are positive.",
        submit: bool = True) -> tuple[ExamSession, Question, Question]:
    """The tenant's student sits an exam of one multiple-choice (2 points, key: option 1) and one short
    question (3 points), answering as given, and submits."""
    with tenancy.tenant_scope(tenant.institution):
        mc = Question.objects.create(institution=tenant.institution, exam=tenant.exam, position=1, kind="choice",
                                     prompt="2+2?", choices=["3", "4", "5"], correct_choice=1, points=2)
        short = Question.objects.create(institution=tenant.institution, exam=tenant.exam, position=2, kind="text",
                                        prompt="Why is variance never negative?", points=3)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            services.session_transition(session_id=tenant.session.pk, to=to, actor=tenant.student)
        session = ExamSession.objects.get(pk=tenant.session.pk)
        if choice is not None:
            taking.answer_save(session=session, question_id=mc.pk, value=choice)
        if text:
            taking.answer_save(session=session, question_id=short.pk, value=text)
        if submit:
            session = taking.session_submit(session=session, student=tenant.student)
    return session, mc, short


def short_answer(tenant: Tenant, question: Question) -> Answer:
    with tenancy.tenant_scope(tenant.institution):
        return Answer.objects.get(session=tenant.session, question=question)


def score(tenant: Tenant) -> grading.Score:
    with tenancy.tenant_scope(tenant.institution):
        return grading.session_score(ExamSession.objects.get(pk=tenant.session.pk))


def test_it_scores_multiple_choice_from_the_key_and_rescores_when_the_key_changes(tenant_a: Tenant) -> None:
    _, mc, _ = sat(tenant_a, text="")
    assert score(tenant_a) == grading.Score(earned=2, maximum=5, pending=0)  # the short one unanswered: 0
    with tenancy.tenant_scope(tenant_a.institution):
        authoring.question_update(question=mc, kind="choice", prompt=mc.prompt, choices=mc.choices,
                                  correct_choice=2, points=2)
    assert score(tenant_a) == grading.Score(earned=0, maximum=5, pending=0)


def test_it_keeps_the_score_pending_until_the_short_answer_is_graded(tenant_a: Tenant) -> None:
    _, _, short = sat(tenant_a)
    assert score(tenant_a) == grading.Score(earned=2, maximum=5, pending=1)
    assert score(tenant_a).state == "pending"
    with tenancy.tenant_scope(tenant_a.institution):
        grading.answer_grade(actor=tenant_a.admin, answer=short_answer(tenant_a, short), points=2, comment="Close.")
    assert score(tenant_a) == grading.Score(earned=4, maximum=5, pending=0)
    assert score(tenant_a).state == "graded"


@pytest.mark.parametrize("points", [-1, 4, True, "2"])
def test_it_refuses_points_outside_zero_to_the_questions_points(tenant_a: Tenant, points: object) -> None:
    _, _, short = sat(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution), pytest.raises(AppError) as error:
        grading.answer_grade(actor=tenant_a.admin, answer=short_answer(tenant_a, short), points=points)  # type: ignore[arg-type]
    assert error.value.code == "invalid"
    assert short_answer(tenant_a, short).points_awarded is None


def test_it_grades_through_the_api_with_bounds_and_answers_the_scores(tenant_a: Tenant) -> None:
    _, _, short = sat(tenant_a)
    answer_id = short_answer(tenant_a, short).pk
    client = api_client_for(tenant_a.admin)
    too_many = client.post(f"/api/v1/answers/{answer_id}/grade", {"points": 4}, format="json")
    assert too_many.status_code == 400 and too_many.json()["error"]["details"] == {"points": ["From 0 to 3."]}
    graded = client.post(f"/api/v1/answers/{answer_id}/grade", {"points": 3, "comment": "Right."}, format="json")
    assert graded.status_code == 200
    assert (graded.json()["score"], graded.json()["max_score"], graded.json()["graded"]) == (5, 5, True)
    listed = api_client_for(tenant_a.proctor).get(f"/api/v1/sessions/{tenant_a.session.pk}/answers").json()
    assert [(a["state"], a["points"]) for a in listed["answers"]] == [("correct", 2), ("graded", 3)]
    assert listed["answers"][1]["comment"] == "Right."


def test_it_scores_multiple_choice_without_a_hand_grade_and_waits_for_the_session_to_finish(tenant_a: Tenant) -> None:
    _, mc, short = sat(tenant_a, submit=False)
    with tenancy.tenant_scope(tenant_a.institution):
        with pytest.raises(Conflict) as running:
            grading.answer_grade(actor=tenant_a.admin, answer=short_answer(tenant_a, short), points=1)
        assert running.value.code == "session_not_finished"
        taking.session_submit(session=ExamSession.objects.get(pk=tenant_a.session.pk), student=tenant_a.student)
        with pytest.raises(AppError) as choice:
            grading.answer_grade(actor=tenant_a.admin, answer=short_answer(tenant_a, mc), points=1)
        assert choice.value.code == "not_gradable"


def test_it_audits_each_grade_with_the_one_before(tenant_a: Tenant) -> None:
    _, _, short = sat(tenant_a)
    answer = short_answer(tenant_a, short)
    with tenancy.tenant_scope(tenant_a.institution):
        grading.answer_grade(actor=tenant_a.admin, answer=answer, points=1)
        grading.answer_grade(actor=tenant_a.admin, answer=answer, points=3, comment="On second reading.")
        events = list(AuditEvent.objects.filter(action="answer.grade", target_id=str(answer.pk)).order_by("pk"))
    assert [(e.actor_id, e.data["before"], e.data["after"]) for e in events] == [
        (tenant_a.admin.pk, None, {"points": 1, "comment": ""}),
        (tenant_a.admin.pk, {"points": 1, "comment": ""}, {"points": 3, "comment": "On second reading."}),
    ]


def test_it_lets_proctors_read_the_answers_but_not_grade_them(tenant_a: Tenant) -> None:
    _, _, short = sat(tenant_a)
    answer_id = short_answer(tenant_a, short).pk
    page = page_client_for(tenant_a.proctor)
    shown = page.get(f"/sessions/{tenant_a.session.pk}/answers")
    assert shown.status_code == 200 and b"Because squares are positive." in shown.content
    assert b'name="points"' not in shown.content
    refused = page.post(f"/sessions/{tenant_a.session.pk}/answers", {"answer": answer_id, "points": "1"})
    assert refused.status_code == 403
    assert api_client_for(tenant_a.proctor).post(f"/api/v1/answers/{answer_id}/grade", {"points": 1},
                                                 format="json").status_code == 403
    assert short_answer(tenant_a, short).points_awarded is None


def test_it_grades_from_the_staff_page(tenant_a: Tenant) -> None:
    _, _, short = sat(tenant_a)
    answer_id = short_answer(tenant_a, short).pk
    page = page_client_for(tenant_a.admin)
    path = f"/sessions/{tenant_a.session.pk}/answers"
    assert b'name="points"' in page.get(path).content
    bad = page.post(path, {"answer": answer_id, "points": "lots"}, follow=True)
    assert b"Give a whole number of points, 0 to 3." in bad.content
    assert page.post(path, {"answer": answer_id, "points": "2", "comment": "Good"}).status_code == 302
    assert (short_answer(tenant_a, short).points_awarded, short_answer(tenant_a, short).grade_comment) == (2, "Good")


def test_it_answers_404_to_another_institutions_staff(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _, _, short = sat(tenant_a)
    answer_id = short_answer(tenant_a, short).pk
    api = api_client_for(tenant_b.admin)
    assert api.get(f"/api/v1/sessions/{tenant_a.session.pk}/answers").status_code == 404
    assert api.post(f"/api/v1/answers/{answer_id}/grade", {"points": 1}, format="json").status_code == 404
    page = page_client_for(tenant_b.admin)
    assert page.get(f"/sessions/{tenant_a.session.pk}/answers").status_code == 404
    # A's answer id sent to B's own session page: the same 404 as a missing answer.
    foreign = page.post(f"/sessions/{tenant_b.session.pk}/answers", {"answer": answer_id, "points": "1"})
    missing = page.post(f"/sessions/{tenant_b.session.pk}/answers", {"answer": 987654321, "points": "1"})
    assert foreign.status_code == missing.status_code == 404
    assert short_answer(tenant_a, short).points_awarded is None


def test_it_never_shows_students_the_key_or_the_answers_view(tenant_a: Tenant) -> None:
    sat(tenant_a, submit=False)
    student = api_client_for(tenant_a.student)
    assert student.get(f"/api/v1/sessions/{tenant_a.session.pk}/answers").status_code == 403
    assert student.get(f"/api/v1/sessions/{tenant_a.session.pk}/").json().keys().isdisjoint(
        {"correct_choice", "score", "answers"})
    exam_page = page_client_for(tenant_a.student).get(f"/sessions/{tenant_a.session.pk}/exam")
    assert exam_page.status_code == 200
    assert b"correct" not in exam_page.content.lower()
    assert page_client_for(tenant_a.student).get(f"/sessions/{tenant_a.session.pk}/answers").status_code == 403


def test_it_drops_a_grade_when_an_unlocked_sitting_changes_the_answer(tenant_a: Tenant) -> None:
    _, _, short = sat(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        grading.answer_grade(actor=tenant_a.admin, answer=short_answer(tenant_a, short), points=3)
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(status=SessionStatus.EXPIRED)
        session = services.session_unlock(session_id=tenant_a.session.pk, actor=tenant_a.admin, minutes=5,
                                          reason="Fire alarm")
        taking.answer_save(session=session, question_id=short.pk, value="Because squares are positive.")
        assert short_answer(tenant_a, short).points_awarded == 3  # the same text keeps its grade
        taking.answer_save(session=session, question_id=short.pk, value="A new answer.")
    assert short_answer(tenant_a, short).points_awarded is None


def test_it_puts_score_max_and_graded_state_in_the_exam_csv(tenant_a: Tenant) -> None:
    _, _, short = sat(tenant_a)
    client = page_client_for(tenant_a.proctor)

    def row() -> dict[str, str]:
        body = client.get(f"/exams/{tenant_a.exam.pk}/report.csv").content.decode()
        return next(csv.DictReader(io.StringIO(body)))

    assert (row()["score"], row()["max_score"], row()["graded"]) == ("2", "5", "pending")
    with tenancy.tenant_scope(tenant_a.institution):
        grading.answer_grade(actor=tenant_a.admin, answer=short_answer(tenant_a, short), points=1)
    assert (row()["score"], row()["max_score"], row()["graded"]) == ("3", "5", "graded")
    report = client.get(f"/exams/{tenant_a.exam.pk}/report")
    assert b"3/5" in report.content


def test_it_answers_404_for_an_answer_of_another_session_sent_to_a_sessions_page(tenant_a: Tenant) -> None:
    from accounts import services as account_services
    from accounts.models import Role

    _, _, short = sat(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        other_student = account_services.user_create(institution=tenant_a.institution, email="b@alpha.test",
                                                     role=Role.STUDENT, full_name="Other")
        other = services.session_create(exam=tenant_a.exam, student=other_student)
    answer_id = short_answer(tenant_a, short).pk
    response = page_client_for(tenant_a.admin).post(f"/sessions/{other.pk}/answers",
                                                    {"answer": answer_id, "points": "1"})
    assert response.status_code == 404
    assert short_answer(tenant_a, short).points_awarded is None
