"""What a verified LTI launch does: map its roles, match or create the person in the platform's
institution, map the course placement to an exam, enrol the student.

Preconditions: the id_token's signature, issuer, audience, deployment, nonce and expiry were checked
(exams.lti.views with pylti1p3). Everything here happens inside the platform's institution: a
platform registered at A reaches A's people and exams only, whatever its claims say."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
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


# IPv6 prefixes that carry an IPv4 address and reach it where the network translates them (NAT64, 6to4): Python
# counts them global, and a second re-audit reached 127.0.0.1 through 64:ff9b::7f00:1.
_EMBEDDING = tuple(ipaddress.ip_network(prefix) for prefix in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16"))


def _embeds_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.version == 6 and any(ip in network for network in _EMBEDDING)


def fetchable_url_error(url: str) -> str:
    """Why the server must not fetch ``url`` (an LMS's keyset), or "": outside development
    (``LTI_ALLOW_PRIVATE_URLS``) only https, to a name that resolves to public addresses only. An audit: an
    institution's admin registered a keyset on 127.0.0.1, and any launch made the server fetch it and show the
    answer. (A name that resolves elsewhere between this check and the fetch is not caught.)"""
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    if settings.LTI_ALLOW_PRIVATE_URLS:
        return ""
    # A backslash, a space or a control character, and a user name before "@", are read differently by parsers:
    # https://127.0.0.1:8443\@1.1.1.1/ named 1.1.1.1 here and was fetched from 127.0.0.1 (an audit).
    if "\\" in url or any(char.isspace() or not char.isprintable() for char in url):
        return "The address holds a backslash, a space or a control character."
    try:
        parts, fetched = urlsplit(url), parse_url(url)
        port = parts.port
    except ValueError:
        return "This is not a valid address."
    if parts.scheme != "https" or not parts.hostname:
        return "Use an https:// address."
    if port == 0:
        return "This is not a valid address."
    if "@" in parts.netloc:
        return "Give the address without a user name or password."
    try:  # (a name in another script, as it is fetched: IDNA)
        host = parts.hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return "This is not a valid address."
    if (fetched.host or "").strip("[]").lower() != host:
        return "This address is read differently by different parsers: write it plainly (https://host/path)."
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port or 443,
                                                                type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return f"The name {parts.hostname} does not resolve."
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast or _embeds_ipv4(ip):
            return f"{parts.hostname} is a private or local address ({ip}): use the LMS's public address."
    return ""


def platform_register(
    *, institution: Institution, name: str, issuer: str, client_id: str, deployment_ids: list[str],
    auth_login_url: str, keyset_url: str, auth_token_url: str = "",
    instructor_role: str = InstructorRole.PROCTOR, link_by_email: bool = False, actor: User | None = None,
) -> LtiPlatform:
    """Register an LMS for an institution, with a fresh key pair of the tool's for it."""
    problem = fetchable_url_error(keyset_url)
    if problem:
        raise AppError(f"Keyset URL: {problem}", code="lti_keyset_url", details={"keyset_url": [problem]})
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
            link_by_email=link_by_email, kid=kid, private_key_pem=pem)
        audit(institution_id=institution.pk, actor=actor, action="lti.platform.register", target=platform,
              data={"issuer": issuer, "client_id": client_id})
    return platform


def platform_keys_ensure(platform: LtiPlatform) -> None:
    """A row saved by a form gets its key pair on first save (the admin page calls this)."""
    if not platform.private_key_pem:
        platform.kid, platform.private_key_pem = new_key_pair()


def role_for(*, platform: LtiPlatform, claims: dict[str, Any]) -> str:
    """Instructor or administrator of the course → the platform's instructor role; learner → student. The roles in
    the course decide where the launch has any; the person's institution or system roles only where it has none. An
    audit: a learner whose LMS also called them an instructor somewhere (Canvas builds institution roles from all of
    a person's courses: a graduate student who teaches one section) became staff of the whole institution here."""
    roles = {C.role_uri(role) for role in claims.get(C.ROLES) or []}
    in_course = {role for role in roles if role.startswith(C.CONTEXT_ROLE)}
    roles = in_course or roles
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


MAX_ID = 255  # sub, resource link and context ids: the columns' length


def claims_error(body: dict[str, Any]) -> str:
    """What is wrong with the shape of a signed launch's claims, or "": a signed but malformed launch answered 500
    (roles a number, context a string, ids longer than their columns: an audit)."""
    roles = body.get(C.ROLES, [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        return "Roles must be a list of role URIs"
    for name in (C.CONTEXT, C.RESOURCE_LINK):
        if name in body and not isinstance(body[name], dict):
            return f"{name} must be an object"
    ids = {"sub": body.get("sub"), "resource link id": (body.get(C.RESOURCE_LINK) or {}).get("id"),
           "context id": (body.get(C.CONTEXT) or {}).get("id")}
    for name, value in ids.items():
        if value is not None and (not isinstance(value, str | int) or isinstance(value, bool)
                                  or len(str(value)) > MAX_ID):
            return f"The {name} must be a string of at most {MAX_ID} characters"
    return ""


def email_of(claims: dict[str, Any]) -> str:
    """The launch's email claim, lower-cased, or "" where it is missing or not an email address (a list of them
    was once stored as the account's email)."""
    email = claims.get("email")
    if not isinstance(email, str):
        return ""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email if len(email) <= 254 else ""


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
    email = email_of(claims)
    name = str(claims.get("name") or " ".join(
        str(claims.get(part) or "") for part in ("given_name", "family_name")).strip())
    # An LMS's email claim is not proof of the address (an audit: a launch claiming the admin's email signed in as
    # the admin). Only where the institution trusts this LMS's emails (``link_by_email``) does it find an account
    # here: a student's, in this institution, that no other account of this LMS already owns. Another
    # institution's accounts are never looked at.
    user = None
    # (Nor one that an LMS of this institution already owns: an account linked on one LMS was claimable from
    # another by its email. ASCII only: PostgreSQL's UPPER() in iexact takes "ſ" for "S": an audit.)
    if email and email.isascii() and platform.link_by_email and role == Role.STUDENT:
        user = (User.objects.filter(institution_id=platform.institution_id, email__iexact=email, role=Role.STUDENT,
                                    is_active=True)
                .exclude(pk__in=LtiUserLink.objects.values("user_id")).first())
    if user is None:
        taken = not email or User.objects.filter(institution_id=platform.institution_id, email__iexact=email).exists()
        user = account_services.user_create(institution=platform.institution, role=role, full_name=name[:200],
                                            email=_synthetic_email(platform, sub) if taken else email)
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
