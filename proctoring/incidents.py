"""Incident rules: a condition that holds on k of the session's latest n frames (or for S seconds)
opens an incident; once it has not held for n frames running, the incident closes.

k is the exam's ``debounce_frames``; the window n = 2k - 1 catches a condition that comes and goes
(a phone raised between frames) while a single noisy frame never opens anything (k >= 2), and an
incident does not close and reopen while the condition flickers. Accusing kinds (``MIN_FRAMES``)
stay strict: k consecutive frames, and the first frame without closes; but a frame whose face cannot be
judged (``NEUTRAL``: too dark, blurred, too far) neither counts nor breaks them. An object of interest or a
second person (``SPARSE``) also opens on 2k of the latest 6k frames: a phone raised on one frame in three.

Called inside the analysis transaction with the session row locked, so frames of one session are
judged one at a time. A frame older than the newest judged one (kept offline, or a late retry) counts
what it shows but clears nothing. Each change of the session's status
(the pre-exam check ends, the exam starts, the session ends) closes what is open (``session_changed``).

An incident lasts as far as the frames show it: while open, ``ended_at`` is the capture time of the latest
frame that showed it (as a talking incident's is the end of the latest speech), and it closes at the first
frame after that one (or, when none came before the session ended, at that last frame). Its length, which the
risk score counts, never grows while no frame shows it: a camera that stopped during an open incident added
a point a minute until the session ended (an audit's finding).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from exams.models import ExamSession
from exams.statuses import ACCEPTS_FRAMES, SessionStatus
from proctoring.models import CheckStreak, Frame, FrameStatus, Incident, IncidentKind, ReviewStatus, Severity
from proctoring.outbox import outbox_add

SEVERITY = {
    IncidentKind.WRONG_PERSON: Severity.HIGH,
    IncidentKind.MULTIPLE_PEOPLE: Severity.HIGH,
    IncidentKind.UNSAFE_CONTENT: Severity.HIGH,
    IncidentKind.CAMERA_FROZEN: Severity.HIGH,  # as the camera stopped (review.BROWSER_EVENTS): nothing is seen
    IncidentKind.CAMERA_COVERED: Severity.MEDIUM,  # nothing is seen either, but a room can go dark by itself
    IncidentKind.OBJECT_OF_INTEREST: Severity.MEDIUM,
    IncidentKind.MULTIPLE_FACES: Severity.MEDIUM,
    IncidentKind.UNREGISTERED_FACE: Severity.MEDIUM,
    IncidentKind.NO_FACE: Severity.LOW,
    IncidentKind.FACE_NOT_VERIFIABLE: Severity.LOW,
    IncidentKind.IDENTITY_UNCLEAR: Severity.LOW,
    IncidentKind.NO_PERSON: Severity.LOW,
    IncidentKind.LOOKING_AWAY: Severity.LOW,
}
FRAME_KINDS = list(SEVERITY)
# Kinds that accuse: whatever the exam's debounce, they need this many consecutive frames. A "someone
# else" incident needs the 1:1 check to fail on a clear face frame after frame, not one odd frame.
MIN_FRAMES = {IncidentKind.WRONG_PERSON: 3, IncidentKind.IDENTITY_UNCLEAR: 3,
              # A frozen camera repeats the frame before on every frame; three in a row are not a chance (camera).
              IncidentKind.CAMERA_FROZEN: 3}
# Frames that say nothing about an accusing kind: the face too dark, blurred or far to judge. One such frame of an
# impostor once split a "someone else" incident in two (or opened it 30 s late); now it neither counts nor breaks it.
# A face that matched weakly (IDENTITY_UNCLEAR: checks.CLEARLY_SOMEONE_ELSE_BELOW) is neutral to "someone else" too:
# one such frame in three kept a look-alike impostor from ever opening it (an audit). A clear failure does break a
# stretch of weak matches: the frames of one impostor open "someone else", not that and "not clearly" besides.
NEUTRAL = {IncidentKind.WRONG_PERSON: {IncidentKind.FACE_NOT_VERIFIABLE, IncidentKind.IDENTITY_UNCLEAR},
           IncidentKind.IDENTITY_UNCLEAR: {IncidentKind.FACE_NOT_VERIFIABLE}}
# Kinds that need at least this k (of 2k - 1) whatever the exam's debounce: a student glances at the
# keyboard or the ceiling all the time; only a look away that lasts is worth a reviewer's time.
MIN_WINDOW = {IncidentKind.LOOKING_AWAY: 3}
# Kinds that also open on a sparse, longer window: 2k of the latest 6k frames (4 of 12 at the default k = 2, a minute
# at one frame every 5 s). A phone raised, or a second person leaning in, on one frame in three never holds on 2 of
# 3 frames, and an audit's cheater did both that way for as long as they liked (0 of 6 sessions flagged, risk 0);
# one noisy frame, or two in a minute, still opens nothing. Measured with the audit's sessions (services.frame_analyze,
# the default policy, 48 frames each): a second person or half a face on one frame in three, 0/3 -> 3/3 flagged (High);
# 60 honest sessions of 15 people (dev set G and webcam clips, sitting still or glancing aside), 6 with a second-person
# incident either way (two people with a chair or people at the frame's edge behind them), no new one.
SPARSE = {IncidentKind.OBJECT_OF_INTEREST, IncidentKind.MULTIPLE_PEOPLE, IncidentKind.MULTIPLE_FACES}


HELD = "1"  # in CheckStreak.window, one character a frame, latest first: "1" held, "0" did not
# A condition that comes back this soon after its incident closed, before anyone reviewed it, reopens that incident
# (``details["returns"]`` counts how often): one behaviour that comes and goes (a phone on two frames, off three)
# made six incidents in 2.5 minutes for a reviewer to decide one by one (an audit). The risk counted them once
# already (review.RECURRENCE_SECONDS).
RETURN_SECONDS = 60


def rule(kind: str, exam: Any) -> tuple[int, int]:
    """(k, n): the kind opens an incident when it holds on k of the latest n frames."""
    k = max(1, exam.debounce_frames, MIN_FRAMES.get(kind, 1), MIN_WINDOW.get(kind, 1))
    return (k, k) if kind in MIN_FRAMES else (k, 2 * k - 1)


def sparse_rule(kind: str, exam: Any) -> tuple[int, int] | None:
    """(k, n) of the kind's sparse window (``SPARSE``), or None: it has none, or one no wider than its rule's (a
    debounce of 1 opens on any frame; the window is kept in ``CheckStreak.window``, at most 200 frames)."""
    if kind not in SPARSE:
        return None
    k, n = rule(kind, exam)
    sparse = (2 * k, min(6 * k, 199))
    return sparse if k > 1 and sparse[1] > n else None


def incident_payload(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.pk, "institution_id": incident.institution_id, "session_id": incident.session_id,
        "exam_id": incident.session.exam_id, "student_id": incident.session.student_id,
        "kind": incident.kind, "severity": incident.severity, "is_open": incident.is_open,
        "started_at": incident.started_at.isoformat(), "version": incident.version,
        "ended_at": incident.ended_at.isoformat() if incident.ended_at else None,
        "frame_count": incident.frame_count, "review_status": incident.review_status,
        "during_check": incident.during_check,
    }


def publish(incident: Incident) -> None:
    """Mirror the incident's current state to the stores (DynamoDB) through the outbox."""
    outbox_add(topic="incidents.put", payload=incident_payload(incident))


