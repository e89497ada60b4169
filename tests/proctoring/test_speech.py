"""Speech heard through the microphone: the exam page sends speech segments with their clips; the
server checks them with its own Silero VAD, keeps them privately like frames, and sustained talking
opens a low-severity incident whose clips a reviewer plays."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts import tenancy
from accounts.audit import AuditEvent
from exams import services as exam_services
from exams.models import Accommodation, Exam, ExamSession
from exams.policy import MICROPHONE_CONSENT_TEXT
from proctoring import audio, retention, review
from proctoring.models import Frame, Incident, ReviewStatus, SpeechSegment
from proctoring.storage import private_storage
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import image, start_session

pytestmark = pytest.mark.django_db

PASSAGE = "The answer to question three is forty two. Write that down, then look at question four."


@functools.cache
def spoken() -> bytes:
    """A few seconds of synthetic speech as 16 kHz mono PCM WAV (espeak-ng, resampled with numpy)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is needed to voice the test speech: make browser-deps installs it.")
    raw = subprocess.run([espeak, "--stdout", PASSAGE], check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(raw)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float32) / 32768
    times = np.arange(0, len(samples) / rate, 1 / audio.SAMPLE_RATE)
    return audio.encode_wav(np.interp(times, np.arange(len(samples)) / rate, samples))


def noise(seconds: float = 3.0) -> bytes:
    """Fan-like noise: low-passed white noise, no speech."""
    rng = np.random.default_rng(7)
    white = rng.standard_normal(int(seconds * audio.SAMPLE_RATE)).astype(np.float32)
    return audio.encode_wav(np.convolve(white, np.ones(40) / 40, mode="same") * 0.3)


def listening(tenant: Tenant, *, limit: int = 3, window: int = 60) -> ExamSession:
    session = start_session(tenant)
    with tenancy.tenant_scope(tenant.institution):
        Exam.objects.filter(pk=session.exam_id).update(microphone=True, speech_max_seconds=limit,
                                                        speech_window_seconds=window)
        ExamSession.objects.filter(pk=session.pk).update(microphone_consent_text=MICROPHONE_CONSENT_TEXT)
        session.refresh_from_db()
    return session


def send(tenant: Tenant, session: ExamSession, clip: bytes, *, start: datetime | None = None,
         seconds: float = 4.0, name: str = "speech.wav", content_type: str = "audio/wav") -> object:
    start = start or timezone.now() - timedelta(seconds=seconds + 1)
    return api_client_for(tenant.student).post(f"/api/v1/sessions/{session.pk}/speech", {
        "clip": SimpleUploadedFile(name, clip, content_type=content_type),
        "started_at": start.isoformat(), "ended_at": (start + timedelta(seconds=seconds)).isoformat(),
        "probability": "0.93",
    }, format="multipart")


def stored_files() -> list[Path]:
    root = Path(private_storage.location) / "speech"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def segments(tenant: Tenant) -> list[SpeechSegment]:
    with tenancy.tenant_scope(tenant.institution):
        return list(SpeechSegment.objects.all())


