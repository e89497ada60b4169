"""The exam's rules cannot be skipped: one start check, used by the pages and the API alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts import tenancy
from exams import taking
from exams.models import AuditEvent, ExamSession
from exams.statuses import SessionStatus
from proctoring.gate import challenge_order
from proctoring.models import Frame, FrameStatus
from tests.conftest import Tenant, api_client_for, head_turn_yaws, page_client_for

pytestmark = pytest.mark.django_db

PASS = [{"TestName": "Person Recognition", "Success": True, "Details": "alpha Student"}]
FAIL = [{"TestName": "Person Recognition", "Success": False, "Details": "0"}]


def _frame(tenant: Tenant, checks: list[dict[str, Any]], *, seconds_ago: float = 5, yaw: float | None = None) -> Frame:
    # A frame of the head turns: the student's own face (similarity 85: the liveness floor, not the identity pass).
    findings = None if yaw is None else {"FaceDetails": [{"Pose": {"Yaw": yaw, "Pitch": 0.0, "Roll": 0.0}}],
                                         "Verification": {"Passed": False, "Reason": "turned_away",
                                                          "Similarity": 85.0, "FaceId": None}}
    with tenancy.tenant_scope(tenant.institution):
        return Frame.objects.create(institution=tenant.institution, session=tenant.session, status=FrameStatus.DONE,
                                    received_at=timezone.now() - timedelta(seconds=seconds_ago), checks=checks,
                                    findings=findings)


def ready(tenant: Tenant, *, identity: bool = True, liveness_seconds_ago: float = 30) -> ExamSession:
    """A published exam, consent to the current text, the session in its checks, a liveness pass (the head
    turned as asked, on frames that did not pass identity) and a fresh identity pass."""
    tenant.exam.status = "published"
    tenant.exam.save()
    ExamSession.unscoped.filter(pk=tenant.session.pk).update(
        status=SessionStatus.CHECKING, consent_at=timezone.now(), consent_version=tenant.institution.consent_version)
    ExamSession.unscoped.filter(pk=tenant.session.pk).update()
    Frame.unscoped.filter(session=tenant.session).delete()  # the tenancy fixture's pending frame
    yaws = head_turn_yaws(challenge_order(tenant.session))  # the turns the server asks this session for
    for index, yaw in enumerate(yaws[:-1]):  # the last turn is the pass
        _frame(tenant, FAIL, seconds_ago=liveness_seconds_ago + len(yaws) - 2 - index, yaw=yaw)
    if identity:
        _frame(tenant, PASS)
    tenant.session.refresh_from_db()
    return tenant.session


def start(tenant: Tenant, user: Any = None) -> Any:
    return api_client_for(user or tenant.student).post(f"/api/v1/sessions/{tenant.session.pk}/transition",
                                                        {"to": "in_progress"}, format="json")


def refused(response: Any, code: str, status: int = 409) -> bool:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code, response.content
    return True


def status_of(tenant: Tenant) -> str:
    return ExamSession.unscoped.get(pk=tenant.session.pk).status


def test_it_starts_a_session_that_meets_every_rule(tenant_a: Tenant) -> None:
    ready(tenant_a)
    response = start(tenant_a)
    assert response.status_code == 200 and response.json()["status"] == "in_progress"
    session = ExamSession.unscoped.get(pk=tenant_a.session.pk)
    assert session.identity_verified_at is not None and session.started_at is not None


def test_it_refuses_to_start_an_unpublished_exam(tenant_a: Tenant) -> None:
    ready(tenant_a)
    tenant_a.exam.status = "draft"
    tenant_a.exam.save()
    assert refused(start(tenant_a), "exam_not_published") and status_of(tenant_a) == "checking"


def test_it_refuses_to_start_outside_the_exams_window(tenant_a: Tenant) -> None:
    ready(tenant_a)
    tenant_a.exam.opens_at = timezone.now() + timedelta(hours=1)
    tenant_a.exam.save()
    assert refused(start(tenant_a), "exam_not_open")
    tenant_a.exam.opens_at, tenant_a.exam.closes_at = timezone.now() - timedelta(hours=2), timezone.now()
    tenant_a.exam.save()
    assert refused(start(tenant_a), "exam_closed") and status_of(tenant_a) == "checking"


def test_it_refuses_to_start_without_consent(tenant_a: Tenant) -> None:
    ready(tenant_a)
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(consent_at=None, consent_version=None)
    assert refused(start(tenant_a), "consent_required") and status_of(tenant_a) == "checking"


def test_it_refuses_consent_given_to_an_older_consent_text(tenant_a: Tenant) -> None:
    ready(tenant_a)
    tenant_a.institution.consent_version += 1  # the institution changed its consent text since
    tenant_a.institution.save()
    assert refused(start(tenant_a), "consent_required") and status_of(tenant_a) == "checking"


def test_it_refuses_to_start_without_an_identity_pass_on_this_session(tenant_a: Tenant) -> None:
    ready(tenant_a, identity=False)
    assert refused(start(tenant_a), "identity_not_verified")


def test_it_refuses_an_identity_pass_older_than_the_setting(tenant_a: Tenant, settings: Any) -> None:
    settings.IDENTITY_PASS_MAX_AGE, settings.LIVENESS_PASS_MAX_AGE = 300, 900
    ready(tenant_a, identity=False, liveness_seconds_ago=400)
    _frame(tenant_a, PASS, seconds_ago=301)
    assert refused(start(tenant_a), "identity_not_verified")
    _frame(tenant_a, PASS, seconds_ago=10)
    assert start(tenant_a).status_code == 200


def test_it_refuses_when_the_latest_frame_failed_recognition(tenant_a: Tenant) -> None:
    ready(tenant_a, identity=False)
    _frame(tenant_a, PASS, seconds_ago=30)
    _frame(tenant_a, FAIL, seconds_ago=5)  # someone else sat down since
    assert refused(start(tenant_a), "identity_not_verified")


def test_it_says_why_the_latest_frame_failed_the_identity_check(tenant_a: Tenant) -> None:
    ready(tenant_a, identity=False)
    frame = _frame(tenant_a, FAIL)
    Frame.unscoped.filter(pk=frame.pk).update(findings={"Verification": {
        "Passed": False, "Reason": "turned_away", "Similarity": 41.0, "FaceId": "f"}})
    response = start(tenant_a)
    assert refused(response, "identity_not_verified")
    assert response.json()["error"]["message"] == "Face the camera."
    assert response.json()["error"]["details"] == {"reason": "turned_away"}
    assert "41" not in response.content.decode()  # never a score


def test_it_starts_without_identity_when_the_exam_does_not_check_it(tenant_a: Tenant) -> None:
    ready(tenant_a, identity=False)
    tenant_a.exam.checks_enabled = ["Face Detection"]
    tenant_a.exam.save()
    assert start(tenant_a).status_code == 200


def test_it_applies_the_same_check_on_the_pages(tenant_a: Tenant) -> None:
    ready(tenant_a)
    tenant_a.exam.status = "draft"
    tenant_a.exam.save()
    response = page_client_for(tenant_a.student).post(f"/sessions/{tenant_a.session.pk}/check", follow=True)
    assert "This exam is not published." in response.content.decode() and status_of(tenant_a) == "checking"
    tenant_a.exam.status = "published"
    tenant_a.exam.save()
    response = page_client_for(tenant_a.student).post(f"/sessions/{tenant_a.session.pk}/check")
    assert response.status_code == 302 and status_of(tenant_a) == "in_progress"


def test_it_never_lets_a_student_into_the_checks_without_consent(tenant_a: Tenant) -> None:
    tenant_a.exam.status = "published"
    tenant_a.exam.save()
    client = api_client_for(tenant_a.student)
    path = f"/api/v1/sessions/{tenant_a.session.pk}/transition"
    assert refused(client.post(path, {"to": "checking"}, format="json"), "consent_required")
    assert status_of(tenant_a) == "scheduled"


def test_it_records_consent_only_for_a_published_exam(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution), pytest.raises(taking.Conflict, match="not published"):
        taking.session_consent(session=tenant_a.session, student=tenant_a.student)
    assert status_of(tenant_a) == "scheduled"


@pytest.mark.parametrize("role, to", [
    ("admin", "checking"), ("admin", "in_progress"), ("proctor", "in_progress"), ("proctor", "expired"),
    ("student", "terminated"), ("student", "expired"),
])
def test_it_refuses_transitions_the_role_may_not_ask_for(tenant_a: Tenant, role: str, to: str) -> None:
    ready(tenant_a)
    response = api_client_for(tenant_a.user(role)).post(f"/api/v1/sessions/{tenant_a.session.pk}/transition",
                                                         {"to": to}, format="json")
    assert refused(response, "forbidden", 403) and status_of(tenant_a) == "checking"


@pytest.mark.parametrize("role, to", [("proctor", "terminated"), ("admin", "expired")])
def test_it_lets_staff_end_a_session_and_audits_it(tenant_a: Tenant, role: str, to: str) -> None:
    ready(tenant_a)
    user = tenant_a.user(role)
    response = api_client_for(user).post(f"/api/v1/sessions/{tenant_a.session.pk}/transition", {"to": to},
                                         format="json")
    assert response.status_code == 200 and status_of(tenant_a) == to
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.filter(action="session.transition", actor=user, data__to=to).exists()


def test_it_answers_the_same_404_for_another_students_session(tenant_a: Tenant) -> None:
    from accounts import services

    other = services.user_create(institution=tenant_a.institution, email="other@alpha.test", role="student",
                                 full_name="Other")
    ready(tenant_a)
    response = start(tenant_a, other)
    missing = api_client_for(other).post("/api/v1/sessions/999999/transition", {"to": "in_progress"}, format="json")
    assert response.status_code == missing.status_code == 404 and response.json() == missing.json()
    assert page_client_for(other).get(f"/sessions/{tenant_a.session.pk}/exam").status_code == 404


def test_it_asks_for_consent_again_when_the_consent_text_changed_during_the_checks(tenant_a: Tenant) -> None:
    ready(tenant_a)
    tenant_a.institution.consent_version += 1
    tenant_a.institution.save()
    client = page_client_for(tenant_a.student)
    response = client.get(f"/sessions/{tenant_a.session.pk}/check")
    assert response.status_code == 302 and response["Location"] == f"/sessions/{tenant_a.session.pk}/consent"
    assert client.post(f"/sessions/{tenant_a.session.pk}/consent", {"agree": "yes"}).status_code == 302
    session = ExamSession.unscoped.get(pk=tenant_a.session.pk)
    assert session.consent_version == 2 and session.status == "checking"
    assert start(tenant_a).status_code == 200
