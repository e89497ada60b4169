"""Writes on exams."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.deletion import Erasure, erase_dependents
from accounts.errors import AppError, Conflict, Forbidden
from accounts.models import Role, User
from exams import policy
from exams.models import Exam, ExamSession
from exams.statuses import FINISHED, RESET_FROM, TRANSITIONS, UNLOCK_FROM, SessionStatus


def _check_window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at and closes_at and closes_at <= opens_at:
        raise AppError("The exam must close after it opens.", code="invalid_window",
                       details={"closes_at": ["Must be later than opens_at."]})


class _Keep:
    """The default of exam_update's arguments: leave the field as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def exam_create(
    *, actor: User, title: str, description: str = "", opens_at: datetime | None = None,
    closes_at: datetime | None = None, duration_minutes: int = 60, checks_enabled: list[str] | None = None,
    min_confidence: float = policy.DEFAULT_MIN_CONFIDENCE,
    face_match_threshold: float = policy.DEFAULT_FACE_MATCH_THRESHOLD,
    objects_of_interest: list[str] | None = None, debounce_frames: int = 2, debounce_seconds: int = 0,
    capture_interval_seconds: int = 5, require_photo_id: bool = False,
    watch_looking_away: bool = policy.DEFAULT_LOOKING_AWAY,
    microphone: bool = policy.MICROPHONE_FOR_NEW_EXAMS,
    speech_window_seconds: int = policy.DEFAULT_SPEECH_WINDOW_SECONDS,
    speech_max_seconds: int = policy.DEFAULT_SPEECH_MAX_SECONDS,
) -> Exam:
    """A new exam, always a draft: publishing goes through exams.authoring.exam_set_status."""
    _check_window(opens_at, closes_at)
    return Exam.objects.create(
        institution=actor.institution, created_by=actor, title=title, description=description,
        opens_at=opens_at, closes_at=closes_at, duration_minutes=duration_minutes,
        checks_enabled=policy.default_checks() if checks_enabled is None else checks_enabled,
        min_confidence=min_confidence, face_match_threshold=face_match_threshold,
        objects_of_interest=policy.default_objects() if objects_of_interest is None else objects_of_interest,
        debounce_frames=debounce_frames, debounce_seconds=debounce_seconds,
        capture_interval_seconds=capture_interval_seconds, require_photo_id=require_photo_id,
        watch_looking_away=watch_looking_away,
        microphone=microphone, speech_window_seconds=speech_window_seconds, speech_max_seconds=speech_max_seconds,
    )


def exam_update(
    *, exam: Exam, title: str = KEEP, description: str = KEEP, opens_at: datetime | None = KEEP,
    closes_at: datetime | None = KEEP, duration_minutes: int = KEEP, checks_enabled: list[str] = KEEP,
    min_confidence: float = KEEP, face_match_threshold: float = KEEP, objects_of_interest: list[str] = KEEP,
    debounce_frames: int = KEEP, debounce_seconds: int = KEEP, capture_interval_seconds: int = KEEP,
    require_photo_id: bool = KEEP, watch_looking_away: bool = KEEP, microphone: bool = KEEP,
    speech_window_seconds: int = KEEP, speech_max_seconds: int = KEEP,
) -> Exam:
    """Change an exam's description, schedule or policy (arguments left out keep their value).

    The status is not among them: it changes only through exams.authoring.exam_set_status.
    """
    changes = {
        "title": title, "description": description, "opens_at": opens_at, "closes_at": closes_at,
        "duration_minutes": duration_minutes, "checks_enabled": checks_enabled, "min_confidence": min_confidence,
        "face_match_threshold": face_match_threshold, "objects_of_interest": objects_of_interest,
        "debounce_frames": debounce_frames, "debounce_seconds": debounce_seconds,
        "capture_interval_seconds": capture_interval_seconds, "require_photo_id": require_photo_id,
        "watch_looking_away": watch_looking_away,
        "microphone": microphone, "speech_window_seconds": speech_window_seconds,
        "speech_max_seconds": speech_max_seconds,
    }
    changes = {name: value for name, value in changes.items() if value is not KEEP}
    check_schedule(exam, changes)
    rescheduled = "opens_at" in changes and changes["opens_at"] != exam.opens_at
    for name, value in changes.items():
        setattr(exam, name, value)
    exam.save(update_fields=[*changes, "updated_at"])
    if rescheduled:  # the new opening time is worth a reminder of its own (exams.reminders)
        ExamSession.objects.filter(exam=exam, reminder_sent_at__isnull=False).update(reminder_sent_at=None)
    return exam


