"""The microphone is a policy of its own: off for exams that existed before it, on for new ones the
admin creates, with its own consent text shown at consent and recorded with it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone

from accounts import tenancy
from exams import services
from exams.models import Accommodation, AuditEvent, Exam, ExamSession
from exams.policy import MICROPHONE_CONSENT_TEXT
from tests.conftest import Tenant, api_client_for, page_client_for

pytestmark = pytest.mark.django_db


def published(tenant: Tenant, *, microphone: bool) -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        Exam.objects.filter(pk=tenant.exam.pk).update(status="published", microphone=microphone)
    return tenant.session


def test_it_keeps_the_microphone_off_for_an_exam_made_before_it_existed(tenant_a: Tenant) -> None:
    assert tenant_a.exam.microphone is False  # made directly, as rows were before the column existed


def test_it_turns_the_microphone_on_for_a_new_exam_the_admin_creates(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        exam = services.exam_create(actor=tenant_a.admin, title="New term")
    assert exam.microphone is True and (exam.speech_window_seconds, exam.speech_max_seconds) == (60, 10)


def test_it_offers_the_microphone_ticked_on_the_new_exam_form(tenant_a: Tenant) -> None:
    page = page_client_for(tenant_a.admin).get("/exams/new")
    assert page.status_code == 200
    assert b'name="microphone"' in page.content and b'id="id_microphone" checked' in page.content


def test_it_shows_and_records_the_microphone_consent_when_the_exam_listens(tenant_a: Tenant) -> None:
    session = published(tenant_a, microphone=True)
    client = page_client_for(tenant_a.student)
    page = client.get(f"/sessions/{session.pk}/consent")
    assert b'id="microphone-consent-text"' in page.content
    assert client.post(f"/sessions/{session.pk}/consent", {"agree": "yes"}).status_code == 302
    session.refresh_from_db()
    assert session.microphone_consent_text == MICROPHONE_CONSENT_TEXT
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.get(action="session.consent").data["microphone"] is True


def test_it_neither_shows_nor_records_a_microphone_consent_when_the_exam_does_not_listen(tenant_a: Tenant) -> None:
    session = published(tenant_a, microphone=False)
    client = page_client_for(tenant_a.student)
    assert b"microphone-consent-text" not in client.get(f"/sessions/{session.pk}/consent").content
    client.post(f"/sessions/{session.pk}/consent", {"agree": "yes"})
    session.refresh_from_db()
    assert session.consent_at is not None and session.microphone_consent_text == ""
    assert timezone.now() >= session.consent_at


def listening_session(tenant: Tenant, status: str, **fields: object) -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        Exam.objects.filter(pk=tenant.exam.pk).update(status="published", microphone=True)
        ExamSession.objects.filter(pk=tenant.session.pk).update(
            status=status, consent_at=timezone.now(), consent_version=tenant.institution.consent_version,
            microphone_consent_text=MICROPHONE_CONSENT_TEXT, started_at=timezone.now(), **fields)
    return tenant.session


def test_it_checks_the_microphone_with_a_level_meter_before_an_exam_that_listens(tenant_a: Tenant) -> None:
    session = listening_session(tenant_a, "checking")
    page = page_client_for(tenant_a.student).get(f"/sessions/{session.pk}/check")
    assert b'<meter id="mic-level"' in page.content and b"/static/js/mic_check.js" in page.content


def test_it_neither_checks_nor_listens_for_a_student_with_a_speech_accommodation(tenant_a: Tenant) -> None:
    session = listening_session(tenant_a, "checking")
    with tenancy.tenant_scope(tenant_a.institution):
        Accommodation.objects.create(institution=tenant_a.institution, student=tenant_a.student,
                                     exempt_checks=["talking"], reason="Dictation software")
    client = page_client_for(tenant_a.student)
    assert b"mic-level" not in client.get(f"/sessions/{session.pk}/check").content
    ExamSession.unscoped.filter(pk=session.pk).update(status="in_progress")
    assert b"listen.js" not in client.get(f"/sessions/{session.pk}/exam").content


def test_it_runs_the_browsers_voice_detection_from_our_static_files_with_wasm_allowed_on_that_page_only(
    tenant_a: Tenant,
) -> None:
    session = listening_session(tenant_a, "in_progress")
    page = page_client_for(tenant_a.student).get(f"/sessions/{session.pk}/exam")
    assert b'src="/static/vendor/vad/bundle.min.js"' in page.content
    assert b'data-vad-base="/static/vendor/vad/"' in page.content
    assert "script-src 'self' 'wasm-unsafe-eval'" in page["Content-Security-Policy"]
    dashboard = page_client_for(tenant_a.student).get("/")
    assert "wasm-unsafe-eval" not in dashboard["Content-Security-Policy"]
    for name in ("bundle.min.js", "vad.worklet.bundle.min.js", "silero_vad_v6.onnx", "ort-wasm-simd-threaded.wasm",
                 "ort-wasm-simd-threaded.mjs"):
        assert finders.find(f"vendor/vad/{name}"), name


def test_it_creates_exams_that_listen_through_the_api_unless_the_admin_says_otherwise(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    listening = client.post("/api/v1/exams/", {"title": "Spoken"}, format="json").json()
    assert (listening["microphone"], listening["speech_max_seconds"]) == (True, 10)
    quiet = client.post("/api/v1/exams/", {"title": "Quiet", "microphone": False}, format="json").json()
    assert quiet["microphone"] is False
    patched = client.patch(f"/api/v1/exams/{listening['id']}/", {"speech_max_seconds": 20}, format="json").json()
    assert (patched["microphone"], patched["speech_max_seconds"]) == (True, 20)


# --- the microphone check the start rule asks for (no microphone: no start, as no camera) ---------------

def ready_to_listen(tenant: Tenant) -> ExamSession:
    """Every camera and identity check passed (tests/exams/test_start_rules.ready), on an exam that listens."""
    from tests.exams.test_start_rules import ready

    session = ready(tenant)
    Exam.unscoped.filter(pk=tenant.exam.pk).update(microphone=True)
    ExamSession.unscoped.filter(pk=session.pk).update(microphone_consent_text=MICROPHONE_CONSENT_TEXT)
    session.refresh_from_db()
    return session


def mic_check(tenant: Tenant, session: ExamSession, level: object = 0.4) -> Any:
    return api_client_for(tenant.student).post(f"/api/v1/sessions/{session.pk}/microphone-check",
                                               {"level": level}, format="json")


def start(tenant: Tenant, session: ExamSession) -> Any:
    return api_client_for(tenant.student).post(f"/api/v1/sessions/{session.pk}/transition", {"to": "in_progress"},
                                               format="json")


def status_of(session: ExamSession) -> str:
    return ExamSession.unscoped.get(pk=session.pk).status


def test_it_refuses_to_start_an_exam_that_listens_without_a_microphone_check(tenant_a: Tenant) -> None:
    session = ready_to_listen(tenant_a)
    refused = start(tenant_a, session)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "microphone_not_checked"
    assert "microphone" in refused.json()["error"]["message"] and status_of(session) == "checking"
    gate = api_client_for(tenant_a.student).get(f"/api/v1/sessions/{session.pk}/gate").json()
    assert gate["can_start"] is False and "microphone" in gate["blocker"]
    checked = mic_check(tenant_a, session)
    assert checked.status_code == 200 and checked.json()["microphone_checked_at"]
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.get(action="session.microphone_check").data == {"level": 0.4}
    assert start(tenant_a, session).status_code == 200 and status_of(session) == "in_progress"


def test_it_refuses_the_start_page_with_the_same_clear_reason(tenant_a: Tenant) -> None:
    session = ready_to_listen(tenant_a)
    client = page_client_for(tenant_a.student)
    page = client.post(f"/sessions/{session.pk}/check", follow=True)
    assert b"This exam listens for talking: allow your microphone" in page.content
    assert status_of(session) == "checking"
    mic_check(tenant_a, session)
    assert client.post(f"/sessions/{session.pk}/check")["Location"] == f"/sessions/{session.pk}/exam"
    assert status_of(session) == "in_progress"


@pytest.mark.parametrize("level", [0, 0.05, 0.1])
def test_it_records_no_microphone_check_of_silence(tenant_a: Tenant, level: float) -> None:
    session = ready_to_listen(tenant_a)
    response = mic_check(tenant_a, session, level)
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_signal"
    assert ExamSession.unscoped.get(pk=session.pk).microphone_checked_at is None
    assert start(tenant_a, session).json()["error"]["code"] == "microphone_not_checked"


@pytest.mark.parametrize("level", [-0.1, 1.5, "loud", None])
def test_it_refuses_a_level_that_is_not_a_number_from_0_to_1(tenant_a: Tenant, level: object) -> None:
    session = ready_to_listen(tenant_a)
    response = mic_check(tenant_a, session, level)
    assert response.status_code == 400 and "level" in response.json()["error"]["details"]


def test_it_forgets_a_microphone_check_older_than_the_setting(tenant_a: Tenant, settings: Any) -> None:
    session = ready_to_listen(tenant_a)
    mic_check(tenant_a, session)
    ExamSession.unscoped.filter(pk=session.pk).update(
        microphone_checked_at=timezone.now() - timedelta(seconds=settings.MICROPHONE_CHECK_MAX_AGE + 5))
    assert start(tenant_a, session).json()["error"]["code"] == "microphone_not_checked"


def test_it_starts_without_a_microphone_check_for_a_student_with_a_speech_accommodation(tenant_a: Tenant) -> None:
    session = ready_to_listen(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        Accommodation.objects.create(institution=tenant_a.institution, student=tenant_a.student,
                                     exempt_checks=["talking"], reason="Dictation software")
    assert mic_check(tenant_a, session).json()["error"]["code"] == "microphone_off"
    assert start(tenant_a, session).status_code == 200


def test_it_starts_an_exam_that_does_not_listen_without_a_microphone_check(tenant_a: Tenant) -> None:
    session = ready_to_listen(tenant_a)
    Exam.unscoped.filter(pk=tenant_a.exam.pk).update(microphone=False)
    assert mic_check(tenant_a, session).json()["error"]["code"] == "microphone_off"
    assert start(tenant_a, session).status_code == 200


def test_it_takes_a_microphone_check_only_at_the_checks(tenant_a: Tenant) -> None:
    session = listening_session(tenant_a, "in_progress")
    response = mic_check(tenant_a, session)
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"
