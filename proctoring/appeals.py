"""The student's side of the record: what was decided about their session, and their appeals.

When a student sees an incident ("after the exam's review"): the incident was *decided* by a reviewer
(confirmed or dismissed) and its session has *ended* (submitted, expired or terminated). Pending incidents,
and anything of a session still running, stay with staff.

A student may appeal a *confirmed* incident (a dismissed one holds nothing against them) once, with a note,
within the institution's ``appeal_window_days`` of the reviewer's decision (0: no appeals). Staff (admins and
proctors of the institution) uphold or overturn it; overturning dismisses the incident through the incident's
own review path (``review.incident_review``), so the risk score, the reports and DynamoDB follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.audit import audit
from accounts.errors import AppError, Conflict, NotFound
from accounts.models import Role, User
from exams.models import ExamSession
from exams.statuses import APPEAL_TRANSITIONS, FINISHED, AppealStatus
from proctoring.models import Appeal, Frame, Incident, ReviewStatus
from proctoring.review import incident_review

DECIDED = (ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED)
NOTE_MAX = 5000
VISIBILITY_TEXT = ("An incident appears here once a reviewer has decided it (confirmed or dismissed) and your "
                   "exam has ended. Incidents still waiting for review are not shown.")


def _is_student(actor: User) -> bool:
    return getattr(actor, "role", None) == Role.STUDENT and not actor.is_superuser


def decided_incidents_of(*, student: User) -> QuerySet[Incident]:
    """The incidents a student may see: decided, of their own ended sessions."""
    return Incident.objects.filter(session__student_id=student.pk, session__status__in=FINISHED,
                                   review_status__in=DECIDED)


def evidence_frame_ids(incidents: list[Incident]) -> dict[int, list[int]]:
    """Each incident's evidence frames whose image is still kept (the first, evidence and last frame), in
    order, without repeats; retention (proctoring.retention) removes images, and their ids go with them."""
    wanted = {i for incident in incidents
              for i in (incident.first_frame_id, incident.evidence_frame_id, incident.last_frame_id) if i}
    kept = set(Frame.objects.filter(pk__in=wanted).exclude(image="").values_list("pk", flat=True))
    ids: dict[int, list[int]] = {}
    for incident in incidents:
        own = [i for i in (incident.first_frame_id, incident.evidence_frame_id, incident.last_frame_id) if i in kept]
        ids[incident.pk] = list(dict.fromkeys(own))
    return ids


def access_own_evidence_frame(*, actor: User, frame_id: int) -> Frame:
    """A frame the student may see: attached to a decided incident of their own ended session.
    Another student's frame, an undecided incident's, a frame of no incident: the same 404."""
    if not _is_student(actor):
        raise NotFound("Not found.")
    incidents = decided_incidents_of(student=actor).filter(
        Q(evidence_frame_id=frame_id) | Q(first_frame_id=frame_id) | Q(last_frame_id=frame_id))
    frame = Frame.objects.filter(pk=frame_id, session__student_id=actor.pk).first() if incidents.exists() else None
    if frame is None:
        raise NotFound("Not found.")
    return frame


def access_own_incident(*, actor: User, incident_id: int, for_update: bool = False) -> Incident:
    """A decided incident of the student's own ended session; anything else: 404."""
    incidents = decided_incidents_of(student=actor) if _is_student(actor) else Incident.objects.none()
    if for_update:
        incidents = incidents.select_for_update(of=("self",))
    incident = incidents.select_related("session__exam__institution").filter(pk=incident_id).first()
    if incident is None:
        raise NotFound("Not found.")
    return incident


def appeals_for(*, actor: User) -> QuerySet[Appeal]:
    """Appeals ``actor`` may see: the institution's for staff, their own for a student."""
    appeals = Appeal.objects.select_related("incident__session__exam", "student", "decided_by")
    return appeals.filter(student_id=actor.pk) if _is_student(actor) else appeals


def access_appeal_by_id(*, actor: User, appeal_id: int, for_update: bool = False) -> Appeal:
    """Appeals are decided by staff; a student reaches none by id (they see theirs on their record)."""
    appeals = Appeal.objects.none() if _is_student(actor) else Appeal.objects.all()
    if for_update:
        appeals = appeals.select_for_update(of=("self",))
    appeal = appeals.filter(pk=appeal_id).first()
    if appeal is None:
        raise NotFound("Not found.")
    return appeal


def appeal_deadline(incident: Incident, window_days: int) -> datetime | None:
    """Until when the incident may be appealed; None when it may not be (not confirmed, appeals off)."""
    if incident.review_status != ReviewStatus.CONFIRMED or window_days <= 0 or incident.reviewed_at is None:
        return None
    return incident.reviewed_at + timedelta(days=window_days)


@dataclass
class RecordItem:
    incident: Incident
    frame_ids: list[int]
    appeal: Appeal | None
    deadline: datetime | None
    can_appeal: bool
    why_not: str = ""


