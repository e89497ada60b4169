"""Writes of the proctoring pipeline: face registrations, frames, their analysis."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.audit import audit
from accounts.errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from accounts.models import Institution, Role, User
from exams import taking
from exams.models import ExamSession
from exams.policy import CHECK_PERSON_RECOGNITION
from exams.statuses import ACCEPTS_FRAMES, SessionStatus
from proctoring import attention, camera, checks, incidents, liveness, queueing, selectors, skipping, stages
from proctoring.analysis import get_backend
from proctoring.analysis.errors import RESOURCE_ALREADY_EXISTS, error_code
from proctoring.duplicates import duplicate_error, face_duplicates
from proctoring.images import FRAME_MAX_PIXELS, check_image, reencode
from proctoring.limits import check_frame_rate
from proctoring.models import FaceRegistration, Frame, FrameStatus, IncidentKind
from proctoring.outbox import outbox_add

logger = logging.getLogger(__name__)

# How far a browser's capture time may lie after the server's clock, or before the session began
# (the page corrects its clock from the server's Date header; this absorbs what is left).
CAPTURE_CLOCK_SKEW = timedelta(seconds=30)
CAPTURE_KEPT_AHEAD = incidents.CAPTURE_KEPT_AHEAD  # (a stopped camera's end reads it too)

UNINDEXED_REASONS = {
    "EXCEEDS_MAX_FACES": "more than one face is in the photo",
    "EXTREME_POSE": "the face is turned too far from the camera",
    "EXCESSIVE_PITCH": "the face is tilted too far up or down",
    "EXCESSIVE_ROLL": "the head is tilted too far sideways",
    "EXCESSIVE_YAW": "the face is turned too far sideways",
    "LOW_BRIGHTNESS": "the photo is too dark",
    "LOW_SHARPNESS": "the photo is blurred",
    "LOW_CONFIDENCE": "the face is not clear enough",
    "SMALL_BOUNDING_BOX": "the face is too small",
    "LOW_FACE_QUALITY": "the face is not clear enough",
}


# Verification compares a frame with each of a student's references: a few cover glasses, light and
# age; more would only slow every check.
MAX_REFERENCES = 5


def collection_id_for(institution_id: int) -> str:
    return f"openproctor-institution-{institution_id}"


def engine_error(exc: ClientError) -> AppError:
    """An engine refusal of the image itself is the client's 4xx; anything else is ours."""
    code = error_code(exc)
    if code in {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}:
        message = exc.response.get("Error", {}).get("Message", "The image could not be analysed.")
        return AppError(f"The image could not be analysed: {message}", code="invalid_image",
                        details={"engine_code": code})
    raise exc


def _ensure_collection(engine: Any, collection_id: str) -> None:
    # Ask the local engine's store first: one SELECT, where a create that finds the collection there
    # costs, on every analysed frame, a savepoint, a failed INSERT (on PostgreSQL a dead row and a
    # sequence number too), its rollback and two exceptions: 0.5 against 0.7-1.7 CPU-ms here. A
    # collection deleted in between is created by the create below, as before.
    store = getattr(engine, "store", None)
    if store is not None and store.collection_exists(collection_id):
        return
    try:
        engine.create_collection(CollectionId=collection_id)
    except ClientError as exc:
        if error_code(exc) != RESOURCE_ALREADY_EXISTS:
            raise


def _already_registered(student: User, image: bytes) -> bool:
    """Whether ``image`` (re-encoded) is the very photo of one of ``student``'s reference faces: the same file
    registered twice only spends one of the student's MAX_REFERENCES (a re-audit: sending a term's photos again, as
    the bulk page's retry advice says, stacked identical references). Re-encoding is deterministic, so the same
    upload gives the same bytes."""
    for registration in FaceRegistration.objects.filter(student=student).exclude(image=""):
        try:
            with registration.image.open("rb") as handle:
                if handle.read() == image:
                    return True
        except OSError:
            continue
    return False


