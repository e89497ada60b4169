"""An exam's status changes only through the publishing rules, with an audit event, on every path."""

from __future__ import annotations

import pytest

from accounts import tenancy
from exams.models import AuditEvent, Exam, Question
from tests.conftest import Tenant, api_client_for, page_client_for

pytestmark = pytest.mark.django_db


def status_of(exam: Exam) -> str:
    return Exam.unscoped.get(pk=exam.pk).status


def add_question(tenant: Tenant) -> None:
    with tenancy.tenant_scope(tenant.institution):
        Question.objects.create(institution=tenant.institution, exam=tenant.exam, kind="text", prompt="Why?")


def test_it_refuses_a_status_in_an_exam_patch(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).patch(f"/api/v1/exams/{tenant_a.exam.pk}/", {"status": "published"},
                                                    format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "status_read_only"
    assert status_of(tenant_a.exam) == "draft"  # no question: it could not have been published


def test_it_creates_exams_as_drafts_only(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    refused = client.post("/api/v1/exams/", {"title": "Sneaky", "status": "published"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "status_read_only"
    created = client.post("/api/v1/exams/", {"title": "Plain"}, format="json")
    assert created.status_code == 201 and created.json()["status"] == "draft"


def test_it_publishes_through_the_status_endpoint_with_its_rules_and_an_audit_event(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    path = f"/api/v1/exams/{tenant_a.exam.pk}/status"
    response = client.post(path, {"to": "published"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "exam_has_no_questions"
    add_question(tenant_a)
    assert client.post(path, {"to": "published"}, format="json").json()["status"] == "published"
    bad = client.post(path, {"to": "published"}, format="json")
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "invalid_transition"
    with tenancy.tenant_scope(tenant_a.institution):
        event = AuditEvent.objects.get(action="exam.status")
    assert event.actor == tenant_a.admin and event.data == {"from": "draft", "to": "published"}


def test_it_shows_the_status_read_only_in_the_admin_site(tenant_a: Tenant) -> None:
    client = page_client_for(tenant_a.admin)
    path = f"/manage/exams/exam/{tenant_a.exam.pk}/change/"
    form = {"title": "Renamed", "description": "", "status": "published", "duration_minutes": 60,
            "checks_enabled": '["Face Detection"]', "min_confidence": 85, "face_match_threshold": 90,
            "objects_of_interest": '["Mobile Phone"]', "debounce_frames": 2, "debounce_seconds": 0,
            "capture_interval_seconds": 5}
    assert client.post(path, form).status_code == 302
    exam = Exam.unscoped.get(pk=tenant_a.exam.pk)
    assert exam.title == "Renamed" and exam.status == "draft"


def test_it_publishes_from_the_admin_site_only_through_the_rules(tenant_a: Tenant) -> None:
    client = page_client_for(tenant_a.admin)
    action = {"action": "exam_publish", "_selected_action": [tenant_a.exam.pk]}
    response = client.post("/manage/exams/exam/", action, follow=True)
    assert "Add at least one question before publishing." in response.content.decode()
    assert status_of(tenant_a.exam) == "draft"
    add_question(tenant_a)
    client.post("/manage/exams/exam/", action)
    assert status_of(tenant_a.exam) == "published"
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.filter(action="exam.status", actor=tenant_a.admin).count() == 1


def test_it_takes_no_status_through_the_exam_services(tenant_a: Tenant) -> None:
    from exams import services

    with tenancy.tenant_scope(tenant_a.institution):
        with pytest.raises(TypeError):
            services.exam_update(exam=tenant_a.exam, status="published")  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            services.exam_create(actor=tenant_a.admin, title="x", status="published")  # type: ignore[call-arg]
        exam = services.exam_update(exam=tenant_a.exam, title="Renamed", capture_interval_seconds=10)
    assert (exam.title, exam.capture_interval_seconds, exam.status) == ("Renamed", 10, "draft")
