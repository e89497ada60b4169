"""Proctors' pages: live view, review queue, incident review; and the reports."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.audit import AuditEvent
from accounts.decorators import role_required
from accounts.errors import AppError, NotFound
from accounts.models import Role
from exams.access import access_exam_by_id, access_session_by_id
from exams.accommodations import accommodation_of, accommodation_summary
from exams.grading import exam_scores, session_score
from exams.models import Exam, ExamSession
from exams.policy import CHECK_PERSON_RECOGNITION, EXEMPT_LIVENESS
from exams.statuses import AppealStatus
from proctoring import attention, camera, gate, review, selectors, speech
from proctoring.forms import ReviewFilterForm
from proctoring.identity_panel import identity_panel
from proctoring.models import Frame, FrameStatus, Incident, IncidentKind, ReviewStatus, Severity

STAFF = (Role.ADMIN, Role.PROCTOR)


@login_required
@role_required(*STAFF)
def live(request: HttpRequest, pk: int) -> HttpResponse:
    exam = access_exam_by_id(actor=request.user, exam_id=pk)
    # A camera is stale when no analysed frame came for three capture intervals (at least 30 s).
    return render(request, "proctor/live.html", {"exam": exam,
                                                 "stale_after": max(30, 3 * exam.capture_interval_seconds)})


SESSIONS_PER_PAGE = 20
QUEUE_PARAMETERS = ("exam", "kind", "severity", "status", "sort", "page")


@login_required
@role_required(*STAFF)
def review_queue(request: HttpRequest) -> HttpResponse:
    """Incidents to review, grouped by session, sessions by risk; filters in the query string."""
    form = ReviewFilterForm(request.GET)
    valid = form.is_valid()  # every filter is optional: no query string is valid
    groups = selectors.review_groups(incidents=selectors.review_queue(**form.filters()),
                                     sort=form.cleaned_data.get("sort") or "risk") if valid else []
    page = Paginator(groups, SESSIONS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "proctor/review_queue.html", {
        "form": form, "page": page, "exams": Exam.objects.all(), "query": query.urlencode(),
        "kinds": IncidentKind.choices, "severities": Severity.choices, "statuses": ReviewStatus.choices,
        "bulk_max": review.BULK_MAX, "incident_count": sum(g.total for g in groups),
    }, status=200 if valid else 400)


@login_required
@role_required(*STAFF)
@require_POST
def review_bulk(request: HttpRequest) -> HttpResponse:
    """Confirm or dismiss the incidents ticked in the queue: all of them or none (review.incidents_review_bulk);
    an id that is missing or another institution's answers 404 for the whole request."""
    raw = request.POST.getlist("ids")
    if any(not (value.isascii() and value.isdigit() and len(value) <= 18) for value in raw):
        raise AppError("The selection holds something that is not an incident id.", code="invalid")
    # Back to the queue as it was filtered: only its own parameters, always under /review/.
    back = QueryDict(request.POST.get("back", ""), mutable=True)
    kept = QueryDict(mutable=True)
    for name in QUEUE_PARAMETERS:
        if name in back:
            kept[name] = back[name]
    target = reverse("review-queue") + (f"?{kept.urlencode()}" if kept else "")
    try:
        decided = review.incidents_review_bulk(incident_ids=[int(value) for value in raw], reviewer=request.user,
                                               decision=request.POST.get("decision", ""),
                                               note=request.POST.get("note", ""))
    except NotFound:
        raise
    except AppError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{len(decided)} incident(s) {request.POST['decision']}.")
    return redirect(target)


# What a reviewer should know about a kind whose name alone does not say how it was judged.
EXPLANATIONS = {
    IncidentKind.LOOKING_AWAY: attention.REVIEWER_MESSAGE,
    IncidentKind.CAMERA_FROZEN: camera.REVIEWER_MESSAGE,
    IncidentKind.CAMERA_COVERED: camera.COVERED_REVIEWER_MESSAGE,
    IncidentKind.IDENTITY_UNCLEAR: (
        "The face in view matched the student's registered photos only weakly on several frames in a row (a "
        "similarity of 80 to 90, under the pass of 90): clear enough to say something, not enough to accuse. A "
        "student leaning in or sitting at an angle scores there, and so does someone who looks like them: compare "
        "the evidence frame with the reference photos."),
}