def face_register(
    *, institution: Institution, actor: User, image: bytes, full_name: str, student: User | None = None,
    confirm_duplicate: bool = False,
) -> FaceRegistration:
    """Index exactly one usable face into the institution's collection and record it everywhere.

    The photo is decoded in full and re-encoded first: the engine indexes, and storage keeps, only
    the freshly encoded pixels. A face that matches another person's registration is refused (409
    ``duplicate_face``, nothing kept anywhere) unless ``confirm_duplicate``; a confirmed duplicate is
    audited with what it matched.
    """
    check_image(image)
    image = reencode(image)
    full_name = full_name.strip()
    if not full_name:
        raise AppError("'fullName' is required.", code="invalid", details={"fullName": ["Required."]})
    if student is not None and (student.institution_id != institution.pk or student.role != Role.STUDENT):
        raise AppError("The student does not exist.", code="invalid", details={"student": ["Unknown student."]})
    if student is not None and FaceRegistration.objects.filter(student=student).count() >= MAX_REFERENCES:
        raise Conflict(f"A student has at most {MAX_REFERENCES} reference faces: delete one before adding another.",
                       code="too_many_references", details={"max": MAX_REFERENCES})
    if student is not None and _already_registered(student, image):
        raise Conflict("This photo is already one of the student's reference faces.", code="already_registered")
    engine = get_backend()
    collection_id = collection_id_for(institution.pk)
    _ensure_collection(engine, collection_id)
    registration = FaceRegistration(institution=institution, collection_id=collection_id, full_name=full_name,
                                    student=student, created_by=actor)
    try:
        indexed = engine.index_faces(
            CollectionId=collection_id, Image={"Bytes": image}, ExternalImageId=str(registration.external_image_id),
            # MEDIUM: a reference photo must be better than a webcam frame (face >= 40 px, sharp, frontal).
            MaxFaces=1, QualityFilter="MEDIUM", DetectionAttributes=["DEFAULT"],
        )
    except ClientError as exc:
        raise engine_error(exc) from exc
    records = indexed.get("FaceRecords", [])
    reasons = sorted({r for face in indexed.get("UnindexedFaces", []) for r in face.get("Reasons", [])})
    if records and another_face(records[0], indexed.get("UnindexedFaces", [])):
        reasons = sorted({*reasons, "EXCEEDS_MAX_FACES"})
    if not records or "EXCEEDS_MAX_FACES" in reasons:
        if records:
            engine.delete_faces(CollectionId=collection_id, FaceIds=[r["Face"]["FaceId"] for r in records])
        why = "; ".join(UNINDEXED_REASONS.get(r, r.lower().replace("_", " ")) for r in reasons) or "no face was found"
        seen = len(records) + len(indexed.get("UnindexedFaces", []))
        if seen > 1 and "EXCEEDS_MAX_FACES" not in reasons:  # none clear enough, but say that there were several
            why = f"it shows {seen} faces, and none is clear enough ({why})"
        raise Unprocessable(f"The photo needs exactly one clear face: {why}.", code="no_usable_face",
                            details={"reasons": reasons or ["NO_FACE"]})
    registration.face_id = records[0]["Face"]["FaceId"]
    try:
        duplicates = face_duplicates(engine=engine, institution_id=institution.pk, collection_id=collection_id,
                                     image=image, full_name=full_name, student=student)
        if duplicates and not confirm_duplicate:
            raise duplicate_error(duplicates)
        with transaction.atomic():
            registration.image.save("reference.jpg", ContentFile(image), save=False)
            registration.save()
            audit(institution_id=institution.pk, actor=actor, action="face.registered", target=registration,
                  data={"student": registration.student_id, "full_name": full_name,
                        "face": str(registration.external_image_id)})
            if duplicates:
                audit(institution_id=institution.pk, actor=actor, action="face.duplicate_confirmed",
                      target=registration, data={"student": registration.student_id, "full_name": full_name,
                                                 "matches": [d.as_details() for d in duplicates]})
            outbox_add(topic="faces.put", payload={
                "ExternalImageId": str(registration.external_image_id), "CollectionId": collection_id,
                "FullName": full_name, "InstitutionId": institution.pk,
            })
    except Exception:
        engine.delete_faces(CollectionId=collection_id, FaceIds=[registration.face_id])  # leave nothing behind
        if registration.image:
            registration.image.delete(save=False)
        raise
    return registration


