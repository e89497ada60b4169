"""Writes on institutions and users."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from accounts.audit import audit
from accounts.errors import AppError, Conflict
from accounts.models import Institution, Role, User
from accounts.tenancy import tenant_scope


@transaction.atomic
def institution_create(*, slug: str, name: str, admin_email: str, admin_password: str) -> tuple[Institution, User]:
    """Create a tenant and its first admin. Raises Conflict when the slug or email is taken."""
    if Institution.objects.filter(slug=slug).exists():
        raise Conflict(f"An institution with slug '{slug}' already exists.", code="institution_exists")
    institution = Institution.objects.create(slug=slug, name=name)
    admin = user_create(
        institution=institution, email=admin_email, password=admin_password, role=Role.ADMIN, full_name=""
    )
    return institution, admin


def user_create(
    *,
    institution: Institution,
    email: str,
    role: str,
    password: str | None = None,
    full_name: str = "",
    student_number: str = "",
    invite_base_url: str | None = None,
    actor: User | None = None,
) -> User:
    """Add a user to an institution. A password, when given, must pass the password validators.

    Without a password the account waits for its invite: with ``invite_base_url`` (the site's address,
    accounts.mail.site_url) the person is mailed the link once the transaction commits. Audited as
    ``user.created`` with ``actor`` (the staff member who added them; None: set-up commands, an LTI launch)."""
    email = email.strip().lower()
    if role not in Role.values:
        raise AppError(f"Unknown role '{role}'.", code="invalid_role")
    # Only this institution's accounts: whether another institution has the address is not ours to tell.
    if User.objects.filter(institution=institution, email__iexact=email).exists():
        raise Conflict("A user with this email already exists.", code="email_taken")
    user = User(
        email=email,
        institution=institution,
        role=role,
        full_name=full_name,
        student_number=student_number,
    )
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise AppError("The password is too weak.", code="weak_password", details=exc.messages) from exc
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    with tenant_scope(institution):  # also from set-up commands, outside any request's scope
        audit(institution_id=institution.pk, actor=actor, action="user.created", target=user,
              data={"email": email, "role": role, "full_name": full_name})
    if password is None and invite_base_url is not None:
        from accounts.mail import queue_invite

        queue_invite(user=user, base_url=invite_base_url)
    return user


def token_issue(*, user: User) -> tuple[AuthToken, str]:
    """A new API token: answers the stored row (a hash and the expiry) and the key, which is shown
    once and stored nowhere. Beyond API_TOKENS_PER_USER, the user's oldest tokens are revoked, and
    their expired ones deleted (authentication no longer looks at the user's other tokens)."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    instance, key = AuthToken.objects.create(user=user)
    stale = AuthToken.objects.filter(user=user).order_by("-created").values_list("digest", flat=True)
    AuthToken.objects.filter(digest__in=list(stale[settings.API_TOKENS_PER_USER:])).delete()
    return instance, key


def user_api_token(*, user: User) -> str:
    """A new API token's key for the user (see token_issue)."""
    return token_issue(user=user)[1]


def token_revoke(*, token: AuthToken) -> None:
    token.delete()


def user_tokens_revoke(*, user: User) -> int:
    """Revoke every API token of the user (logout everywhere; a password change). Answers how many."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


def user_update(
    *,
    user: User,
    actor: User,
    full_name: str | None = None,
    student_number: str | None = None,
    is_active: bool | None = None,
) -> User:
    if is_active is False and user.pk == actor.pk:
        raise AppError("You cannot deactivate your own account.", code="self_deactivation")
    changed = {}
    for field, value in (("full_name", full_name), ("student_number", student_number), ("is_active", is_active)):
        if value is not None and getattr(user, field) != value:
            changed[field] = {"from": getattr(user, field), "to": value}
            setattr(user, field, value)
    user.save()
    if changed:
        with tenant_scope(user.institution_id):
            audit(institution_id=user.institution_id, actor=actor, action="user.updated", target=user, data=changed)
    return user


def user_time_zone_set(*, user: User, time_zone: str) -> User:
    """Show the user times in ``time_zone`` (an IANA name), or in their institution's when it is empty."""
    from accounts.timezones import validate_time_zone

    if time_zone:
        try:
            validate_time_zone(time_zone)
        except ValidationError as exc:
            raise AppError(exc.messages[0], code="invalid_time_zone", details={"time_zone": exc.messages}) from exc
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
    return user
