"""LTI 1.3 endpoints: OIDC login initiation, the launch, the tool's JWKS, the instructor's exam pick,
and LTI Proctoring Services' start/end of an assessment.

pylti1p3 does the OIDC and id_token work (state, nonce issued at login, registration, signature
against the platform's JWKS, deployment, message checks); we add what it leaves out: the audience
named explicitly, a nonce used once only, Proctoring Services' message types, and what a launch
means here (exams.lti.services)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urljoin

import jwt
import requests
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.contrib.django import DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.launch_data_storage.cache import DjangoCacheDataStorage
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.launch_data_storage.base import DisableSessionId

from accounts.audit import audit
from accounts.decorators import role_required
from accounts.errors import AppError
from accounts.models import Role
from accounts.tenancy import tenant_scope
from exams.lti import claims as C
from exams.lti import proctoring, services
from exams.lti.keys import public_jwk
from exams.lti.models import LtiPlatform, LtiResourceLink
from exams.lti.tool import PlatformToolConf
from exams.models import Exam
from exams.statuses import FINISHED

logger = logging.getLogger(__name__)
PENDING_LINK = "lti_pending_link"

# pylti1p3's reasons, as a person who clicked a link in their course can read them.
REASONS = [
    ("Signature has expired", "The launch has expired. Start it again from your course."),
    ("Signature verification failed", "The launch's signature does not match the platform's keys."),
    ("Unable to find public key", "The launch was signed with a key the platform does not publish."),
    ("Registration not found", "The launch is not addressed to a tool registered here "
                               "(unknown platform or client id)."),
    ("Client id not registered", "The launch is not addressed to this tool's client id."),
    ("Unable to find deployment", "The launch comes from a deployment that is not registered here."),
    ("Invalid Nonce", "The launch's nonce was not issued here, or has expired. Start it again from your course."),
    ("State not found", "The launch did not start here, or took too long. Start it again from your course."),
    ("Missing state", "The launch did not start here. Start it again from your course."),
    ("Missing id_token", "The launch carries no id_token."),
    ("cookie session-id", "The launch did not start in this browser. Start it again from your course."),
    ("Could not find registration", "This platform is not registered here (unknown issuer or client id)."),
    ("Could not find issuer", "The login request names no issuer."),
    ("Could not find login hint", "The login request names no user."),
    ("timed out", "The platform's keys did not come in time: its keyset URL did not answer."),
    ("private or local address", "The platform's keyset URL is a private or local address."),
    ("Must be JSON", "The platform's keyset URL did not answer with keys (JSON)."),
    ("Error during fetch URL", "The platform's keys could not be fetched."),
    ("not yet valid", "The launch is dated in the future: the platform's clock and this server's differ by more "
                      "than a minute."),
    ("Must have a user", "The launch names no user (sub)."),
]


def _storage() -> DjangoCacheDataStorage:
    # Server-side (the cache: Redis in the stack), so the launch does not depend on the session
    # cookie, which a cross-site POST from the LMS does not carry.
    return DjangoCacheDataStorage(cache_name="default")


def refused(request: HttpRequest, message: str, *, status: int = 403) -> HttpResponse:
    # Only our own words: pylti1p3's reasons can carry what a fetched URL answered (an audit read an internal page
    # through them). The reason itself goes to the log and, for a registered platform, the audit events.
    return render(request, "lti/refused.html", {"message": message}, status=status)


def _explain(error: Exception) -> tuple[str, str]:
    """(what the person launching reads, the reason for the log and the admin's audit events)."""
    text = str(error).split(" Must be JSON:")[0] + (" Must be JSON" if "Must be JSON" in str(error) else "")
    for needle, message in REASONS:
        if needle in text:
            return message, text
    return "The launch could not be verified.", text


class _LmsSession(requests.Session):
    """How the server fetches an LMS's keys: within ``LTI_FETCH_TIMEOUT`` (a keyset that never answered held a
    launch and a server thread for good: an audit), and never redirected to an address ``fetchable_url_error``
    refuses."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", (settings.LTI_FETCH_TIMEOUT, settings.LTI_FETCH_TIMEOUT))
        return super().request(*args, **kwargs)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target:
            problem = services.fetchable_url_error(urljoin(resp.url, target))
            if problem:
                raise requests.exceptions.InvalidURL(problem)
        return target


@csrf_exempt
@require_http_methods(["GET", "POST"])
def oidc_login(request: HttpRequest) -> HttpResponse:
    """Third-party initiated login: check the platform is registered, then send the browser to its
    authorisation endpoint with a fresh state and nonce."""
    tool_conf = PlatformToolConf()
    try:
        oidc = DjangoOIDCLogin(request, tool_conf, launch_data_storage=_storage())
        return oidc.redirect(request.build_absolute_uri(reverse("lti-launch")))
    except (OIDCException, LtiException) as error:
        message, reason = _explain(error)
        logger.info("LTI login refused: %s", reason)
        return refused(request, message, status=400)


# A keyset's keys are fetched again for a key they lack at most this often (seconds).
REFETCH_EVERY = 60

# A platform's clock may be this far from ours (iat, exp): one a second ahead was refused (an audit).
CLOCK_LEEWAY_SECONDS = 60


MAX_ATTEMPT = 2**31 - 1  # LtiAttempt's columns
MAX_URL = 1000


class ToolMessageLaunch(DjangoMessageLaunch):
    """pylti1p3's launch, also accepting Proctoring Services' messages (it knows only the core ones); with an
    expiry required, a minute's leeway between clocks, the platform's keys fetched with a timeout and kept
    ``LTI_KEYS_CACHE_SECONDS`` (fetched again once when a launch names a key they lack: the LMS rotated them),
    from public addresses only, and the claims' shapes checked (``services.claims_error``)."""

    OURS = {C.START_PROCTORING, C.END_ASSESSMENT}

    def __init__(self, request: HttpRequest, tool_config: Any, **kwargs: Any) -> None:
        super().__init__(request, tool_config, requests_session=_LmsSession(), **kwargs)
        self.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
        self.set_public_key_caching(_storage(), settings.LTI_KEYS_CACHE_SECONDS)
        self._refetched = False

    def fetch_public_key(self, key_set_url: str) -> Any:
        problem = services.fetchable_url_error(key_set_url)
        if problem:
            raise LtiException(f"Error during fetch URL: {problem}")
        return super().fetch_public_key(key_set_url)

    def get_public_key(self) -> tuple[str, str]:
        try:
            return super().get_public_key()
        except LtiException as error:
            url = self._registration.get_key_set_url() if self._registration else None
            if self._refetched or not url or "Unable to find public key" not in str(error):
                raise
            # Keys kept from before the LMS rotated them: fetch them again, once a launch and at most once a
            # ``REFETCH_EVERY`` a keyset (an audit: launches naming made-up keys had the server fetch them each time).
            if not cache.add("lti-refetch-" + hashlib.md5(url.encode("utf-8")).hexdigest(), 1, REFETCH_EVERY):
                raise
            self._refetched = True
            with DisableSessionId(self._public_key_cache_data_storage):  # the key fetch_public_key keeps them under
                self._public_key_cache_data_storage.set_value(
                    "key-set-url-" + hashlib.md5(url.encode("utf-8")).hexdigest(), None, 1)
            self._registration.set_key_set(None)
            return super().get_public_key()

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        public_key, key_alg = self.get_public_key()
        try:
            jwt.decode(self._get_id_token(), public_key, algorithms=[key_alg], options=self._jwt_verify_options,
                       leeway=CLOCK_LEEWAY_SECONDS)
        except jwt.InvalidTokenError as e:
            raise LtiException(f"Can't decode id_token: {e}") from e
        return self

    def validate_message(self) -> ToolMessageLaunch:
        body = self._get_jwt_body()
        problem = services.claims_error(body)
        if problem:
            raise LtiException(f"Malformed launch: {problem}")
        if body.get(C.MESSAGE_TYPE) not in self.OURS:
            return super().validate_message()  # type: ignore[return-value]
        if not body.get("sub"):
            raise LtiException("Must have a user (sub)")
        if body.get(C.VERSION) != "1.3.0":
            raise LtiException("Incorrect version, expected 1.3.0")
        if not (body.get(C.RESOURCE_LINK) or {}).get("id"):
            raise LtiException("Missing Resource Link Id")
        attempt = body.get(C.ATTEMPT_NUMBER)  # (the column's range: larger numbers answered 500 on PostgreSQL)
        if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= MAX_ATTEMPT:
            raise LtiException(f"Proctoring messages need an attempt_number from 1 to {MAX_ATTEMPT}")
        url = body.get(C.START_ASSESSMENT_URL)
        if body.get(C.MESSAGE_TYPE) == C.START_PROCTORING and not (
                isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= MAX_URL):
            raise LtiException(f"LtiStartProctoring needs a start_assessment_url of at most {MAX_URL} characters")
        return self


def _verified(request: HttpRequest) -> tuple[LtiPlatform, dict[str, Any]]:
    tool_conf = PlatformToolConf()
    try:  # the constructor already reads the storage cookie (over HTTPS)
        message_launch = ToolMessageLaunch(request, tool_conf, launch_data_storage=_storage())
        claims = message_launch.get_launch_data()
    except Exception as error:  # noqa: BLE001 — whatever the token holds, the caller gets a refusal, not a 500
        if not isinstance(error, LtiException):
            logger.warning("LTI launch failed unexpectedly", exc_info=True)
        message, reason = _explain(error)
        platform = tool_conf.platform
        logger.info("LTI launch refused: %s", reason)
        if platform is not None:  # a registered platform's launch that failed verification: worth a record
            with tenant_scope(platform.institution_id):
                audit(institution_id=platform.institution_id, actor=None, action="lti.launch.refused",
                      target=platform, data={"reason": reason[:300]})
        status = 400 if any(word in reason.lower() for word in ("state", "id_token", "cookie", "malformed")) else 403
        raise services.LaunchRefused(message, status_code=status) from error
    platform = tool_conf.platform
    assert platform is not None  # validate_registration found it
    # pylti1p3 reads the client id from aud[0] and skips PyJWT's audience check: name it here.
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    # azp, wherever it is present, names this tool too (an audit: a single aud with azp naming another was let in)
    if platform.client_id not in audiences or ((len(audiences) > 1 or "azp" in claims)
                                               and claims.get("azp") != platform.client_id):
        raise services.LaunchRefused("The launch is not addressed to this tool's client id.")
    services.nonce_use(platform=platform, nonce=str(claims["nonce"]))
    return platform, claims


@csrf_exempt
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    try:
        platform, claims = _verified(request)
        message_type = claims.get(C.MESSAGE_TYPE)
        if message_type == C.END_ASSESSMENT:
            return proctoring.end_assessment(request, platform=platform, claims=claims)
        accepted = services.launch_accept(platform=platform, claims=claims)
    except AppError as error:
        return refused(request, error.message, status=error.status_code)
    if message_type == C.START_PROCTORING and accepted.session is not None and accepted.session.status in FINISHED:
        # Another attempt of an assessment whose one sitting here has ended: it went to the ended sitting's page and
        # the LMS never heard back (an audit). A new sitting is the institution's decision (an admin's reset).
        return refused(request, "Your sitting of this exam has ended, and it is sat once. Ask your instructor: an "
                                "admin can let you sit it again.", status=409)
    login(request, accepted.user, backend="accounts.backends.EmailBackend")
    if accepted.session is not None:
        if message_type == C.START_PROCTORING:
            proctoring.attempt_open(request, platform=platform, claims=claims, session=accepted.session)
        return redirect("session-start", pk=accepted.session.pk)
    if accepted.link.exam_id is None:
        request.session[PENDING_LINK] = accepted.link.pk
        return redirect("lti-link")
    return redirect("exam-detail", pk=accepted.link.exam_id)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys, one per registered platform (platforms verify what we sign with them)."""
    with tenant_scope(None):
        keys = [public_jwk(kid=p.kid, private_key_pem=p.private_key_pem)
                for p in LtiPlatform.objects.filter(is_active=True).only("kid", "private_key_pem")]
    return JsonResponse({"keys": keys})


@login_required
@role_required(Role.ADMIN, Role.PROCTOR)
@require_http_methods(["GET", "POST"])
def link_exam(request: HttpRequest) -> HttpResponse:
    """The instructor's first launch of a placement: choose which of the institution's exams it opens."""
    link = LtiResourceLink.objects.filter(pk=request.session.get(PENDING_LINK) or 0).first()
    if link is None:
        return refused(request, "There is no course link to set up: open the exam from your course.", status=404)
    if request.method == "POST":
        try:
            exam_id = int(request.POST.get("exam") or 0)
        except ValueError:
            exam_id = 0
        try:
            services.link_assign_exam(link_id=link.pk, exam_id=exam_id, actor=request.user)  # type: ignore[arg-type]
        except AppError as error:
            return render(request, "lti/link.html", {"link": link, "exams": Exam.objects.all(),
                                                     "error": error.message}, status=error.status_code)
        request.session.pop(PENDING_LINK, None)
        return redirect("exam-detail", pk=exam_id)
    return render(request, "lti/link.html", {"link": link, "exams": Exam.objects.all()})
