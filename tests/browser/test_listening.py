"""Listening during an exam, with Chromium's fake microphone playing a WAV made with espeak-ng:
seconds of silence send nothing; the spoken passage that follows opens a talking incident whose clip
a proctor plays on the incident page; speech heard while offline is kept and sent when the network is
back; the check page records the microphone check the start rule asks for once its meter heard speech."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import BrowserContext, expect

from accounts import tenancy
from accounts.models import User
from exams import services as exam_services
from exams.models import Exam, ExamSession
from exams.policy import MICROPHONE_CONSENT_TEXT
from exams.statuses import SessionStatus
from proctoring.models import Incident, SpeechSegment
from tests.browser.conftest import Shots, wait_until_true
from tests.conftest import Tenant, page_client_for

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]
PASSAGE = "The answer to question three is forty two."
SILENCE_SECONDS = 4


def microphone_wav(folder: Path) -> Path:
    """What the fake microphone plays (looped): silence, then the passage, then a second of silence."""
    voiced, path = folder / "voiced.wav", folder / "microphone.wav"
    subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-w", str(voiced), PASSAGE], check=True)
    subprocess.run(["sox", str(voiced), "-r", "48000", "-c", "1", "-b", "16", str(path),
                    "pad", str(SILENCE_SECONDS), "1"], check=True)
    return path


def listening_exam(tenant: Tenant, *, to: str = SessionStatus.IN_PROGRESS) -> ExamSession:
    """A running session of an exam that listens (no identity check); the student consented."""
    with tenancy.tenant_scope(tenant.institution):
        exam = Exam.objects.create(institution=tenant.institution, title="Quiet quiz", status="published",
                                   checks_enabled=[], capture_interval_seconds=300, microphone=True,
                                   speech_max_seconds=1, speech_window_seconds=60)
        session = exam_services.session_create(exam=exam, student=tenant.student)
        ExamSession.objects.filter(pk=session.pk).update(
            microphone_consent_text=MICROPHONE_CONSENT_TEXT, consent_at=timezone.now(),
            consent_version=tenant.institution.consent_version)
        for step in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS)[:2 if to == SessionStatus.IN_PROGRESS else 1]:
            exam_services.session_transition(session_id=session.pk, to=step, actor=tenant.student)
    return session


def signed_in(context: BrowserContext, base: str, user: User) -> BrowserContext:
    """The context with ``user``'s session cookie (the sign-in page has its own tests)."""
    cookie = page_client_for(user).cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": base}])
    return context


def listening_page(base: str, tenant: Tenant, camera_browser: Any, tmp_path: Path, session: ExamSession) -> Any:
    """The student's exam page of ``session``, its microphone playing the passage, listening."""
    browser = camera_browser(audio=microphone_wav(tmp_path))
    student = signed_in(browser.new_context(), base, tenant.student).new_page()
    student.goto(f"{base}/sessions/{session.pk}/exam")
    wait_until_true(student, "window.OpenProctorListening && window.OpenProctorListening.ready", 15_000)
    return student


def test_it_sends_no_silence_and_turns_a_spoken_passage_into_a_talking_incident_with_a_playable_clip(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, tmp_path: Path,
) -> None:
    session = listening_exam(tenant_a)
    base = live_server.url
    browser = camera_browser(audio=microphone_wav(tmp_path))
    student = signed_in(browser.new_context(), base, tenant_a.student).new_page()
    uploads: list[float] = []
    student.on("request", lambda request: uploads.append(time.monotonic()) if "/speech" in request.url else None)
    student.goto(f"{base}/sessions/{session.pk}/exam")
    wait_until_true(student, "window.OpenProctorListening && window.OpenProctorListening.ready", 15_000)
    ready = time.monotonic()

    # The microphone plays silence for SILENCE_SECONDS from when it opened (before the detector was
    # ready): nothing leaves the browser meanwhile, then the passage does, once.
    wait_until_true(student, "window.OpenProctorListening.sent > 0", 20_000)
    assert len(uploads) == 1 and uploads[0] - ready > SILENCE_SECONDS - 2
    assert student.evaluate("window.OpenProctorListening.refused") == 0
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="talking")
        [segment] = SpeechSegment.objects.filter(session=session)
    assert incident.severity == "low" and segment.incident_id == incident.pk and segment.speech_seconds > 1

    proctor = signed_in(browser.new_context(), base, tenant_a.proctor).new_page()
    proctor.goto(f"{base}/incidents/{incident.pk}/")
    expect(proctor.locator("#speech-clips audio")).to_have_count(1)
    proctor.evaluate("document.querySelector('#speech-clips audio').play()")
    wait_until_true(proctor, "document.querySelector('#speech-clips audio').currentTime > 0.2", 5_000)


