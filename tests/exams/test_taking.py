"""Taking an exam through the API: transitions, answers, identity gate, expiry, browser events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts import tenancy
from exams import taking
from exams.grading import session_score
from exams.models import AuditEvent, ExamSession, Question
from exams.statuses import SessionStatus
from proctoring.models import Incident
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def running(tenant: Tenant) -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            taking.session_transition(session_id=tenant.session.pk, to=to, actor=tenant.student)
        tenant.session.refresh_from_db()
        Question.objects.create(institution=tenant.institution, exam=tenant.exam, kind="choice", prompt="2+2?",
                                choices=["3", "4"], correct_choice=1)
        Question.objects.create(institution=tenant.institution, exam=tenant.exam, kind="text", prompt="Why?")
    return tenant.session


def questions(tenant: Tenant) -> list[Question]:
    with tenancy.tenant_scope(tenant.institution):
        return list(Question.objects.filter(exam=tenant.exam).order_by("id"))


def test_it_refuses_transitions_outside_the_table_and_audits_the_others(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.student)
    path = f"/api/v1/sessions/{tenant_a.session.pk}/transition"
    response = client.post(path, {"to": "submitted"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(consent_at=timezone.now(), consent_version=1)
    tenant_a.exam.status = "published"
    tenant_a.exam.save()
    assert client.post(path, {"to": "checking"}, format="json").json()["status"] == "checking"
    with tenancy.tenant_scope(tenant_a.institution):
        event = AuditEvent.objects.get(action="session.transition")
    assert event.actor == tenant_a.student and event.data == {"from": "scheduled", "to": "checking"}


def test_it_saves_answers_and_scores_multiple_choice(tenant_a: Tenant) -> None:
    session = running(tenant_a)
    choice, text = questions(tenant_a)
    client = api_client_for(tenant_a.student)
    path = f"/api/v1/sessions/{session.pk}/answers"
    assert client.post(path, {"question": choice.pk, "value": 1}, format="json").status_code == 200
    assert client.post(path, {"question": text.pk, "value": "Because."}, format="json").status_code == 200
    bad = client.post(path, {"question": choice.pk, "value": 7}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["details"] == {"value": ["Not an option."]}
    assert client.post(path, {"question": 999999, "value": 1}, format="json").status_code == 400
    with tenancy.tenant_scope(tenant_a.institution):
        assert tuple(session_score(session)) == (1, 2)  # the text answer waits for its grade
        assert session_score(session).pending == 1


def test_it_expires_a_session_past_its_deadline_and_refuses_answers(tenant_a: Tenant) -> None:
    session = running(tenant_a)
    ExamSession.unscoped.filter(pk=session.pk).update(started_at=timezone.now() - timedelta(hours=2))
    choice, _ = questions(tenant_a)
    response = api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/answers",
                                                     {"question": choice.pk, "value": 1}, format="json")
    assert response.status_code == 409
    session.refresh_from_db()
    assert session.status == SessionStatus.EXPIRED


def test_it_will_not_begin_without_consent_and_a_verified_identity(tenant_a: Tenant) -> None:
    tenant_a.exam.status = "published"
    tenant_a.exam.save()
    with tenancy.tenant_scope(tenant_a.institution):
        session = ExamSession.objects.get(pk=tenant_a.session.pk)
        with pytest.raises(taking.Conflict, match="cannot start"):
            taking.session_begin(session=session, student=tenant_a.student)
        session = taking.session_consent(session=session, student=tenant_a.student)
        assert session.status == SessionStatus.CHECKING and session.consent_version == 1
        with pytest.raises(taking.Conflict, match="identity"):
            taking.session_begin(session=session, student=tenant_a.student)


def test_it_records_browser_events_as_incidents(tenant_a: Tenant, settings: Any) -> None:
    session = running(tenant_a)
    client = api_client_for(tenant_a.student)
    response = client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": "tab_hidden", "detail": "tab hidden"},
                           format="json")
    assert response.status_code == 201
    bad = client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": "sneezed"}, format="json")
    assert bad.status_code == 400
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(pk=response.json()["incident"])
    # Open while the student is away: a return ("back") or the end closes it (tests/proctoring/test_events.py).
    assert incident.kind == "tab_hidden" and incident.is_open and incident.severity == "medium"