def session_record(*, session: ExamSession) -> list[RecordItem]:
    """What the session's student sees of its review: decided incidents, evidence, appeals, and whether
    (and until when) each may still be appealed. Precondition: the caller reached the session."""
    if session.status not in FINISHED:
        return []
    window = session.exam.institution.appeal_window_days
    incidents = list(decided_incidents_of(student=session.student).filter(session=session)
                     .select_related("reviewed_by").order_by("started_at", "id"))
    appeals = {a.incident_id: a for a in Appeal.objects.filter(incident__in=incidents).select_related("decided_by")}
    frames = evidence_frame_ids(incidents)
    now = timezone.now()
    items = []
    for incident in incidents:
        appeal, deadline = appeals.get(incident.pk), appeal_deadline(incident, window)
        why_not = _why_not(incident, appeal, deadline, window, now)
        items.append(RecordItem(incident, frames[incident.pk], appeal, deadline, not why_not, why_not))
    return items


def _why_not(incident: Incident, appeal: Appeal | None, deadline: datetime | None, window: int,
             now: datetime) -> str:
    if appeal is not None:
        return "You have appealed this incident; an incident is appealed once."
    if incident.review_status != ReviewStatus.CONFIRMED:
        return "Dismissed: nothing to appeal."
    if window <= 0:
        return "Your institution does not take appeals."
    if deadline is None or now > deadline:
        return f"The appeal window ({window} day{'s' if window != 1 else ''} from the decision) has closed."
    return ""


@transaction.atomic
def appeal_create(*, incident_id: int, student: User, note: str) -> Appeal:
    """A student appeals a confirmed incident of their own ended session, once, within the window."""
    note = (note or "").strip()
    if not note:
        raise AppError("Say why you appeal: the note is required.", code="invalid", details={"note": ["Required."]})
    if len(note) > NOTE_MAX:
        raise AppError(f"The note is longer than {NOTE_MAX} characters.", code="invalid",
                       details={"note": [f"At most {NOTE_MAX} characters."]})
    incident = access_own_incident(actor=student, incident_id=incident_id, for_update=True)
    window = incident.session.exam.institution.appeal_window_days
    existing = Appeal.objects.filter(incident=incident).first()
    why_not = _why_not(incident, existing, appeal_deadline(incident, window), window, timezone.now())
    if why_not:
        code = "appeal_exists" if existing else "appeal_not_allowed"
        raise Conflict(why_not, code=code)
    appeal = Appeal.objects.create(institution_id=incident.institution_id, incident=incident, student=student,
                                   note=note)
    audit(institution_id=incident.institution_id, actor=student, action="appeal.opened", target=appeal,
          data={"incident": incident.pk, "note": note})
    return appeal


@transaction.atomic
def appeal_decide(*, appeal_id: int, actor: User, decision: str, note: str = "") -> Appeal:
    """Staff uphold or overturn an open appeal; overturning dismisses the incident (its own review path)."""
    if actor.role not in (Role.ADMIN, Role.PROCTOR) and not actor.is_superuser:
        raise NotFound("Not found.")
    if decision not in (AppealStatus.UPHELD, AppealStatus.OVERTURNED):
        raise AppError("Decide 'upheld' or 'overturned'.", code="invalid", details={"decision": ["Unknown."]})
    appeal = access_appeal_by_id(actor=actor, appeal_id=appeal_id, for_update=True)
    if decision not in APPEAL_TRANSITIONS[appeal.status]:
        raise Conflict(f"This appeal was already decided ({appeal.get_status_display().lower()}).",
                       code="appeal_decided")
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=appeal.incident_id)
    if decision == AppealStatus.UPHELD and incident.review_status != ReviewStatus.CONFIRMED:
        # A reviewer changed the decision after the appeal came in: upholding would tell the student a
        # confirmation stands that no longer does.
        raise Conflict("The incident is no longer confirmed (a reviewer changed the decision); overturn the appeal "
                       "to close it, or confirm the incident again first.", code="incident_not_confirmed")
    previous = appeal.status
    appeal.status, appeal.decided_by, appeal.decided_at = decision, actor, timezone.now()
    appeal.decision_note = (note or "").strip()[:NOTE_MAX]
    appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit(institution_id=appeal.institution_id, actor=actor, action=f"appeal.{decision}", target=appeal,
          data={"from": previous, "incident": appeal.incident_id, "note": appeal.decision_note})
    if decision == AppealStatus.OVERTURNED:
        reason = f"Overturned on appeal #{appeal.pk}" + (f": {appeal.decision_note}" if appeal.decision_note else ".")
        incident_review(incident_id=appeal.incident_id, reviewer=actor, decision=ReviewStatus.DISMISSED, note=reason)
    return appeal


def appeal_queue(*, status: str | None = AppealStatus.OPEN) -> QuerySet[Appeal]:
    appeals = Appeal.objects.select_related("incident__session__exam", "incident__session__student", "student")
    appeals = appeals.filter(status=status) if status else appeals
    return appeals.order_by("created_at", "id")
