"""Accommodations: a student's extra time and the checks they are exempt from, set by their admin.

One row per student (``exams.models.Accommodation``), for every exam they sit: the session's deadline
(``ExamSession.deadline``, the countdown and expiry) adds the extra time; the incident rules never open
an incident of an exempt kind for them (``proctoring.incidents.apply_frame``, the browser events, the
talking rule); a student exempt from ``talking`` is not listened to at all (``proctoring.speech``).
This row is the one source of truth: the per-session speech flag of issue 13 was folded into it
(exams 0010). Every change is audited, with what it was before.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction

from accounts.audit import audit
from accounts.errors import AppError, NotFound
from accounts.models import Role, User
from exams.models import Accommodation
from exams.policy import EXEMPTABLE

MAX_EXTRA_MINUTES = 24 * 60
MAX_EXTRA_PERCENT = 400
REASON_MAX = Accommodation._meta.get_field("reason").max_length


# --- reads -----------------------------------------------------------------------------------------


def access_student_by_id(*, actor: User, student_id: int) -> User:
    """A student of the actor's institution; another institution's, or no student: the same 404."""
    student = User.objects.in_scope().filter(role=Role.STUDENT, pk=student_id).first()
    if student is None or (not actor.is_superuser and student.institution_id != actor.institution_id):
        raise NotFound("Not found.")
    return student


def accommodation_of(*, student: User) -> Accommodation | None:
    return Accommodation.objects.filter(student_id=student.pk).first()


def accommodation_summary(accommodation: Accommodation | None, *, duration_minutes: int | None = None
                          ) -> dict[str, Any] | None:
    """What proctors see on a badge: the reason, the extra time and the exempt checks, in words."""
    if accommodation is None:
        return None
    extra = []
    if accommodation.extra_minutes:
        extra.append(f"+{accommodation.extra_minutes} min")
    if accommodation.extra_percent:
        extra.append(f"+{accommodation.extra_percent}%")
    summary: dict[str, Any] = {
        "reason": accommodation.reason, "extra_minutes": accommodation.extra_minutes,
        "extra_percent": accommodation.extra_percent, "exempt_checks": list(accommodation.exempt_checks or []),
        "exempt_labels": [EXEMPTABLE.get(kind, kind) for kind in accommodation.exempt_checks or []],
        "extra_label": " ".join(extra),
    }
    if duration_minutes is not None:
        summary["extra_seconds"] = int(accommodation.extra_time(duration_minutes).total_seconds())
    return summary


def accommodations_by_student(*, student_ids: list[int]) -> dict[int, Accommodation]:
    return {a.student_id: a for a in Accommodation.objects.filter(student_id__in=student_ids)}


# --- writes ----------------------------------------------------------------------------------------


def _locked(student: User) -> Accommodation | None:
    """The student's accommodation, with the student's row locked: two admins saving at once (or a
    first save racing another) take turns instead of colliding on the one-per-student constraint."""
    User.objects.select_for_update().filter(pk=student.pk).values_list("pk").first()
    return Accommodation.objects.filter(student_id=student.pk).first()


def _state(accommodation: Accommodation | None) -> dict[str, Any] | None:
    if accommodation is None:
        return None
    return {"extra_minutes": accommodation.extra_minutes, "extra_percent": accommodation.extra_percent,
            "exempt_checks": list(accommodation.exempt_checks or []), "reason": accommodation.reason}


def _validate(*, extra_minutes: int, extra_percent: int, exempt_checks: list[str], reason: str) -> None:
    errors: dict[str, list[str]] = {}
    if not 0 <= extra_minutes <= MAX_EXTRA_MINUTES:
        errors["extra_minutes"] = [f"From 0 to {MAX_EXTRA_MINUTES}."]
    if not 0 <= extra_percent <= MAX_EXTRA_PERCENT:
        errors["extra_percent"] = [f"From 0 to {MAX_EXTRA_PERCENT}."]
    unknown = sorted(set(exempt_checks) - set(EXEMPTABLE))
    if unknown:
        errors["exempt_checks"] = [f"Not exemptable: {', '.join(unknown)}. One of {sorted(EXEMPTABLE)}."]
    if not reason:
        errors["reason"] = ["Say why (proctors see it)."]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"At most {REASON_MAX} characters."]
    if not (extra_minutes or extra_percent or exempt_checks) and "reason" not in errors:
        errors["extra_minutes"] = ["Give extra time or an exemption (or remove the accommodation)."]
    if errors:
        raise AppError("The accommodation is not valid.", code="invalid", details=errors)


@transaction.atomic
def accommodation_set(
    *, actor: User, student: User, reason: str, extra_minutes: int = 0, extra_percent: int = 0,
    exempt_checks: list[str] | tuple[str, ...] = (),
) -> Accommodation:
    """Set (create or replace) a student's accommodation; audited with the previous one.

    Precondition: ``student`` came from ``access_student_by_id`` for ``actor`` (an admin).
    """
    reason = reason.strip()
    checks = [kind for kind in EXEMPTABLE if kind in set(exempt_checks)] + \
        sorted(set(exempt_checks) - set(EXEMPTABLE))  # known ones in a stable order; unknown ones refused below
    _validate(extra_minutes=extra_minutes, extra_percent=extra_percent, exempt_checks=checks, reason=reason)
    accommodation = _locked(student)
    before = _state(accommodation)
    if accommodation is None:
        accommodation = Accommodation(institution_id=student.institution_id, student=student)
    accommodation.extra_minutes, accommodation.extra_percent = extra_minutes, extra_percent
    accommodation.exempt_checks, accommodation.reason, accommodation.updated_by = checks, reason, actor
    accommodation.save()
    audit(institution_id=student.institution_id, actor=actor, action="student.accommodation", target=student,
          data={"before": before, "after": _state(accommodation)})
    return accommodation


@transaction.atomic
def accommodation_remove(*, actor: User, student: User) -> None:
    """Remove a student's accommodation (no-op without one); audited."""
    accommodation = _locked(student)
    if accommodation is None:
        return
    before = _state(accommodation)
    accommodation.delete()
    audit(institution_id=student.institution_id, actor=actor, action="student.accommodation", target=student,
          data={"before": before, "after": None})


SPEECH_REASON = "Read-aloud or dictation software (speech accommodation)"


@transaction.atomic
def accommodation_exempt(*, actor: User, student: User, check: str, exempt: bool,
                         reason: str = "") -> Accommodation | None:
    """Add or remove one exemption, keeping the rest of the accommodation (the speech switch uses it).
    Removing the last thing an accommodation gives removes it."""
    current = _locked(student)
    checks = set(current.exempt_checks or []) if current else set()
    checks = checks | {check} if exempt else checks - {check}
    extra_minutes = current.extra_minutes if current else 0
    extra_percent = current.extra_percent if current else 0
    if not (checks or extra_minutes or extra_percent):
        accommodation_remove(actor=actor, student=student)
        return None
    return accommodation_set(actor=actor, student=student, reason=(current.reason if current else "") or reason,
                             extra_minutes=extra_minutes, extra_percent=extra_percent, exempt_checks=sorted(checks))


def minutes_text(length: timedelta) -> str:
    """A length of exam time as a student reads it: "77 min 30 s" (50% of 45 min is 22 min 30 s: the dashboard
    rounded it to a minute less than the deadline gave, an audit), "45 min"."""
    minutes, seconds = divmod(round(length.total_seconds()), 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
