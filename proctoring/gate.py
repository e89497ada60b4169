"""Reads of the gate before an exam: the identity verdict of each frame, failed tries, liveness and
the photo-ID fallback, as the student's check page follows them (``gate_status``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.errors import AppError
from exams.models import ExamSession
from exams.policy import CHECK_FACE_DETECTION, CHECK_PERSON_RECOGNITION, EXEMPT_LIVENESS
from exams.statuses import ApprovalStatus, SessionStatus
from proctoring import liveness, selectors
from proctoring.identity import REASON_MESSAGES
from proctoring.models import FaceRegistration, Frame, FrameStatus, IdentityApproval

# The gate reads at most this many of a session's latest frames (a student stays there minutes, not hours).
GATE_FRAMES = 200


def frame_identity(frame: Frame, *, has_reference: bool) -> dict[str, Any] | None:
    """``{"passed", "reason", "message"}`` of an analysed session frame (None: not analysed, or no
    identity check). Reads the 1:1 verification of the frame when the pipeline recorded one
    (``selectors.frame_identity``); otherwise derives the reason from the five checks. A pass before the identity
    held (``selectors.identity_held``) is "confirming", as the start rule reads it."""
    if frame.status != FrameStatus.DONE:
        return None
    identity = selectors.frame_identity(frame)
    if identity is None or identity["reason"] not in REASON_MESSAGES:
        checks = {c.get("TestName"): c for c in frame.checks or [] if isinstance(c, dict)}
        recognition = checks.get(CHECK_PERSON_RECOGNITION)
        if recognition is None:
            return None
        passed = recognition.get("Success") is True
        reason = "match" if passed else _reason_without_verification(frame, checks, has_reference)
        identity = {"passed": passed, "reason": reason, "message": REASON_MESSAGES[reason]}
    if identity["passed"] and not selectors.held(frame.findings):
        return {"passed": False, "reason": "confirming", "message": REASON_MESSAGES["confirming"]}
    return identity


def _reason_without_verification(frame: Frame, checks: dict[str, Any], has_reference: bool) -> str:
    if not has_reference:
        return "no_reference"
    faces: Any = None
    if isinstance(frame.findings, dict) and isinstance(frame.findings.get("FaceDetails"), list):
        faces = len(frame.findings["FaceDetails"])
    elif CHECK_FACE_DETECTION in checks:
        faces = checks[CHECK_FACE_DETECTION].get("Details")
    if faces == 0:
        return "no_face"
    if isinstance(faces, int) and faces > 1:
        return "several_faces"
    return "not_matching"


def _gate_frames(session: ExamSession) -> list[Frame]:
    """The session's latest analysed frames (at most GATE_FRAMES), newest first."""
    return list(Frame.objects.filter(session_id=session.pk, status=FrameStatus.DONE).order_by("-captured_at", "-pk")
                .only("status", "captured_at", "received_at", "checks", "findings")[:GATE_FRAMES])


def _window_of(latest: list[Frame], window: datetime) -> list[tuple[datetime, Any, datetime]] | None:
    """What ``session_liveness``'s query reads, taken from ``latest`` (``_gate_frames``) when that holds every frame
    captured since ``window``: fewer than GATE_FRAMES frames, or its oldest before the window. None otherwise."""
    if len(latest) >= GATE_FRAMES and latest[-1].captured_at >= window:
        return None
    return [(f.captured_at, f.findings, f.received_at) for f in reversed(latest) if f.captured_at >= window]


def has_reference(session: ExamSession) -> bool:
    return FaceRegistration.objects.filter(student_id=session.student_id).exists()


