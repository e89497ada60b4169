"""Speech heard through the microphone: segments with their clips, and the talking incidents.

A segment is stored only when everything holds: the exam listens, the student consented to it, no
speech accommodation switches the detector off, the session is running, the clip is a 16 kHz mono
PCM WAV within the limits, and the server's own Silero VAD hears speech in it (proctoring.audio).
Otherwise the answer is a 4xx with its code and nothing is stored.

Talking is judged per exam: more than ``speech_max_seconds`` of speech (as the server heard it)
among the segments that started within the latest ``speech_window_seconds`` opens one low-severity
``talking`` incident, with those segments as its evidence. Speech that goes on within a window of
its end extends that incident instead of opening another. The incident is open (the live view shows
it) until the student has been quiet for a window: the next segment or frame after that closes it
at the end of the last speech (``incidents.close_quiet_talking``), as does the session's end.
Never an automatic fail: a person reviews it. Whether the student's mouth moved on the frames taken
while the speech was heard is judged once the segment is stored (proctoring.speaker, queued on
commit each time the incident opens or grows): the incident says which it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework.exceptions import Throttled

from accounts.errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from accounts.models import Role, User
from accounts.throttle import window_hit
from exams.accommodations import SPEECH_REASON, accommodation_exempt
from exams.models import ExamSession
from exams.policy import EXEMPT_TALKING
from exams.statuses import SessionStatus
from proctoring import audio, incidents, speaker
from proctoring.models import Incident, IncidentKind, ReviewStatus, Severity, SpeechSegment


def speech_segment_ingest(
    *, session: ExamSession, actor: User, clip: bytes, started_at: datetime, ended_at: datetime,
    browser_probability: float | None = None,
) -> SpeechSegment:
    """Check and store a speech segment of the actor's own running session; apply the talking rule."""
    if session.student_id != actor.pk:
        if actor.role == Role.STUDENT:
            raise NotFound("Not found.")
        raise Forbidden("Only the session's student sends its speech.", code="not_the_sessions_student")
    listening_allowed(session)
    decoded = audio.decode_wav(clip)
    received_at = timezone.now()
    _check_times(session=session, started_at=started_at, ended_at=ended_at, received_at=received_at)
    wait = window_hit(f"speech:bytes:user:{actor.pk}", limit=settings.SPEECH_BYTES_PER_USER,
                      window=settings.SPEECH_BYTES_WINDOW, cost=len(clip))
    if wait is not None:
        raise Throttled(wait=wait, detail="Too much audio in a short time.")
    heard = audio.hear(decoded)
    if heard.seconds <= 0:
        # The browser's model called it speech; ours does not: noise is not kept.
        raise Unprocessable("No speech was heard in this clip, so it was not kept.", code="no_speech",
                            details={"probability": heard.probability})
    segment = SpeechSegment(
        institution_id=session.institution_id, session=session, clip_bytes=len(clip), started_at=started_at,
        ended_at=ended_at, received_at=received_at, browser_probability=browser_probability,
        speech_seconds=heard.seconds, probability=heard.probability,
    )
    try:
        with transaction.atomic():
            # One segment of a session at a time (the talking rule reads the others); the session may have
            # ended or been erased since it was read.
            locked = ExamSession.objects.select_for_update(of=("self",)).select_related("exam").filter(
                pk=session.pk).first()
            if locked is None:
                raise NotFound("Not found.")
            listening_allowed(locked)
            segment.clip.save("speech.wav", ContentFile(clip), save=False)
            segment.save()
            apply_talking(segment=segment, session=locked)
    except BaseException as exc:
        if segment.clip.name:
            segment.clip.storage.delete(segment.clip.name)  # no row, no file
        if isinstance(exc, IntegrityError):
            raise NotFound("Not found.") from exc
        raise
    return segment


def listening_allowed(session: ExamSession) -> None:
    """Raise the reason this session takes no speech now (409 with a code)."""
    if not session.exam.microphone:
        raise Conflict("This exam does not use the microphone.", code="microphone_off")
    if not session.microphone_consent_text:
        raise Conflict("The student has not consented to listening.", code="microphone_consent_required")
    if EXEMPT_TALKING in session.exempt_checks:
        raise Conflict("Listening is off for this student (speech accommodation).", code="speech_accommodation")
    if session.status != SessionStatus.IN_PROGRESS:
        raise Conflict(f"The session is {session.get_status_display().lower()}; it takes no speech.",
                       code="session_not_running")


