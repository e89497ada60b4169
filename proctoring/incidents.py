"""Incident rules: a condition that holds for N consecutive frames (or S seconds) opens an incident;
the first frame without it closes the incident.

Called inside the analysis transaction with the session row locked, so frames of one session are
judged one at a time. A frame older than the newest judged one (a late retry) does not move the
streaks: its result is kept, but the timeline is not rewritten.
"""

from __future__ import annotations

from typing import Any

from proctoring.models import CheckStreak, Frame, FrameStatus, Incident, IncidentKind, Severity
from proctoring.outbox import outbox_add

SEVERITY = {
    IncidentKind.WRONG_PERSON: Severity.HIGH,
    IncidentKind.MULTIPLE_PEOPLE: Severity.HIGH,
    IncidentKind.UNSAFE_CONTENT: Severity.HIGH,
    IncidentKind.OBJECT_OF_INTEREST: Severity.MEDIUM,
    IncidentKind.MULTIPLE_FACES: Severity.MEDIUM,
    IncidentKind.UNREGISTERED_FACE: Severity.MEDIUM,
    IncidentKind.NO_FACE: Severity.LOW,
    IncidentKind.FACE_NOT_VERIFIABLE: Severity.LOW,
    IncidentKind.NO_PERSON: Severity.LOW,
}
FRAME_KINDS = list(SEVERITY)
# Kinds that accuse: whatever the exam's debounce, they need this many consecutive frames. A "someone
# else" incident needs the 1:1 check to fail on a clear face frame after frame, not one odd frame.
MIN_FRAMES = {IncidentKind.WRONG_PERSON: 3}


def incident_payload(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.pk, "institution_id": incident.institution_id, "session_id": incident.session_id,
        "exam_id": incident.session.exam_id, "student_id": incident.session.student_id,
        "kind": incident.kind, "severity": incident.severity, "is_open": incident.is_open,
        "started_at": incident.started_at.isoformat(), "version": incident.version,
        "ended_at": incident.ended_at.isoformat() if incident.ended_at else None,
        "frame_count": incident.frame_count, "review_status": incident.review_status,
    }


def _publish(incident: Incident) -> None:
    outbox_add(topic="incidents.put", payload=incident_payload(incident))


def apply_frame(*, frame: Frame, kinds: set[str], exam: Any) -> list[Incident]:
    """Advance the session's streaks with this frame; answers incidents opened or closed by it."""
    newer = Frame.objects.filter(session_id=frame.session_id, status=FrameStatus.DONE)
    if newer.filter(captured_at__gt=frame.captured_at).exists():
        return []
    streaks = {s.kind: s for s in CheckStreak.objects.filter(session_id=frame.session_id)}
    changed = []
    for kind in FRAME_KINDS:
        streak = streaks.get(kind) or CheckStreak(session_id=frame.session_id, kind=kind)
        if kind in kinds:
            changed += _holds(streak, frame, exam)
        elif streak.frames or streak.incident_id:
            changed += _clears(streak, frame)
        else:
            continue
        streak.save()
    return changed


def _holds(streak: CheckStreak, frame: Frame, exam: Any) -> list[Incident]:
    if streak.frames == 0:
        streak.since, streak.since_frame = frame.captured_at, frame
    streak.frames += 1
    if streak.incident_id:
        # A new version, mirrored: DynamoDB's frame count follows an open incident as it grows.
        incident = Incident.objects.select_related("session").get(pk=streak.incident_id)
        incident.last_frame, incident.frame_count = frame, streak.frames
        incident.version += 1
        incident.save(update_fields=["last_frame", "frame_count", "version"])
        _publish(incident)
        return []
    held_for = (frame.captured_at - streak.since).total_seconds()
    if streak.frames < MIN_FRAMES.get(streak.kind, 1):
        return []
    if streak.frames < exam.debounce_frames and not (exam.debounce_seconds and held_for >= exam.debounce_seconds):
        return []
    incident = Incident.objects.create(
        institution_id=frame.institution_id, session_id=frame.session_id, kind=streak.kind,
        severity=SEVERITY[streak.kind], started_at=streak.since, first_frame=streak.since_frame,
        last_frame=frame, evidence_frame=frame, frame_count=streak.frames,
        details={"findings": frame.findings, "checks": frame.checks},
    )
    streak.incident = incident
    _publish(incident)
    return [incident]


def _clears(streak: CheckStreak, frame: Frame) -> list[Incident]:
    closed = []
    if streak.incident_id:
        incident = Incident.objects.select_related("session").get(pk=streak.incident_id)
        incident.is_open = False
        incident.ended_at = frame.captured_at
        incident.version += 1
        incident.save(update_fields=["is_open", "ended_at", "version"])
        _publish(incident)
        closed.append(incident)
    streak.frames, streak.since, streak.since_frame, streak.incident = 0, None, None, None
    return closed
