"""Session control: an admin starts a sitting over or unlocks one that ran out, with a reason; audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import tenancy
from accounts.audit import AuditEvent
from exams import taking
from exams.models import Answer, ExamSession, Question
from exams.statuses import SessionStatus
from proctoring.models import Incident
from tests.conftest import Tenant, api_client_for, page_client_for

pytestmark = pytest.mark.django_db


def expired_with_an_answer(tenant: Tenant) -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            taking.session_transition(session_id=tenant.session.pk, to=to, actor=tenant.student)
        question = Question.objects.create(institution=tenant.institution, exam=tenant.exam, kind="text",
                                           prompt="Why?")
        Answer.objects.create(institution=tenant.institution, session=tenant.session, question=question, text="So")
        ExamSession.objects.filter(pk=tenant.session.pk).update(started_at=timezone.now() - timedelta(hours=2))
        taking.expire_if_due(ExamSession.objects.get(pk=tenant.session.pk))
    return ExamSession.unscoped.get(pk=tenant.session.pk)


def audited(tenant: Tenant, action: str) -> AuditEvent:
    with tenancy.tenant_scope(tenant.institution):
        return AuditEvent.objects.get(action=action)


def test_it_unlocks_an_expired_session_for_more_minutes_keeping_the_answers(tenant_a: Tenant) -> None:
    session = expired_with_an_answer(tenant_a)
    assert session.status == SessionStatus.EXPIRED
    response = api_client_for(tenant_a.admin).post(f"/api/v1/sessions/{session.pk}/unlock",
                                                   {"minutes": 15, "reason": "Power cut"}, format="json")
    assert response.status_code == 200, response.content
    with tenancy.tenant_scope(tenant_a.institution):
        session = ExamSession.objects.select_related("exam").get(pk=session.pk)
        question = Question.objects.get(exam=tenant_a.exam)
        assert taking.expire_if_due(session).status == SessionStatus.IN_PROGRESS  # the unlock outlasts the clock
        assert Answer.objects.filter(session=session).count() == 1
    assert timedelta(minutes=14) < session.deadline - timezone.now() <= timedelta(minutes=15)
    saved = api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/answers",
                                                  {"question": question.pk, "value": "Because"}, format="json")
    assert saved.status_code in (200, 201), saved.content
    event = audited(tenant_a, "session.unlock")
    assert (event.actor_id, event.data["from"], event.data["minutes"], event.data["reason"]) == (
        tenant_a.admin.pk, "expired", 15, "Power cut")


def test_it_never_unlocks_a_submitted_session(tenant_a: Tenant) -> None:
    session = expired_with_an_answer(tenant_a)
    ExamSession.unscoped.filter(pk=session.pk).update(status=SessionStatus.SUBMITTED)
    response = api_client_for(tenant_a.admin).post(f"/api/v1/sessions/{session.pk}/unlock",
                                                   {"minutes": 15, "reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"


def test_it_resets_a_running_session_to_start_over_closing_its_incidents(tenant_a: Tenant) -> None:
    session = expired_with_an_answer(tenant_a)
    ExamSession.unscoped.filter(pk=session.pk).update(status=SessionStatus.IN_PROGRESS, pose_baseline=[[1, 2]])
    Incident.unscoped.filter(pk=tenant_a.incident.pk).update(is_open=True)
    response = api_client_for(tenant_a.admin).post(f"/api/v1/sessions/{session.pk}/reset",
                                                   {"reason": "Wrong room"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "scheduled"
    session = ExamSession.unscoped.get(pk=session.pk)
    assert (session.started_at, session.ended_at, session.pose_baseline) == (None, None, [])
    assert not Answer.unscoped.filter(session=session).exists()
    assert Incident.unscoped.get(pk=tenant_a.incident.pk).is_open is False  # kept, closed
    assert audited(tenant_a, "session.reset").data == {"from": "in_progress", "to": "scheduled",
                                                       "reason": "Wrong room", "answers_deleted": 1}


def test_the_admin_resets_from_the_enrolments_page_with_a_reason(tenant_a: Tenant, tenant_b: Tenant) -> None:
    session = expired_with_an_answer(tenant_a)
    path = f"/exams/{tenant_a.exam.pk}/sessions/{session.pk}/control"
    client = page_client_for(tenant_a.admin)
    assert b"Reset or unlock" in client.get(f"/exams/{tenant_a.exam.pk}/enrolments").content
    client.post(path, {"action": "reset", "reason": ""})  # no reason: refused
    assert ExamSession.unscoped.get(pk=session.pk).status == SessionStatus.EXPIRED
    assert page_client_for(tenant_b.admin).post(path, {"action": "reset", "reason": "x"}).status_code == 404
    assert client.post(path, {"action": "reset", "reason": "Crashed"}).status_code == 302
    assert ExamSession.unscoped.get(pk=session.pk).status == SessionStatus.SCHEDULED
    assert audited(tenant_a, "session.reset").data["reason"] == "Crashed"