def session_liveness(session: ExamSession, *, now: datetime | None = None, reference: bool | None = None,
                     since: datetime | None = None, latest: list[Frame] | None = None) -> liveness.Liveness:
    """The liveness challenge judged on the session's frames of the last LIVENESS_PASS_MAX_AGE seconds whose
    face is the student's own (``liveness.own_face``), or, after a proctor approved their photo ID, the face of
    the live photo the proctor approved. ``latest``: the session's frames as ``_gate_frames`` read them, used
    instead of reading the window again when they hold all of it (the gate's status read both, on every poll of the
    check page: scripts/profile_frame_cost.py)."""
    now = now or timezone.now()
    window = now - timedelta(seconds=settings.LIVENESS_PASS_MAX_AGE)
    frames = _window_of(latest, window) if latest is not None and since is None else None
    if frames is None:
        query = Frame.objects.filter(session_id=session.pk, status=FrameStatus.DONE, captured_at__gte=window)
        if since is not None:  # only frames that arrived after it (the tries since a denial)
            query = query.filter(received_at__gt=since)
        frames = list(query.order_by("captured_at", "pk").values_list("captured_at", "findings",
                                                                      "received_at")[:GATE_FRAMES])
    reference = has_reference(session) if reference is None else reference
    approved_at = session.identity_approved_at

    def counts(at: datetime, findings: Any) -> bool:
        # Only the student's own head turns: a frame of anyone else is skipped, as a frame without one face is.
        # Once a proctor approved the photo ID, a frame after it counts when its face is the approved live photo's
        # (proctoring.approvals.approved_live_similarity), whose face need not match the references (the approval
        # exists for that). Before, any face's turns counted after an approval: an impostor approved on photos of
        # the student turned their own head.
        floor = settings.LIVENESS_MIN_SIMILARITY
        if approved_at is not None and at >= approved_at and liveness.approved_face(findings, min_similarity=floor):
            return True
        return liveness.own_face(findings, min_similarity=floor, has_reference=reference)

    read = [(at, received, counts(at, findings), liveness.yaw_of(findings)) for at, findings, received in frames]
    samples = [(at, yaw if own else None) for at, _, own, yaw in read]
    judged = liveness.judge(samples, turn_degrees=settings.LIVENESS_TURN_DEGREES, order=challenge_order(session))
    # How long they tried, by the server's clock (when the frames arrived): a client chooses its frames' capture
    # times, and sent 30 frames in 3 s dated 2 s apart (an attacker's audit).
    tried = [received for _, received, own, yaw in read if own and yaw is not None]
    judged = replace(judged, tried_seconds=(max(tried) - min(tried)).total_seconds() if tried else 0.0)
    if not judged.passed and approved_at is not None and liveness_excused(session):
        # A proctor saw the student live on the check's frames and excused the turns for this session. Someone must
        # still be at the camera after the decision: a frame since then whose face is the approved live photo's or
        # the student's own (an attacker's audit: with the turns excused, anyone started the exam). It holds until the
        # session starts, as the approval itself does (``at`` is now: the pass is current).
        if not any(own and received >= approved_at for _, received, own, _ in read):
            return replace(judged, step=liveness.STEP_FACE, order=(), turns_done=0)
        return liveness.Liveness(passed=True, step=liveness.STEP_EXCUSED, order=(), at=now, seen=judged.seen,
                                 tried_seconds=judged.tried_seconds)
    return judged


def liveness_excused(session: ExamSession) -> bool:
    """Whether the proctor's approval that let this session's identity in (the latest, the one that set
    ``identity_approved_at``) also excused its head turns (the fallback when the turns stall, ``liveness_stalled``).
    An earlier approval's excuse does not carry over: after an admin's reset, or a later approval that did not excuse
    them (an attacker's audit started an exam so)."""
    approval = approval_in_force(session)
    return approval is not None and approval.liveness_excused


def approval_in_force(session: ExamSession) -> IdentityApproval | None:
    """The proctor's approval that let this session's identity in: the one that set ``identity_approved_at`` (None
    without one, or after an admin's reset cleared it)."""
    if session.identity_approved_at is None:
        return None
    return (IdentityApproval.objects.filter(session_id=session.pk, status=ApprovalStatus.APPROVED,
                                            decided_at__gte=session.identity_approved_at)
            .select_related("decided_by").order_by("-decided_at", "-pk").first())


