"""Human review of incidents, browser-reported events, and the risk summary of a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.errors import AppError, Conflict
from accounts.models import User
from exams.models import ExamSession
from exams.services import audit
from exams.statuses import ACCEPTS_FRAMES, SessionStatus
from proctoring.access import access_incidents_by_ids
from proctoring.incidents import incident_payload, publish
from proctoring.models import Appeal, AppealStatus, Incident, IncidentKind, ReviewStatus, Severity
from proctoring.outbox import outbox_add

BROWSER_EVENTS = {
    IncidentKind.TAB_HIDDEN: Severity.MEDIUM,
    IncidentKind.FULLSCREEN_EXIT: Severity.LOW,
    IncidentKind.COPY_PASTE: Severity.MEDIUM,
    IncidentKind.CAMERA_STOPPED: Severity.HIGH,
    # Another window (tab) of the exam in the same browser (exam.js: the windows tell each other). Of two answers to
    # a question the later is kept, and both windows show it, so nothing is lost; staff see that it happened.
    IncidentKind.SECOND_WINDOW: Severity.LOW,
}
# Browser events that last: each opens an incident that stays open (``left_at`` in its details) until the page says
# the event is over (``back``: the student came back to the exam tab, the camera runs again) or the session changes,
# and then counts its length (``away_seconds``). What each is, in the reviewer's words while it goes on.
LASTING = {IncidentKind.TAB_HIDDEN: "still away from the exam tab",
           IncidentKind.CAMERA_STOPPED: "the camera is still off"}


@transaction.atomic
def incident_review(*, incident_id: int, reviewer: User, decision: str, note: str = "") -> Incident:
    """Confirm or dismiss an incident; every decision is audited and mirrored to DynamoDB."""
    if decision not in (ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED):
        raise AppError("Decide 'confirmed' or 'dismissed'.", code="invalid", details={"decision": ["Unknown."]})
    incident = Incident.objects.select_for_update(of=("self",)).select_related("session").get(pk=incident_id)
    # A decided appeal binds the incident: overturned, it stays dismissed; upheld, confirmed. A reviewer's later
    # change once turned an overturned incident back to confirmed, and the student could not appeal again.
    bound = {AppealStatus.OVERTURNED: ReviewStatus.DISMISSED, AppealStatus.UPHELD: ReviewStatus.CONFIRMED}
    # (Except an appeal a reviewer's dismissal closed, below: confirmed again, the incident opens it again (a
    # re-audit: a dismissal by mistake could never be undone once the student had appealed).)
    appealed = incident.appeals.filter(status__in=list(bound), closed_by_review=False).values_list(
        "status", flat=True).first()
    if appealed is not None and bound[appealed] != decision:
        raise Conflict(f"An appeal against this incident was decided ({appealed}): its decision stands.",
                       code="appeal_decided", details={"appeal": appealed})
    previous = incident.review_status
    incident.review_status, incident.reviewed_by, incident.reviewed_at = decision, reviewer, timezone.now()
    incident.review_note = note.strip()[:5000]
    incident.version += 1
    incident.save(update_fields=["review_status", "reviewed_by", "reviewed_at", "review_note", "version"])
    audit(institution_id=incident.institution_id, actor=reviewer, action=f"incident.{decision}", target=incident,
          data={"from": previous, "note": incident.review_note})
    if decision == ReviewStatus.DISMISSED:
        # An appeal still open against it has its answer: the student's record said "Dismissed" beside an appeal
        # "Open" until staff overturned it by hand (an audit of fairness).
        for appeal in Appeal.objects.select_for_update(of=("self",)).filter(incident_id=incident.pk,
                                                                             status=AppealStatus.OPEN):
            appeal.status, appeal.decided_by, appeal.closed_by_review = AppealStatus.OVERTURNED, reviewer, True
            appeal.decided_at = incident.reviewed_at
            appeal.decision_note = ("A reviewer dismissed the incident" + (
                f": {incident.review_note}" if incident.review_note else "."))[:5000]
            appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "closed_by_review"])
            audit(institution_id=appeal.institution_id, actor=reviewer, action="appeal.overturned", target=appeal,
                  data={"from": AppealStatus.OPEN, "incident": incident.pk, "note": appeal.decision_note,
                        "by": "incident review"})
    else:
        for appeal in Appeal.objects.select_for_update(of=("self",)).filter(incident_id=incident.pk,
                                                                             closed_by_review=True):
            appeal.status, appeal.decided_by, appeal.decided_at = AppealStatus.OPEN, None, None
            appeal.decision_note, appeal.closed_by_review = "", False
            appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "closed_by_review"])
            audit(institution_id=appeal.institution_id, actor=reviewer, action="appeal.reopened", target=appeal,
                  data={"incident": incident.pk, "note": incident.review_note})
    payload = incident_payload(incident)
    outbox_add(topic="incidents.put", payload={**payload, "review_status": decision})
    return incident


BULK_MAX = 100  # incidents per bulk decision: one transaction holds each one's row lock until it ends


@transaction.atomic
def incidents_review_bulk(*, incident_ids: list[int], reviewer: User, decision: str, note: str = "") -> list[Incident]:
    """Confirm or dismiss several incidents at once: each goes through ``incident_review`` (its lock,
    its checks, its audit event, its mirror), all in one transaction, so either all are decided or
    none. An id that is missing or another institution's makes the whole request a 404.

    Precondition: ``reviewer`` is staff (the view's role check).
    """
    if decision not in (ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED):
        raise AppError("Decide 'confirmed' or 'dismissed'.", code="invalid", details={"decision": ["Unknown."]})
    ids = sorted(set(incident_ids))  # one lock order for every request: two bulk reviews never deadlock
    if not ids:
        raise AppError("Select at least one incident.", code="invalid", details={"ids": ["Required."]})
    if len(ids) > BULK_MAX:
        raise AppError(f"Decide at most {BULK_MAX} incidents at once.", code="invalid",
                       details={"ids": [f"At most {BULK_MAX}."]})
    reachable = access_incidents_by_ids(actor=reviewer, incident_ids=ids)
    return [incident_review(incident_id=incident_id, reviewer=reviewer, decision=decision, note=note)
            for incident_id in reachable]


# Browser events of one kind less than this apart are one incident (its details count them).
BROWSER_EVENT_MERGE_SECONDS = 60


def browser_event(*, session: ExamSession, student: User, kind: str, detail: str = "",
                  back: bool = False) -> Incident | None:
    """An event the exam page saw (tab hidden, full screen left, copy/paste, camera stopped, a second window); None when
    the student's accommodation exempts them from it (assistive software). Repeated within
    BROWSER_EVENT_MERGE_SECONDS of the last, it extends that incident. ``back`` (``LASTING`` kinds only): the student
    came back to the exam tab, or the camera runs again (``_came_back``)."""
    if kind not in BROWSER_EVENTS:
        raise AppError("Unknown event.", code="invalid", details={"kind": [f"One of {sorted(BROWSER_EVENTS)}."]})
    if back and kind not in LASTING:
        raise AppError("Only an event that lasts is over.", code="invalid",
                       details={"back": [f"Only for {' or '.join(sorted(LASTING))}."]})
    if session.status not in ACCEPTS_FRAMES:
        raise Conflict("The session is not running.", code="session_not_running")
    if kind in session.exempt_checks:
        return None
    now = timezone.now()
    during_check = session.status != SessionStatus.IN_PROGRESS
    if back:
        return _came_back(session, kind, during_check, now)
    with transaction.atomic():
        # The same event again soon after (a student flicking between tabs) extends the incident it opened, still
        # unreviewed: one incident per stretch of them, as frames and speech make. Each once opened its own, and
        # one student's page could fill the review queue with thousands.
        recent = (Incident.objects.select_for_update(of=("self",))
                  .filter(session_id=session.pk, kind=kind, during_check=during_check, details__source="browser",
                          review_status=ReviewStatus.PENDING,
                          ended_at__gte=now - timedelta(seconds=BROWSER_EVENT_MERGE_SECONDS))
                  .order_by("-ended_at", "-pk").first())
        # The page reports leaving LEAVE_REPORTED_AFTER after it happened (a reload is not leaving: static/js/exam.js),
        # so the student left that much earlier (a re-audit: every absence was 0.3 s short).
        # (A stopped camera was once created closed, "Lasted 0 s", however long it stayed off: it lasts too.)
        away = kind in LASTING
        left_at = now - LEAVE_REPORTED_AFTER if kind == IncidentKind.TAB_HIDDEN else now
        left = {"left_at": left_at.isoformat()} if away else {}
        if recent is None and away:
            # An absence still open that no return ended (the page closed, or its return was lost), longer ago than
            # the merge: it ended when it was last heard of, before this one opens.
            # (Of either phase: one open incident of a kind a session, the database's constraint.)
            for stale in Incident.objects.select_for_update(of=("self",)).filter(
                    session_id=session.pk, kind=kind, is_open=True):
                stale.is_open, stale.version = False, stale.version + 1
                if stale.review_status == ReviewStatus.PENDING and "left_at" in stale.details:
                    details = dict(stale.details)  # (its time until then counted: a re-audit saw it dropped)
                    lasted = (stale.ended_at - datetime.fromisoformat(details.pop("left_at"))).total_seconds()
                    details["away_seconds"] = round(float(details.get("away_seconds", 0)) + max(lasted, 0), 1)
                    stale.details = details
                stale.save(update_fields=["is_open", "details", "version"])
        if recent is not None:
            # The same event again soon after; an absence is ongoing again (a proctor's audit: a student away from the
            # exam tab right now never showed as ongoing on the live view, its incident created already closed).
            # One still going on keeps when it began (a re-audit: a second report of the camera stopped lost the
            # minutes it had been off).
            if "left_at" in recent.details:
                left = {}
            recent.ended_at, recent.version, recent.is_open = now, recent.version + 1, recent.is_open or away
            recent.details = {**recent.details, "count": int(recent.details.get("count", 1)) + 1,
                              "detail": detail[:500] or recent.details.get("detail", ""), **left}
            recent.save(update_fields=["ended_at", "details", "version", "is_open"])
            incident = recent
        else:
            incident = Incident.objects.create(
                institution_id=session.institution_id, session=session, kind=kind, severity=BROWSER_EVENTS[kind],
                is_open=away, started_at=left_at, ended_at=now,
                details={"source": "browser", "detail": detail[:500], **left}, during_check=during_check,
            )
        incident.session = session
        publish(incident)
    return incident


LEAVE_REPORTED_AFTER = timedelta(milliseconds=300)  # exam.js's reportLeaving waits this long: a reload is not leaving
# A return later than this after the tab was left is not taken as the end of that absence (a page that slept, its
# return reported hours later): the incident keeps the time it was left only.
BACK_WITHIN_SECONDS = 3 * 60 * 60


def _came_back(session: ExamSession, kind: str, during_check: bool, now: datetime) -> Incident | None:
    """The student is back in the exam tab, or their camera runs again (``LASTING``): the incident the event opened
    ends now, and counts the time it lasted (``away_seconds``, over all its stretches). An audit: the incident said
    when the tab was left, never for how long, so a second and twenty minutes read the same. None when no such event
    is on record (exempt, decided, or reported already)."""
    with transaction.atomic():
        incident = (Incident.objects.select_for_update(of=("self",))
                    .filter(session_id=session.pk, kind=kind, during_check=during_check,
                            details__source="browser", details__has_key="left_at")
                    .order_by("-ended_at", "-pk").first())
        if incident is None:
            return None
        if incident.review_status != ReviewStatus.PENDING:
            # A decision stands on what it saw (a re-audit): the absence is over, nothing else changes.
            if incident.is_open:
                incident.is_open, incident.version = False, incident.version + 1
                incident.save(update_fields=["is_open", "version"])
                incident.session = session
                publish(incident)
            return None
        incident.is_open = False
        details = dict(incident.details)
        left_at = datetime.fromisoformat(details.pop("left_at"))
        away = (now - left_at).total_seconds()
        if 0 <= away <= BACK_WITHIN_SECONDS:
            details["away_seconds"] = round(float(details.get("away_seconds", 0)) + away, 1)
            incident.ended_at = max(incident.ended_at, now)
        incident.details, incident.version = details, incident.version + 1
        incident.save(update_fields=["ended_at", "details", "version", "is_open"])
        incident.session = session
        publish(incident)
    return incident


def lasting_seconds(incident: Incident, now: datetime) -> float | None:
    """How long a browser event that lasts (``LASTING``) went on, over all its stretches, the one going on now
    included; None for any other incident (its length is from its start to its end)."""
    if incident.kind not in LASTING:
        return None  # (asked before the details, which a list may have deferred: proctoring.selectors)
    details = incident.details or {}
    if details.get("source") != "browser":
        return None
    if not incident.is_open and "left_at" in details:
        return None  # decided while it went on, then ended: its stretches were not counted, its span says it
    seconds = float(details.get("away_seconds", 0))
    if incident.is_open and "left_at" in details:
        seconds += max(0.0, (now - datetime.fromisoformat(details["left_at"])).total_seconds())
    return seconds


SEVERITY_POINTS = {Severity.HIGH: 30, Severity.MEDIUM: 15, Severity.LOW: 5}


@dataclass
class RiskItem:
    incident: Incident
    points: int
    reason: str


# Kinds that, overlapping in time, are one event seen by several checks: a second person (the person
# box and the second face), somebody gone (no person and no face). The event counts once in the risk,
# at the points of its worst incident; the others say which incident counted it.
LEFT = "left the exam"
EVENTS = {
    IncidentKind.MULTIPLE_PEOPLE: "second person", IncidentKind.MULTIPLE_FACES: "second person",
    IncidentKind.NO_PERSON: "nobody in view", IncidentKind.NO_FACE: "nobody in view",
    IncidentKind.WRONG_PERSON: "who is there", IncidentKind.IDENTITY_UNCLEAR: "who is there",
    IncidentKind.CAMERA_STOPPED: "camera", IncidentKind.CAMERA_FROZEN: "camera", IncidentKind.CAMERA_COVERED: "camera",
    # One switch away from a full-screen exam is reported twice by the page (full screen left, the tab hidden): an
    # audit of fairness saw two incidents scored 5 + 15 for it.
    IncidentKind.TAB_HIDDEN: LEFT, IncidentKind.FULLSCREEN_EXIT: LEFT,
}
# The page's two reports of one switch away arrive apart (the tab's is sent LEAVE_REPORTED_AFTER later, each over the
# network): incidents of that event this close are taken as overlapping. (Only of that event: a re-audit saw a frame
# incident opened after a decision, 5 s after the decided one's last frame, counted as the same.)
EVENT_SLACK = {LEFT: timedelta(seconds=5)}


def risk(incidents: list[Incident], now: datetime | None = None) -> tuple[int, list[RiskItem]]:
    """A 0–100 score that explains itself: points per event by severity, +1 per minute it lasted
    beyond the first (at most as many again as its severity's), doubled when a reviewer confirmed it, none when
    dismissed. Incidents of one
    event (``EVENTS``, overlapping in time) count once, and so does one that comes back within
    RECURRENCE_SECONDS of the last; findings of the pre-exam check count never."""
    now = now or timezone.now()
    items = []
    for incident in incidents:
        if incident.review_status == ReviewStatus.DISMISSED:
            items.append(RiskItem(incident, 0, "dismissed by a reviewer"))
            continue
        if incident.during_check:
            items.append(RiskItem(incident, 0, "during the check before the exam"))
            continue
        # An event still going on (away from the exam tab now, the camera off now) counts so far: it counted nothing
        # until it ended, so the live view's risk stayed low while a student was away for ten minutes. One of
        # several stretches counts their time, not the span from the first to the last (an audit: 5 s away every
        # 55 s for half an hour "lasted 26 min").
        away = lasting_seconds(incident, now)
        end = incident.ended_at or now
        seconds = away if away is not None else (end - incident.started_at).total_seconds()
        if incident.kind in BROWSER_EVENTS and incident.kind not in LASTING:
            seconds = 0  # moments (copy and paste, full screen left): merged ones span how far apart they were
        minutes = max(0, int(seconds // 60))
        base = SEVERITY_POINTS[incident.severity]
        # Lasting at most doubles an event's points: an hour of a low event (a webcam set off to the side read as
        # looking away) scored 65, above a minute of a second person (30).
        points = base + min(base, max(0, minutes - 1))
        reason = f"{incident.get_severity_display().lower()} severity"
        if minutes:
            reason += f", lasted {minutes} min" + (f" (+{base}, the most for lasting)" if minutes - 1 > base else "")
        if incident.review_status == ReviewStatus.CONFIRMED:
            points *= 2
            reason += ", confirmed by a reviewer"
        items.append(RiskItem(incident, points, reason))
    _count_events_once(items, now)
    _count_recurrences_once(items, now)
    return min(100, sum(item.points for item in items)), items


def _count_events_once(items: list[RiskItem], now: datetime) -> None:
    counted: list[RiskItem] = []
    for item in sorted((i for i in items if i.points and i.incident.kind in EVENTS), key=lambda i: -i.points):
        incident = item.incident
        slack = EVENT_SLACK.get(EVENTS[incident.kind], timedelta(0))
        same = next((c for c in counted if EVENTS[c.incident.kind] == EVENTS[incident.kind]
                     and c.incident.started_at <= (incident.ended_at or now) + slack
                     and incident.started_at <= (c.incident.ended_at or now) + slack), None)
        if same is None:
            counted.append(item)
        else:
            item.points = 0
            item.reason = f"the same event as {same.incident.get_kind_display().lower()} (counted there)"


# The same event again this soon after the last one ended is the same condition coming and going (a bystander at
# the frame's edge, a face the detector loses and finds): it counts once. Four incidents of one flickering
# condition scored 100 where a reviewer sees one thing.
RECURRENCE_SECONDS = 60


def _count_recurrences_once(items: list[RiskItem], now: datetime) -> None:
    last_end: dict[str, datetime] = {}  # event -> when its latest counted incident ended
    first: dict[str, RiskItem] = {}
    for item in sorted((i for i in items if i.points), key=lambda i: i.incident.started_at):
        incident = item.incident
        # (Each of the page's two reports of leaving is its own condition here: a long absence 50 s after leaving
        # full screen counted as "the same left full screen again", 0 points, in a re-audit.)
        event = EVENTS.get(incident.kind, incident.kind) if EVENTS.get(incident.kind) != LEFT else incident.kind
        ended = last_end.get(event)
        if ended is not None and incident.started_at <= ended + timedelta(seconds=RECURRENCE_SECONDS):
            item.points = 0
            item.reason = (f"the same {first[event].incident.get_kind_display().lower()} again within "
                           f"{RECURRENCE_SECONDS} s (counted with the first)")
        else:
            first[event] = item
        last_end[event] = max(ended or incident.started_at, incident.ended_at or now)


def summary_counts(incidents: list[Any]) -> dict[str, Any]:
    """The exam's incidents by kind, reviewed and not yet (``open``: to review), and apart from them how many were
    seen during the camera check before the exam (``check``), which the exam's figures never count (a clean
    student's report once showed 'someone else 2' from their check)."""
    exam = [i for i in incidents if not i.during_check]
    by_kind: dict[str, int] = {}
    for incident in exam:
        by_kind[incident.kind] = by_kind.get(incident.kind, 0) + 1
    reviewed = sum(1 for i in exam if i.review_status != ReviewStatus.PENDING)
    return {"by_kind": by_kind, "reviewed": reviewed, "open": len(exam) - reviewed, "total": len(exam),
            "check": len(incidents) - len(exam)}