def test_it_keeps_a_spoken_clip_privately_with_what_the_server_heard(tenant_a: Tenant) -> None:
    session = listening(tenant_a, limit=60)
    response = send(tenant_a, session, spoken())
    assert response.status_code == 201, response.content
    [segment] = segments(tenant_a)
    assert response.json() == {"segment": segment.pk, "speech_seconds": segment.speech_seconds, "incident": None}
    assert segment.speech_seconds > 2 and segment.probability > 0.9 and segment.browser_probability == 0.93
    [path] = stored_files()
    assert path.read_bytes() == spoken() and oct(path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(NotImplementedError):
        private_storage.url(segment.clip.name)


def truncated(clip: bytes) -> bytes:
    return clip[: len(clip) // 2]  # the header still declares every sample


def resampled_8k(clip: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(io.BytesIO(clip)) as reader, wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(reader.readframes(reader.getnframes())[::2])
    return buffer.getvalue()


@pytest.mark.parametrize(("clip", "name", "status", "code"), [
    (lambda: b"", "speech.wav", 400, "empty_clip"),
    (lambda: b"\xff\xd8\xff\xe0 a jpeg, not audio" * 10, "speech.wav", 415, "unsupported_audio"),
    (lambda: b"OggS\x00\x02" + bytes(400), "speech.ogg", 415, "unsupported_audio"),
    (lambda: resampled_8k(spoken()), "speech.wav", 415, "unsupported_audio"),
    (lambda: bytes(audio.MAX_CLIP_BYTES + 1), "speech.wav", 413, "clip_too_large"),
    (lambda: truncated(spoken()), "speech.wav", 400, "truncated_audio"),
    (lambda: spoken()[:30], "speech.wav", 400, "truncated_audio"),
    (lambda: noise(), "speech.wav", 422, "no_speech"),
], ids=["empty", "jpeg", "ogg", "8khz", "huge", "truncated", "cut-header", "noise-only"])
def test_it_refuses_a_bad_clip_with_a_clear_code_and_stores_nothing(
    tenant_a: Tenant, clip: object, name: str, status: int, code: str,
) -> None:
    session = listening(tenant_a)
    response = send(tenant_a, session, clip(), name=name)  # type: ignore[operator]
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert segments(tenant_a) == [] and stored_files() == []


@pytest.mark.parametrize(("change", "code"), [
    ({"exam": {"microphone": False}}, "microphone_off"),
    ({"session": {"microphone_consent_text": ""}}, "microphone_consent_required"),
    ({"accommodation": {"exempt_checks": ["talking"], "reason": "Read-aloud software"}}, "speech_accommodation"),
    ({"session": {"status": "submitted"}}, "session_not_running"),
])
def test_it_takes_no_speech_unless_the_exam_listens_with_consent_and_no_accommodation(
    tenant_a: Tenant, change: dict[str, dict[str, object]], code: str,
) -> None:
    session = listening(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        Exam.objects.filter(pk=session.exam_id).update(**change.get("exam", {}))
        ExamSession.objects.filter(pk=session.pk).update(**change.get("session", {}))
        if "accommodation" in change:
            Accommodation.objects.create(institution=tenant_a.institution, student=tenant_a.student,
                                         **change["accommodation"])
    response = send(tenant_a, session, spoken())
    assert response.status_code == 409 and response.json()["error"]["code"] == code
    assert segments(tenant_a) == [] and stored_files() == []


def test_it_answers_404_for_another_students_session(tenant_a: Tenant, tenant_b: Tenant) -> None:
    session = listening(tenant_b)
    response = send(tenant_a, session, spoken())
    assert response.status_code == 404 and segments(tenant_b) == []


def test_it_opens_one_low_severity_talking_incident_with_the_clips_as_evidence(tenant_a: Tenant) -> None:
    session = listening(tenant_a, limit=5, window=60)
    start = timezone.now() - timedelta(seconds=30)
    first = send(tenant_a, session, spoken(), start=start)
    assert first.status_code == 201 and first.json()["incident"] is None  # ~4 s: within the limit
    second = send(tenant_a, session, spoken(), start=start + timedelta(seconds=10))
    assert second.status_code == 201 and second.json()["incident"] is not None  # ~8 s in a minute
    third = send(tenant_a, session, spoken(), start=start + timedelta(seconds=20))
    with tenancy.tenant_scope(tenant_a.institution):
        [incident] = Incident.objects.filter(session=session)
        evidence = list(incident.speech_segments.order_by("started_at"))
    assert third.json()["incident"] == incident.pk  # talking goes on: the same incident grows
    assert (incident.kind, incident.severity, incident.is_open) == ("talking", "low", True)
    assert incident.started_at == start and incident.ended_at == start + timedelta(seconds=24)
    assert len(evidence) == 3 and incident.details["segments"] == 3
    assert incident.details["speech_seconds"] > 5
    assert incident.details["speaker"].startswith("being judged")  # on commit (proctoring.speaker)


def test_talking_after_a_decision_on_it_is_a_new_incident_to_review(tenant_a: Tenant) -> None:
    # A re-audit: as frame incidents did, a talking incident decided while it went on absorbed what came after.
    session = listening(tenant_a, limit=5, window=60)
    start = timezone.now() - timedelta(seconds=30)
    send(tenant_a, session, spoken(), start=start)
    decided = send(tenant_a, session, spoken(), start=start + timedelta(seconds=10)).json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        review.incident_review(incident_id=decided, reviewer=tenant_a.proctor, decision="dismissed")
    after = send(tenant_a, session, spoken(), start=start + timedelta(seconds=20)).json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        first, second = Incident.objects.filter(session=session).order_by("pk")
    assert (first.pk, first.is_open, first.review_status, first.details["segments"]) == (decided, False,
                                                                                          "dismissed", 2)
    assert (second.pk, second.is_open, second.details["after_decided"], second.details["segments"]) == (
        after, True, decided, 1)


def test_it_shows_a_talking_incident_live_until_the_student_has_been_quiet_for_a_window(tenant_a: Tenant) -> None:
    session = listening(tenant_a, limit=1, window=60)
    start = timezone.now() - timedelta(seconds=200)
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=session.pk).update(started_at=start - timedelta(seconds=10))
    incident_id = send(tenant_a, session, spoken(), start=start).json()["incident"]
    live = api_client_for(tenant_a.proctor).get(f"/api/v1/exams/{session.exam_id}/live").json()
    [tile] = live["sessions"]
    assert [(i["id"], i["kind"], i["severity"]) for i in tile["incidents"]] == [(incident_id, "talking", "low")]
    # Speech two windows later: the first talking closed at its own end, a second one opens.
    later = send(tenant_a, session, spoken(), start=start + timedelta(seconds=130)).json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        first, second = Incident.objects.get(pk=incident_id), Incident.objects.get(pk=later)
    assert later != incident_id
    assert (first.is_open, first.ended_at) == (False, start + timedelta(seconds=4))
    assert second.is_open is True
    live = api_client_for(tenant_a.proctor).get(f"/api/v1/exams/{session.exam_id}/live").json()
    assert [i["id"] for i in live["sessions"][0]["incidents"]] == [later]


def test_it_closes_a_talking_incident_on_a_quiet_frame_and_when_the_session_ends(tenant_a: Tenant) -> None:
    from proctoring.incidents import close_quiet_talking

    session = listening(tenant_a, limit=1, window=60)
    start = timezone.now() - timedelta(seconds=30)
    incident_id = send(tenant_a, session, spoken(), start=start).json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        # A frame within the window keeps it open; one a window after the speech closes it.
        assert close_quiet_talking(session_id=session.pk, now=start + timedelta(seconds=30), window_seconds=60) == []
        [closed] = close_quiet_talking(session_id=session.pk, now=start + timedelta(seconds=65), window_seconds=60)
        assert closed.pk == incident_id and closed.ended_at == start + timedelta(seconds=4)
    other = listening(tenant_a, limit=1, window=60)
    begun = timezone.now() - timedelta(seconds=10)
    again = send(tenant_a, other, spoken(), start=begun).json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=other.pk, to="submitted", actor=tenant_a.student)
        incident = Incident.objects.get(pk=again)
    assert (incident.is_open, incident.ended_at) == (False, begun + timedelta(seconds=4))


def test_it_plays_the_clips_on_the_incident_page_through_the_access_checked_view(
    tenant_a: Tenant, tenant_b: Tenant,
) -> None:
    session = listening(tenant_a, limit=1)
    incident_id = send(tenant_a, session, spoken()).json()["incident"]
    [segment] = segments(tenant_a)
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{incident_id}/")
    assert f'<audio controls preload="metadata" src="/api/v1/speech/{segment.pk}/clip"'.encode() in page.content
    clip = api_client_for(tenant_a.proctor).get(f"/api/v1/speech/{segment.pk}/clip")
    assert clip.status_code == 200 and clip["Content-Type"] == "audio/wav"
    assert b"".join(clip.streaming_content) == spoken()
    assert api_client_for(tenant_b.proctor).get(f"/api/v1/speech/{segment.pk}/clip").status_code == 404
    assert api_client_for(tenant_a.student).get(f"/api/v1/speech/{segment.pk}/clip").status_code in (403, 404)


def test_it_switches_the_detector_off_for_a_student_with_a_speech_accommodation(tenant_a: Tenant) -> None:
    session = listening(tenant_a)
    response = api_client_for(tenant_a.admin).post(f"/api/v1/sessions/{session.pk}/speech-accommodation",
                                                   {"on": True}, format="json")
    assert response.status_code == 200 and response.json()["speech_accommodation"] is True
    assert send(tenant_a, session, spoken()).json()["error"]["code"] == "speech_accommodation"
    with tenancy.tenant_scope(tenant_a.institution):
        event = AuditEvent.objects.get(action="student.accommodation")
    assert event.data["before"] is None and event.data["after"]["exempt_checks"] == ["talking"]
    assert event.target_id == str(tenant_a.student.pk)  # the student's, for every exam they sit
    assert api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/speech-accommodation",
                                                 {"on": False}, format="json").status_code == 403


def test_it_erases_the_clips_with_the_session(tenant_a: Tenant, django_capture_on_commit_callbacks: object) -> None:
    session = listening(tenant_a)
    assert send(tenant_a, session, spoken()).status_code == 201
    assert len(stored_files()) == 1
    with tenancy.tenant_scope(tenant_a.institution), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        exam_services.session_delete(session=session, actor=tenant_a.admin)
    assert stored_files() == [] and segments(tenant_a) == []


def test_it_erases_old_clips_by_retention_but_keeps_evidence_waiting_for_review(tenant_a: Tenant) -> None:
    session = listening(tenant_a, limit=5)
    start = timezone.now() - timedelta(seconds=30)
    for offset in (0, 10):
        assert send(tenant_a, session, spoken(), start=start + timedelta(seconds=offset)).status_code == 201
    with tenancy.tenant_scope(tenant_a.institution):
        SpeechSegment.objects.update(received_at=timezone.now() - timedelta(days=400))
        loose = SpeechSegment.objects.create(
            institution=tenant_a.institution, session=session, started_at=start, ended_at=start,
            received_at=timezone.now() - timedelta(days=400), speech_seconds=1, probability=0.9, clip_bytes=3)
        loose.clip.save("speech.wav", ContentFile(b"abc"))
    assert len(stored_files()) == 3
    assert retention.purge_expired()["speech_clips"] == 1  # the two under review stay
    assert len(stored_files()) == 2
    with tenancy.tenant_scope(tenant_a.institution):
        Incident.objects.filter(session=session).update(review_status=ReviewStatus.DISMISSED)
    assert retention.purge_expired()["speech_clips"] == 2
    assert stored_files() == []
    with tenancy.tenant_scope(tenant_a.institution):
        assert all(s.purged_at and not s.clip for s in SpeechSegment.objects.all())


# -- is the student the one talking? (mouth movement, proctoring.speaker) ----------------------------------


def frame_at(tenant: Tenant, session: ExamSession, name: str, at: datetime) -> None:
    """A frame the exam page sent, taken at ``at``, its image one of the fixtures."""
    with tenancy.tenant_scope(tenant.institution):
        frame = Frame(institution=tenant.institution, session=session, received_at=at, captured_at=at)
        frame.image.save("frame.jpg", ContentFile(image(name)), save=False)
        frame.save()


def talking_incident(tenant: Tenant, session: ExamSession, start: datetime, on_commit: Any) -> Incident:
    with on_commit(execute=True):  # type: ignore[operator]
        response = send(tenant, session, spoken(), start=start)
    assert response.status_code == 201 and response.json()["incident"] is not None
    with tenancy.tenant_scope(tenant.institution):
        return Incident.objects.get(pk=response.json()["incident"])


@pytest.mark.parametrize(("frames", "verdict", "says"), [
    (["headpose_man.jpg", "signer1_a.jpg"], "moved", "the student appears to be the one talking"),
    (["signer1_a.jpg", "signer1_b.jpg"], "still", "the student's mouth did not move"),
    (["empty_room.jpg", "signer1_a.jpg"], "not_judged", "not judged"),
])
def test_it_says_whether_the_students_mouth_moved_while_speech_was_heard(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any, frames: list[str], verdict: str, says: str,
) -> None:
    session = listening(tenant_a, limit=1)
    start = timezone.now() - timedelta(seconds=10)
    for offset, name in enumerate(frames):
        frame_at(tenant_a, session, name, start + timedelta(seconds=1 + 2 * offset))
    frame_at(tenant_a, session, "headpose_man.jpg", start - timedelta(seconds=30))  # long before: not read
    incident = talking_incident(tenant_a, session, start, django_capture_on_commit_callbacks)
    mouth = incident.details["mouth"]
    assert (mouth["verdict"], mouth["frames"]) == (verdict, 2)
    assert incident.details["speaker"].startswith(says)
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{incident.pk}/")
    assert f"Who was talking: {says}".encode() in page.content.replace(b"&#x27;", b"'")


def test_it_reads_mouths_only_when_a_talking_incident_opens_or_grows(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from proctoring import speaker

    read: list[int] = []
    monkeypatch.setattr(speaker, "aperture_of", lambda frame: read.append(frame.pk) or None)
    session = listening(tenant_a, limit=5)
    start = timezone.now() - timedelta(seconds=30)
    frame_at(tenant_a, session, "headpose_man.jpg", start + timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert send(tenant_a, session, spoken(), start=start).json()["incident"] is None  # within the limit
    assert read == []
    incident = talking_incident(tenant_a, session, start + timedelta(seconds=10), django_capture_on_commit_callbacks)
    assert len(read) == 1  # the frame of the first segment, now evidence of the incident
    mouth = incident.details["mouth"]
    assert (mouth["verdict"], mouth["frames"], mouth["clear"]) == ("not_judged", 1, 0)
    assert incident.details["speaker"].startswith("not judged: 0 clear frontal face(s) in the 1 frames")
    frame_at(tenant_a, session, "signer1_a.jpg", start + timedelta(seconds=13))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        grown = send(tenant_a, session, spoken(), start=start + timedelta(seconds=12)).json()["incident"]
    assert grown == incident.pk
    # Each clip re-judges the incident: only the frame it had not read (2-6 CPU-s a clip when it read them all).
    assert len(read) == 2 and read[1] != read[0]


def test_it_keeps_no_stale_speaker_judgement_when_more_speech_came_meanwhile(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from proctoring import speaker

    session = listening(tenant_a, limit=1)
    incident_id = send(tenant_a, session, spoken()).json()["incident"]  # its judgement not run (no commit here)
    judged = speaker.verdict

    def grown_meanwhile(apertures: list[float | None]) -> dict[str, Any]:
        Incident.objects.filter(pk=incident_id).update(ended_at=timezone.now())  # another segment extended it
        return judged(apertures)

    monkeypatch.setattr(speaker, "verdict", grown_meanwhile)
    with tenancy.tenant_scope(tenant_a.institution):
        speaker.speaker_judge(incident_id=incident_id)
        assert Incident.objects.get(pk=incident_id).details["speaker"] == speaker.PENDING
        monkeypatch.setattr(speaker, "verdict", judged)
        speaker.speaker_judge(incident_id=incident_id)  # the judgement the extension queued
        assert Incident.objects.get(pk=incident_id).details["mouth"]["verdict"] == "not_judged"