def another_face(record: dict[str, Any], unindexed: list[dict[str, Any]]) -> bool:
    """A second face at least half the size of the indexed one (filtered or not) is another person."""
    height = record["Face"]["BoundingBox"]["Height"]
    return any(face["FaceDetail"]["BoundingBox"]["Height"] >= height / 2 for face in unindexed)


def face_delete(*, registration: FaceRegistration, actor: User | None = None) -> None:
    """Erase a face: from the engine's collection, both stores and the file system. Audited (``actor`` None: the
    retention purge or an erasure, which are audited as such)."""
    try:
        get_backend().delete_faces(CollectionId=registration.collection_id, FaceIds=[registration.face_id])
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    with transaction.atomic():
        outbox_add(topic="faces.delete", payload={"ExternalImageId": str(registration.external_image_id)})
        if actor is not None:
            audit(institution_id=registration.institution_id, actor=actor, action="face.deleted",
                  target=registration, data={"student": registration.student_id, "full_name": registration.full_name,
                                             "face": str(registration.external_image_id)})
        image = registration.image
        registration.delete()
        if image:
            transaction.on_commit(lambda: image.storage.delete(image.name))


def frame_ingest(*, session: ExamSession, actor: User, image: bytes, captured_at: datetime | None = None) -> Frame:
    """Store a frame of a running session and queue its analysis (on commit).

    ``captured_at``: when the browser took the frame, for frames kept while offline; absent means now.

    Idempotent for a retry: the same bytes with the same capture time as a frame the session already has are that
    frame (the browser sends a frame again when the answer to its upload was lost). Stored twice, one frame of a
    second face counted as two and opened a High incident (an audit of a flaky connection: 6 lost answers, 6
    frames analysed twice).
    """
    if session.student_id != actor.pk:
        if actor.role == Role.STUDENT:
            raise NotFound("Not found.")
        # Evidence must say who produced it: only the session's own student sends its frames.
        # Staff check a photo with the session-less /process instead.
        raise Forbidden("Only the session's student sends frames into it; check a photo without a session.",
                        code="not_the_sessions_student")
    check_image(image, max_pixels=FRAME_MAX_PIXELS)
    if session.status not in ACCEPTS_FRAMES:
        raise Conflict(f"The session is {session.get_status_display().lower()}; it takes no more frames.",
                       code="session_not_running")
    received_at = timezone.now()
    captured_at = frame_capture_time(session=session, captured_at=captured_at, received_at=received_at)
    _check_frame_window(session=session, captured_at=captured_at, received_at=received_at)
    check_frame_rate(session=session, user=actor, size=len(image))
    frame = Frame(institution_id=session.institution_id, session=session, received_at=received_at,
                  captured_at=captured_at, digest=camera.digest(image))
    try:
        frame.image.save("frame.jpg", ContentFile(image), save=False)
        # One INSERT, committed on its own (no BEGIN/COMMIT round trips per frame), or with the caller's
        # transaction when there is one (in a savepoint then: a retry's INSERT fails, and the transaction goes on).
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                frame.save()
        else:
            frame.save()
    except BaseException as exc:
        # No row, no file: a frame that was not stored leaves no biometric file behind.
        if frame.image.name:
            frame.image.storage.delete(frame.image.name)
        if isinstance(exc, IntegrityError):
            # A retry of a frame it has (the same capture: the unique "frame_one_capture"), found only then so that
            # the first sending costs no query for it.
            sent = Frame.objects.filter(session=session, captured_at=captured_at, digest=frame.digest).first()
            if sent is not None:
                return sent
            # The session was deleted while the frame was being stored (the foreign key is checked
            # at commit): the same answer as for a session that no longer exists.
            raise NotFound("Not found.") from exc
        raise
    transaction.on_commit(lambda: enqueue_analysis(frame.pk))  # at once, or when the caller's transaction commits
    return frame


