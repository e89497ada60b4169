"""Accommodations: an admin gives a student extra time and exemptions from named checks; the deadline
moves, exempt checks open no incident, proctors see the badge, and every change is audited."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts import tenancy
from accounts.audit import AuditEvent
from accounts.errors import AppError
from exams import accommodations, taking
from exams.models import Accommodation, ExamSession
from exams.statuses import SessionStatus
from proctoring.models import Incident
from tests.conftest import Tenant, api_client_for, page_client_for

pytestmark = pytest.mark.django_db


def running(tenant: Tenant, *, minutes_ago: int) -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            taking.session_transition(session_id=tenant.session.pk, to=to, actor=tenant.student)
    ExamSession.unscoped.filter(pk=tenant.session.pk).update(started_at=timezone.now() - timedelta(minutes=minutes_ago))
    return ExamSession.unscoped.select_related("exam").get(pk=tenant.session.pk)


def accommodate(tenant: Tenant, **fields: object) -> Accommodation:
    with tenancy.tenant_scope(tenant.institution):
        return accommodations.accommodation_set(actor=tenant.admin, student=tenant.student,
                                                reason=str(fields.pop("reason", "Extra time (dyslexia)")),
                                                **fields)  # type: ignore[arg-type]


def test_it_moves_the_deadline_by_the_extra_minutes_and_percentage(tenant_a: Tenant) -> None:
    session = running(tenant_a, minutes_ago=0)  # the exam lasts 60 minutes
    accommodate(tenant_a, extra_minutes=15, extra_percent=50)
    fresh = ExamSession.unscoped.select_related("exam").get(pk=session.pk)
    assert fresh.deadline - fresh.started_at == timedelta(minutes=60 + 15 + 30)
    page = page_client_for(tenant_a.student).get(f"/sessions/{session.pk}/exam").content.decode()
    shown = re.search(r'data-deadline="([^"]+)"', page)
    assert shown and datetime.fromisoformat(shown.group(1)) == fresh.deadline  # the countdown


def test_it_keeps_a_student_with_extra_time_sitting_past_the_usual_deadline(tenant_a: Tenant) -> None:
    session = running(tenant_a, minutes_ago=70)
    accommodate(tenant_a, extra_minutes=20)
    with tenancy.tenant_scope(tenant_a.institution):
        assert taking.expire_if_due(ExamSession.objects.get(pk=session.pk)).status == SessionStatus.IN_PROGRESS
        accommodations.accommodation_remove(actor=tenant_a.admin, student=tenant_a.student)
        assert taking.expire_if_due(ExamSession.objects.get(pk=session.pk)).status == SessionStatus.EXPIRED


def test_it_moves_the_exams_closing_cap_by_the_extra_time_too(tenant_a: Tenant) -> None:
    session = running(tenant_a, minutes_ago=0)
    closes = session.started_at + timedelta(minutes=10)
    tenant_a.exam.__class__.unscoped.filter(pk=tenant_a.exam.pk).update(closes_at=closes)
    accommodate(tenant_a, extra_minutes=25)
    assert ExamSession.unscoped.select_related("exam").get(pk=session.pk).deadline == closes + timedelta(minutes=25)


def test_it_opens_no_incident_for_a_browser_event_the_student_is_exempt_from(tenant_a: Tenant) -> None:
    session = running(tenant_a, minutes_ago=0)
    accommodate(tenant_a, exempt_checks=["tab_hidden"], reason="Screen reader in another window")
    client = api_client_for(tenant_a.student)
    exempt = client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": "tab_hidden"}, format="json")
    other = client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": "copy_paste"}, format="json")
    assert exempt.status_code == 200 and exempt.json() == {"incident": None, "kind": "tab_hidden", "exempt": True}
    assert other.status_code == 201
    with tenancy.tenant_scope(tenant_a.institution):
        assert set(Incident.objects.filter(session=session).values_list("kind", flat=True)) == {
            "no_face", "copy_paste"}  # the tenant's own no_face row, and the event that is not exempt


def test_it_sets_replaces_and_removes_an_accommodation_over_the_api_audited(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    path = f"/api/v1/students/{tenant_a.student.pk}/accommodation"
    body = {"reason": "Medical: cannot face the camera", "extra_percent": 25,
            "exempt_checks": ["looking_away", "no_face"]}
    response = client.put(path, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["accommodation"]["exempt_checks"] == ["looking_away", "no_face"]
    assert client.put(path, {**body, "extra_percent": 50}, format="json").status_code == 200
    assert api_client_for(tenant_a.proctor).get(path).json()["accommodation"]["extra_percent"] == 50
    assert client.delete(path).status_code == 204
    with tenancy.tenant_scope(tenant_a.institution):
        events = list(AuditEvent.objects.filter(action="student.accommodation").order_by("at", "pk"))
    assert [(e.data["before"] or {}).get("extra_percent") for e in events] == [None, 25, 50]
    assert [(e.data["after"] or {}).get("extra_percent") for e in events] == [25, 50, None]
    assert all(e.actor_id == tenant_a.admin.pk and e.target_id == str(tenant_a.student.pk) for e in events)


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "x", "exempt_checks": ["wrong_person"]}, "exempt_checks"),  # accusing checks are never exempt
    ({"reason": "x", "extra_minutes": -5}, "extra_minutes"),
    ({"reason": "", "extra_minutes": 5}, "reason"),
], ids=["accusing-check", "negative-time", "no-reason"])
def test_it_refuses_an_invalid_accommodation(tenant_a: Tenant, body: dict[str, object], field: str) -> None:
    response = api_client_for(tenant_a.admin).put(f"/api/v1/students/{tenant_a.student.pk}/accommodation", body,
                                                  format="json")
    assert response.status_code == 400 and field in response.json()["error"]["details"]
    with tenancy.tenant_scope(tenant_a.institution):
        assert not Accommodation.objects.exists()
        with pytest.raises(AppError):
            accommodations.accommodation_set(actor=tenant_a.admin, student=tenant_a.student, reason="x")


def test_it_answers_404_to_an_outsider_and_403_to_a_proctor_who_writes(tenant_a: Tenant, tenant_b: Tenant) -> None:
    path = f"/api/v1/students/{tenant_a.student.pk}/accommodation"
    body = {"reason": "x", "extra_minutes": 5}
    assert api_client_for(tenant_b.admin).put(path, body, format="json").status_code == 404
    assert api_client_for(tenant_b.admin).get(path).status_code == 404
    assert page_client_for(tenant_b.admin).get(f"/students/{tenant_a.student.pk}/accommodation"
                                               ).status_code == 404
    assert api_client_for(tenant_a.proctor).put(path, body, format="json").status_code == 403
    assert api_client_for(tenant_a.admin).put(f"/api/v1/students/{tenant_a.proctor.pk}/accommodation", body,
                                              format="json").status_code == 404  # not a student
    with tenancy.tenant_scope(None):
        assert not Accommodation.objects.exists()


def test_the_admin_sets_it_on_the_students_page_and_proctors_see_the_badge(tenant_a: Tenant) -> None:
    client = page_client_for(tenant_a.admin)
    page = f"/students/{tenant_a.student.pk}/accommodation"
    assert client.get(page).status_code == 200
    response = client.post(page, {"reason": "Medical: cannot face the camera", "extra_minutes": "10",
                                  "extra_percent": "0", "exempt_checks": ["looking_away"]})
    assert response.status_code == 302
    assert b'class="badge accommodation"' in client.get("/students/").content
    with tenancy.tenant_scope(tenant_a.institution):
        assert Accommodation.objects.get(student=tenant_a.student).exempt_checks == ["looking_away"]
    proctor = page_client_for(tenant_a.proctor)
    incident = proctor.get(f"/incidents/{tenant_a.incident.pk}/").content
    report = proctor.get(f"/sessions/{tenant_a.session.pk}/report").content
    for content in (incident, report):
        assert b'id="accommodation"' in content and b"Medical: cannot face the camera" in content
    running(tenant_a, minutes_ago=1)
    [tile] = api_client_for(tenant_a.proctor).get(f"/api/v1/exams/{tenant_a.exam.pk}/live").json()["sessions"]
    assert tile["accommodation"]["reason"] == "Medical: cannot face the camera"
    assert tile["accommodation"]["extra_seconds"] == 600
    assert client.post(page, {"remove": "1"}).status_code == 302
    with tenancy.tenant_scope(tenant_a.institution):
        assert not Accommodation.objects.exists()