def apply_frame(*, frame: Frame, kinds: set[str], exam: Any) -> list[Incident]:
    """Advance the session's streaks with this frame; answers incidents opened or closed by it."""
    status = frame.session.status
    if status not in ACCEPTS_FRAMES:
        return []  # analysed after its stretch ended: the result is kept, nothing reopens
    if status == SessionStatus.IN_PROGRESS and frame.session.started_at and \
            frame.captured_at < frame.session.started_at:
        return []  # taken during the check, analysed once the exam began
    # Frames come every few seconds: they also end a talking incident once the student has been quiet
    # for the exam's speech window (no speech segment arrives to say so).
    # Both asked in one question, nearly always answered no (a query a frame: scripts/profile_frame_cost.py).
    quiet_since = frame.captured_at - timedelta(seconds=exam.speech_window_seconds)
    if Incident.objects.filter(Q(kind=IncidentKind.TALKING, ended_at__lt=quiet_since) | Q(
            kind=IncidentKind.CAMERA_STOPPED, started_at__lt=frame.captured_at - CAPTURE_KEPT_AHEAD,
            details__has_key="left_at"),
            session_id=frame.session_id, is_open=True).exists():
        close_quiet_talking(session_id=frame.session_id, now=frame.captured_at,
                            window_seconds=exam.speech_window_seconds)
        _camera_runs(frame)
    # A late frame (kept offline by the browser, or retried, while newer ones were judged) is still evidence of what
    # happened when it was taken: what it shows counts, but what it does not show clears nothing (the newer frames
    # say how things are now). It once counted for nothing, and a frame that claimed an earlier capture time
    # escaped the rules.
    # Asked only of a kind the frame does not show that has something to clear: on a quiet frame, not at all.
    late = functools.cache(lambda: Frame.objects.filter(session_id=frame.session_id, status=FrameStatus.DONE,
                                                        captured_at__gt=frame.captured_at).exists())
    # An accommodation's exempt checks (exams.accommodations) never hold for this student: the frame's
    # findings keep them (a reviewer sees what the engine saw), but no streak counts them.
    kinds = set(kinds) - frame.session.exempt_checks
    streaks = {s.kind: s for s in CheckStreak.objects.filter(session_id=frame.session_id).order_by()}  # (unordered:
    # an ORDER BY costs compiling on every frame)
    # The open incidents this frame extends or closes, in one query (not one each); one that closes reads its
    # last frame then (joining it here would cost every frame that extends one).
    involved = [s.incident_id for s in streaks.values() if s.incident_id]
    open_incidents = Incident.objects.select_related("session").in_bulk(involved) if involved else {}
    changed = []
    for kind in FRAME_KINDS:
        streak = streaks.get(kind) or CheckStreak(session_id=frame.session_id, kind=kind)
        if kind not in kinds and not (streak.window or streak.frames or streak.incident_id):
            continue
        k, n = rule(kind, exam)
        sparse = sparse_rule(kind, exam)
        held = kind in kinds
        if not held and (NEUTRAL.get(kind, set()) & kinds or late()):
            continue
        # An accusing kind needs consecutive frames: a frame without it starts over.
        restart = not held and kind in MIN_FRAMES
        kept = max(n, sparse[1] if sparse else 0)
        streak.window = "" if restart else ((HELD if held else "0") + streak.window)[:kept]
        if held:
            changed += _holds(streak, frame, exam, (k, n), sparse, open_incidents)
        elif HELD not in streak.window[:n]:
            # Gone from the rule's window: what it opened closes. The sparse window keeps counting the frames
            # that showed it until none of its frames does.
            changed += _clears(streak, frame, open_incidents, keep_window=HELD in streak.window)
        streak.save()
    return changed