def stored_segments(tenant: Tenant, session: ExamSession) -> int:
    with tenancy.tenant_scope(tenant.institution):
        return SpeechSegment.objects.filter(session=session).count()


def test_it_keeps_speech_heard_offline_and_sends_it_when_the_network_is_back(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, tmp_path: Path,
) -> None:
    session = listening_exam(tenant_a)
    student = listening_page(live_server.url, tenant_a, camera_browser, tmp_path, session)
    student.context.set_offline(True)

    # The passage is heard while offline: it waits in the page, and the retries with backoff fail.
    wait_until_true(student, "window.OpenProctorListening.queued > 0 && window.OpenProctorListening.offline",
                    25_000)
    student.wait_for_timeout(2_500)  # at least one retry (1 s, then 2 s) while still offline
    assert stored_segments(tenant_a, session) == 0
    assert student.evaluate("window.OpenProctorListening.sent") == 0
    student.context.set_offline(False)

    wait_until_true(student, "window.OpenProctorListening.sent > 0 && window.OpenProctorListening.queued === 0",
                    20_000)
    listening = student.evaluate("window.OpenProctorListening")
    assert listening["refused"] == 0 and listening["dropped"] == 0
    assert stored_segments(tenant_a, session) == listening["sent"]
    with tenancy.tenant_scope(tenant_a.institution):
        assert Incident.objects.filter(session=session, kind="talking").exists()


def test_it_records_the_microphone_check_once_the_meter_hears_speech_and_then_lets_the_exam_start(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, tmp_path: Path, shots: Shots,
) -> None:
    session = listening_exam(tenant_a, to=SessionStatus.CHECKING)
    base = live_server.url
    browser = camera_browser("signer1_a.jpg", audio=microphone_wav(tmp_path))
    student = signed_in(browser.new_context(), base, tenant_a.student).new_page()
    student.goto(f"{base}/sessions/{session.pk}/check")
    # The microphone plays silence first: no check is recorded and Start stays disabled.
    expect(student.locator("#mic-state")).to_contain_text("say a few words", timeout=10_000)
    expect(student.locator("#begin")).to_be_disabled()
    assert ExamSession.unscoped.get(pk=session.pk).microphone_checked_at is None
    shots.take(student, "microphone-waiting")

    expect(student.locator("#mic-state")).to_have_text("Microphone working: the bar moves when you speak.",
                                                       timeout=20_000)
    assert ExamSession.unscoped.get(pk=session.pk).microphone_checked_at is not None
    expect(student.locator("#begin")).to_be_enabled(timeout=10_000)
    shots.take(student, "microphone-working")
    student.click("#begin")
    student.wait_for_url(f"{base}/sessions/{session.pk}/exam")
    assert ExamSession.unscoped.get(pk=session.pk).status == SessionStatus.IN_PROGRESS


def test_speech_heard_while_the_browser_is_signed_out_waits_for_the_student_to_sign_in_again(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, tmp_path: Path,
) -> None:
    # Someone signed out in another tab: each clip was refused (403) and dropped; it waits for the student now.
    session = listening_exam(tenant_a)
    student = listening_page(live_server.url, tenant_a, camera_browser, tmp_path, session)
    student.context.clear_cookies(name=settings.SESSION_COOKIE_NAME)  # the CSRF cookie stays, as on a sign-out

    wait_until_true(student, "window.OpenProctorListening.queued > 0", 25_000)
    student.wait_for_timeout(2_500)  # at least one retry (1 s, then 2 s) while signed out
    assert student.evaluate("window.OpenProctorListening.refused") == 0
    assert stored_segments(tenant_a, session) == 0
    signed_in(student.context, live_server.url, tenant_a.student)

    wait_until_true(student, "window.OpenProctorListening.sent > 0 && window.OpenProctorListening.queued === 0",
                    20_000)
    listening = student.evaluate("window.OpenProctorListening")
    assert listening["refused"] == 0
    assert stored_segments(tenant_a, session) == listening["sent"]