HISTORY_LABELS = {"incident.confirmed": "confirmed it", "incident.dismissed": "dismissed it",
                  "appeal.opened": "appealed", "appeal.upheld": "upheld the appeal",
                  "appeal.overturned": "overturned it on appeal"}


def incident_history(incident: Incident) -> list[dict[str, Any]]:
    """Every decision on ``incident`` and its appeals, oldest first, from the audit log: who, when, what and their
    note (an audit: a confirm, then a dismiss, then an overturned appeal left the page showing the last note only, and
    no page showed the audit log)."""
    appeals = [str(pk) for pk in incident.appeals.values_list("pk", flat=True)]
    events = AuditEvent.objects.filter(Q(target_type="Incident", target_id=str(incident.pk))
                                       | Q(target_type="Appeal", target_id__in=appeals)).select_related("actor")
    return [{"at": e.at, "actor": e.actor, "what": HISTORY_LABELS.get(e.action, e.action),
             "note": (e.data or {}).get("note", "") if isinstance(e.data, dict) else ""}
            for e in events.order_by("at", "pk")]


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _lasted(incident: Incident) -> str:
    """How long the incident lasted, as "2 min 14 s" ("" while it has no end); for an event of several stretches
    (away from the exam tab five times), their time, and over how long (an audit: it said "Lasted 26 min 40 s" of
    2 min 39 s away in 30 stretches)."""
    # Ongoing: so far (an absence from the exam tab is still going on: it read "0 s" while the student was away); one
    # the frames show, as far as they show it (its last frame: with no frame since, it grew on the page and not in
    # the risk, an audit of fairness).
    now = timezone.now()
    away = review.lasting_seconds(incident, now)
    end = now if incident.is_open and away is not None else incident.ended_at
    if end is None:
        return ""
    span = (end - incident.started_at).total_seconds()
    count = int((incident.details or {}).get("count", 1))
    if away is None or count <= 1:
        return _duration(span if away is None else away)
    return f"{_duration(away)} in all, over {count} times within {_duration(span)}"


@login_required
@role_required(*STAFF)
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("session__student", "session__exam",
                                                                 "evidence_frame", "reviewed_by"), pk=pk)
    if request.method == "POST":
        try:
            review.incident_review(incident_id=incident.pk, reviewer=request.user,
                                   decision=request.POST.get("decision", ""), note=request.POST.get("note", ""))
        except AppError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Incident {incident.pk} {request.POST['decision']}.")
            # The same student's next incident first, as the queue groups them (an audit: it went to the newest
            # pending incident anywhere, another student's).
            queue = selectors.review_queue().exclude(pk=incident.pk)
            following = queue.filter(session_id=incident.session_id).first() or queue.first()
            return redirect("incident-detail", pk=following.pk) if following else redirect("review-queue")
    evidence = incident.evidence_frame
    return render(request, "proctor/incident.html", {
        "incident": incident, "frames": selectors.frames_around(incident), "identity": identity_panel(incident),
        # (an audit: nothing here said the student had appealed, and a reviewer changed the decision under it)
        "open_appeals": incident.appeals.filter(status=AppealStatus.OPEN).order_by("created_at"),
        "history": incident_history(incident), "lasted": _lasted(incident),
        # An event still going on that the page reports the end of (away from the tab, the camera off)
        "still": review.LASTING.get(incident.kind, "") if incident.is_open and "left_at" in incident.details else "",
        "explanation": EXPLANATIONS.get(incident.kind, ""),
        "accommodation": accommodation_summary(accommodation_of(student=incident.session.student)),
        "checks": evidence.checks if evidence else [], "clips": speech.clips_of(incident),
        "findings": json.dumps(incident.details.get("findings") or {}, indent=2)[:20000],
    })


def _session_report(session: ExamSession) -> dict[str, Any]:
    incidents = list(Incident.objects.filter(session=session).select_related("reviewed_by").order_by("started_at"))
    risk_score, items = review.risk(incidents)
    frames = list(Frame.objects.filter(session=session, status=FrameStatus.DONE)
                  .order_by("captured_at").values("captured_at", "received_at", "checks"))
    accommodation = accommodation_summary(accommodation_of(student=session.student),
                                          duration_minutes=session.exam.duration_minutes)
    return {"session": session, "incidents": incidents, "risk": risk_score, "items": items,
            "accommodation": accommodation, "admitted": admitted(session),
            "late_frames": sum(late_frame(f, session.exam.capture_interval_seconds) for f in frames),
            "frames": frames, "counts": review.summary_counts(incidents), "score": session_score(session)}


