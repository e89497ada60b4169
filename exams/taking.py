"""Taking an exam: consent, identity check, answers, submission, expiry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone

from accounts import tenancy
from accounts.errors import AppError, Conflict, Unprocessable
from accounts.models import User
from exams.access import access_session_by_id
from exams.identity import IdentityCheck, latest_identity_check
from exams.liveness import latest_liveness_pass
from exams.models import Answer, Exam, ExamSession, ExamStatus, Question, QuestionKind
from exams.policy import CHECK_PERSON_RECOGNITION, EXEMPT_LIVENESS, EXEMPT_TALKING, MICROPHONE_CONSENT_TEXT
from exams.services import audit, session_transition
from exams.statuses import SessionStatus


def consent_is_current(session: ExamSession) -> bool:
    """Consent counts only for the consent text the institution shows now (its current version)."""
    return session.consent_at is not None and session.consent_version == session.exam.institution.consent_version


# The meter's level (0: silence, 1: full scale; static/js/mic_check.js) a microphone check must reach:
# about -54 dBFS, above the digital silence of a muted or missing input, below any room's own noise.
MICROPHONE_SIGNAL_MIN = 0.1


def listens(session: ExamSession) -> bool:
    """The exam listens to this student: its policy, their consent to it, and no speech accommodation."""
    return bool(session.exam.microphone and session.microphone_consent_text
                and EXEMPT_TALKING not in session.exempt_checks)


# The consent and camera check open this long before the exam does (an identity pass lasts IDENTITY_PASS_MAX_AGE
# seconds anyway); the frames of an earlier check are refused (proctoring.services). An audit's student who opened
# the check a week early consented, was moved to the checks, sent a photo ID that waited in the proctors' queue
# for a week, and saw "Starting your camera…" for ever.
CHECK_BEFORE_OPENING = timedelta(minutes=30)


def check_opens_at(exam: Exam) -> datetime | None:
    """When a student may begin the consent and camera check of ``exam`` (None: at any time)."""
    return exam.opens_at - CHECK_BEFORE_OPENING if exam.opens_at else None


def _check_exam_available(exam: Exam, now: datetime, *, starting: bool) -> None:
    if exam.status != ExamStatus.PUBLISHED:
        raise Conflict("This exam is not published.", code="exam_not_published")
    if starting and exam.opens_at and now < exam.opens_at:
        raise Conflict("The exam has not opened yet.", code="exam_not_open")
    check_not_open(exam, now)
    if exam.closes_at and now >= exam.closes_at:
        raise Conflict("The exam has closed.", code="exam_closed")


def check_not_open(exam: Exam, now: datetime) -> None:
    """Raise 409 ``exam_not_open`` before the consent and camera check of ``exam`` opens (``check_opens_at``)."""
    if (opens := check_opens_at(exam)) is not None and now < opens:
        raise Conflict(f"The camera check opens at {formats.date_format(timezone.localtime(opens), 'M j, H:i')}, "
                       f"{CHECK_BEFORE_OPENING.seconds // 60} minutes before the exam; come back then.",
                       code="exam_not_open", details={"opens_at": exam.opens_at.isoformat(),
                                                      "check_opens_at": opens.isoformat()})


_JUDGE = object()  # session_start_check's ``liveness_at`` by default: judged here (exams.liveness)


def session_start_check(*, session: ExamSession, now: datetime | None = None,
                        liveness_at: datetime | None | object = _JUDGE) -> IdentityCheck | None:
    """Raise the first reason ``session`` may not start; the one rule the pages and the API share.

    A session starts only when its exam is published and open, the student consented to the
    institution's *current* consent text, when the exam listens to the student (``listens``) their
    microphone check passed less than MICROPHONE_CHECK_MAX_AGE seconds ago, and — when the exam
    checks identity —
    - the identity passed: the latest analysed frame of this session passed Person Recognition less
      than IDENTITY_PASS_MAX_AGE seconds ago with the identity held (IDENTITY_PASS_FRAMES of the latest
      IDENTITY_PASS_WINDOW frames analysed in full passed: not one lucky frame), or a proctor approved the
      student's photo ID for this session (the gate's fallback); when the exam requires a photo ID, only the
      approval counts;
    - the student passed the liveness challenge (head turned as asked on this session's frames)
      less than LIVENESS_PASS_MAX_AGE seconds ago: a photo held up to the camera never does.
    Answers the identity check that let it in (None when the exam does not check identity).
    ``liveness_at``: when the session last passed the liveness challenge, where the caller judged it already (the
    gate's status does, on the frames it read: judged again here, it read the check's frames once more per poll).
    """
    now = now or timezone.now()
    exam = session.exam
    _check_exam_available(exam, now, starting=True)
    if not consent_is_current(session):
        raise Conflict("Give your consent first.", code="consent_required")
    checked_at = session.microphone_checked_at
    if listens(session) and (checked_at is None or now - checked_at
                             > timedelta(seconds=settings.MICROPHONE_CHECK_MAX_AGE)):
        raise Conflict("This exam listens for talking: allow your microphone and check that its level moves "
                       "when you speak.", code="microphone_not_checked")
    if CHECK_PERSON_RECOGNITION not in exam.checks_enabled:
        return None
    approved_at = session.identity_approved_at
    if exam.require_photo_id and approved_at is None:
        raise Conflict("This exam needs a proctor to check your photo ID first.", code="photo_id_required")
    check = latest_identity_check(session)
    max_age = timedelta(seconds=settings.IDENTITY_PASS_MAX_AGE)
    if approved_at is not None:
        check = IdentityCheck(passed=True, at=approved_at)
    elif check is None or not check.passed or now - check.at > max_age:
        # The latest frame's own reason when it failed ("Face the camera.", ...), never anyone's name.
        reason = check.message if check is not None and not check.passed and check.message else ""
        raise Conflict(reason or "We could not confirm your identity yet: look at the camera and try again.",
                       code="identity_not_verified", details={"reason": check.reason} if reason else None)
    if EXEMPT_LIVENESS in session.exempt_checks:  # an accommodation: the identity check above still holds
        return check
    alive_at = latest_liveness_pass(session) if liveness_at is _JUDGE else liveness_at
    if alive_at is None or now - alive_at > timedelta(seconds=settings.LIVENESS_PASS_MAX_AGE):
        raise Conflict("Turn your head as the camera check asks, one turn at a time.",
                       code="liveness_not_verified")
    return check


def session_consent(*, session: ExamSession, student: User) -> ExamSession:
    """Record consent to biometric processing (the text as shown) and move on to the checks.

    When the exam listens, the microphone consent (shown beside the institution's text) is recorded
    with it, as shown; an exam without the microphone records none.
    """
    with transaction.atomic():
        session = _own_locked(session_id=session.pk, student=student)
        institution = session.exam.institution
        if session.status not in (SessionStatus.SCHEDULED, SessionStatus.CHECKING):
            raise Conflict("This session is past its checks.", code="invalid_transition")
        _check_exam_available(session.exam, timezone.now(), starting=False)
        microphone_text = MICROPHONE_CONSENT_TEXT if session.exam.microphone else ""
        ExamSession.objects.filter(pk=session.pk).update(
            consent_at=timezone.now(), consent_version=institution.consent_version,
            consent_text=institution.consent_text, microphone_consent_text=microphone_text,
        )
        audit(institution_id=session.institution_id, actor=student, action="session.consent", target=session,
              data={"version": institution.consent_version, "microphone": bool(microphone_text)})
        if session.status == SessionStatus.SCHEDULED:
            session_transition(session_id=session.pk, to=SessionStatus.CHECKING, actor=student)
    session.refresh_from_db()
    return session


def session_microphone_check(*, session: ExamSession, student: User, level: float) -> ExamSession:
    """Record that the check page's meter heard the student's microphone (its peak ``level``, 0..1).

    Only at the checks, only for an exam that listens to the student; a level at or below digital
    silence (a muted or missing input) is refused with 422 ``no_signal`` and records nothing.
    The level is the browser's own reading: like the page's consent, the server records the
    student's act, and the speech the exam then sends is checked by the server's own model.
    """
    with transaction.atomic():
        session = _own_locked(session_id=session.pk, student=student)
        if session.status != SessionStatus.CHECKING:
            raise Conflict("The microphone is checked before the exam starts.", code="invalid_transition")
        if not listens(session):
            raise Conflict("This exam does not listen to your microphone.", code="microphone_off")
        if not level > MICROPHONE_SIGNAL_MIN:
            raise Unprocessable("Your microphone sends only silence: unmute it or choose another one, then "
                                "speak.", code="no_signal", details={"level": level, "min": MICROPHONE_SIGNAL_MIN})
        now = timezone.now()
        ExamSession.objects.filter(pk=session.pk).update(microphone_checked_at=now)
        audit(institution_id=session.institution_id, actor=student, action="session.microphone_check",
              target=session, data={"level": round(level, 3)})
    session.microphone_checked_at = now
    return session


def session_check_in(*, session: ExamSession, student: User) -> ExamSession:
    """Move a scheduled session to its checks; only with consent to the current text on record."""
    with transaction.atomic():
        session = _own_locked(session_id=session.pk, student=student)
        _check_exam_available(session.exam, timezone.now(), starting=False)
        if not consent_is_current(session):
            raise Conflict("Give your consent first.", code="consent_required")
        if session.status != SessionStatus.SCHEDULED:  # e.g. waiting for a proctor: only their decision moves it
            raise Conflict(f"A session that is {session.get_status_display().lower()} cannot go back to its checks.",
                           code="invalid_transition", details={"from": session.status, "to": "checking"})
        return session_transition(session_id=session.pk, to=SessionStatus.CHECKING, actor=student)


def session_begin(*, session: ExamSession, student: User) -> ExamSession:
    """Start the exam: the start check under the session's row lock, then the transition."""
    with transaction.atomic():
        session = _own_locked(session_id=session.pk, student=student)
        if session.status != SessionStatus.CHECKING:
            raise Conflict(f"A session that is {session.get_status_display().lower()} cannot start.",
                           code="invalid_transition", details={"from": session.status, "to": "in_progress"})
        check = session_start_check(session=session)
        ExamSession.objects.filter(pk=session.pk).update(
            identity_verified_at=check.at if check else None,
            liveness_verified_at=timezone.now() if check else None,
        )
        return session_transition(session_id=session.pk, to=SessionStatus.IN_PROGRESS, actor=student)


def _own_locked(*, session_id: int, student: User) -> ExamSession:
    """The student's own session, row-locked until the transaction ends (another's: the same 404)."""
    return access_session_by_id(actor=student, session_id=session_id, for_update=True)


def expire_if_due(session: ExamSession, *, now: datetime | None = None) -> ExamSession:
    """A running session past its deadline becomes expired (its answers stay)."""
    deadline = session.deadline
    if session.status == SessionStatus.IN_PROGRESS and deadline and (now or timezone.now()) >= deadline:
        # It ended at its deadline, not when the server noticed (up to the beat's 30 s later: a re-audit's absence from
        # the tab counted on after the exam was over).
        try:
            return session_transition(session_id=session.pk, to=SessionStatus.EXPIRED, actor=None, at=deadline)
        except Conflict:
            # Ended meanwhile (the beat's expire_overdue, or the student's submit, got there first): the student read
            # "A session that is expired cannot become expired" on the done page (an audit, 1 time-up in 4).
            fresh = ExamSession.objects.select_related("exam").get(pk=session.pk)
            if fresh.status == SessionStatus.IN_PROGRESS:
                raise
            return fresh
    return session


EXPIRE_BATCH = 500  # sessions a run of ``expire_overdue`` looks at, at most (the next run takes the rest)


def expire_overdue(*, now: datetime | None = None) -> int:
    """Beat: expire the running sessions past their deadline (as ``expire_if_due`` does when the student's page or an
    answer touches the server). An audit: a student whose page had gone (closed, offline, the exam moved earlier) stayed
    "in progress · 0:00" on the proctor's live view for good, flagged as a stale camera, while the server refused their
    frames; the exam report listed them as in progress. Answers how many expired.

    Candidates are found per running exam without reading each session's accommodation: a session's deadline is never
    before its duration after its start nor before the exam's closing (extra time and an unlock only move it later), so
    only those past one of them are read, and each is expired only past its own deadline."""
    now = now or timezone.now()
    with tenancy.tenant_scope(None):
        candidates: list[int] = []
        for exam in Exam.objects.filter(sessions__status=SessionStatus.IN_PROGRESS).distinct():
            due = ExamSession.objects.filter(exam=exam, status=SessionStatus.IN_PROGRESS)
            if not (exam.closes_at and exam.closes_at <= now):
                due = due.filter(started_at__lte=now - timedelta(minutes=exam.duration_minutes))
            candidates += due.order_by("started_at", "pk").values_list("pk", flat=True)[:EXPIRE_BATCH]
        expired = 0
        for session_id in candidates[:EXPIRE_BATCH]:
            with transaction.atomic():
                session = ExamSession.objects.select_for_update(of=("self",)).select_related("exam").get(pk=session_id)
                expired += expire_if_due(session, now=now).status == SessionStatus.EXPIRED
    return expired


# An answer the student gave before the deadline while their browser was offline is taken this long after it: the
# exam page keeps it and sends it, with when it was given, once the connection is back. Refused, answers typed in the
# last minute of an outage were lost and the done page said "your saved answers were kept" (an audit). The time is
# the browser's, so a student could claim an earlier one: the window is short, each such answer is marked
# (``Answer.sent_late``) for staff, and a time the server's own evidence contradicts is refused: a frame of the session
# that arrived before the deadline more than ``ONLINE_SLACK`` after the claimed time says the browser was online then,
# and an answer given then would have arrived then (a re-audit changed a saved answer 90 s after the deadline, claiming
# a time 1 s before it, while its frames had arrived until the end).
LATE_ANSWERS = timedelta(minutes=5)
ANSWER_CLOCK_SKEW = timedelta(seconds=5)
ONLINE_SLACK = timedelta(seconds=10)


def answer_save(*, session: ExamSession, question_id: int, value: Any, answered_at: datetime | None = None) -> Answer:
    """Save a running session's answer; or, ``answered_at`` before the deadline and within ``LATE_ANSWERS`` of it, an
    answer an expired session's student gave before the deadline while offline (marked ``sent_late``).

    ``answered_at``: when the student gave it (now, if not said). An answer the server holds that was given later is
    kept and answered instead, with ``kept_newer`` set: the exam open in two windows (or on two devices), the older
    window's answers (its submit form carries them all) overwrote the ones given since in the newer (an audit)."""
    session = expire_if_due(session)  # kept when the save is refused
    if answered_at is not None and answered_at > timezone.now() + ANSWER_CLOCK_SKEW:
        raise AppError("'answered_at' is in the future.", code="invalid",
                       details={"answered_at": ["Later than the server's clock allows."]})
    if answered_at is not None and session.started_at is not None and \
            answered_at < session.started_at - ANSWER_CLOCK_SKEW:
        # (year 1 in one time zone is out of range in another: a page that showed it failed, a re-audit)
        raise AppError("'answered_at' is before the exam started.", code="invalid",
                       details={"answered_at": ["Earlier than the exam's start."]})
    with transaction.atomic():
        return _answer_save_locked(session=session, question_id=question_id, value=value, answered_at=answered_at)


def _given_in_time(session: ExamSession, answered_at: datetime | None) -> bool:
    deadline = session.deadline
    if not (answered_at is not None and deadline is not None and session.started_at is not None
            and session.started_at <= answered_at < deadline and timezone.now() <= deadline + LATE_ANSWERS):
        return False
    # (proctoring's frames, through the session's relation: exams does not import proctoring). A frame cannot say
    # which window sent it: with the exam open on two devices, one online, an answer given offline on the other is
    # refused too (a re-audit). The student's page says so; a window's id would be the student's word.
    if session.frames.filter(received_at__gt=answered_at + ONLINE_SLACK, received_at__lt=deadline).exists():
        raise Conflict("Given before the deadline, but this exam's camera was online after that time: an answer "
                       "given online had to arrive before the deadline.", code="online_after_answer")
    return True


def _answer_save_locked(*, session: ExamSession, question_id: int, value: Any,
                        answered_at: datetime | None = None) -> Answer:
    # The status as it is now, under the session's row lock (which a submit, an expiry and a proctor's end take),
    # not as the request first read it: a save sent before the exam ended once landed after it.
    status = ExamSession.objects.select_for_update().filter(pk=session.pk).values_list("status", flat=True).first()
    late = status == SessionStatus.EXPIRED and _given_in_time(session, answered_at)
    if status != SessionStatus.IN_PROGRESS and not late:
        raise Conflict("The exam is over; answers can no longer change.", code="session_not_running")
    question = Question.objects.filter(pk=question_id, exam_id=session.exam_id).first()
    if question is None:
        raise AppError("Unknown question.", code="invalid", details={"question": ["Not in this exam."]})
    fields: dict[str, Any] = {"choice": None, "text": ""}
    if question.kind == QuestionKind.MULTIPLE_CHOICE:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or not 0 <= value < len(question.choices)):
            raise AppError("Pick one of the options.", code="invalid", details={"value": ["Not an option."]})
        fields["choice"] = value
    else:
        if not isinstance(value, str) or len(value) > 10_000:
            raise AppError("Answers are text of at most 10,000 characters.", code="invalid",
                           details={"value": ["Text expected."]})
        fields["text"] = value
    previous = Answer.objects.filter(session=session, question=question).first()
    given = answered_at or timezone.now()
    if previous is not None and previous.given_at > given:
        previous.kept_newer = True  # the server has one given later
        return previous
    fields.update(sent_late=late, answered_at=given)
    if previous is not None and previous.points_awarded is not None and previous.text != fields["text"]:
        # An unlocked sitting changed a graded answer: its grade was for the old text.
        fields.update(points_awarded=None, grade_comment="", graded_by=None, graded_at=None)
    answer, _ = Answer.objects.update_or_create(
        session=session, question=question, defaults={**fields, "institution_id": session.institution_id}
    )
    return answer


def session_submit(*, session: ExamSession, student: User) -> ExamSession:
    session = expire_if_due(session)
    if session.status == SessionStatus.EXPIRED:
        raise Conflict("Time ran out; your saved answers were kept.", code="session_expired")
    return session_transition(session_id=session.pk, to=SessionStatus.SUBMITTED, actor=student)


def session_submit_with_answers(*, session: ExamSession, student: User, form_answers: Mapping[int, str],
                                given_at: Mapping[int, datetime] | None = None) -> ExamSession:
    """Save the answers the submit form carries (question id -> the form's value), then submit.

    ``given_at``: when each was given, as the form says (the exam page: when it was changed there, or the answer's own
    time, or the page's, as the page was sent); an answer the server holds that was given later is kept (answer_save).

    One transaction: either every sent answer is saved and the session submitted, or nothing changes.
    A choice question's value is the option's index; an empty text for a never-answered question is
    not an answer.
    """
    session = expire_if_due(session)
    if session.status == SessionStatus.EXPIRED:
        raise Conflict("Time ran out; your saved answers were kept.", code="session_expired")
    questions = {q.pk: q for q in Question.objects.filter(exam_id=session.exam_id, pk__in=list(form_answers))}
    answered = set(Answer.objects.filter(session=session).values_list("question_id", flat=True))
    with transaction.atomic():
        ExamSession.objects.select_for_update().filter(pk=session.pk).first()  # no autosave in between
        for question_id, raw in form_answers.items():
            question = questions.get(question_id)
            if question is None:
                raise AppError("Unknown question.", code="invalid", details={"question": ["Not in this exam."]})
            if "\x00" in raw:  # no database text column holds NUL
                raise AppError("Answers cannot contain NUL characters.", code="invalid",
                               details={"value": ["Contains a NUL character."]})
            if question.kind == QuestionKind.MULTIPLE_CHOICE:
                try:
                    value: Any = int(raw)
                except ValueError as exc:
                    raise AppError("Pick one of the options.", code="invalid",
                                   details={"value": ["Not an option."]}) from exc
            elif raw == "" and question_id not in answered:
                continue
            else:
                value = raw
            given = (given_at or {}).get(question_id)
            if given is not None and session.started_at is not None and given < session.started_at:
                given = None  # not a time the page sends: taken as now, as one it cannot read
            answer_save(session=session, question_id=question_id, value=value,
                        answered_at=None if given is None else min(given, timezone.now()))
        return session_transition(session_id=session.pk, to=SessionStatus.SUBMITTED, actor=student)

