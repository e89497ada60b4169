"""The microphone is a policy of its own: off for exams that existed before it, on for new ones the
admin creates, with its own consent text shown at consent and recorded with it."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone

from accounts import tenancy
from exams import services
from exams.models import AuditEvent, Exam, ExamSession
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
    session = listening_session(tenant_a, "checking", speech_accommodation=True)
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