def admitted(session: ExamSession) -> dict[str, Any] | None:
    """How the session's identity and head turns were checked before it started, for the report (None: the exam
    does not check identity, or the session never started): by the camera, or by a proctor from the photo ID, and
    the turns passed, excused by that proctor, or exempted by an accommodation."""
    if CHECK_PERSON_RECOGNITION not in session.exam.checks_enabled or session.started_at is None:
        return None
    approval = gate.approval_in_force(session)
    excused = bool(approval and approval.liveness_excused)  # the approval that let it in, not an earlier one
    return {"approval": approval, "verified_at": session.identity_verified_at,
            "turns": "excused" if excused else "exempt" if EXEMPT_LIVENESS in session.exempt_checks else "passed"}


@login_required
@role_required(*STAFF)
def session_report(request: HttpRequest, pk: int) -> HttpResponse:
    session = access_session_by_id(actor=request.user, session_id=pk)
    report = _session_report(session)
    report["timeline"] = timeline(session, report["incidents"], report["frames"])
    # The frames of each moment the timeline marks (an incident), for its bars to open; a session with
    # very many incidents links its later bars to the incident page instead.
    report["moments"] = [{"incident": i, "frames": selectors.frames_around(i, count=2)}
                         for i in report["incidents"][:MOMENTS_MAX]]
    report["moment_ids"] = {m["incident"].pk for m in report["moments"]}
    return render(request, "reports/session.html", report)


MOMENTS_MAX = 40


LABEL_CHARS = 22  # of a timeline row's label: what the 150 px label column holds at the label's size


