"""Listening during an exam, with Chromium's fake microphone playing a WAV made with espeak-ng:
seconds of silence send nothing; the spoken passage that follows opens a talking incident whose clip
a proctor plays on the incident page."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import BrowserContext, expect

from accounts import tenancy
from accounts.models import User
from exams import services as exam_services
from exams.models import Exam, ExamSession
from exams.policy import MICROPHONE_CONSENT_TEXT
from exams.statuses import SessionStatus
from proctoring.models import Incident, SpeechSegment
from tests.browser.conftest import wait_until_true
from tests.conftest import Tenant, page_client_for

pytestmark = pytest.mark.django_db(transaction=True)
PASSAGE = "The answer to question three is forty two."
SILENCE_SECONDS = 4


def microphone_wav(folder: Path) -> Path:
    """What the fake microphone plays (looped): silence, then the passage, then a second of silence."""
    voiced, path = folder / "voiced.wav", folder / "microphone.wav"
    subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-w", str(voiced), PASSAGE], check=True)
    subprocess.run(["sox", str(voiced), "-r", "48000", "-c", "1", "-b", "16", str(path),
                    "pad", str(SILENCE_SECONDS), "1"], check=True)
    return path


def listening_exam(tenant: Tenant) -> ExamSession:
    """A running session of an exam that listens (no identity check); the student consented."""
    with tenancy.tenant_scope(tenant.institution):
        exam = Exam.objects.create(institution=tenant.institution, title="Quiet quiz", status="published",
                                   checks_enabled=[], capture_interval_seconds=300, microphone=True,
                                   speech_max_seconds=1, speech_window_seconds=60)
        session = exam_services.session_create(exam=exam, student=tenant.student)
        ExamSession.objects.filter(pk=session.pk).update(microphone_consent_text=MICROPHONE_CONSENT_TEXT)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=session.pk, to=to, actor=tenant.student)
    return session


def signed_in(context: BrowserContext, base: str, user: User) -> BrowserContext:
    """The context with ``user``'s session cookie (the sign-in page has its own tests)."""
    cookie = page_client_for(user).cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": base}])
    return context


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