def check_schedule(exam: Exam, changes: dict[str, Any]) -> None:
    """Refuse ``changes`` to ``exam`` whose window closes before it opens or that would end a sitting at once."""
    _check_window(changes.get("opens_at", exam.opens_at), changes.get("closes_at", exam.closes_at))
    if {"duration_minutes", "closes_at"} & changes.keys():
        _check_time_left(exam, changes)


# A shorter time limit or an earlier closing leaves each student sitting the exam at least this much time.
MIN_TIME_LEFT = timedelta(minutes=1)


def _check_time_left(exam: Exam, changes: dict[str, Any]) -> None:
    """Refuse a change that would end the exam within ``MIN_TIME_LEFT`` for a student sitting it (an audit: a
    limit cut from 10 to 1 minute expired a student at once, back-dated, with no warning; setting it back did not
    bring them back). Given the time, their pages' countdowns follow the new deadline within seconds."""
    changed = Exam(**{field.attname: getattr(exam, field.attname) for field in Exam._meta.concrete_fields})
    for name, value in changes.items():
        setattr(changed, name, value)
    soon, cut = timezone.now() + MIN_TIME_LEFT, []
    earlier_closing = changed.closes_at is not None and (exam.closes_at is None or changed.closes_at < exam.closes_at)
    for session in ExamSession.objects.filter(
            exam_id=exam.pk, status__in=(SessionStatus.IN_PROGRESS, SessionStatus.CHECKING)).select_related("student"):
        name = session.student.full_name or session.student.email
        if session.status == SessionStatus.CHECKING:
            # At the camera check, about to start: an earlier closing is the most time they can have (a re-audit: a
            # closing moved to 30 s from now was taken while a student sat at the check, who then started with 30 s).
            extra = session.extra_time
            if earlier_closing and changed.closes_at + extra <= soon and (
                    exam.closes_at is None or exam.closes_at + extra > soon):  # (not one the closing had already cut)
                cut.append(f"{name} (at the camera check)")
            continue
        before = session.deadline
        session.exam = changed
        if session.deadline is not None and session.deadline < before and session.deadline <= soon:
            cut.append(name)
    if cut:
        names = ", ".join(sorted(cut)[:10]) + (f" and {len(cut) - 10} more" if len(cut) > 10 else "")
        raise Conflict(f"This would end the exam within a minute for {len(cut)} student(s) sitting it now or about "
                       f"to: {names}. Leave them at least a minute (their countdown follows the change).",
                       code="exam_time_cut", details={"students": sorted(cut)})


@transaction.atomic
def exam_delete(*, exam: Exam, actor: User | None) -> None:
    """Delete an exam with its sessions, erasing their biometric data everywhere (accounts.deletion)."""
    erase_dependents(Erasure(exam_ids=(exam.pk,)))
    audit(institution_id=exam.institution_id, actor=actor, action="exam.delete", target=exam,
          data={"sessions": exam.sessions.count()})
    exam.delete()


@transaction.atomic
def session_delete(*, session: ExamSession, actor: User | None) -> None:
    """Delete a session (answers, frames, incidents), erasing its biometric data everywhere."""
    erase_dependents(Erasure(session_ids=(session.pk,)))
    audit(institution_id=session.institution_id, actor=actor, action="session.delete", target=session,
          data={"exam": session.exam_id, "student": session.student_id})
    session.delete()


def session_create(*, exam: Exam, student: User) -> ExamSession:
    if student.institution_id != exam.institution_id or student.role != Role.STUDENT:
        raise AppError("Only a student of the exam's institution can sit it.", code="not_a_student")
    session, _ = ExamSession.objects.get_or_create(
        exam=exam, student=student, defaults={"institution_id": exam.institution_id}
    )
    return session


# Called inside session_transition's transaction with (session, previous status, when), once the new
# status is saved. Proctoring registers one at ready() (it closes the incidents the frames opened), so
# exams never imports proctoring; a hook that raises rolls the transition back.
TransitionHook = Callable[[ExamSession, str, datetime], None]
_transition_hooks: list[TransitionHook] = []


def register_transition_hook(hook: TransitionHook) -> None:
    if hook not in _transition_hooks:
        _transition_hooks.append(hook)


@transaction.atomic
def session_transition(*, session_id: int, to: str, actor: User | None, at: datetime | None = None) -> ExamSession:
    """The one way a session changes status: row lock, transition table, audit event. ``at``: when it happened, if
    before now (a session expires at its deadline, whenever the server notices)."""
    session = ExamSession.objects.select_for_update(of=("self",)).get(pk=session_id)
    if to not in TRANSITIONS[session.status]:
        raise Conflict(
            f"A session that is {session.get_status_display().lower()} cannot become {to}.",
            code="invalid_transition", details={"from": session.status, "to": to},
        )
    previous = session.status
    session.status = to
    now = min(at, timezone.now()) if at is not None else timezone.now()
    if to == SessionStatus.IN_PROGRESS:
        session.started_at = now
    if to in FINISHED:
        session.ended_at = now
    session.save(update_fields=["status", "started_at", "ended_at"])
    for hook in _transition_hooks:
        hook(session, previous, now)
    audit(institution_id=session.institution_id, actor=actor, action="session.transition", target=session,
          data={"from": previous, "to": to})
    return session


