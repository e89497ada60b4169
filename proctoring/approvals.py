"""The gate's fallback: a student who cannot pass the camera check sends a photo of their ID card and a
live frame; a proctor compares them with the student's reference photos and approves or denies.

Writes go through these services: the request moves the session to ``awaiting_approval``, the decision
moves it back to its checks (an approval is recorded on the session, where the start check takes it as
the identity pass). Every step is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.errors import AppError, Conflict
from accounts.models import User
from exams import taking
from exams.access import access_session_by_id
from exams.models import ExamSession
from exams.services import audit, session_transition
from exams.statuses import APPROVAL_TRANSITIONS, ApprovalStatus, SessionStatus
from proctoring import gate
from proctoring.analysis import get_backend
from proctoring.analysis.errors import INVALID_PARAMETER, error_code
from proctoring.duplicates import Duplicate, face_duplicates
from proctoring.images import FRAME_MAX_PIXELS, check_image
from proctoring.models import FaceRegistration, IdentityApproval
from proctoring.services import collection_id_for, face_register

logger = logging.getLogger(__name__)
UNCOMPARABLE = {INVALID_PARAMETER, "InvalidImageFormatException", "ImageTooLargeException"}
NOTE_MAX = 2000


def identity_request_create(*, session: ExamSession, student: User, id_photo: bytes,
                            live_photo: bytes) -> IdentityApproval:
    """Ask a proctor to check the student's photo ID; the session waits in ``awaiting_approval``.

    Precondition: ``student`` is the session's student (a student reaches only their own session).
    Refused unless the gate offers the fallback now (proctoring.gate.fallback_offered).
    """
    check_image(id_photo, max_pixels=FRAME_MAX_PIXELS)  # both come from the check page's camera
    check_image(live_photo, max_pixels=FRAME_MAX_PIXELS)
    approval: IdentityApproval | None = None
    try:
        with transaction.atomic():
            session = access_session_by_id(actor=student, session_id=session.pk, for_update=True)
            if session.student_id != student.pk:
                raise AppError("Only the session's student can send their photo ID.", code="forbidden",
                               status_code=403)
            if session.status != SessionStatus.CHECKING:
                raise Conflict(f"A session that is {session.get_status_display().lower()} takes no photo ID.",
                               code="invalid_transition")
            taking.check_not_open(session.exam, timezone.now())  # (an audit's request waited a week in the queue)
            alive = gate.session_liveness(session)
            if not gate.fallback_offered(session, alive=alive):
                raise Conflict("Keep trying the camera check first.", code="fallback_not_offered")
            approval = IdentityApproval(institution_id=session.institution_id, session=session,
                                        turns_stalled=gate.liveness_stalled(session, alive))
            approval.id_photo.save("id.jpg", ContentFile(id_photo), save=False)
            approval.live_photo.save("live.jpg", ContentFile(live_photo), save=False)
            approval.save()
            audit(institution_id=session.institution_id, actor=student, action="identity.request", target=approval,
                  data={"session": session.pk})
            session_transition(session_id=session.pk, to=SessionStatus.AWAITING_APPROVAL, actor=student)
    except BaseException:
        if approval is not None:  # no row, no file: biometric files never outlive a request that failed
            for field in (approval.id_photo, approval.live_photo):
                if field.name:
                    field.storage.delete(field.name)
        raise
    return approval


@dataclass(frozen=True)
class Decision:
    approval: IdentityApproval
    reference_error: str = ""  # why the approved live photo could not be kept as a reference


@transaction.atomic
def identity_request_decide(*, approval_id: int, proctor: User, decision: str, note: str = "",
                            keep_reference: bool = False, confirm_duplicate: bool = False,
                            excuse_liveness: bool = False) -> Decision:
    """Approve or deny a pending request (staff; the caller checked access). A denial says why: the
    student reads the note. Either way the session goes back to its checks; an approval lets it start.

    ``keep_reference``: an approved live photo also becomes one of the student's reference faces (so
    later exams verify against it too), through the registration service with its checks (one clear
    face, the cap per student, a face of another person refused). When it cannot be kept the approval
    still stands and ``Decision.reference_error`` says why.

    ``excuse_liveness``: the approval also excuses the session's head turns (the proctor saw the student live on
    the check's frames), where the turns had stalled when the student asked (``turns_stalled``, shown on the
    proctor's page); refused otherwise, so that no approval skips the turns of a student who has not tried them.

    A live face that matches another person's registered face (``live_photo_duplicates``, shown on the
    proctor's page) is approved only with ``confirm_duplicate`` (the matches are audited with the decision):
    otherwise one registered student could sit as another.
    """
    if decision not in (ApprovalStatus.APPROVED, ApprovalStatus.DENIED):
        raise AppError("Decide 'approved' or 'denied'.", code="invalid", details={"decision": ["Unknown."]})
    note = note.strip()[:NOTE_MAX]
    if decision == ApprovalStatus.DENIED and not note:
        raise AppError("Say why the photo ID was denied: the student reads it.", code="invalid",
                       details={"note": ["Required to deny."]})
    approval = IdentityApproval.objects.select_for_update(of=("self",)).get(pk=approval_id)
    reference_error = ""
    if decision not in APPROVAL_TRANSITIONS[approval.status]:
        raise Conflict(f"This request is already {approval.get_status_display().lower()}.",
                       code="already_decided", details={"from": approval.status, "to": decision})
    duplicates = live_photo_duplicates(approval=approval) if decision == ApprovalStatus.APPROVED else []
    if duplicates and not confirm_duplicate:
        best = duplicates[0]
        raise Conflict(f"The live face matches {best.registration.full_name} ({best.similarity:.1f}% similar), "
                       "registered to another person. Approve only if you have checked that it is "
                       f"{approval.session.student}, and confirm it.", code="duplicate_face",
                       details={"matches": [d.as_details() for d in duplicates]})
    excuse_liveness = excuse_liveness and decision == ApprovalStatus.APPROVED
    if excuse_liveness and not approval.turns_stalled:
        raise Conflict("The head turns can be excused only when the student asked after trying them without "
                       "passing.", code="liveness_not_stalled")
    now = timezone.now()
    previous = approval.status
    approval.status, approval.decided_by, approval.decided_at, approval.note = decision, proctor, now, note
    approval.liveness_excused = excuse_liveness
    approval.save(update_fields=["status", "decided_by", "decided_at", "note", "liveness_excused"])
    audit(institution_id=approval.institution_id, actor=proctor, action=f"identity.{decision}", target=approval,
          data={"from": previous, "session": approval.session_id, "note": note, "similarity": approval.similarity,
                **({"matches_others": [d.as_details() for d in duplicates]} if duplicates else {}),
                **({"liveness_excused": True} if excuse_liveness else {})})
    session = ExamSession.objects.select_for_update(of=("self",)).get(pk=approval.session_id)
    if decision == ApprovalStatus.APPROVED:
        ExamSession.objects.filter(pk=session.pk).update(identity_approved_at=now)
        if keep_reference and duplicates:
            # Confirming who sits this exam is not confirming a second person's face as their reference.
            reference_error = ("it matches another person's registered face; if you are sure it is theirs, register "
                               "it from the student's reference photos, confirming the duplicate there")
        elif keep_reference:
            reference_error = _keep_as_reference(approval=approval, proctor=proctor)
    if session.status == SessionStatus.AWAITING_APPROVAL:
        session_transition(session_id=session.pk, to=SessionStatus.CHECKING, actor=proctor)
    return Decision(approval=approval, reference_error=reference_error)


def _keep_as_reference(*, approval: IdentityApproval, proctor: User) -> str:
    """Register the approved live photo as the student's reference face; the reason it could not be, or ""."""
    student = approval.session.student
    try:
        with approval.live_photo.open("rb") as handle:
            live = handle.read()
        with transaction.atomic():  # a refusal leaves no row behind, and the approval stands
            registration = face_register(institution=student.institution, actor=proctor, image=live,
                                         full_name=student.full_name or student.email, student=student)
    except AppError as exc:
        return exc.message
    except OSError:
        logger.warning("Could not read the live photo of identity request %s.", approval.pk, exc_info=True)
        return "The live photo could not be read."
    audit(institution_id=approval.institution_id, actor=proctor, action="identity.reference_kept", target=approval,
          data={"session": approval.session_id, "face": str(registration.external_image_id)})
    return ""