# Frames are kept while they can be evidence of an exam: the camera check from CHECK_BEFORE_OPENING before the exam
# opens (exams.taking), and an exam's frames captured before its deadline,
# received up to this long after it (the browser keeps frames it took offline and sends them when it can). An
# attacker's audit stored 48.8 MB in 16 s at the check of an exam that opened the next day, and a session nobody
# visited after its deadline still took frames: about 600 MB an hour, kept for the retention period.
LATE_FRAMES_AFTER_DEADLINE = timedelta(minutes=30)


def _check_frame_window(*, session: ExamSession, captured_at: datetime, received_at: datetime) -> None:
    exam = session.exam
    if session.status == SessionStatus.CHECKING:
        taking.check_not_open(exam, received_at)
    if session.status == SessionStatus.CHECKING and exam.closes_at and received_at > exam.closes_at:
        # (a session left at the check took frames after the exam closed: 44.7 MB in 5 s, a re-audit)
        raise Conflict("The exam has closed.", code="exam_closed")
    if session.status != SessionStatus.IN_PROGRESS or session.started_at is None:
        return
    # The deadline only moves later than this (extra time, an unlock): the full one (a query for the
    # accommodation) is read only past it.
    earliest = session.started_at + timedelta(minutes=exam.duration_minutes)
    earliest = min(earliest, exam.closes_at) if exam.closes_at else earliest
    if received_at <= earliest:
        return
    deadline = session.deadline
    if deadline is not None and (captured_at > deadline + CAPTURE_CLOCK_SKEW
                                 or received_at > deadline + LATE_FRAMES_AFTER_DEADLINE):
        raise Conflict("The exam's time is over; it takes no more frames.", code="session_not_running")


def frame_capture_time(*, session: ExamSession, captured_at: datetime | None, received_at: datetime) -> datetime:
    """The capture time to keep: the browser's, bounded by the session's start and by now (plus skew); during the
    exam, never before the exam's start."""
    if captured_at is None:
        return received_at
    if captured_at > received_at + CAPTURE_CLOCK_SKEW:
        raise AppError("'captured_at' is in the future.", code="invalid",
                       details={"captured_at": ["Later than the server's clock allows."]})
    began = session.consent_at or session.started_at or session.created_at
    if captured_at < began - CAPTURE_CLOCK_SKEW:
        raise AppError("'captured_at' is before the session began.", code="invalid",
                       details={"captured_at": ["Before the session began."]})
    if session.status == SessionStatus.IN_PROGRESS and session.started_at and captured_at < session.started_at:
        # Received during the exam: judged as the exam's. A frame of the check arrives while the check lasts; one
        # dated before the start once escaped the exam's incident rules, which keep the check's findings apart.
        return session.started_at
    # Kept as the browser says it up to CAPTURE_KEPT_AHEAD after the server's clock (what the page's clock, set from
    # whole-second Date headers, is off by): a frame sent again after its answer was lost then keeps its capture time,
    # and is known as the same capture (frame_ingest). Clamped to its arrival, each sending had a time of its own.
    return captured_at if captured_at <= received_at + CAPTURE_KEPT_AHEAD else received_at


def enqueue_analysis(frame_id: int) -> bool:
    """Queue analyze_frame; a broker outage leaves the frame pending for requeue_stale_frames.

    The publish is bounded (config/settings.py: broker socket timeouts, one retry), so a dead or
    hung Redis costs the request well under a second. Only a publish that succeeded is recorded
    as queued: the sweeper queues again exactly the frames without a live message.
    """
    from proctoring.tasks import analyze_frame

    try:
        analyze_frame.delay(frame_id)
    except Exception:  # noqa: BLE001 - kombu raises several types when Redis is down
        logger.warning("Could not queue frame %s; it stays pending and will be requeued.", frame_id, exc_info=True)
        return False
    queueing.mark_queued(frame_ids=[frame_id])
    return True


def _names(institution_id: int) -> Any:
    def name_of(external_image_id: str) -> str | None:
        registration = FaceRegistration.objects.filter(
            institution_id=institution_id, external_image_id=external_image_id
        ).only("full_name").first()
        return registration.full_name if registration else None

    return name_of