END_REASON_MAX = 500


@transaction.atomic
def session_end(*, session_id: int, actor: User, reason: str) -> ExamSession:
    """A proctor ends a student's session (-> terminated, through ``session_transition``) with a reason
    the student's page shows; both the transition and the reason are audited.

    Precondition: ``session_id`` came through ``access_session_by_id`` for ``actor`` (staff).
    """
    if actor.role not in (Role.ADMIN, Role.PROCTOR) and not actor.is_superuser:
        raise Forbidden("Only staff end a session.", code="forbidden")
    reason = (reason or "").strip()
    if not reason:
        raise AppError("Say why the session is ended: the student sees it.", code="invalid",
                       details={"reason": ["Required."]})
    if len(reason) > END_REASON_MAX:
        raise AppError(f"The reason has at most {END_REASON_MAX} characters.", code="invalid",
                       details={"reason": [f"At most {END_REASON_MAX} characters."]})
    session = session_transition(session_id=session_id, to=SessionStatus.TERMINATED, actor=actor)
    session.end_reason = reason
    session.save(update_fields=["end_reason"])
    audit(institution_id=session.institution_id, actor=actor, action="session.end", target=session,
          data={"reason": reason})
    return session


def _locked_for_admin(*, session_id: int, allowed: frozenset[str], what: str) -> ExamSession:
    session = ExamSession.objects.select_for_update(of=("self",)).select_related("exam").get(pk=session_id)
    if session.status not in allowed:
        raise Conflict(f"A session that is {session.get_status_display().lower()} cannot be {what}.",
                       code="invalid_transition", details={"from": session.status})
    return session


@transaction.atomic
def session_reset(*, session_id: int, actor: User, reason: str) -> ExamSession:
    """Start a student's sitting over (statuses.RESET_FROM -> scheduled): the checks, the clock, the
    pose baseline and the answers go; frames, incidents and the audit trail of the first attempt stay.

    Precondition: ``session_id`` came through ``access_session_by_id`` for ``actor`` (an admin).
    """
    session = _locked_for_admin(session_id=session_id, allowed=RESET_FROM, what="reset")
    previous, now = session.status, timezone.now()
    answers = session.answers.count()
    session.answers.all().delete()
    session.status = SessionStatus.SCHEDULED
    session.started_at = session.ended_at = session.unlocked_until = None
    session.identity_verified_at = session.identity_approved_at = session.liveness_verified_at = None
    session.pose_baseline = []
    session.end_reason = ""
    session.save(update_fields=["status", "started_at", "ended_at", "unlocked_until", "identity_verified_at",
                                "identity_approved_at", "liveness_verified_at", "pose_baseline", "end_reason"])
    for hook in _transition_hooks:
        hook(session, previous, now)
    audit(institution_id=session.institution_id, actor=actor, action="session.reset", target=session,
          data={"from": previous, "to": SessionStatus.SCHEDULED, "reason": reason.strip()[:500],
                "answers_deleted": answers})
    return session


@transaction.atomic
def session_unlock(*, session_id: int, actor: User, minutes: int, reason: str) -> ExamSession:
    """Let a student whose time ran out or whose session was ended write on for ``minutes`` more
    (statuses.UNLOCK_FROM -> in progress); answers are kept and the original start stays on record.

    Precondition: ``session_id`` came through ``access_session_by_id`` for ``actor`` (an admin).
    """
    if not 1 <= minutes <= 24 * 60:
        raise AppError("Give from 1 to 1440 minutes.", code="invalid", details={"minutes": ["From 1 to 1440."]})
    session = _locked_for_admin(session_id=session_id, allowed=UNLOCK_FROM, what="unlocked")
    previous, now = session.status, timezone.now()
    session.status, session.ended_at = SessionStatus.IN_PROGRESS, None
    session.unlocked_until = now + timedelta(minutes=minutes)
    session.end_reason = ""
    session.save(update_fields=["status", "ended_at", "unlocked_until", "end_reason"])
    for hook in _transition_hooks:
        hook(session, previous, now)
    audit(institution_id=session.institution_id, actor=actor, action="session.unlock", target=session,
          data={"from": previous, "to": SessionStatus.IN_PROGRESS, "minutes": minutes,
                "until": session.unlocked_until.isoformat(), "reason": reason.strip()[:500]})
    return session
