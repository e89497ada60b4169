"""What a verified LTI launch does: map its roles, match or create the person in the platform's
institution, map the course placement to an exam, enrol the student.

Preconditions: the id_token's signature, issuer, audience, deployment, nonce and expiry were checked
(exams.lti.views with pylti1p3). Everything here happens inside the platform's institution: a
platform registered at A reaches A's people and exams only, whatever its claims say."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from pylti1p3.session import SessionService

from accounts import services as account_services
from accounts.audit import audit
from accounts.errors import AppError, Conflict, Forbidden
from accounts.models import Institution, Role, User
from accounts.tenancy import tenant_scope
from exams.lti import claims as C
from exams.lti.keys import new_key_pair
from exams.lti.models import InstructorRole, LtiNonce, LtiPlatform, LtiResourceLink, LtiUserLink
from exams.models import Exam, ExamSession
from exams.services import session_create
from exams.statuses import ExamStatus


class LaunchRefused(AppError):
    """A launch we do not accept; the page says why (never a 500)."""

    status_code = 403
    code = "lti_launch_refused"


@dataclass(frozen=True)
class Launch:
    platform: LtiPlatform
    user: User
    link: LtiResourceLink
    session: ExamSession | None  # a student's sitting of the link's exam


def platform_register(
    *, institution: Institution, name: str, issuer: str, client_id: str, deployment_ids: list[str],
    auth_login_url: str, keyset_url: str, auth_token_url: str = "",
    instructor_role: str = InstructorRole.PROCTOR, actor: User | None = None,
) -> LtiPlatform:
    """Register an LMS for an institution, with a fresh key pair of the tool's for it."""
    if LtiPlatform.unscoped.filter(issuer=issuer, client_id=client_id).exists():
        raise Conflict("This issuer and client id are already registered.", code="lti_platform_taken")
    if instructor_role not in InstructorRole.values:
        raise AppError(f"Instructors become an admin or a proctor, not '{instructor_role}'.", code="invalid_role")
    kid, pem = new_key_pair()
    with tenant_scope(institution.pk), transaction.atomic():
        platform = LtiPlatform.unscoped.create(
            institution=institution, name=name, issuer=issuer, client_id=client_id,
            deployment_ids=[d for d in deployment_ids if d], auth_login_url=auth_login_url,
            auth_token_url=auth_token_url, keyset_url=keyset_url, instructor_role=instructor_role,
            kid=kid, private_key_pem=pem)
        audit(institution_id=institution.pk, actor=actor, action="lti.platform.register", target=platform,
              data={"issuer": issuer, "client_id": client_id})
    return platform


def platform_keys_ensure(platform: LtiPlatform) -> None:
    """A row saved by a form gets its key pair on first save (the admin page calls this)."""
    if not platform.private_key_pem:
        platform.kid, platform.private_key_pem = new_key_pair()


def role_for(*, platform: LtiPlatform, claims: dict[str, Any]) -> str:
    """Instructor or administrator of the course → the platform's instructor role; learner → student."""
    roles = set(claims.get(C.ROLES) or [])
    if roles & C.STAFF_ROLES:
        return platform.instructor_role
    if roles & C.LEARNER_ROLES:
        return Role.STUDENT
    raise Forbidden("Your role in the course does not give access to proctored exams.", code="lti_no_role")


# A used nonce is kept longer than pylti1p3 keeps the nonces it issues at login (its launch data lifetime,
# a day): after that, a replay fails its "issued here" check anyway, so older rows can go.
NONCE_KEEP = timedelta(seconds=SessionService._launch_data_lifetime * 2)


def nonce_use(*, platform: LtiPlatform, nonce: str) -> None:
    """Record the launch's nonce; the same nonce again (a replayed id_token) is refused."""
    try:
        with transaction.atomic():
            LtiNonce.unscoped.create(institution_id=platform.institution_id, platform=platform, nonce=nonce)
    except IntegrityError:
        raise LaunchRefused("This launch was already used. Start it again from your course.",
                            code="lti_replayed") from None
    LtiNonce.unscoped.filter(platform=platform, used_at__lt=timezone.now() - NONCE_KEEP).delete()


def _synthetic_email(platform: LtiPlatform, sub: str) -> str:
    digest = hashlib.sha256(f"{platform.pk}:{sub}".encode()).hexdigest()[:20]
    return f"lti-{digest}@lti.invalid"


