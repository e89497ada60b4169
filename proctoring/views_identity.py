"""Proctors' pages of the gate's fallback: the queue of photo-ID requests, one request with the
reference photos, the ID photo and the live frame side by side, and the photos themselves."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.decorators import role_required
from accounts.errors import AppError
from accounts.models import Role
from exams.statuses import ApprovalStatus
from proctoring import approvals, liveness
from proctoring.access import access_approval_by_id
from proctoring.models import FaceRegistration, Frame, FrameStatus, IdentityApproval
from proctoring.storage import private_file_response

STAFF = (Role.ADMIN, Role.PROCTOR)


def pending_requests() -> list[IdentityApproval]:
    return list(IdentityApproval.objects.filter(status=ApprovalStatus.PENDING)
                .select_related("session__student", "session__exam").order_by("requested_at")[:200])


@login_required
@role_required(*STAFF)
def identity_queue(request: HttpRequest) -> HttpResponse:
    return render(request, "proctor/identity_queue.html", {"requests": pending_requests()})


@login_required
@role_required(*STAFF)
def identity_request(request: HttpRequest, pk: int) -> HttpResponse:
    approval = access_approval_by_id(actor=request.user, approval_id=pk)
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            decided = approvals.identity_request_decide(
                approval_id=approval.pk, proctor=request.user, decision=decision, note=request.POST.get("note", ""),
                keep_reference=request.POST.get("keep_reference") == "on",
                confirm_duplicate=request.POST.get("confirm_duplicate") == "on",
                excuse_liveness=request.POST.get("excuse_liveness") == "on")
        except AppError as exc:
            messages.error(request, exc.message)
        else:
            if approval.turns_stalled:  # a request about the head turns says what became of them
                excused = decided.approval.liveness_excused
                messages.success(request, f"Request of {approval.session.student} {decision}"
                                 + ("; head turns excused." if excused else "; head turns still asked for."
                                    if decision == "approved" else "."))
            else:
                messages.success(request, f"Photo ID of {approval.session.student} {decision}.")
            if decided.reference_error:
                messages.warning(request, f"The live photo was not kept as a reference: {decided.reference_error}")
            return redirect("identity-queue")
    references = _references(approval)
    pending = approval.status == ApprovalStatus.PENDING
    camera = camera_frames(approval)
    return render(request, "proctor/identity_request.html", {
        "approval": approval, "references": references, "similarity": approvals.approval_similarity(approval=approval),
        "duplicates": approvals.live_photo_duplicates(approval=approval) if pending else [],
        "id_similarity": approvals.id_live_similarity(approval=approval) if pending else None,
        "camera": camera, "head_turns": head_turn_range(camera) if approval.turns_stalled else None,
        # The session's other requests and their decisions: the next proctor sees a denial (an attacker's audit asked
        # again and again until one would approve).
        "earlier": IdentityApproval.objects.filter(session_id=approval.session_id).exclude(pk=approval.pk)
        .select_related("decided_by").order_by("requested_at", "pk"),
        "closed": bool(approval.session.exam.closes_at and timezone.now() >= approval.session.exam.closes_at),
    })


CAMERA_FRAMES = 4
CAMERA_FRAMES_TURNS = 10


def camera_frames(approval: IdentityApproval) -> list[dict[str, object]]:
    """The session's latest analysed frames of the check before the request, newest last, with their 1:1 verdict:
    what the camera sent, beside the live photo the browser sent with the request (a script can send any photo as
    the live photo; an audit was approved on a photo of the student while the camera showed someone else)."""
    # By the server's clock (when each arrived): a client chooses its frames' capture times, and an attacker's audit
    # showed ten frames sent within a second as "2 s apart".
    before = Frame.objects.filter(session_id=approval.session_id, status=FrameStatus.DONE,
                                  received_at__lte=approval.requested_at).order_by("-received_at", "-pk")
    fields = ("pk", "captured_at", "received_at", "findings", "image", "digest")
    # The latest frames, and the latest that did not match (those that offered the fallback): a client that sent
    # photos of the student last showed a strip of "matches" (a re-audit).
    # When the head turns stalled, more of them: the proctor judges whether a live person moves in them.
    latest = CAMERA_FRAMES_TURNS if approval.turns_stalled else CAMERA_FRAMES
    frames = {f.pk: f for f in [*before.only(*fields)[:latest],
                                *before.filter(findings__Verification__Reason="not_matching").only(*fields)[:2]]}
    shown: list[dict[str, object]] = []
    for frame in sorted(frames.values(), key=lambda f: (f.received_at, f.pk)):
        verification = (frame.findings or {}).get("Verification") if isinstance(frame.findings, dict) else None
        verification = verification if isinstance(verification, dict) else {}
        similarity = verification.get("Similarity")
        yaw = liveness.yaw_of(frame.findings)
        shown.append({"frame": frame, "passed": verification.get("Passed") is True,
                      "reason": str(verification.get("Reason") or ""),
                      "similarity": similarity if isinstance(similarity, int | float) else None,
                      "yaw": None if yaw is None else round(yaw),
                      # The very same picture as the frame before it: a still image sent again, not a camera.
                      "same": bool(frame.digest) and bool(shown) and shown[-1]["frame"].digest == frame.digest})
    return shown


def head_turn_range(shown: list[dict[str, object]]) -> tuple[int, int] | None:
    """The least and most head turn (yaw, degrees) read on the frames shown, for the proctor judging "a live person"
    when the turns stalled; None when none was read."""
    yaws = [int(item["yaw"]) for item in shown if item["yaw"] is not None]  # type: ignore[call-overload]
    return (min(yaws), max(yaws)) if yaws else None


def _references(approval: IdentityApproval) -> list[FaceRegistration]:
    """The student's own reference photos, oldest first (numbered from 1 in the page's URLs)."""
    return list(FaceRegistration.objects.filter(student_id=approval.session.student_id).exclude(image="")
                .order_by("created_at", "pk"))


@login_required
@role_required(*STAFF)
def identity_reference(request: HttpRequest, pk: int, number: int) -> FileResponse:
    """Reference photo ``number`` of the request's student: only that student's, to staff of the institution."""
    references = _references(access_approval_by_id(actor=request.user, approval_id=pk))
    if not 1 <= number <= len(references):
        raise Http404
    return private_file_response(references[number - 1].image)


@login_required
@role_required(*STAFF)
def identity_photo(request: HttpRequest, pk: int, which: str) -> FileResponse:
    """The ID photo or the live frame of a request, to staff of its institution only."""
    approval = access_approval_by_id(actor=request.user, approval_id=pk)
    return private_file_response({"id": approval.id_photo, "live": approval.live_photo}.get(which))