def analyze_image(*, institution_id: int, image: bytes, policy: checks.Policy,
                  student_id: int | None = None) -> tuple[dict[str, Any], checks.Outcome]:
    """Run the engine once and judge the frame.

    ``student_id``: the session's student. Their frame is verified 1:1 against all of *their*
    registered faces and nobody else's (``Verification`` in the answer); without a session, the
    sample's 1:N search of the institution's collection names whoever matches (staff only).
    """
    engine = get_backend()
    collection_id = collection_id_for(institution_id)
    _ensure_collection(engine, collection_id)
    options: dict[str, Any] = {"CollectionId": collection_id}
    own_names: dict[str, str] = {}
    if student_id is not None:
        options = {}
        if CHECK_PERSON_RECOGNITION in policy.checks_enabled:
            registrations = list(FaceRegistration.objects.filter(
                institution_id=institution_id, collection_id=collection_id, student_id=student_id,
            ).exclude(face_id="").order_by("created_at"))
            own_names = {r.face_id: r.full_name for r in registrations}
            references = [_reference(engine, r) for r in registrations]
            options = {"CollectionId": collection_id, "References": [r for r in references if r is not None]}
    analysis = engine.analyze(Image={"Bytes": image}, MinConfidence=policy.min_confidence,
                              FaceMatchThreshold=policy.face_match_threshold,
                              LabelsOfInterest=list(policy.objects_of_interest), **options)
    verification = analysis.get("Verification") or {}
    own_name = own_names.get(verification.get("FaceId") or "") if verification.get("Passed") else None
    return analysis, checks.evaluate(analysis, policy, name_of=_names(institution_id), own_name=own_name)


def refreshed_analysis(decided: skipping.Plan, *, institution_id: int, image: bytes, policy: checks.Policy,
                       student_id: int) -> tuple[dict[str, Any], checks.Outcome]:
    """A frame that barely changed since ``decided.source`` analysed again for what a faint change can hide
    (objects, people, faces and their pose); the 1:1 face comparison and the unsafe-content answer carried
    from ``decided.source`` (proctoring.skipping), which took them from the full analysis of ``decided.full``."""
    fresh = get_backend().analyze(Image={"Bytes": image}, MinConfidence=policy.min_confidence,
                                  FaceMatchThreshold=policy.face_match_threshold,
                                  LabelsOfInterest=list(policy.objects_of_interest), Moderation=False)
    carried = decided.source.findings
    analysis = {**fresh, "FaceMatches": carried.get("FaceMatches", []),
                "ModerationLabels": carried.get("ModerationLabels", []),
                skipping.REFRESHED: {"Frame": decided.full.pk}}
    if "Verification" in carried:
        analysis["Verification"] = carried["Verification"]
    return analysis, _carried_outcome(analysis, policy=policy, institution_id=institution_id, student_id=student_id)


def _reference(engine: Any, registration: FaceRegistration) -> dict[str, Any] | None:
    """A reference face for ``analyze``; its photo only for backends that compare photos."""
    if not getattr(engine, "reference_images", False):
        return {"FaceId": registration.face_id}
    if not registration.image:
        return None
    with registration.image.open("rb") as handle:
        return {"FaceId": registration.face_id, "Image": {"Bytes": handle.read()}}


def _carried_outcome(analysis: dict[str, Any], *, policy: checks.Policy, institution_id: int,
                     student_id: int) -> checks.Outcome:
    """Judge a carried result again under the exam's policy now, naming the student as analyze_image does."""
    verification = analysis.get("Verification") or {}
    own_name = _only(FaceRegistration.objects.filter(
        institution_id=institution_id, student_id=student_id, face_id=verification.get("FaceId") or "-",
    ).values_list("full_name", flat=True)) if verification.get("Passed") else None
    return checks.evaluate(analysis, policy, name_of=_names(institution_id), own_name=own_name)


def _only(query: QuerySet) -> Any:
    """The one row a query by a unique key finds, or None: not ``first()``, which orders the rows (by the model's
    ordering, or its key) and so makes the SQL cost more to compile, on every frame (most of a carried frame's cost
    is compiling its queries: scripts/profile_frame_cost.py)."""
    return next(iter(query.order_by()[:1]), None)


