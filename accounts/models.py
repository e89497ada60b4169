from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.tenancy import current_institution_id
from accounts.timezones import default_time_zone, validate_time_zone

DEFAULT_CONSENT_TEXT = (
    "This exam is proctored. Your webcam images are analysed automatically to check that you are "
    "the registered student, alone, and without unauthorised objects. Images and findings are kept "
    "by your institution for the retention period it sets and reviewed only by its proctors."
)


class Institution(models.Model):
    """The tenant: a school, university or company that runs exams."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    frame_retention_days = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    # Reference faces: purged this many days after the student's last sitting ended (or after their
    # registration, for a face without sittings or without a student); see proctoring.retention.
    face_retention_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(3650)]
    )
    consent_text = models.TextField(default=DEFAULT_CONSENT_TEXT)
    consent_version = models.PositiveIntegerField(default=1)
    # Every time on its pages, exports and emails is shown in this zone (a user may choose their own),
    # and the exam schedule form reads times in it.
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    # A student may appeal a confirmed incident of their own session within this many days of the
    # reviewer's decision (proctoring.appeals); 0: no appeals.
    appeal_window_days = models.PositiveIntegerField(default=14, validators=[MaxValueValidator(365)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    PROCTOR = "proctor", "Proctor"
    STUDENT = "student", "Student"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True, institution=None, role="")
        return self._create(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        """The platform user (no institution) with this email: ``createsuperuser`` and the like.
        Institution users sign in through accounts.backends.EmailBackend."""
        return self.get(email__iexact=username or "", institution__isnull=True)

    def in_scope(self) -> models.QuerySet[User]:
        """Users of the active institution (raises outside a tenant scope)."""
        institution_id = current_institution_id()
        queryset = self.get_queryset()
        return queryset if institution_id is None else queryset.filter(institution_id=institution_id)


class User(AbstractUser):
    """A person. Platform superusers have no institution; everyone else has one and one role."""

    username = None  # type: ignore[assignment]
    # Unique per institution (constraints below), not platform-wide: a global rule would tell one
    # institution's admin that an address is registered at another. Stored lower-case.
    email = models.EmailField(db_index=True)
    full_name = models.CharField(max_length=200, blank=True)
    student_number = models.CharField(max_length=64, blank=True)
    institution = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    # Empty: the institution's zone (accounts.timezones.zone_for).
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "email"], name="user_email_unique_in_institution"),
            models.UniqueConstraint(fields=["email"], condition=models.Q(institution__isnull=True),
                                    name="user_email_unique_among_platform_users"),
            models.CheckConstraint(
                name="user_has_institution_and_role_or_is_superuser",
                condition=(
                    models.Q(is_superuser=True)
                    | (models.Q(institution__isnull=False) & ~models.Q(role=""))
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every way to change a password (the password page, /manage/, `changepassword`, services)
        # ends in set_password() and this save, so API tokens are revoked here, once for all of them.
        # (A hash upgrade on login saves the password without set_password(): tokens stay.)
        password_changed = self._password is not None and not self._state.adding  # type: ignore[attr-defined]
        super().save(*args, **kwargs)
        if password_changed:
            from accounts.services import user_tokens_revoke

            user_tokens_revoke(user=self)

    @property
    def is_institution_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_proctor(self) -> bool:
        return self.role == Role.PROCTOR

    @property
    def is_student(self) -> bool:
        return self.role == Role.STUDENT


class LoginLockout(models.Model):
    """Lock-outs of one account from one client address, so that each one lasts longer than the last
    (accounts/throttle.py). Not tenant-owned: like django-axes' own rows, it is keyed by what was typed."""

    username = models.CharField(max_length=255)
    ip_address = models.GenericIPAddressField(null=True)
    count = models.PositiveIntegerField(default=0)  # lock-outs in a row, none more than a day apart
    locked_until = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["username", "ip_address"])]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address}: {self.count} until {self.locked_until:%Y-%m-%d %H:%M}"


from accounts.audit import AuditEvent  # noqa: E402  (registered with this app; defined beside its helper)

__all__ = ["AuditEvent", "Institution", "Role", "User"]