def _holds(streak: CheckStreak, frame: Frame, exam: Any, rule_: tuple[int, int], sparse: tuple[int, int] | None,
           open_incidents: dict[int, Incident]) -> list[Incident]:
    k, n = rule_
    if streak.frames == 0:
        streak.since, streak.since_frame = frame.captured_at, frame
    streak.frames += 1
    if streak.incident_id and open_incidents[streak.incident_id].review_status != ReviewStatus.PENDING:
        # Decided while it went on: the decision stands on what the reviewer saw, and what comes after it is a new
        # incident to review (an audit: a dismissal absorbed the next 30 minutes of a second person, unreviewed and
        # out of the risk; a confirmation grew from 1 to 32 minutes under the same note).
        decided = open_incidents[streak.incident_id]
        close_at(decided, decided.ended_at or frame.captured_at)
        streak.frames, streak.since, streak.since_frame = 1, frame.captured_at, frame
        incident = Incident.objects.create(
            institution_id=frame.institution_id, session_id=frame.session_id, kind=streak.kind,
            severity=SEVERITY[streak.kind], started_at=frame.captured_at, ended_at=frame.captured_at,
            first_frame=frame, last_frame=frame, evidence_frame=frame, frame_count=1,
            details={"findings": frame.findings, "checks": frame.checks, "after_decided": decided.pk},
            during_check=decided.during_check,
        )
        streak.incident = incident
        publish(incident)
        return [decided, incident]
    if streak.incident_id:
        # A new version, mirrored: DynamoDB's frame count follows an open incident as it grows.
        incident = open_incidents[streak.incident_id]
        incident.last_frame, incident.frame_count = frame, streak.frames
        incident.ended_at = max(incident.ended_at or frame.captured_at, frame.captured_at)  # seen until
        incident.version += 1
        incident.save(update_fields=["last_frame", "frame_count", "ended_at", "version"])
        publish(incident)
        return []
    held_for = (frame.captured_at - streak.since).total_seconds()
    recent = streak.window[:n].count(HELD)
    if recent < MIN_FRAMES.get(streak.kind, 1):
        return []
    by_sparse = sparse is not None and recent < k and streak.window[:sparse[1]].count(HELD) >= sparse[0]
    if recent < k and not by_sparse and not (exam.debounce_seconds and held_for >= exam.debounce_seconds):
        return []
    # Dated from the first of the sparse window's frames that showed it (the rule's own window may have closed in
    # between: the streak then started again at a later one).
    seen = _date_from_window(streak, frame, sparse[1]) if by_sparse else None
    during_check = frame.session.status != SessionStatus.IN_PROGRESS
    returned = (Incident.objects.filter(session_id=frame.session_id, kind=streak.kind, is_open=False,
                                        during_check=during_check, review_status=ReviewStatus.PENDING,
                                        ended_at__gte=streak.since - timedelta(seconds=RETURN_SECONDS))
                .order_by("-ended_at", "-pk").first())
    if returned is not None:
        # The same condition back within RETURN_SECONDS of its last incident, not reviewed yet: that incident again.
        if seen is None:
            streak.frames += returned.frame_count
        else:  # the sparse window's frames since that incident's last (the earlier ones are in its count)
            last_seen = returned.last_frame.captured_at if returned.last_frame_id else returned.ended_at
            streak.frames = returned.frame_count + sum(1 for at in seen if at > last_seen)
        returned.is_open, returned.last_frame, returned.frame_count = True, frame, streak.frames
        returned.ended_at = max(returned.ended_at or frame.captured_at, frame.captured_at)
        returned.details = {**(returned.details or {}), "returns": int((returned.details or {}).get("returns", 0)) + 1}
        returned.version += 1
        returned.save(update_fields=["is_open", "last_frame", "frame_count", "ended_at", "details", "version"])
        streak.incident = returned
        publish(returned)
        return [returned]
    incident = Incident.objects.create(
        institution_id=frame.institution_id, session_id=frame.session_id, kind=streak.kind,
        severity=SEVERITY[streak.kind], started_at=streak.since, ended_at=frame.captured_at,
        first_frame=streak.since_frame, last_frame=frame, evidence_frame=frame, frame_count=streak.frames,
        details={"findings": frame.findings, "checks": frame.checks},
        during_check=during_check,
    )
    streak.incident = incident
    publish(incident)
    return [incident]