def liveness_stalled(session: ExamSession, alive: liveness.Liveness) -> bool:
    """Whether the student has tried the head turns long enough without passing: their own face read on
    LIVENESS_FALLBACK_AFTER frames of the window (an honest student whose turns the mesh cannot read, or a camera
    that cannot face them, is otherwise stuck for good). A still photo held up stalls too: the fallback puts a
    proctor, who sees the check's frames, in front of it; it never passes by itself."""
    return (CHECK_PERSON_RECOGNITION in session.exam.checks_enabled and EXEMPT_LIVENESS not in session.exempt_checks
            and not alive.passed and alive.seen >= settings.LIVENESS_FALLBACK_AFTER
            and alive.tried_seconds >= settings.LIVENESS_FALLBACK_AFTER * STALL_SECONDS_A_FRAME)


# The check page sends a frame every 2 s: LIVENESS_FALLBACK_AFTER frames must also span that long, by the server's
# clock, less a little for the network's jitter.
STALL_SECONDS_A_FRAME = 1.8


def challenge_order(session: ExamSession) -> liveness.Order:
    """The head turns this session is asked for, in order (server-chosen; see liveness.challenge_order)."""
    return liveness.challenge_order(session_id=session.pk, secret=settings.SECRET_KEY)


def latest_liveness_pass(session: ExamSession) -> datetime | None:
    """When the session last passed the liveness challenge (registered in exams.liveness)."""
    return session_liveness(session).at


def latest_approval(session: ExamSession) -> IdentityApproval | None:
    return IdentityApproval.objects.filter(session_id=session.pk).order_by("-requested_at", "-pk").first()


def fallback_offered(session: ExamSession, *, frames: list[Frame] | None = None,
                     reference: bool | None = None, alive: liveness.Liveness | None = None) -> bool:
    """Whether the student may ask a proctor to check their photo ID instead (``fallback_reason``)."""
    return bool(fallback_reason(session, frames=frames, reference=reference, alive=alive))


def fallback_reason(session: ExamSession, *, frames: list[Frame] | None = None,
                    reference: bool | None = None, alive: liveness.Liveness | None = None) -> str:
    """Why the student may ask a proctor to check their photo ID instead: "identity", "head_turns" or "" (not now).

    "identity": always when the exam requires a photo ID; at once when the student has no reference photo;
    after IDENTITY_FALLBACK_AFTER frames of the gate judged "not matching", or UNCLEAR_FALLBACK_AFTER judged too
    dark, too far or blurred (a student whose camera cannot do better; an audit's soft camera was told "hold still"
    ten times and never offered a way on). "head_turns": when the turns stall (``liveness_stalled``), even after a
    proctor approved: the proctor may then excuse the turns. Never twice at once.
    ``alive``: the session's liveness, when the caller judged it already.
    """
    if IdentityApproval.objects.filter(session_id=session.pk, status=ApprovalStatus.PENDING).exists():
        return ""
    # Not again at once after a denial: the student tries the camera again first, and the next proctor sees the
    # denial (an attacker's audit asked four times in a second until a proctor would excuse the turns).
    denied = (IdentityApproval.objects.filter(session_id=session.pk, status=ApprovalStatus.DENIED)
              .order_by("-decided_at").values_list("decided_at", flat=True).first())
    if denied is not None and timezone.now() - denied < timedelta(seconds=ASK_AGAIN_AFTER_DENIAL_SECONDS):
        return ""
    reference = has_reference(session) if reference is None else reference

    def turns() -> str:
        # After a denial, only the tries since: the student tries the turns again, and asks again after a new minute
        # of them (a re-audit waited the 60 s out and the next proctor saw the frames the first one had denied).
        tried = session_liveness(session, reference=reference, since=denied) if denied is not None else \
            alive or session_liveness(session, reference=reference)
        return "head_turns" if liveness_stalled(session, tried) else ""

    if session.identity_approved_at is not None:
        return turns()
    if session.exam.require_photo_id or not reference:
        return "identity"
    frames = frames if frames is not None else _gate_frames(session)
    if failed_tries(frames, reference=reference) >= settings.IDENTITY_FALLBACK_AFTER or \
            failed_tries(frames, reference=reference, reasons=UNCLEAR) >= UNCLEAR_FALLBACK_AFTER:
        return "identity"
    return turns()