def timeline(session: ExamSession, incidents: list[Incident], frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of the timeline picture: one row per incident kind over the session's duration."""
    start = session.started_at or (frames[0]["captured_at"] if frames else session.created_at)
    end = session.ended_at or timezone.now()
    # The pre-exam check comes before the exam's start: the picture begins with it.
    start = min([start, *(i.started_at for i in incidents), *(f["captured_at"] for f in frames[:1])])
    span = max((end - start).total_seconds(), 60.0)
    width, left, row = 900, 150, 26

    def x(moment: Any) -> float:
        return round(left + (width - left - 30) * max(0.0, (moment - start).total_seconds()) / span, 1)

    kinds = [kind for kind in IncidentKind.values if any(i.kind == kind for i in incidents)]
    rows = []
    for index, kind in enumerate(kinds):
        bars = [{"id": i.pk, "x": x(i.started_at), "w": max(3.0, x(i.ended_at or end) - x(i.started_at)),
                 "severity": i.severity, "check": i.during_check,
                 "title": f"{i.get_kind_display()} {timezone.localtime(i.started_at):%H:%M:%S}"
                 + (" (check before the exam)" if i.during_check else "")} for i in incidents if i.kind == kind]
        label = str(IncidentKind(kind).label)
        # Cut to the label column (an audit: "Face not clear enough to verify" ran under the first bar); the whole
        # label is the row's tooltip.
        rows.append({"label": label, "short": label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…",
                     "y": 30 + index * row, "bars": bars})
    frame_y = 30 + len(kinds) * row + 8
    ticks = [{"x": x(f["captured_at"]), "bad": any(not c["Success"] for c in f["checks"] or []),
              "late": late_frame(f, session.exam.capture_interval_seconds)} for f in frames]
    minutes = int(span // 60)
    step = max(1, minutes // 6)
    axis = [{"x": x(start + timedelta(minutes=m)), "label": f"{m} min"} for m in range(0, minutes + 1, step)]
    # A label near an edge is anchored at its end or start, not its middle: "Exam ended" was cut at the right edge.
    marks = [{"x": x(moment), "label": label,
              "anchor": "end" if x(moment) > width - 60 else "start" if x(moment) < left + 40 else "middle"}
             for moment, label in ((session.started_at, "Exam started"), (session.ended_at, "Exam ended")) if moment]
    return {"width": width, "height": frame_y + 40, "left": left, "rows": rows, "frame_y": frame_y,
            "ticks": ticks, "axis": axis, "axis_y": frame_y + 30, "marks": marks}


# A frame received more than two capture intervals (and at least LATE_FRAME_SECONDS) after it was taken was kept by
# the browser (offline) and sent later: what it shows was not seen live. Marked on the timeline and counted: a student
# can go offline and then send frames of their choosing dated inside the gap (an attacker's audit; a fixed 30 s let
# a client hold every frame 28 s unmarked, a re-audit). The capture time is the client's: this marks, never proves.
LATE_FRAME_SECONDS = 10


def late_frame(frame: dict[str, Any], interval_seconds: int = 5) -> bool:
    received, captured = frame.get("received_at"), frame.get("captured_at")
    return bool(received and captured and (received - captured).total_seconds() > max(
        LATE_FRAME_SECONDS, 2 * interval_seconds))


def _exam_rows(exam: Exam, incidents: list[Incident]) -> list[dict[str, Any]]:
    """One row per session: risk, incident counts and score (incidents and answers fetched once for the exam)."""
    by_session: dict[int, list[Incident]] = {}
    for incident in incidents:
        by_session.setdefault(incident.session_id, []).append(incident)
    rows = []
    scores = exam_scores(exam_id=exam.pk)
    for session in ExamSession.objects.filter(exam=exam).select_related("student"):
        own = by_session.get(session.pk, [])
        counts = review.summary_counts(own)
        rows.append({"session": session, "risk": review.risk(own)[0], "counts": counts,
                     "incidents": counts["total"], "score": scores.get(session.pk) or session_score(session)})
    return sorted(rows, key=lambda row: -row["risk"])


@login_required
@role_required(*STAFF)
def exam_report(request: HttpRequest, pk: int) -> HttpResponse:
    exam = access_exam_by_id(actor=request.user, exam_id=pk)
    incidents = list(Incident.objects.filter(session__exam=exam))
    rows = _exam_rows(exam, incidents)
    counts = review.summary_counts(incidents)
    most = max(counts["by_kind"].values(), default=1)
    by_kind = sorted(((IncidentKind(k).label, n, round(100 * n / most)) for k, n in counts["by_kind"].items()),
                     key=lambda row: -row[1])
    return render(request, "reports/exam.html", {"exam": exam, "rows": rows, "counts": counts, "by_kind": by_kind,
                                                 "confirmed": sum(i.review_status == ReviewStatus.CONFIRMED
                                                                  for i in incidents if not i.during_check)})


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(cell: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (=, +, -, @, a tab or a carriage return first), kept
    as text with a leading apostrophe (OWASP's CSV injection advice); numbers and other text as they are. A student
    named '=HYPERLINK(...)' at import was written raw into the exam's CSV (an audit)."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def _local_iso(moment: datetime | None) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


@login_required
@role_required(*STAFF)
def exam_report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    exam = access_exam_by_id(actor=request.user, exam_id=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="exam-{exam.pk}-report.csv"'
    writer = csv.writer(response)
    kinds = IncidentKind.values
    # Times in the viewer's zone (accounts.middleware.TimeZoneMiddleware), with their UTC offset.
    # incidents, reviewed, unreviewed and the kinds: the exam's own; check_incidents: seen during the camera check
    # before it (never in its risk). A cell that a spreadsheet would read as a formula is written as text.
    writer.writerow(["session", "student", "email", "student_number", "status", "started_at", "ended_at", "risk",
                     "incidents", "reviewed", "unreviewed", "score", "max_score", "graded", *kinds,
                     "check_incidents", "end_reason"])
    for row in _exam_rows(exam, list(Incident.objects.filter(session__exam=exam))):
        session, counts, score = row["session"], row["counts"], row["score"]
        # A session that never began has no score (not 0 points, graded): the exam was not sat.
        sat = session.started_at is not None
        writer.writerow([spreadsheet_text(cell) for cell in (
            session.pk, session.student.full_name, session.student.email,
            session.student.student_number, session.status, _local_iso(session.started_at),
            _local_iso(session.ended_at), row["risk"], row["incidents"],
            counts["reviewed"], counts["open"], score.earned if sat else "", score.maximum,
            score.state if sat else "not sat",
            *(counts["by_kind"].get(kind, 0) for kind in kinds), counts["check"], session.end_reason)])
    return response
