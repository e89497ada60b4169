"""LTI 1.3 rows: a platform (LMS) registered by an institution, and what its launches map to.

Every row belongs to the platform's institution: a launch signed by a platform registered at A
can only ever reach A's people and exams (exams.lti.services)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Role
from accounts.tenancy import TenantOwned


class InstructorRole(models.TextChoices):
    ADMIN = Role.ADMIN.value, "Admin"
    PROCTOR = Role.PROCTOR.value, "Proctor"


class LtiPlatform(TenantOwned):
    """One LMS registration (issuer + client id), with the tool's own key pair for it."""

    name = models.CharField(max_length=200, help_text="For you: e.g. “Canvas (production)”.")
    issuer = models.URLField(max_length=400, help_text="The platform's issuer (iss), e.g. https://canvas.instructure.com")
    client_id = models.CharField(max_length=200, help_text="The client id the platform gave this tool.")
    deployment_ids = models.JSONField(
        default=list, help_text="The deployment ids launches may carry (one per line in the form).")
    auth_login_url = models.URLField(max_length=400, help_text="The platform's OIDC authorisation endpoint.")
    auth_token_url = models.URLField(max_length=400, blank=True, help_text="The platform's OAuth2 token endpoint.")
    keyset_url = models.URLField(max_length=400, help_text="Where the platform publishes its public keys (JWKS).")
    instructor_role = models.CharField(
        max_length=16, choices=InstructorRole.choices, default=InstructorRole.PROCTOR,
        help_text="What an LMS instructor or administrator becomes here.")
    link_by_email = models.BooleanField(
        default=False, verbose_name="Link students by email",
        help_text="On a student's first launch, use the student account here with the email the LMS sends. Only "
                  "for an LMS whose users cannot choose or change their email: whoever the LMS says has an "
                  "address signs in as that account. Staff accounts are never linked by email.")
    is_active = models.BooleanField(default=True)
    # The tool's key pair for this platform: signs what the tool sends it (LtiStartAssessment); the public
    # half is published at /lti/jwks.json under kid.
    kid = models.CharField(max_length=64, unique=True, editable=False)
    private_key_pem = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "LMS platform (LTI 1.3)"
        verbose_name_plural = "LMS platforms (LTI 1.3)"
        constraints = [models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_unique_client")]

    def __str__(self) -> str:
        return self.name


class LtiUserLink(TenantOwned):
    """The LMS account (platform + ``sub``) behind an OpenProctor user of the same institution."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="+")
    sub = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "sub"], name="lti_user_link_unique_sub")]


class LtiResourceLink(TenantOwned):
    """A placement of the tool in a course (context + resource link), mapped to one exam."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="+")
    context_id = models.CharField(max_length=255, blank=True)
    context_title = models.CharField(max_length=255, blank=True)
    resource_link_id = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True)
    exam = models.ForeignKey("exams.Exam", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "resource_link_id"],
                                               name="lti_resource_link_unique")]

    def __str__(self) -> str:
        return self.title or self.resource_link_id


class LtiNonce(TenantOwned):
    """A launch's nonce, kept once used: the same id_token (or nonce) presented again is refused."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=255)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "nonce"], name="lti_nonce_used_once")]


class LtiProctoringAttempt(TenantOwned):
    """An LTI Proctoring Services attempt: the platform asked (LtiStartProctoring) that the student's
    exam session be proctored before it starts its own assessment; we answer with LtiStartAssessment."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey("exams.ExamSession", on_delete=models.CASCADE, related_name="+")
    resource_link_id = models.CharField(max_length=255)
    attempt_number = models.PositiveIntegerField()
    session_data = models.TextField(blank=True)  # opaque to us; echoed back in LtiStartAssessment
    start_assessment_url = models.URLField(max_length=1000)
    deployment_id = models.CharField(max_length=255)
    started_at = models.DateTimeField(null=True, blank=True)  # LtiStartAssessment sent
    ended_at = models.DateTimeField(null=True, blank=True)  # LtiEndAssessment received
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "attempt_number"],
                                               name="lti_attempt_unique_number")]
