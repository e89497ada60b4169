"""The consent and camera check open CHECK_BEFORE_OPENING before the exam: before then nothing moves a session on,
nothing waits in the proctors' queue, and the student's pages say when (an audit's student began the check of an
exam a week away: consent taken, the session moved to its checks, a photo ID waiting a week in the proctors' queue,
and "Starting your camera…" for ever)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from exams import taking
from exams.models import Accommodation, ExamSession
from exams.statuses import SessionStatus
from proctoring.models import IdentityApproval
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import image

pytestmark = pytest.mark.django_db


def far_ahead(tenant: Tenant, *, days: int = 7) -> ExamSession:
    tenant.exam.status, tenant.exam.opens_at = "published", timezone.now() + timedelta(days=days)
    tenant.exam.closes_at = tenant.exam.opens_at + timedelta(hours=3)
    tenant.exam.require_photo_id = True  # the photo-ID step is offered at once: only the window refuses it
    tenant.exam.save()
    return tenant.session


def test_before_the_check_opens_the_pages_say_when_and_the_session_stays_scheduled(tenant_a: Tenant) -> None:
    session = far_ahead(tenant_a)
    client = page_client_for(tenant_a.student)
    for path in (f"/sessions/{session.pk}/start", f"/sessions/{session.pk}/consent"):
        response = client.get(path, follow=True)
        assert response.redirect_chain[-1][0] == "/", path
        assert "The camera check opens at" in response.content.decode()
    response = client.post(f"/sessions/{session.pk}/consent", {"agree": "yes"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    api = api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/consent", {"agree": True},
                                                format="json")
    assert api.status_code == 409 and api.json()["error"]["code"] == "exam_not_open"
    assert api.json()["error"]["details"]["check_opens_at"] == taking.check_opens_at(tenant_a.exam).isoformat()
    session.refresh_from_db()
    assert session.status == SessionStatus.SCHEDULED and session.consent_at is None

    page = client.get("/").content.decode()  # the home page says when instead of offering Start
    assert "data-check-opens" in page and f"/sessions/{session.pk}/start" not in page
    tenant_a.exam.opens_at = timezone.now() + taking.CHECK_BEFORE_OPENING - timedelta(minutes=1)
    tenant_a.exam.save()
    page = client.get("/").content.decode()
    assert "data-check-opens" not in page and f"/sessions/{session.pk}/start" in page
    assert client.get(f"/sessions/{session.pk}/start").url == f"/sessions/{session.pk}/consent"


def test_the_home_page_says_when_an_exam_moved_later_or_closed_instead_of_offering_a_way_that_bounces(
        tenant_a: Tenant) -> None:
    # A re-audit: a session at its check of an exam since moved a week later showed Continue, which bounced back home;
    # an exam that closed before the student began still offered Start, then refused it.
    session = far_ahead(tenant_a)
    ExamSession.unscoped.filter(pk=session.pk).update(
        status=SessionStatus.CHECKING, consent_at=timezone.now(), consent_version=tenant_a.institution.consent_version)
    client = page_client_for(tenant_a.student)
    page = client.get("/").content.decode()
    assert "data-check-opens" in page and f"/sessions/{session.pk}/start" not in page
    tenant_a.exam.opens_at, tenant_a.exam.closes_at = timezone.now() - timedelta(hours=3), timezone.now()
    tenant_a.exam.save()
    ExamSession.unscoped.filter(pk=session.pk).update(status=SessionStatus.SCHEDULED)
    page = client.get("/").content.decode()
    assert "The exam has closed" in page and f"/sessions/{session.pk}/start" not in page


def test_a_photo_id_is_not_taken_before_the_check_opens(tenant_a: Tenant) -> None:
    session = far_ahead(tenant_a)
    ExamSession.unscoped.filter(pk=session.pk).update(  # moved to its checks before this rule existed
        status=SessionStatus.CHECKING, consent_at=timezone.now(), consent_version=tenant_a.institution.consent_version)
    photo = base64.b64encode(image("signer1_a.jpg")).decode()
    response = api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/identity-requests",
                                                     {"id_photo": photo, "live_photo": photo}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "exam_not_open"
    assert not IdentityApproval.unscoped.filter(session=session).exists()
    page = page_client_for(tenant_a.student).get(f"/sessions/{session.pk}/check", follow=True)
    assert page.redirect_chain[-1][0] == "/" and "The camera check opens at" in page.content.decode()


def test_the_home_page_gives_a_student_their_own_duration_with_their_extra_time(tenant_a: Tenant) -> None:
    tenant_a.exam.status, tenant_a.exam.duration_minutes = "published", 30
    tenant_a.exam.save()
    page = page_client_for(tenant_a.student).get("/").content.decode()
    assert "30 min" in page and "extra time" not in page
    Accommodation.unscoped.create(institution=tenant_a.institution, student=tenant_a.student, extra_percent=50,
                                 reason="Dyslexia")
    page = page_client_for(tenant_a.student).get("/").content.decode()
    assert "45 min" in page and "(with your 15 min extra time)" in page
    # Half of 45 minutes is 22 min 30 s: said so, not rounded to a minute less than the deadline gives (an audit).
    tenant_a.exam.duration_minutes = 45
    tenant_a.exam.save()
    page = page_client_for(tenant_a.student).get("/").content.decode()
    assert "67 min 30 s" in page and "(with your 22 min 30 s extra time)" in page


def test_the_check_page_of_an_exam_that_asks_everyone_for_a_photo_id_says_so(tenant_a: Tenant) -> None:
    # An audit: it said "Can't get past the identity check?", as if the photo ID were a way out for a few.
    tenant_a.exam.status, tenant_a.exam.require_photo_id = "published", True
    tenant_a.exam.save()
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(
        status=SessionStatus.CHECKING, consent_at=timezone.now(), consent_version=tenant_a.institution.consent_version)
    page = page_client_for(tenant_a.student).get(f"/sessions/{tenant_a.session.pk}/check").content.decode()
    assert "This exam asks everyone for a photo ID." in page and "Can't get past" not in page
    tenant_a.exam.require_photo_id = False
    tenant_a.exam.save()
    page = page_client_for(tenant_a.student).get(f"/sessions/{tenant_a.session.pk}/check").content.decode()
    assert "asks everyone" not in page and "get past the identity check?" in page
