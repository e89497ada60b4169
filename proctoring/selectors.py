"""Reads for the proctor's live view, the review queue and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from exams.accommodations import accommodation_summary, accommodations_by_student
from exams.identity import IdentityCheck
from exams.models import Exam, ExamSession
from exams.policy import CHECK_PERSON_RECOGNITION
from exams.statuses import ACCEPTS_FRAMES
from proctoring import attention, review
from proctoring.identity import REASON_MESSAGES
from proctoring.models import Frame, FrameStatus, Incident, ProctorMessage, ReviewStatus


def live_sessions(*, exam: Exam) -> list[dict[str, Any]]:
    """Running sessions with their latest analysed frame and open incidents (a fixed number of queries)."""
    latest = (Frame.objects.filter(session=OuterRef("pk"), status=FrameStatus.DONE)
              .order_by("-captured_at").values("pk")[:1])
    sessions = list(ExamSession.objects.filter(exam=exam, status__in=ACCEPTS_FRAMES)
                    .select_related("student").annotate(latest_frame=Subquery(latest)))
    frames = Frame.objects.filter(pk__in=[s.latest_frame for s in sessions if s.latest_frame]).only(
        "pk", "captured_at", "checks")
    frame_of = {frame.pk: frame for frame in frames}
    open_incidents: dict[int, list[dict[str, Any]]] = {}
    all_incidents: dict[int, list[Incident]] = {}
    for incident in Incident.objects.filter(session__in=sessions).order_by("started_at"):
        all_incidents.setdefault(incident.session_id, []).append(incident)
        if incident.is_open:
            open_incidents.setdefault(incident.session_id, []).append(
                {"id": incident.pk, "kind": incident.kind, "label": incident.get_kind_display(),
                 "severity": incident.severity, "started_at": incident.started_at})
    accommodations = accommodations_by_student(student_ids=[s.student_id for s in sessions])
    # Overload: frames of the last minute shed so that each student's newest frame is analysed.
    shed = dict(Frame.objects.filter(session__in=sessions, status=FrameStatus.SHED,
                                     received_at__gte=timezone.now() - timedelta(minutes=1))
                .values_list("session").annotate(count=Count("pk")).values_list("session", "count"))
    # Each session's latest message from a proctor, and whether the student acknowledged it (an audit: the card kept
    # "Message sent" for good, and nothing said the student had read it).
    messages: dict[int, dict[str, Any]] = {}
    for message in (ProctorMessage.objects.filter(session__in=sessions).order_by("session_id", "-sent_at", "-pk")
                    .values("session_id", "sent_at", "acknowledged_at")):
        messages.setdefault(message["session_id"], {"sent_at": message["sent_at"],
                                                    "acknowledged_at": message["acknowledged_at"]})
    result = []
    now = timezone.now()
    for session in sessions:
        frame = frame_of.get(session.latest_frame)
        session.exam, session._accommodation = exam, accommodations.get(session.student_id)  # no query each
        deadline = session.deadline  # the exam's duration with the student's extra time, the closing, an unlock
        own = all_incidents.get(session.pk, [])
        result.append({
            "session": session.pk, "student": str(session.student), "status": session.status,
            "frame": frame.pk if frame else None, "frame_at": frame.captured_at if frame else None,
            "checks": frame.checks if frame else [], "incidents": open_incidents.get(session.pk, []),
            "incident_count": sum(not i.during_check for i in own), "risk": review.risk(own, now=now)[0],
            "deadline": deadline, "seconds_left": max(0, int((deadline - now).total_seconds())) if deadline else None,
            "frame_age_seconds": max(0.0, round((now - frame.captured_at).total_seconds(), 1)) if frame else None,
            "accommodation": accommodation_summary(accommodations.get(session.student_id),
                                                   duration_minutes=exam.duration_minutes),
            "shed": shed.get(session.pk, 0),
            "message": messages.get(session.pk),
        })
    return result


def review_queue(*, exam_id: int | None = None, kind: str = "", severity: str = "",
                 status: str = ReviewStatus.PENDING) -> QuerySet[Incident]:
    """Incidents for review, newest first; ``status`` "" means every review status."""
    incidents = Incident.objects.select_related("session__student", "session__exam").order_by("-started_at")
    if status:
        incidents = incidents.filter(review_status=status)
    if exam_id:
        incidents = incidents.filter(session__exam_id=exam_id)
    if kind:
        incidents = incidents.filter(kind=kind)
    return incidents.filter(severity=severity) if severity else incidents


@dataclass
class ReviewGroup:
    """One session of the review queue: its risk (over all its incidents) and the incidents that match."""

    session: ExamSession
    risk: int
    incidents: list[Incident]
    total: int  # incidents of the session that match the filters (``incidents`` may be fewer)


GROUP_MAX = 50  # incidents shown per session in the queue; the session's report has them all


def review_groups(*, incidents: QuerySet[Incident], sort: str = "risk") -> list[ReviewGroup]:
    """The matching incidents grouped by session; sessions by risk, highest first (``sort="recent"``:
    the latest incident first). Three queries, whatever the number of sessions."""
    matching = list(incidents.select_related("evidence_frame").defer(
        "evidence_frame__findings", "evidence_frame__checks", "evidence_frame__thumbnail", "details"))
    by_session: dict[int, list[Incident]] = {}
    for incident in matching:
        by_session.setdefault(incident.session_id, []).append(incident)
    every: dict[int, list[Incident]] = {}
    # (The risk reads the details of the browser events that last: their time away. Others' are left unread.)
    of_sessions = Incident.objects.filter(session_id__in=list(by_session))
    for incident in sorted([*of_sessions.exclude(kind__in=list(review.LASTING)).defer("details"),
                            *of_sessions.filter(kind__in=list(review.LASTING))], key=lambda i: i.started_at,
                           reverse=True):  # (the model's order, as one query gave them)
        every.setdefault(incident.session_id, []).append(incident)
    now = timezone.now()
    groups = [ReviewGroup(session=own[0].session, risk=review.risk(every.get(session_id, own), now=now)[0],
                          incidents=own[:GROUP_MAX], total=len(own)) for session_id, own in by_session.items()]
    latest = {g.session.pk: max(i.started_at for i in g.incidents) for g in groups}
    if sort == "recent":
        return sorted(groups, key=lambda g: latest[g.session.pk], reverse=True)
    return sorted(groups, key=lambda g: (-g.risk, -latest[g.session.pk].timestamp(), g.session.pk))


DURING_SHOWN = 8  # frames of an incident shown at most (its first, its last, its evidence and others spread between)


def frames_around(incident: Incident, count: int = 3) -> list[Frame]:
    """The frames just before, during and after an incident. Of a longer incident, ``DURING_SHOWN`` of its frames spread
    over it, always its first and last and its evidence frame; each frame shown says in ``skipped`` how many of the
    incident's frames before it are not (an audit: the first six only, so a look away of 13 frames jumped from its
    6th frame to the one after it, and a student coming back was never shown)."""
    frames = Frame.objects.filter(session_id=incident.session_id, status=FrameStatus.DONE)
    before = list(frames.filter(captured_at__lt=incident.started_at).order_by("-captured_at")[:count])
    # An absence still going on: up to now (a student away from the exam tab right now: the camera's frames since they
    # left). A frame incident's own end is its last frame that showed it, open or not.
    ongoing = incident.is_open and isinstance(incident.details, dict) and incident.details.get("source") == "browser"
    end = timezone.now() if ongoing else incident.ended_at or incident.started_at
    inside = frames.filter(captured_at__gte=incident.started_at, captured_at__lte=end).order_by("captured_at")
    ids = list(inside.values_list("pk", flat=True))
    if len(ids) > DURING_SHOWN:
        spread = {ids[round(i * (len(ids) - 1) / (DURING_SHOWN - 1))] for i in range(DURING_SHOWN)}
        if incident.evidence_frame_id in ids:
            spread.add(incident.evidence_frame_id)
        position = {pk: index for index, pk in enumerate(ids)}
        during = sorted(frames.filter(pk__in=spread), key=lambda f: position[f.pk])
        shown = -1
        for frame in during:
            frame.skipped = position[frame.pk] - shown - 1
            shown = position[frame.pk]
    else:
        during = list(inside)
    after = list(frames.filter(captured_at__gt=end).order_by("captured_at")[:count])
    return list(reversed(before)) + during + after


def frame_identity(frame: Frame) -> dict[str, Any] | None:
    """What the session's student may know of a frame's 1:1 check: passed, reason and its message;
    never a similarity or whom else it resembles. None before analysis or without a verification."""
    verification = (frame.findings or {}).get("Verification") if frame.status == FrameStatus.DONE else None
    if not isinstance(verification, dict):
        return None
    reason = str(verification.get("Reason") or "")
    return {"passed": verification.get("Passed") is True, "reason": reason,
            "message": REASON_MESSAGES.get(reason, "")}


def frame_attention(frame: Frame) -> dict[str, Any] | None:
    """Whether the frame showed the student looking away from their start-of-exam pose, with what
    they are told; None when it was not judged (before analysis, the check, the exam's policy off)."""
    found = (frame.findings or {}).get("Attention") if frame.status == FrameStatus.DONE else None
    if not isinstance(found, dict):
        return None
    away = found.get("Away") is True
    return {"away": away, "message": attention.STUDENT_MESSAGE if away else ""}


def latest_identity_check(session: ExamSession) -> IdentityCheck | None:
    """The Person Recognition outcome of the session's latest analysed frame, with the verification's
    reason (registered in exams.identity). A frame of the camera check that passed while the identity had not held
    yet (``identity_held``) is no pass: its reason is "confirming"."""
    frame = (Frame.objects.filter(session_id=session.pk, status=FrameStatus.DONE)
             .order_by("-received_at", "-pk").only("received_at", "checks", "findings", "status").first())
    if frame is None:
        return None
    passed = recognised(frame.checks)
    identity = frame_identity(frame) or {}
    if passed and not held(frame.findings):
        return IdentityCheck(passed=False, at=frame.received_at, reason="confirming",
                             message=REASON_MESSAGES["confirming"])
    return IdentityCheck(passed=passed, at=frame.received_at, reason=identity.get("reason", ""),
                         message=identity.get("message", ""))


def recognised(checks: Any) -> bool:
    """Whether a frame's checks (``Frame.checks``) passed Person Recognition."""
    return any(isinstance(c, dict) and c.get("TestName") == CHECK_PERSON_RECOGNITION and c.get("Success") is True
               for c in checks or [])


# A camera check frame's findings say whether the identity held when it was analysed (``identity_held``); a carried
# frame repeats its source's. Frames without it (the exam's, and those analysed before it was kept) are judged alone.
IDENTITY_HELD = "IdentityHeld"


def held(findings: Any) -> bool:
    """Whether a frame's findings let its Person Recognition pass count at the gate (``IDENTITY_HELD``)."""
    return not isinstance(findings, dict) or findings.get(IDENTITY_HELD) is not False


def identity_held(*, session_id: int, passed: bool) -> bool:
    """Whether the identity holds with a camera check frame being analysed in full, whose Person Recognition
    ``passed``: it passed, and so did at least IDENTITY_PASS_FRAMES of the session's latest IDENTITY_PASS_WINDOW
    frames analysed in full, it among them (a carried frame repeats its source's verdict and is not counted again).
    Read under the session's lock (services.frame_analyze), before the frame is stored: one small query."""
    if not passed:
        return False
    earlier = settings.IDENTITY_PASS_WINDOW - 1
    if settings.IDENTITY_PASS_FRAMES <= 1 or earlier <= 0:
        return True
    before = (Frame.objects.filter(session_id=session_id, status=FrameStatus.DONE, carried_from__isnull=True)
              .order_by("-received_at", "-pk").values_list("checks", flat=True)[:earlier])
    return 1 + sum(recognised(checks) for checks in before) >= settings.IDENTITY_PASS_FRAMES