def _clears(streak: CheckStreak, frame: Frame, open_incidents: dict[int, Incident], *,
            keep_window: bool = False) -> list[Incident]:
    closed = []
    if streak.incident_id:
        incident = open_incidents[streak.incident_id]
        close_at(incident, _first_frame_after(incident) or frame.captured_at)
        closed.append(incident)
    window = streak.window
    _reset(streak)
    if keep_window:
        streak.window = window
    return closed


def _date_from_window(streak: CheckStreak, frame: Frame, n: int) -> list[datetime]:
    """Start the streak at the first of its latest ``n`` judged frames that held (``streak.window``, latest first,
    this frame included), counting those that held; answers when those were captured. The window's frames are the
    session's latest analysed ones in capture order (a late frame, rare, is left out of the window and may shift
    this by a frame)."""
    window = streak.window[:n]
    earlier = list(Frame.objects.filter(session_id=frame.session_id, status=FrameStatus.DONE,
                                        captured_at__lt=frame.captured_at)
                   .order_by("-captured_at").only("pk", "captured_at")[:len(window) - 1])
    frames = [frame, *earlier]
    seen = [f for f, held in zip(frames, window, strict=False) if held == HELD]
    streak.since, streak.since_frame, streak.frames = seen[-1].captured_at, seen[-1], len(seen)
    return [f.captured_at for f in seen]


# How far ahead of the server's clock a frame's capture time is taken as the browser says it (proctoring.services).
CAPTURE_KEPT_AHEAD = timedelta(seconds=2)