def _superseded(frame: Frame) -> bool:
    """Overload: the frame waited past FRAME_SHED_AFTER_SECONDS and its session has a newer frame."""
    waited = timezone.now() - frame.received_at
    if waited < timedelta(seconds=settings.FRAME_SHED_AFTER_SECONDS):
        return False
    return Frame.objects.filter(session_id=frame.session_id, captured_at__gt=frame.captured_at).exists()


def _gate_frame(frame: Frame) -> bool:
    """Whether ``frame`` is one of the pre-exam check (captured before the exam started): the liveness
    challenge reads it, looking away never does."""
    started = frame.session.started_at
    return started is None or frame.captured_at < started


def frame_analyze(*, frame_id: int) -> Frame | None:
    """Analyse a stored frame, keep the result and apply the incident rules. Idempotent.

    A frame of the exam that barely differs from the session's last analysed frame carries that frame's
    engine answer (``carried_from``; proctoring.skipping), judged again under the exam's policy; past the age
    limit it is refreshed instead (``refreshed_analysis``).

    None: the frame was erased (its session, exam or student deleted) before or while it was analysed.
    """
    frame = _only(Frame.objects.select_related("session__exam").filter(pk=frame_id))
    if frame is None:
        return None
    if frame.status != FrameStatus.PENDING:
        return frame
    if _superseded(frame):
        logger.info("Shedding frame %s of session %s: a newer frame is waiting.", frame.pk, frame.session_id)
        Frame.objects.filter(pk=frame.pk, status=FrameStatus.PENDING).update(
            status=FrameStatus.SHED, analysed_at=timezone.now())
        frame.refresh_from_db()
        return frame
    logger.info("Analysing frame %s of session %s.", frame.pk, frame.session_id)
    session = frame.session
    try:
        with frame.image.open("rb") as handle:
            image = stages.timed("read", handle.read)
    except FileNotFoundError:
        if not Frame.objects.filter(pk=frame_id).exists():
            return None  # erased after it was read: its file went on the erasure's commit
        raise
    policy = checks.Policy.of_exam(session.exam)
    thumbnail = stages.timed("thumbnail", skipping.thumbnail, image)
    decided = stages.timed("skip", skipping.plan, frame=frame, thumb=thumbnail)
    # An exam frame whose picture shows nothing, or that repeats the frame before byte for byte (proctoring.camera).
    seen = thumbnail is not None and not _gate_frame(frame)
    covered = seen and camera.uniform(thumbnail)
    repeats = stages.timed("skip", camera.repeated, frame) if seen and not covered else None
    source = decided.source if decided.mode == "carry" else None
    try:
        if source is not None:
            analysis = source.findings
            outcome = _carried_outcome(analysis, policy=policy, institution_id=frame.institution_id,
                                       student_id=session.student_id)
        elif decided.mode == "refresh":
            analysis, outcome = stages.timed("engine", refreshed_analysis, decided, institution_id=frame.institution_id,
                                             image=image, policy=policy, student_id=session.student_id)
        else:
            analysis, outcome = stages.timed("engine", analyze_image, institution_id=frame.institution_id,
                                             image=image, policy=policy, student_id=session.student_id)
    except ClientError as exc:
        if error_code(exc) not in {"InvalidImageFormatException", "ImageTooLargeException",
                                   "InvalidParameterException"}:
            raise  # transient (throttling, network): the task retries
        Frame.objects.filter(pk=frame.pk, status=FrameStatus.PENDING).update(
            status=FrameStatus.FAILED, error=str(exc), analysed_at=timezone.now())
        frame.refresh_from_db()
        return frame
    if source is None and _gate_frame(frame) and getattr(get_backend(), "five_point_pose", False):
        # The gate's head turns are judged on the face mesh's yaw (outside the lock: it runs a model).
        reading = stages.timed("liveness", liveness.gate_reading, image, analysis)
        if reading is not None:
            analysis = {**analysis, "Liveness": reading}
    if source is None and session.identity_approved_at is not None and frame.captured_at >= \
            session.identity_approved_at and (_gate_frame(frame) or skipping.accusing(analysis)):
        # After a proctor's approval, the face of the live photo the proctor approved: its head turns are the ones
        # that count at the gate, and it is not "someone else" (its references need not match it: the approval
        # exists for that, and the live photo is not always kept as one). Compared only on the gate's frames and
        # on those whose 1:1 check accuses.
        from proctoring import approvals  # (approvals registers faces through this module)

        approved = stages.timed("liveness", approvals.approved_live_similarity, session=session, image=image)
        if approved is not None:
            analysis = {**analysis, liveness.APPROVED_LIVE: approved}
            if approved["Similarity"] >= checks.CLEARLY_SOMEONE_ELSE_BELOW:
                outcome.kinds -= {IncidentKind.WRONG_PERSON, IncidentKind.IDENTITY_UNCLEAR}
    with transaction.atomic():
        # One frame of a session at a time; an erasure of the session waits for this lock, or took it first.
        # The session is read as it is under the lock, with its exam and the student's accommodation (the
        # incident rules' exempt checks); the frame's own row only for its status: nothing else writes a
        # pending frame (attempts changes only here), and a query with fewer joins costs less to compile.
        locked = _only(ExamSession.objects.select_for_update(of=("self",))
                       .select_related("exam", "student__accommodation").filter(pk=session.pk))
        if locked is None:
            return None
        status = _only(Frame.objects.filter(pk=frame_id).values_list("status", flat=True))
        if status is None:
            return None
        if status != FrameStatus.PENDING:
            frame.refresh_from_db()
            return frame  # a concurrent retry finished first
        locked.remember_accommodation(getattr(locked.student, "accommodation", None))
        frame.session = locked
        frame.status, frame.analysed_at = FrameStatus.DONE, timezone.now()
        kinds = outcome.kinds
        if frame.captured_at >= (frame.session.started_at or frame.captured_at):
            # Looking away is judged against the student's start-of-exam pose, never during the check. A
            # carried frame carries its source's judgement, except while the baseline is taken: a student who
            # sat still for the first frames sat so for all of them, and the baseline weighs poses by time.
            # (Counting only changed frames once made a quiet student's first glances aside their baseline, and
            # the screen "away" for the rest of the exam.)
            if source is not None and not attention.taking_baseline(frame.session):
                attention_found = analysis.get("Attention")
            else:
                eyes = None if source is not None else attention.eyes_of(image, analysis)
                attention_found = attention.judge(session=frame.session, analysis=analysis, eyes=eyes)
            if attention_found is not None:
                analysis = {**analysis, "Attention": attention_found}
            kinds = attention.kinds_for(attention=attention_found, kinds=kinds,
                                        verification=analysis.get("Verification"))
        if source is None and _gate_frame(frame) and CHECK_PERSON_RECOGNITION in frame.session.exam.checks_enabled:
            # The gate lets a student in once their identity held over frames, not on one lucky frame
            # (settings.IDENTITY_PASS_FRAMES); a carried frame repeats its source's answer.
            analysis = {**analysis, selectors.IDENTITY_HELD: selectors.identity_held(
                session_id=frame.session_id, passed=selectors.recognised(outcome.results))}
        if _gate_frame(frame) and (analysis.get("Verification") or {}).get("Reason") == "turned_away":
            # The check's liveness challenge asks for head turns, and a turned face cannot be verified: what it asked
            # for is no finding (an audit: every student got a pending "face not clear enough to verify" for it).
            kinds = set(kinds) - {IncidentKind.FACE_NOT_VERIFIABLE}
        kinds = camera.kinds_with(kinds, repeats, covered)
        analysis = camera.findings_with(analysis, repeats, covered)
        frame.checks, frame.findings = outcome.results, analysis
        frame.carried_from, frame.thumbnail = source, None if source is not None else thumbnail
        frame.attempts += 1
        incidents.apply_frame(frame=frame, kinds=kinds, exam=frame.session.exam)
        frame.save(update_fields=["status", "analysed_at", "checks", "findings", "carried_from", "thumbnail",
                                  "attempts"])
    return frame