def _user_for(*, platform: LtiPlatform, claims: dict[str, Any], role: str) -> User:
    sub = str(claims.get("sub") or "")
    if not sub:
        raise LaunchRefused("The launch names no user (sub).", code="lti_no_user", status_code=400)
    link = LtiUserLink.objects.select_related("user").filter(platform=platform, sub=sub).first()
    if link is not None:
        user = link.user
        if user.role != role:
            raise Conflict("Your course role does not match your OpenProctor account's role; ask your "
                           "institution's admin.", code="lti_role_mismatch")
        if not user.is_active:
            raise Forbidden("Your account here is deactivated.", code="lti_inactive")
        return user
    email = str(claims.get("email") or "").strip().lower()
    name = str(claims.get("name") or " ".join(
        str(claims.get(part) or "") for part in ("given_name", "family_name")).strip())
    # The email is a hint inside this institution only: an account of the same role is linked;
    # another institution's accounts are never looked at.
    user = User.objects.filter(institution_id=platform.institution_id, email__iexact=email).first() if email else None
    if user is not None and (user.role != role or not user.is_active):
        raise Conflict("An account with your email exists here with another role; ask your institution's admin.",
                       code="lti_email_taken")
    if user is None:
        user = account_services.user_create(institution=platform.institution, email=email or
                                            _synthetic_email(platform, sub), role=role, full_name=name[:200])
    LtiUserLink.objects.create(institution_id=platform.institution_id, platform=platform, sub=sub, user=user)
    audit(institution_id=platform.institution_id, actor=user, action="lti.user.link", target=user,
          data={"platform": platform.pk, "sub": sub})
    return user


def _link_for(*, platform: LtiPlatform, claims: dict[str, Any]) -> LtiResourceLink:
    resource = claims.get(C.RESOURCE_LINK) or {}
    context = claims.get(C.CONTEXT) or {}
    if not resource.get("id"):
        raise LaunchRefused("The launch names no resource link.", code="lti_no_link", status_code=400)
    link, _ = LtiResourceLink.objects.get_or_create(
        platform=platform, resource_link_id=str(resource["id"]),
        defaults={"institution_id": platform.institution_id, "context_id": str(context.get("id") or ""),
                  "context_title": str(context.get("title") or "")[:255],
                  "title": str(resource.get("title") or "")[:255]})
    return link


def launch_accept(*, platform: LtiPlatform, claims: dict[str, Any]) -> Launch:
    """The person and the placement of a verified launch; a student is enrolled in the mapped exam."""
    with tenant_scope(platform.institution_id), transaction.atomic():
        role = role_for(platform=platform, claims=claims)
        user = _user_for(platform=platform, claims=claims, role=role)
        link = _link_for(platform=platform, claims=claims)
        session = None
        if role == Role.STUDENT:
            exam = Exam.objects.filter(pk=link.exam_id).first() if link.exam_id else None
            if exam is None:
                raise Conflict("This exam is not set up yet: your instructor has to open it from the course "
                               "once first.", code="lti_link_unmapped")
            if exam.status != ExamStatus.PUBLISHED:
                raise Conflict("This exam is not open yet.", code="lti_exam_not_published")
            session = session_create(exam=exam, student=user)
        return Launch(platform=platform, user=user, link=link, session=session)


def link_assign_exam(*, link_id: int, exam_id: int, actor: User) -> LtiResourceLink:
    """An instructor's first launch picks the exam of a placement (the actor's institution's exams only)."""
    with tenant_scope(actor.institution_id), transaction.atomic():
        link = LtiResourceLink.objects.select_for_update().filter(pk=link_id).first()
        exam = Exam.objects.filter(pk=exam_id).first()
        if link is None or exam is None:
            raise AppError("Choose one of your institution's exams.", code="invalid_exam", status_code=404)
        if link.exam_id is not None and link.exam_id != exam.pk:
            raise Conflict("This course link already opens another exam.", code="lti_link_mapped")
        link.exam = exam
        link.save(update_fields=["exam"])
        audit(institution_id=link.institution_id, actor=actor, action="lti.link.assign", target=link,
              data={"exam": exam.pk, "resource_link_id": link.resource_link_id})
        return link
