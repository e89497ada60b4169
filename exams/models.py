from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.audit import AuditEvent  # moved to accounts; kept importable from here
from accounts.tenancy import TenantOwned
from exams import policy
from exams.statuses import ExamStatus, SessionStatus

__all__ = ["Accommodation", "Answer", "AuditEvent", "Exam", "ExamSession", "ExamStatus", "Question", "QuestionKind"]


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
        help_text=("An incident opens when its condition holds on this many of the latest 2×N−1 frames "
                   "(an object of interest or a second person also on 2×N of the latest 6×N)…"),
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
    # The check page's meter heard the microphone (exams.taking.session_microphone_check): an exam that
    # listens starts only after a recent one, as it starts only after the camera's checks.
    microphone_checked_at = models.DateTimeField(null=True, blank=True)
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
    # An admin unlocked the sitting (exams.services.session_unlock): it runs at least until then.
    unlocked_until = models.DateTimeField(null=True, blank=True)
    # Why a proctor ended the session (exams.services.session_end): the student's page shows it.
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["exam", "student"], name="one_session_per_student_and_exam")]

    @property
    def accommodation(self) -> Accommodation | None:
        """The student's accommodation (extra time, exempt checks), or None. Read once per instance."""
        if not hasattr(self, "_accommodation"):
            self._accommodation = Accommodation.unscoped.filter(
                institution_id=self.institution_id, student_id=self.student_id).first()
        return self._accommodation

    def remember_accommodation(self, accommodation: Accommodation | None) -> None:
        """Take the student's accommodation (or None), read by the caller with the session, as what
        ``accommodation`` answers: one query fewer. One of another institution is not theirs here."""
        self._accommodation = accommodation if accommodation and accommodation.institution_id == self.institution_id \
            else None

    @property
    def extra_time(self) -> timedelta:
        accommodation = self.accommodation
        return accommodation.extra_time(self.exam.duration_minutes) if accommodation else timedelta(0)

    @property
    def exempt_checks(self) -> frozenset[str]:
        """Incident kinds that never open an incident for this student (an accommodation's exemptions)."""
        accommodation = self.accommodation
        return frozenset(accommodation.exempt_checks or ()) if accommodation else frozenset()

    @property
    def deadline(self) -> Any:
        """When the exam time runs out: the duration after the start, capped by the exam's closing;
        an accommodation's extra time moves both (a student with extra time who starts late keeps it);
        an admin's unlock runs it at least until ``unlocked_until``."""
        if self.started_at is None:
            return None
        extra = self.extra_time
        end = self.started_at + timedelta(minutes=self.exam.duration_minutes) + extra
        end = min(end, self.exam.closes_at + extra) if self.exam.closes_at else end
        return max(end, self.unlocked_until) if self.unlocked_until else end

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
    # When the student gave it (the browser's time on the server's clock; when it arrived, if not said): of two answers
    # to a question, the one given later is kept, whichever arrived last (exams.taking.answer_save). None: saved before
    # this was kept (``updated_at`` stands for it).
    answered_at = models.DateTimeField(null=True, blank=True)
    # Saved after the deadline, given before it while the browser was offline (exams.taking.LATE_ANSWERS).
    sent_late = models.BooleanField(default=False)
    # A short-text answer's grade, given by staff (exams.grading.answer_grade); None: not graded yet.
    # Multiple-choice answers are never graded by hand: they are scored from the question's key when read.
    points_awarded = models.PositiveIntegerField(null=True, blank=True)
    grade_comment = models.TextField(blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    graded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "question"], name="one_answer_per_question")]

    # Set by exams.taking.answer_save on the answer it kept instead of the one sent (given earlier); not stored.
    kept_newer = False

    @property
    def given_at(self) -> datetime:
        return self.answered_at or self.updated_at

    @property
    def is_answered(self) -> bool:
        """An option picked or some text written (an emptied text box is no answer)."""
        return self.choice is not None or bool(self.text.strip())


class Accommodation(TenantOwned):
    """A student's accommodations, set by an admin of their institution (exams.accommodations): extra
    time on every exam they sit, and checks they are exempt from (incident kinds, exams.policy.EXEMPTABLE)."""

    # The reverse name lets accounts' roster mark students who have one without importing exams.
    student = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="accommodation")
    extra_minutes = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(24 * 60)])
    extra_percent = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(400)],
        help_text="Of each exam's duration, added to the extra minutes.",
    )
    exempt_checks = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=300, help_text="Shown to proctors with the accommodation.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def extra_time(self, duration_minutes: int) -> timedelta:
        return timedelta(minutes=self.extra_minutes) + timedelta(minutes=duration_minutes) * self.extra_percent / 100

    def __str__(self) -> str:
        return f"{self.student}: {self.reason}"


from exams.lti.models import LtiNonce, LtiPlatform, LtiProctoringAttempt, LtiResourceLink, LtiUserLink  # noqa: E402

__all__ += ["LtiNonce", "LtiPlatform", "LtiProctoringAttempt", "LtiResourceLink", "LtiUserLink"]
