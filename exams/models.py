from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.audit import AuditEvent  # moved to accounts; kept importable from here
from accounts.tenancy import TenantOwned
from exams import policy
from exams.statuses import ExamStatus, SessionStatus

__all__ = ["Answer", "AuditEvent", "Exam", "ExamSession", "ExamStatus", "Question", "QuestionKind"]


class Exam(TenantOwned):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ExamStatus.choices, default=ExamStatus.DRAFT)
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Proctoring policy (see exams.policy).
    checks_enabled = models.JSONField(default=policy.default_checks)
    min_confidence = models.FloatField(
        default=policy.DEFAULT_MIN_CONFIDENCE, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    face_match_threshold = models.FloatField(
        default=policy.DEFAULT_FACE_MATCH_THRESHOLD, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    objects_of_interest = models.JSONField(default=policy.default_objects)
    debounce_frames = models.PositiveIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="An incident opens when its condition holds on this many of the latest 2×N−1 frames…",
    )
    debounce_seconds = models.PositiveIntegerField(
        default=0, help_text="…or for this many seconds (0: frames only).",
    )
    capture_interval_seconds = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(300)]
    )
    watch_looking_away = models.BooleanField(
        default=policy.DEFAULT_LOOKING_AWAY,
        help_text="Open a (low) incident when the student's head stays turned away from their own "
                  "start-of-exam pose.",
    )
    require_photo_id = models.BooleanField(
        default=False, help_text="Every student shows a photo ID that a proctor approves before starting.",
    )
    # Off for exams that existed before the microphone was added (and rows made by hand); the admin's
    # services.exam_create and exam form turn it on for every new exam (policy.MICROPHONE_FOR_NEW_EXAMS).
    microphone = models.BooleanField(
        default=False, help_text="Listen for talking (speech clips as evidence); students consent to it separately.",
    )
    speech_window_seconds = models.PositiveIntegerField(
        default=policy.DEFAULT_SPEECH_WINDOW_SECONDS, validators=[MinValueValidator(10), MaxValueValidator(3600)],
        help_text="Talking is judged over this many seconds…",
    )
    speech_max_seconds = models.PositiveIntegerField(
        default=policy.DEFAULT_SPEECH_MAX_SECONDS, validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="…and more speech than this within it opens a (low-severity) talking incident.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="exam_closes_after_opens",
                condition=models.Q(opens_at__isnull=True)
                | models.Q(closes_at__isnull=True)
                | models.Q(closes_at__gt=models.F("opens_at")),
            )
        ]

    def __str__(self) -> str:
        return self.title


class ExamSession(TenantOwned):
    """One student's sitting of one exam. Status changes only through services.session_transition."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="sessions")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exam_sessions")
    status = models.CharField(max_length=24, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Consent to biometric processing, as the student saw it.
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    consent_text = models.TextField(blank=True)
    # The microphone consent as shown, when the exam listens; empty: not asked (or not given).
    microphone_consent_text = models.TextField(blank=True)
    # Read-aloud or dictation software: the speech detector is off for this student in this exam.
    speech_accommodation = models.BooleanField(default=False)
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    # A proctor approved the student's photo ID at the gate's fallback: the start check takes it as
    # the identity pass of this session (proctoring.approvals.identity_request_decide sets it).
    identity_approved_at = models.DateTimeField(null=True, blank=True)
    liveness_verified_at = models.DateTimeField(null=True, blank=True)
    # When the reminder email before the exam opens was claimed for sending (exams.reminders): once per
    # enrolment and schedule; moving the exam's opening clears it.
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # The student's own frontal pose, [[yaw, pitch], ...] of the first frames of the exam
    # (proctoring.attention): looking away is judged against it, not against the camera's axis.
    pose_baseline = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["exam", "student"], name="one_session_per_student_and_exam")]

    @property
    def deadline(self) -> Any:
        """When the exam time runs out: the duration after the start, capped by the exam's closing."""
        if self.started_at is None:
            return None
        end = self.started_at + timedelta(minutes=self.exam.duration_minutes)
        return min(end, self.exam.closes_at) if self.exam.closes_at else end

    def __str__(self) -> str:
        return f"{self.student} — {self.exam}"


class QuestionKind(models.TextChoices):
    MULTIPLE_CHOICE = "choice", "Multiple choice"
    SHORT_TEXT = "text", "Short text"


class Question(TenantOwned):
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=8, choices=QuestionKind.choices, default=QuestionKind.MULTIPLE_CHOICE)
    prompt = models.TextField()
    choices = models.JSONField(default=list, blank=True, help_text="Multiple choice: the options, in order.")
    correct_choice = models.PositiveIntegerField(null=True, blank=True, help_text="Index of the right option.")
    points = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.prompt[:60]


class Answer(TenantOwned):
    session = models.ForeignKey(ExamSession, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    choice = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "question"], name="one_answer_per_question")]