def live_photo_duplicates(*, approval: IdentityApproval) -> list[Duplicate]:
    """Other people's registered faces that the request's live photo matches, most similar first: a 1:N search
    of the institution's faces, which staff make here (the student never sees it). [] when the live photo is
    gone, shows no face or there is nothing registered to search."""
    if not approval.live_photo:
        return []
    student = approval.session.student
    try:
        with approval.live_photo.open("rb") as handle:
            live = handle.read()
        return face_duplicates(engine=get_backend(), institution_id=approval.institution_id,
                               collection_id=collection_id_for(approval.institution_id), image=live,
                               full_name=student.full_name, student=student)
    except OSError:
        logger.warning("Could not read the live photo of identity request %s.", approval.pk, exc_info=True)
        return []
    except ClientError as exc:
        if error_code(exc) not in UNCOMPARABLE | {"ResourceNotFoundException"}:
            raise
        return []


def approval_similarity(*, approval: IdentityApproval) -> float | None:
    """The best similarity (0-100) of the live photo to the student's own reference photos, kept on the
    request. 1:1 comparisons only (the engine's CompareFaces, on either backend): never a search of
    anyone else's faces. None when a photo cannot be read or shows no face.
    """
    if approval.similarity is not None or not approval.live_photo:
        return approval.similarity
    references = FaceRegistration.objects.filter(student_id=approval.session.student_id).exclude(image="")
    engine = get_backend()
    scores = []
    try:
        with approval.live_photo.open("rb") as handle:
            live = handle.read()
        for reference in references:
            with reference.image.open("rb") as handle:
                source = handle.read()
            try:
                answer = engine.compare_faces(SourceImage={"Bytes": source}, TargetImage={"Bytes": live},
                                              SimilarityThreshold=0)
            except ClientError as exc:
                if error_code(exc) not in UNCOMPARABLE:  # no face, or a photo that does not decode: skip it
                    raise
                continue
            scores.extend(match["Similarity"] for match in answer["FaceMatches"])
    except (OSError, BotoCoreError, ClientError):
        logger.warning("Could not compare the photos of identity request %s.", approval.pk, exc_info=True)
        return None
    if not scores:
        return None
    approval.similarity = max(scores)
    IdentityApproval.objects.filter(pk=approval.pk).update(similarity=approval.similarity)
    return approval.similarity