def _camera_runs(frame: Frame) -> None:
    """A frame taken after the page said the camera stopped: it runs again (the page sends no frame while it is off),
    and that incident ends when the frame was taken. A re-audit: a student who reopened the exam in a new tab had
    the camera on, but its "camera stopped" stayed ongoing (only the tab that saw it stop says it is back)."""
    from proctoring.review import _came_back

    stopped = Incident.objects.filter(session_id=frame.session_id, kind=IncidentKind.CAMERA_STOPPED, is_open=True,
                                      details__has_key="left_at").values_list("details", flat=True).first()
    # (Its stretch: an incident stopped again within a minute keeps its first start, and a frame taken before this
    # stop, sent late, says nothing of it.)
    # (Taken later than the page's clock may run ahead of the server's: a frame taken just before the stop, still on
    # its way, stamped a second ahead, ended it at once in a second re-audit.)
    if stopped is not None and datetime.fromisoformat(stopped["left_at"]) + CAPTURE_KEPT_AHEAD < frame.captured_at:
        _came_back(frame.session, IncidentKind.CAMERA_STOPPED, frame.session.status != SessionStatus.IN_PROGRESS,
                   frame.captured_at)


def _first_frame_after(incident: Incident) -> datetime | None:
    """When the first frame after the last one that showed ``incident`` was captured (it ended there)."""
    if incident.last_frame is None:
        return None
    return (Frame.objects.filter(session_id=incident.session_id, status=FrameStatus.DONE,
                                 captured_at__gt=incident.last_frame.captured_at)
            .order_by("captured_at").values_list("captured_at", flat=True).first())


def close_at(incident: Incident, at: datetime) -> None:
    """Close ``incident`` at ``at``, mirrored."""
    incident.is_open = False
    incident.ended_at = at
    incident.version += 1
    incident.save(update_fields=["is_open", "ended_at", "version"])
    publish(incident)


def _reset(streak: CheckStreak) -> None:
    streak.frames, streak.window, streak.since, streak.since_frame, streak.incident = 0, "", None, None, None


def close_quiet_talking(*, session_id: int, now: datetime, window_seconds: int) -> list[Incident]:
    """Close the session's open talking incident (proctoring.speech) when its last speech ended more
    than the exam's speech window before ``now``; it keeps the end of that speech as its end.

    Precondition: in a transaction holding the session's row lock (frame analysis, speech ingest).
    """
    quiet = Incident.objects.filter(session_id=session_id, kind=IncidentKind.TALKING, is_open=True,
                                    ended_at__lt=now - timedelta(seconds=window_seconds))
    # Asked on every frame, and nearly always no: the narrow question costs half the CPU of reading the rows
    # with their session (the SQL's compilation is most of a query's cost here; scripts/profile_frame_cost.py).
    if not quiet.exists():
        return []
    closed = list(quiet.select_related("session"))
    for incident in closed:
        close_at(incident, incident.ended_at or now)
    return closed


def session_changed(session: ExamSession, previous: str, at: datetime) -> None:
    """A session changed status (the check ended, the exam began, the session ended): what the
    frames opened closes now, mirrored, and the next stretch starts from empty streaks. A talking
    incident closes too, at the end of the speech it heard."""
    if previous not in ACCEPTS_FRAMES:
        return  # no frames were judged in the status it left
    for incident in Incident.objects.select_related("session", "last_frame").defer(
            "last_frame__findings", "last_frame__checks", "last_frame__thumbnail").filter(
            session_id=session.pk, is_open=True, kind__in=[*FRAME_KINDS, IncidentKind.TALKING]):
        # What the frames showed, not when the session ended: the first frame after the last that showed it,
        # or that last frame (a frame incident open while no frame came ran until the end before).
        end = (_first_frame_after(incident) if incident.kind in FRAME_KINDS else None) or incident.ended_at or at
        close_at(incident, min(end, at))
    # Away from the exam tab, or the camera off, when the session changed (the page never said it was over: the
    # browser events that last, review.LASTING): until then.
    for incident in Incident.objects.select_related("session").filter(
            session_id=session.pk, is_open=True, details__source="browser", details__has_key="left_at"):
        if incident.review_status == ReviewStatus.PENDING:  # a decided one only closes: the decision stands
            details = dict(incident.details)
            left_at = datetime.fromisoformat(details.pop("left_at"))
            if left_at <= at:
                details["away_seconds"] = round(float(details.get("away_seconds", 0)) + (at - left_at).total_seconds(),
                                                1)
                incident.ended_at = max(incident.ended_at or at, at)
            incident.details = details
            incident.save(update_fields=["details", "ended_at"])
        close_at(incident, incident.ended_at or at)
    CheckStreak.objects.filter(session_id=session.pk).delete()