ASK_AGAIN_AFTER_DENIAL_SECONDS = 60
UNCLEAR = frozenset({"too_dark", "too_far", "blurred"})  # not "turned_away": the head turns make those
UNCLEAR_FALLBACK_AFTER = 10


def failed_tries(frames: list[Frame], *, reference: bool, reasons: frozenset[str] = frozenset({"not_matching"})
                 ) -> int:
    """How many of ``frames`` the identity check judged for one of ``reasons`` (by default "not matching": a clear
    face that is not theirs)."""
    verdicts = (frame_identity(frame, has_reference=reference) for frame in frames)
    return sum(1 for verdict in verdicts if verdict and verdict["reason"] in reasons)


def gate_status(session: ExamSession) -> dict[str, Any]:
    """What the student's check page shows: their identity verdict (never a name or a score), the
    liveness step, the fallback and whether the exam may start now (exams.taking's one rule)."""
    from exams.taking import session_start_check  # exams' rule; imported late as proctoring.selectors does

    reference = has_reference(session)
    frames = _gate_frames(session)
    identity = next((v for v in (frame_identity(f, has_reference=reference) for f in frames[:1]) if v), None)
    needs_identity = CHECK_PERSON_RECOGNITION in session.exam.checks_enabled
    alive = session_liveness(session, reference=reference, latest=frames)
    approval = latest_approval(session)
    fallback = fallback_reason(session, frames=frames, reference=reference, alive=alive) \
        if needs_identity and session.status == SessionStatus.CHECKING else ""
    blocker = ""
    can_start = False
    if session.status == SessionStatus.CHECKING:
        try:
            session_start_check(session=session, liveness_at=alive.at)
        except AppError as exc:
            blocker = exc.message
        else:
            can_start = True
    return {
        "status": session.status,
        "identity": identity if needs_identity else None,
        "failed_tries": failed_tries(frames, reference=reference) if needs_identity else 0,
        "fallback": bool(fallback),
        "fallback_for": fallback,  # the page's words: "identity" or "head_turns" (the turns stalled)
        "photo_id_required": needs_identity and session.exam.require_photo_id,
        "approval": None if approval is None else {
            "status": approval.status, "note": approval.note if approval.status == ApprovalStatus.DENIED else "",
            # What it was asked for, and whether it excused the turns: the page words the decision so (an attacker's
            # audit: a denial of the turns read "could not confirm your identity" to an honest student).
            "for": "head_turns" if approval.turns_stalled else "identity", "excused": approval.liveness_excused,
        },
        "identity_approved": session.identity_approved_at is not None,
        "liveness": {"required": needs_identity, "passed": alive.passed, "step": alive.step,
                     "order": list(alive.order), "turns_done": alive.turns_done, "instruction": alive.instruction}
        if EXEMPT_LIVENESS not in session.exempt_checks else {
            "required": False, "passed": True, "step": "exempt", "order": [], "turns_done": 0,
            "instruction": "Not needed: your institution excused you from the head turns."},
        "can_start": can_start,
        "blocker": blocker,
        # The exam closed (while the student waited for a proctor, say): the page says so instead of waiting on.
        "closed": bool(session.exam.closes_at and timezone.now() >= session.exam.closes_at),
    }