def approved_live_similarity(*, session: ExamSession, image: bytes) -> dict[str, float] | None:
    """How similar a gate frame of ``session`` captured after a proctor's approval is to the live photo the proctor
    approved (the engine's CompareFaces: a 1:1 comparison), as ``{"Similarity": 0-100}`` (0: no face of the frame
    matches at all); None when there is no approved request or a photo cannot be compared.

    The liveness challenge after an approval counts only the head turns of that face (gate.session_liveness): the
    live photo is what the student's browser sent, and the approval is of the person it shows. Counting anyone's
    turns let an impostor send two photos of the student as ID and live photo, be approved, and turn their own head
    (two audits' finding)."""
    approval = (IdentityApproval.objects.filter(session_id=session.pk, status=ApprovalStatus.APPROVED)
                .exclude(live_photo="").order_by("-decided_at", "-pk").first())
    if approval is None:
        return None
    try:
        with approval.live_photo.open("rb") as handle:
            live = handle.read()
    except OSError:
        logger.warning("Could not read the live photo of identity request %s.", approval.pk, exc_info=True)
        return None
    similarity = _compared(live, image)
    return None if similarity is None else {"Similarity": similarity}


def id_live_similarity(*, approval: IdentityApproval) -> float | None:
    """How similar the face on the photo ID is to the live photo (0-100, the engine's CompareFaces), for the
    proctor's page; None when either photo is gone or shows no face the engine can compare (a card's photo is
    small and often printed behind a pattern: no number is not a refusal)."""
    if not approval.id_photo or not approval.live_photo:
        return None
    try:
        with approval.id_photo.open("rb") as handle:
            card = handle.read()
        with approval.live_photo.open("rb") as handle:
            live = handle.read()
    except OSError:
        logger.warning("Could not read the photos of identity request %s.", approval.pk, exc_info=True)
        return None
    return _compared(card, live)


def _compared(source: bytes, target: bytes) -> float | None:
    """The best similarity (0-100, one decimal) of ``target``'s faces to ``source``'s face by the engine's
    CompareFaces: 0 when none matches at all; None when either photo cannot be compared (no face, not decodable)."""
    try:
        answer = get_backend().compare_faces(SourceImage={"Bytes": source}, TargetImage={"Bytes": target},
                                             SimilarityThreshold=0)
    except ClientError as exc:
        if error_code(exc) not in UNCOMPARABLE:
            raise
        return None
    return round(max((float(m["Similarity"]) for m in answer.get("FaceMatches", [])), default=0.0), 1)