def _check_times(*, session: ExamSession, started_at: datetime, ended_at: datetime, received_at: datetime) -> None:
    skew = timedelta(seconds=30)  # the page corrects its clock from the server's Date header
    problem = None
    if ended_at < started_at:
        problem = "'ended_at' is before 'started_at'."
    elif (ended_at - started_at).total_seconds() > audio.MAX_CLIP_SECONDS + 1:
        problem = f"A segment lasts at most {audio.MAX_CLIP_SECONDS} seconds."
    elif ended_at > received_at + skew:
        problem = "'ended_at' is in the future."
    elif session.started_at and started_at < session.started_at - skew:
        problem = "'started_at' is before the exam began."
    if problem:
        raise AppError(problem, code="invalid", details={"started_at": [problem]})


def apply_talking(*, segment: SpeechSegment, session: ExamSession) -> Incident | None:
    """Open or extend the session's talking incident when speech passes the exam's limit.

    Precondition: in a transaction holding the session's row lock.
    """
    exam = session.exam
    window = timedelta(seconds=exam.speech_window_seconds)
    recent = SpeechSegment.objects.filter(session_id=session.pk, started_at__gte=segment.ended_at - window,
                                          started_at__lte=segment.ended_at)
    spoken = recent.aggregate(total=Sum("speech_seconds"))["total"] or 0.0
    # Talking that stopped a window ago ended (an incident open since then closes, at its own end).
    incidents.close_quiet_talking(session_id=session.pk, now=segment.started_at,
                                  window_seconds=exam.speech_window_seconds)
    ongoing = (Incident.objects.select_related("session")
               .filter(session_id=session.pk, kind=IncidentKind.TALKING, ended_at__gte=segment.started_at - window)
               .order_by("-ended_at").first())
    decided = None
    if ongoing is not None and ongoing.review_status != ReviewStatus.PENDING:
        # Decided while it went on: the decision stands on what the reviewer heard, and talking after it is a new
        # incident to review (as frame incidents: proctoring.incidents._holds; a re-audit found talking absorbed).
        decided, ongoing = ongoing, None
        if decided.is_open:
            incidents.close_at(decided, decided.ended_at or segment.started_at)
    if ongoing is None and spoken <= exam.speech_max_seconds:
        return None
    if ongoing is None:
        first = recent.filter(incident__isnull=True).order_by("started_at").first()
        ongoing = Incident.objects.create(
            institution_id=session.institution_id, session=session, kind=IncidentKind.TALKING,
            severity=Severity.LOW, is_open=True, started_at=first.started_at if first else segment.started_at,
            ended_at=segment.ended_at, frame_count=0,
            details={"source": "microphone", "speaker": speaker.PENDING,
                     "window_seconds": exam.speech_window_seconds, "limit_seconds": exam.speech_max_seconds,
                     **({"after_decided": decided.pk} if decided is not None else {})},
        )
        recent.filter(incident__isnull=True).update(incident=ongoing)
    else:
        ongoing.ended_at = max(ongoing.ended_at or segment.ended_at, segment.ended_at)
        ongoing.version += 1
        SpeechSegment.objects.filter(pk=segment.pk).update(incident=ongoing)
    segment.incident = ongoing
    total = ongoing.speech_segments.aggregate(total=Sum("speech_seconds"))["total"] or 0.0
    ongoing.details = {**ongoing.details, "speech_seconds": round(total, 1),
                       "segments": ongoing.speech_segments.count()}
    ongoing.save()
    incidents.publish(ongoing)
    incident_id = ongoing.pk
    transaction.on_commit(lambda: speaker.enqueue_judge(incident_id))
    return ongoing


def speech_accommodation_set(*, session: ExamSession, actor: User, on: bool) -> ExamSession:
    """Switch the speech detector off (``on``: read-aloud or dictation software) or back on, for the
    session's student: an exemption from ``talking`` in their accommodation (exams.accommodations, the
    one source of truth), so it holds for every exam they sit; audited there."""
    accommodation_exempt(actor=actor, student=session.student, check=EXEMPT_TALKING, exempt=on,
                         reason=SPEECH_REASON)
    return ExamSession.objects.select_related("exam", "student").get(pk=session.pk)


def clips_of(incident: Incident) -> list[dict[str, Any]]:
    """The speech clips that are evidence of an incident, in time order (the kept ones playable)."""
    return [{"id": s.pk, "started_at": s.started_at, "ended_at": s.ended_at, "speech_seconds": s.speech_seconds,
             "kept": bool(s.clip)} for s in incident.speech_segments.order_by("started_at")]
