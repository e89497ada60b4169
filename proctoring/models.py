from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from accounts.tenancy import TenantOwned
from exams.statuses import AppealStatus, ApprovalStatus
from proctoring.storage import private_storage


def _face_image_path(instance: FaceRegistration, filename: str) -> str:
    return f"faces/{instance.institution_id}/{instance.external_image_id}.jpg"


def _frame_image_path(instance: Frame, filename: str) -> str:
    return f"frames/{instance.institution_id}/{instance.session_id}/{uuid.uuid4().hex}.jpg"


def _speech_clip_path(instance: SpeechSegment, filename: str) -> str:
    return f"speech/{instance.institution_id}/{instance.session_id}/{uuid.uuid4().hex}.wav"


def _approval_image_path(instance: IdentityApproval, filename: str) -> str:
    return f"identity/{instance.institution_id}/{instance.session_id}/{uuid.uuid4().hex}.jpg"


class FaceRegistration(TenantOwned):
    """A reference face indexed into the institution's collection (the sample's faces table)."""

    external_image_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    collection_id = models.CharField(max_length=255)
    face_id = models.CharField(max_length=64)
    full_name = models.CharField(max_length=200)
    student = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="face_registrations")
    image = models.FileField(storage=private_storage, upload_to=_face_image_path, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["full_name", "created_at"]

    def __str__(self) -> str:
        return self.full_name


class StoredFace(models.Model):
    """The local engine's face collections (one vector per indexed face), shared by every worker.

    Engine storage, keyed by collection; the collection id names the institution.
    """

    collection_id = models.CharField(max_length=255, db_index=True)
    face_id = models.CharField(max_length=64, unique=True)
    image_id = models.CharField(max_length=64)
    external_image_id = models.CharField(max_length=255, null=True, blank=True)
    bounding_box = models.JSONField()
    confidence = models.FloatField()
    vector = models.BinaryField()  # 128 float32, L2-normalised
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class StoredCollection(models.Model):
    collection_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped on every change so that each process can tell when its cached matrix is stale.
    version = models.PositiveBigIntegerField(default=0)


class FrameStatus(models.TextChoices):
    PENDING = "pending", "Waiting for analysis"
    DONE = "done", "Analysed"
    FAILED = "failed", "Could not be analysed"
    # Under overload: it waited past FRAME_SHED_AFTER_SECONDS while a newer frame of its session came in;
    # the newer one is analysed instead (proctoring.services.frame_analyze).
    SHED = "shed", "Not analysed: a newer frame was (overload)"


class Frame(TenantOwned):
    """A webcam frame of an exam session, its analysis and the checks' outcome."""

    # Indexed by frame_session_captured (Meta.indexes), whose first column it is: a second index would only
    # cost every frame's insert.
    session = models.ForeignKey("exams.ExamSession", on_delete=models.CASCADE, related_name="frames",
                                db_index=False)
    image = models.FileField(storage=private_storage, upload_to=_frame_image_path, blank=True)
    received_at = models.DateTimeField(db_index=True)
    # When the browser took the frame: later than received_at never; earlier when it was kept while
    # offline and sent on reconnect. The timeline, reports and incident rules place frames here.
    captured_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=FrameStatus.choices, default=FrameStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    analysed_at = models.DateTimeField(null=True, blank=True)
    checks = models.JSONField(null=True, blank=True)  # the five {"TestName", "Success", "Details"}
    findings = models.JSONField(null=True, blank=True)  # the engine's raw answer
    error = models.TextField(blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    # A frame that barely differed from the session's last fully analysed frame carries that frame's
    # result (proctoring.skipping): ``checks`` and ``findings`` were judged on ``carried_from``'s picture.
    carried_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Of a fully analysed frame: its small grey thumbnail, what later frames are compared with.
    thumbnail = models.BinaryField(null=True, blank=True, editable=False)
    # BLAKE2b of the uploaded bytes (proctoring.camera: a frame repeating an earlier one); "" for frames before it.
    digest = models.CharField(max_length=32, blank=True, default="", editable=False)

    class Meta:
        ordering = ["captured_at", "id"]
        # (session, captured_at): every frame's analysis asks for its session's latest analysed frame (skipping),
        # whether a newer one is already judged (incidents) or waiting (shedding): an index range, not a scan of
        # the session's frames (an exam of three hours at one frame per 5 s has over 2,000).
        indexes = [models.Index(fields=["status", "received_at"]),
                   models.Index(fields=["session", "captured_at"], name="frame_session_captured")]
        # One capture is stored once: the browser sends a frame again, the same bytes with the same capture time,
        # when the answer to its upload was lost (services.frame_ingest takes the second as the first).
        constraints = [models.UniqueConstraint(fields=["session", "captured_at", "digest"], name="frame_one_capture",
                                               condition=~models.Q(digest=""))]

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A frame sent live was taken when it arrived; only frames kept offline carry their own time.
        if self.captured_at is None:
            self.captured_at = self.received_at
        super().save(*args, **kwargs)


class IdentityApproval(TenantOwned):
    """The gate's fallback: a photo of the student's ID card and a live frame, for a proctor to decide.

    Both photos are biometric: private storage, staff-only views, erased with the session
    (proctoring.erasure) and by retention. Status changes only through proctoring.approvals.
    """

    session = models.ForeignKey("exams.ExamSession", on_delete=models.CASCADE, related_name="identity_approvals")
    status = models.CharField(max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    id_photo = models.FileField(storage=private_storage, upload_to=_approval_image_path, blank=True)
    live_photo = models.FileField(storage=private_storage, upload_to=_approval_image_path, blank=True)
    # Best similarity (0-100) of the live photo to the student's own references; None: not measured yet.
    similarity = models.FloatField(null=True, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    # When the student asked, their head turns had stalled (proctoring.gate.liveness_stalled): the proctor may excuse
    # them, having seen the student live on the check's frames; ``liveness_excused``: the approval did.
    turns_stalled = models.BooleanField(default=False)
    liveness_excused = models.BooleanField(default=False)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session"], condition=models.Q(status=ApprovalStatus.PENDING),
                                    name="one_pending_identity_approval_per_session"),
        ]


class IncidentKind(models.TextChoices):
    NO_FACE = "no_face", "No face"
    FACE_NOT_VERIFIABLE = "face_not_verifiable", "Face not clear enough to verify"
    MULTIPLE_FACES = "multiple_faces", "Several faces"
    MULTIPLE_PEOPLE = "multiple_people", "Several people"
    NO_PERSON = "no_person", "Nobody in view"
    WRONG_PERSON = "wrong_person", "Someone else"
    IDENTITY_UNCLEAR = "identity_unclear", "Not clearly the student"
    UNREGISTERED_FACE = "unregistered_face", "Unrecognised face"
    OBJECT_OF_INTEREST = "object_of_interest", "Forbidden object"
    UNSAFE_CONTENT = "unsafe_content", "Unsafe content"
    LOOKING_AWAY = "looking_away", "Looking away"
    CAMERA_FROZEN = "camera_frozen", "Camera picture frozen"
    CAMERA_COVERED = "camera_covered", "Camera covered or dark"
    # Reported by the exam page itself (issue 5).
    TAB_HIDDEN = "tab_hidden", "Left the exam tab"
    FULLSCREEN_EXIT = "fullscreen_exit", "Left full screen"
    COPY_PASTE = "copy_paste", "Copy or paste"
    CAMERA_STOPPED = "camera_stopped", "Camera stopped"
    SECOND_WINDOW = "second_window", "Exam open in two windows"
    # Heard through the microphone (issue 13).
    TALKING = "talking", "Sustained talking"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    CONFIRMED = "confirmed", "Confirmed"
    DISMISSED = "dismissed", "Dismissed"


class Incident(TenantOwned):
    session = models.ForeignKey("exams.ExamSession", on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=32, choices=IncidentKind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    is_open = models.BooleanField(default=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    first_frame = models.ForeignKey(Frame, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_frame = models.ForeignKey(Frame, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    evidence_frame = models.ForeignKey(Frame, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    frame_count = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    review_status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    # Each write to Postgres bumps it; the DynamoDB put is conditional on it, so retries are idempotent.
    version = models.PositiveIntegerField(default=1)
    # Seen during the identity and camera check before the exam: kept apart, never in the exam's risk.
    during_check = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["session", "kind"], condition=models.Q(is_open=True),
                                    name="one_open_incident_per_session_and_kind"),
        ]


class Appeal(TenantOwned):
    """A student's appeal of a confirmed incident of their own session: once per incident, within the
    institution's ``appeal_window_days`` of the decision. Status changes only through proctoring.appeals;
    an overturned appeal dismisses the incident through proctoring.review.incident_review."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="appeals")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appeals")
    note = models.TextField()
    status = models.CharField(max_length=16, choices=AppealStatus.choices, default=AppealStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # Overturned because a reviewer dismissed the incident (proctoring.review.incident_review), not decided on its
    # own: a later confirmation of the incident opens it again.
    closed_by_review = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["incident"], name="one_appeal_per_incident")]


class SpeechSegment(TenantOwned):
    """A stretch of speech the student's browser heard, with its clip (16 kHz PCM WAV).

    The clip is biometric (a voice): private storage, staff-only views, erased with the session
    (proctoring.erasure) and by retention (proctoring.retention), like frames. ``speech_seconds``
    and ``probability`` are what the server's own Silero VAD heard in it (proctoring.audio);
    ``browser_probability`` is what the browser said.
    """

    session = models.ForeignKey("exams.ExamSession", on_delete=models.CASCADE, related_name="speech_segments")
    clip = models.FileField(storage=private_storage, upload_to=_speech_clip_path, blank=True)
    clip_bytes = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField()
    received_at = models.DateTimeField()
    browser_probability = models.FloatField(null=True, blank=True)
    speech_seconds = models.FloatField()
    probability = models.FloatField()
    # The talking incident this segment is evidence of (None: below the exam's limit so far).
    incident = models.ForeignKey("Incident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="speech_segments")
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]


class ProctorMessage(TenantOwned):
    """A short message a proctor sent from the live view to a student in a running session; the
    exam page shows it until the student acknowledges it (proctoring.messages)."""

    session = models.ForeignKey("exams.ExamSession", on_delete=models.CASCADE, related_name="proctor_messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    text = models.CharField(max_length=500)
    sent_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "id"]


class CheckStreak(models.Model):
    """How long a condition has held in a session: the state of the debounce.

    ``window`` says whether the condition held on each of the session's latest frames, one character
    a frame, latest first ("1" held, "0" did not; at most 2 x 100 - 1 frames, the longest window an
    exam's policy allows); ``frames`` and ``since`` count from the first frame of the stretch the
    window is in.
    """

    session = models.ForeignKey("exams.ExamSession", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=IncidentKind.choices)
    frames = models.PositiveIntegerField(default=0)
    window = models.CharField(max_length=200, default="", blank=True)
    since = models.DateTimeField(null=True, blank=True)
    since_frame = models.ForeignKey(Frame, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "kind"], name="one_streak_per_session_and_kind")]


class OutboxMessage(models.Model):
    """A write to a second store (DynamoDB), committed with the Postgres change it mirrors."""

    topic = models.CharField(max_length=32)  # faces.put, faces.delete, incidents.put
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["id"]


class PurgeRecord(TenantOwned):
    """What the retention job removed, and when."""

    at = models.DateTimeField(auto_now_add=True)
    frames = models.PositiveIntegerField()
    bytes = models.PositiveBigIntegerField()
    older_than = models.DateTimeField()
    faces = models.PositiveIntegerField(default=0)
    incidents = models.PositiveIntegerField(default=0)  # whose copied findings were cleared
    speech_clips = models.PositiveIntegerField(default=0)
