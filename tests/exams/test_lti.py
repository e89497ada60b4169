"""LTI 1.3 launches, end to end: a loopback platform signs real id_tokens with its own key and serves
its JWKS over HTTP; the tool fetches the keys and verifies each launch (exams.lti)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.test import Client

from accounts import tenancy
from accounts.errors import AppError
from accounts.models import AuditEvent, Role, User
from exams.lti import claims as C
from exams.lti.models import LtiPlatform, LtiResourceLink, LtiUserLink
from exams.lti.services import platform_register
from exams.models import Exam, ExamSession
from exams.services import session_transition
from exams.statuses import SessionStatus
from tests.conftest import Tenant, page_client_for
from tests.exams.lti_platform import INSTRUCTOR, LEARNER, LoopbackPlatform

pytestmark = pytest.mark.django_db


@pytest.fixture
def lms() -> Iterator[LoopbackPlatform]:
    platform = LoopbackPlatform()
    yield platform
    platform.close()


def register(lms: LoopbackPlatform, tenant: Tenant, **overrides: Any) -> LtiPlatform:
    return platform_register(institution=tenant.institution, name="Canvas", **{**lms.registration(), **overrides})


@pytest.fixture
def registered(lms: LoopbackPlatform, tenant_a: Tenant) -> LtiPlatform:
    with tenancy.tenant_scope(tenant_a.institution):
        Exam.objects.filter(pk=tenant_a.exam.pk).update(status="published")
    return register(lms, tenant_a)


def start_login(client: Client, lms: LoopbackPlatform, secure: bool = False, **params: str) -> dict[str, str]:
    response = client.get("/lti/login", {**lms.login_params("hint-1"), **params}, secure=secure)
    assert response.status_code == 302, response.content[:300]
    query = {k: v[0] for k, v in parse_qs(urlparse(response["Location"]).query).items()}
    assert response["Location"].startswith(f"{lms.url}/auth?")
    return query


def launch(client: Client, lms: LoopbackPlatform, claims: dict[str, Any], secure: bool = False, **token: Any) -> Any:
    """The browser's part of a launch: login initiation, the platform's authorisation, the form post."""
    query = start_login(client, lms, secure=secure)
    id_token = lms.id_token(nonce=query["nonce"], claims=claims, **token)
    return client.post("/lti/launch", {"id_token": id_token, "state": query["state"]}, secure=secure)


def map_link(lms: LoopbackPlatform, exam: Exam, link: str = "link-1") -> None:
    """An instructor's first launch picks the exam (as on the page)."""
    client = Client()
    response = launch(client, lms, lms.claims(sub="teacher-1", roles=[INSTRUCTOR], resource_link_id=link))
    assert response["Location"] == "/lti/link"
    assert client.post("/lti/link", {"exam": exam.pk})["Location"] == f"/exams/{exam.pk}/"


def refusal(response: Any) -> str:
    assert 400 <= response.status_code < 500, response.status_code
    assert b"This launch was refused" in response.content
    return re.sub(r"\s+", " ", response.content.decode())


# The launch, end to end

def test_it_launches_a_learner_into_the_exams_consent_page(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    map_link(lms, tenant_a.exam)
    client = Client()
    response = launch(client, lms, lms.claims(sub="learner-7", roles=[LEARNER], email="new.student@lms.test",
                                              name="New Student"))
    with tenancy.tenant_scope(tenant_a.institution):
        user = User.objects.get(email="new.student@lms.test")
        session = ExamSession.objects.get(exam=tenant_a.exam, student=user)
        assert LtiUserLink.objects.get(platform=registered, sub="learner-7").user == user
    assert (user.institution, user.role, user.full_name) == (tenant_a.institution, Role.STUDENT, "New Student")
    assert response["Location"] == f"/sessions/{session.pk}/start"
    consent = client.get(response["Location"], follow=True)
    assert consent.redirect_chain[-1][0] == f"/sessions/{session.pk}/consent"
    assert b"Consent to webcam proctoring" in consent.content


def test_it_keeps_the_launch_state_in_cookies_a_cross_site_post_carries_over_https(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    """The LMS posts the id_token from its own site: the state and storage cookies are SameSite=None; Secure,
    and the launch is checked against server-side storage, not the (Lax) session cookie."""
    map_link(lms, tenant_a.exam)
    client = Client()
    login = client.get("/lti/login", lms.login_params("hint-1"), secure=True)
    for cookie in login.cookies.values():
        assert cookie["samesite"] == "None" and cookie["secure"], cookie.output()
    query = {k: v[0] for k, v in parse_qs(urlparse(login["Location"]).query).items()}
    client.cookies.pop("sessionid", None)  # not sent cross-site
    token = lms.id_token(nonce=query["nonce"], claims=lms.claims(sub="learner-1", roles=[LEARNER]))
    response = client.post("/lti/launch", {"id_token": token, "state": query["state"]}, secure=True)
    assert response.status_code == 302 and "/sessions/" in response["Location"]
    stranger = Client()  # another browser holds none of the cookies
    token = lms.id_token(nonce=query["nonce"], claims=lms.claims(sub="learner-2", roles=[LEARNER]))
    refused = stranger.post("/lti/launch", {"id_token": token, "state": query["state"]}, secure=True)
    assert refused.status_code == 400 and "did not start in this browser" in refusal(refused)


def test_it_signs_in_the_same_account_on_the_next_launch(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    map_link(lms, tenant_a.exam)
    first = launch(Client(), lms, lms.claims(sub="learner-7", roles=[LEARNER], email="a@lms.test"))
    again = launch(Client(), lms, lms.claims(sub="learner-7", roles=[LEARNER], email="changed@lms.test"))
    assert first["Location"] == again["Location"]
    assert User.objects.filter(institution=tenant_a.institution, email__in=["a@lms.test", "changed@lms.test"]
                               ).count() == 1


def test_it_matches_an_existing_student_by_email_in_the_platforms_institution(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    LtiPlatform.unscoped.filter(pk=registered.pk).update(link_by_email=True)  # the institution trusts its emails
    map_link(lms, tenant_a.exam)
    response = launch(Client(), lms, lms.claims(sub="learner-9", roles=[LEARNER], email=tenant_a.student.email))
    assert response["Location"] == f"/sessions/{tenant_a.session.pk}/start"


def test_it_maps_instructors_to_the_role_the_registration_says(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    launch(Client(), lms, lms.claims(sub="teacher-1", roles=[INSTRUCTOR]))
    LtiPlatform.unscoped.filter(pk=registered.pk).update(instructor_role=Role.ADMIN)
    launch(Client(), lms, lms.claims(sub="teacher-2", roles=[INSTRUCTOR]))
    with tenancy.tenant_scope(tenant_a.institution):
        roles = {link.sub: link.user.role for link in LtiUserLink.objects.select_related("user")}
    assert roles == {"teacher-1": Role.PROCTOR, "teacher-2": Role.ADMIN}


def test_it_refuses_a_launch_whose_role_differs_from_the_linked_accounts(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    """A learner made teacher in the LMS does not silently become staff here (nor the reverse)."""
    map_link(lms, tenant_a.exam)
    launch(Client(), lms, lms.claims(sub="learner-1", roles=[LEARNER]))
    client = Client()
    assert "does not match" in refusal(launch(client, lms, lms.claims(sub="learner-1", roles=[INSTRUCTOR])))
    assert "_auth_user_id" not in client.session


def test_it_refuses_a_course_role_without_access(lms: LoopbackPlatform, registered: LtiPlatform) -> None:
    observer = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
    page = refusal(launch(Client(), lms, lms.claims(sub="parent-1", roles=[observer])))
    assert "does not give access" in page


def test_it_tells_a_learner_when_the_link_has_no_exam_yet(lms: LoopbackPlatform, registered: LtiPlatform) -> None:
    page = refusal(launch(Client(), lms, lms.claims(sub="learner-1", roles=[LEARNER])))
    assert "not set up yet" in page


def test_it_keeps_a_learner_out_of_an_unpublished_exam(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    map_link(lms, tenant_a.exam)
    with tenancy.tenant_scope(tenant_a.institution):
        Exam.objects.filter(pk=tenant_a.exam.pk).update(status="draft")
    assert "not open yet" in refusal(launch(Client(), lms, lms.claims(sub="learner-1", roles=[LEARNER])))


# Refusals: each a clear 4xx page, nobody signed in, no account made

def _nobody_made(tenant: Tenant) -> None:
    assert not LtiUserLink.unscoped.exists()
    assert User.objects.filter(institution=tenant.institution).count() == 3


def test_it_refuses_a_signature_made_with_another_key(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = Client()
    page = refusal(launch(client, lms, lms.claims(sub="x", roles=[LEARNER]), key=other_key))
    assert "signature does not match" in page
    assert "_auth_user_id" not in client.session
    _nobody_made(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.filter(action="lti.launch.refused").count() == 1


def test_it_refuses_a_key_the_platform_does_not_publish(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    page = refusal(launch(Client(), lms, lms.claims(sub="x", roles=[LEARNER]), kid="unknown-kid"))
    assert "does not publish" in page
    _nobody_made(tenant_a)


def test_it_refuses_a_token_for_another_audience(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    page = refusal(launch(Client(), lms, lms.claims(sub="x", roles=[LEARNER]), aud="someone-else"))
    assert "not addressed to" in page
    _nobody_made(tenant_a)


def test_it_refuses_a_list_audience_that_names_another_party_first(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    claims = lms.claims(sub="x", roles=[LEARNER], azp="someone-else")
    page = refusal(launch(Client(), lms, claims, aud=[lms.client_id, "someone-else"]))
    assert "not addressed to this tool" in page
    _nobody_made(tenant_a)


def test_it_refuses_an_expired_token(lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant) -> None:
    page = refusal(launch(Client(), lms, lms.claims(sub="x", roles=[LEARNER]), expires_in=-60))
    assert "expired" in page
    _nobody_made(tenant_a)


def test_it_refuses_an_unregistered_deployment(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    claims = {**lms.claims(sub="x", roles=[LEARNER]), C.DEPLOYMENT_ID: "deployment-unknown"}
    assert "deployment that is not registered" in refusal(launch(Client(), lms, claims))
    _nobody_made(tenant_a)


def test_it_refuses_a_replayed_launch(lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant) -> None:
    map_link(lms, tenant_a.exam)
    client = Client()
    query = start_login(client, lms)
    token = lms.id_token(nonce=query["nonce"], claims=lms.claims(sub="learner-1", roles=[LEARNER]))
    first = client.post("/lti/launch", {"id_token": token, "state": query["state"]})
    assert first.status_code == 302
    replay = client.post("/lti/launch", {"id_token": token, "state": query["state"]})
    assert "already used" in refusal(replay)


def test_it_forgets_used_nonces_only_after_the_issued_ones_expired(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    from django.utils import timezone

    from exams.lti.models import LtiNonce
    from exams.lti.services import NONCE_KEEP, nonce_use

    nonce_use(platform=registered, nonce="old")
    nonce_use(platform=registered, nonce="recent")
    LtiNonce.unscoped.filter(nonce="old").update(used_at=timezone.now() - NONCE_KEEP - timedelta(minutes=1))
    LtiNonce.unscoped.filter(nonce="recent").update(used_at=timezone.now() - NONCE_KEEP + timedelta(minutes=1))
    nonce_use(platform=registered, nonce="new")
    assert sorted(LtiNonce.unscoped.values_list("nonce", flat=True)) == ["new", "recent"]
    assert NONCE_KEEP >= timedelta(days=1)  # longer than pylti1p3 keeps the nonces it issued


def test_it_refuses_a_nonce_it_never_issued(lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant) -> None:
    client = Client()
    query = start_login(client, lms)
    token = lms.id_token(nonce="made-up-nonce", claims=lms.claims(sub="x", roles=[LEARNER]))
    assert "nonce was not issued here" in refusal(client.post("/lti/launch", {"id_token": token,
                                                                             "state": query["state"]}))
    _nobody_made(tenant_a)


def test_it_refuses_a_launch_whose_state_it_did_not_issue(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    query = start_login(Client(), lms)
    token = lms.id_token(nonce=query["nonce"], claims=lms.claims(sub="x", roles=[LEARNER]))
    response = Client().post("/lti/launch", {"id_token": token, "state": query["state"]})  # another browser
    assert response.status_code == 400
    assert "did not start here" in refusal(response)
    _nobody_made(tenant_a)


@pytest.mark.parametrize("form", [{}, {"state": "s", "id_token": "not.a.jwt"}, {"state": "s", "id_token": "x"}])
def test_it_refuses_malformed_launches_without_a_500(form: dict[str, str], registered: LtiPlatform) -> None:
    refusal(Client().post("/lti/launch", form))


def test_it_refuses_a_login_from_an_unknown_platform(lms: LoopbackPlatform, registered: LtiPlatform) -> None:
    response = Client().get("/lti/login", {**lms.login_params("h"), "iss": "https://unknown.example"})
    assert response.status_code == 400
    assert "not registered here" in refusal(response)


def test_it_refuses_launches_of_a_deactivated_platform(
    lms: LoopbackPlatform, registered: LtiPlatform
) -> None:
    LtiPlatform.unscoped.filter(pk=registered.pk).update(is_active=False)
    assert Client().get("/lti/login", lms.login_params("h")).status_code == 400


# Tenancy

def test_it_keeps_a_platform_registered_at_a_inside_a(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The same person's email at B, and B's exam id, reach nothing at B."""
    client = Client()
    response = launch(client, lms, lms.claims(sub="teacher-1", roles=[INSTRUCTOR], email=tenant_b.proctor.email))
    assert response["Location"] == "/lti/link"
    teacher = User.objects.get(pk=client.session["_auth_user_id"])
    assert teacher.institution == tenant_a.institution and teacher != tenant_b.proctor
    foreign = client.post("/lti/link", {"exam": tenant_b.exam.pk})
    missing = client.post("/lti/link", {"exam": 987654321})
    assert foreign.status_code == missing.status_code == 404
    assert LtiResourceLink.unscoped.get().exam_id is None
    assert str(tenant_b.exam.title) not in client.get("/lti/link").content.decode()


def test_it_tells_two_institutions_on_one_issuer_apart_by_client_id(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    other = LoopbackPlatform(client_id="beta-client")
    other.issuer = lms.issuer  # the same LMS issuer (as Canvas cloud), its own client id and keys
    try:
        register(other, tenant_b)
        launch(Client(), other, other.claims(sub="teacher-b", roles=[INSTRUCTOR]))
        launch(Client(), lms, lms.claims(sub="teacher-a", roles=[INSTRUCTOR]))
        # B's registration, A's client id: signed with B's key, so A's keyset refuses it.
        assert "signature" in refusal(launch(Client(), lms, lms.claims(sub="t", roles=[INSTRUCTOR]), key=other.key,
                                             kid=lms.kid))
    finally:
        other.close()
    with tenancy.tenant_scope(None):
        homes = {link.sub: link.user.institution_id for link in LtiUserLink.objects.select_related("user")}
    assert homes == {"teacher-b": tenant_b.institution.pk, "teacher-a": tenant_a.institution.pk}


def test_it_asks_for_a_course_link_only_after_a_launch(tenant_a: Tenant) -> None:
    response = page_client_for(tenant_a.admin).get("/lti/link")
    assert response.status_code == 404


# Registration: the command, the admin page, the tool's keys

def test_it_registers_a_platform_with_the_command_and_publishes_the_tools_key(
    lms: LoopbackPlatform, tenant_a: Tenant
) -> None:
    out = StringIO()
    reg = lms.registration()
    call_command("lti_register", "alpha", "--name", "Moodle", "--issuer", reg["issuer"], "--client-id",
                 reg["client_id"], "--deployment-id", "d1", "--deployment-id", "d2", "--auth-login-url",
                 reg["auth_login_url"], "--keyset-url", reg["keyset_url"], "--instructor-role", "admin",
                 "--site-url", "https://proctor.example", stdout=out)
    platform = LtiPlatform.unscoped.get()
    assert (platform.institution, platform.deployment_ids, platform.instructor_role) == (
        tenant_a.institution, ["d1", "d2"], "admin")
    assert "https://proctor.example/lti/jwks.json" in out.getvalue()
    keys = Client().get("/lti/jwks.json").json()["keys"]
    assert [k["kid"] for k in keys] == [platform.kid] and "d" not in keys[0]  # the public half only


def test_it_lets_an_institution_admin_register_a_platform_on_the_admin_page(
    lms: LoopbackPlatform, tenant_a: Tenant
) -> None:
    client = page_client_for(tenant_a.admin)
    assert client.get("/manage/exams/ltiplatform/add/").status_code == 200
    reg = lms.registration()
    response = client.post("/manage/exams/ltiplatform/add/", {
        "name": "Blackboard", "issuer": reg["issuer"], "client_id": reg["client_id"],
        "deployment_ids_text": "dep-a\r\ndep-b\r\n", "auth_login_url": reg["auth_login_url"],
        "auth_token_url": "", "keyset_url": reg["keyset_url"], "instructor_role": "proctor", "is_active": "on"})
    assert response.status_code == 302, response.content[:500]
    platform = LtiPlatform.unscoped.get()
    assert platform.institution == tenant_a.institution and platform.deployment_ids == ["dep-a", "dep-b"]
    assert platform.kid and "PRIVATE KEY" in platform.private_key_pem
    page = client.get(f"/manage/exams/ltiplatform/{platform.pk}/change/").content.decode()
    assert "/lti/jwks.json" in page and "PRIVATE KEY" not in page


# LTI Proctoring Services 1.0

def test_it_proctors_an_assessment_the_platform_hosts(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    """LtiStartProctoring → our consent and checks → a signed LtiStartAssessment back → LtiEndAssessment."""
    LtiPlatform.unscoped.filter(pk=registered.pk).update(link_by_email=True)
    map_link(lms, tenant_a.exam)
    proctoring = {C.ATTEMPT_NUMBER: 1, C.SESSION_DATA: "opaque-123",
                  C.START_ASSESSMENT_URL: f"{lms.url}/start-assessment"}
    client = Client()
    response = launch(client, lms, lms.claims(sub="learner-1", roles=[LEARNER], email=tenant_a.student.email,
                                              message_type=C.START_PROCTORING, **proctoring))
    session = tenant_a.session
    assert response["Location"] == f"/sessions/{session.pk}/start"
    assert b"Consent" in client.get(response["Location"], follow=True).content
    with tenancy.tenant_scope(tenant_a.institution):  # the consent and checks (their own tests walk them)
        session_transition(session_id=session.pk, to=SessionStatus.CHECKING, actor=None)
        session_transition(session_id=session.pk, to=SessionStatus.IN_PROGRESS, actor=None)
    exam_page = client.get(f"/sessions/{session.pk}/exam")
    assert exam_page["Location"] == "/lti/start-assessment"
    form = client.get("/lti/start-assessment")
    assert form.status_code == 200
    assert f'action="{lms.url}/start-assessment"' in form.content.decode()
    assert f"form-action 'self' {lms.url}/start-assessment" in form["Content-Security-Policy"]
    token = re.search(r'name="JWT" value="([^"]+)"', form.content.decode()).group(1)
    keys = Client().get("/lti/jwks.json").json()
    signing_key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
    body = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=lms.issuer)
    assert body["iss"] == lms.client_id
    assert body[C.MESSAGE_TYPE] == C.START_ASSESSMENT
    assert (body[C.SESSION_DATA], body[C.ATTEMPT_NUMBER], body[C.RESOURCE_LINK]) == (
        "opaque-123", 1, {"id": "link-1"})
    ended = launch(Client(), lms, lms.claims(sub="learner-1", roles=[LEARNER], message_type=C.END_ASSESSMENT,
                                             **{C.ATTEMPT_NUMBER: 1}))
    assert ended.status_code == 200 and b"Your assessment has ended" in ended.content
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
    assert session.status == SessionStatus.SUBMITTED
    again = launch(Client(), lms, lms.claims(sub="learner-1", roles=[LEARNER], message_type=C.END_ASSESSMENT,
                                             **{C.ATTEMPT_NUMBER: 1}))
    assert "already ended" in refusal(again)
    # A second attempt of the LMS's assessment: the sitting here is over, and the student is told so, not sent to it.
    second = launch(Client(), lms, lms.claims(sub="learner-1", roles=[LEARNER], message_type=C.START_PROCTORING,
                                              **{**proctoring, C.ATTEMPT_NUMBER: 2}))
    assert second.status_code == 409 and "an admin can let you sit it again" in refusal(second)


def test_it_refuses_a_start_proctoring_message_without_its_claims(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    map_link(lms, tenant_a.exam)
    claims = lms.claims(sub="learner-1", roles=[LEARNER], message_type=C.START_PROCTORING)
    assert "could not be verified" in refusal(launch(Client(), lms, claims))


# An audit of the tool as an LMS's admin and an attacker would try it

LEARNER_INSTITUTION_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"


def _signed_in(client: Client) -> User:
    return User.objects.get(pk=client.session["_auth_user_id"])


def test_an_email_claim_alone_never_signs_in_as_an_existing_account(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    """The audit: a launch claiming the student's, the proctor's or the admin's email was signed in as them."""
    map_link(lms, tenant_a.exam)
    client = Client()
    launch(client, lms, lms.claims(sub="claims-student", roles=[LEARNER], email=tenant_a.student.email))
    stranger = _signed_in(client)
    assert stranger.pk != tenant_a.student.pk and stranger.email.endswith("@lti.invalid")
    # Where the institution trusts the LMS's emails: a student's account, once; never staff; never one another
    # account of this LMS owns already.
    LtiPlatform.unscoped.filter(pk=registered.pk).update(link_by_email=True, instructor_role=Role.ADMIN)
    client = Client()
    launch(client, lms, lms.claims(sub="teacher-9", roles=[INSTRUCTOR], email=tenant_a.admin.email))
    assert _signed_in(client).pk != tenant_a.admin.pk
    client = Client()
    launch(client, lms, lms.claims(sub="learner-1", roles=[LEARNER], email=tenant_a.student.email.upper()))
    assert _signed_in(client).pk == tenant_a.student.pk
    client = Client()
    launch(client, lms, lms.claims(sub="learner-2", roles=[LEARNER], email=tenant_a.student.email))
    assert _signed_in(client).pk != tenant_a.student.pk
    with tenancy.tenant_scope(tenant_a.institution):
        assert LtiUserLink.objects.filter(user=tenant_a.student).count() == 1


def test_the_course_role_decides_not_a_role_in_the_institution(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    """The audit: a learner the LMS also called an instructor of the institution (Canvas: they teach a section
    elsewhere) became staff of the whole institution here."""
    map_link(lms, tenant_a.exam)
    client = Client()
    launch(client, lms, lms.claims(sub="ta-learner", roles=[LEARNER, LEARNER_INSTITUTION_INSTRUCTOR]))
    assert _signed_in(client).role == Role.STUDENT
    client = Client()  # without any role in the course, the institution's roles decide
    launch(client, lms, lms.claims(sub="dean", roles=[LEARNER_INSTITUTION_INSTRUCTOR]))
    assert _signed_in(client).role == Role.PROCTOR


@pytest.mark.parametrize("change", [
    {C.ROLES: 7}, {C.CONTEXT: "course-101"}, {"sub": "s" * 300}, {C.RESOURCE_LINK: {"id": "r" * 300}},
])
def test_a_signed_but_malformed_launch_is_refused_with_a_4xx(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant, change: dict[str, Any]
) -> None:
    page = refusal(launch(Client(), lms, {**lms.claims(sub="x", roles=[LEARNER]), **change}))
    assert "could not be verified" in page
    _nobody_made(tenant_a)


def test_a_list_as_the_email_claim_is_no_email(lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
                                               ) -> None:
    map_link(lms, tenant_a.exam)
    client = Client()
    launch(client, lms, {**lms.claims(sub="x", roles=[LEARNER]), "email": ["x@y.test"]})
    assert _signed_in(client).email.endswith("@lti.invalid")


def test_the_token_checks_allow_a_minute_between_clocks_and_ask_for_an_expiry(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    import time

    map_link(lms, tenant_a.exam)
    now = int(time.time())
    ahead = launch(Client(), lms, lms.claims(sub="ahead", roles=[LEARNER], iat=now + 20))  # its clock 20 s ahead
    assert ahead.status_code == 302 and ahead["Location"].startswith("/sessions/")
    page = refusal(launch(Client(), lms, lms.claims(sub="future", roles=[LEARNER], iat=now + 600)))
    assert "clock" in page
    client = Client()
    query = start_login(client, lms)
    body = {"iss": lms.issuer, "aud": lms.client_id, "iat": now, "nonce": query["nonce"],
            **lms.claims(sub="no-exp", roles=[LEARNER])}
    token = jwt.encode(body, lms.key, algorithm="RS256", headers={"kid": lms.kid})
    refusal(client.post("/lti/launch", {"id_token": token, "state": query["state"]}))
    # azp, where present, names this tool even with a single audience
    assert "not addressed to this tool" in refusal(
        launch(Client(), lms, lms.claims(sub="y", roles=[LEARNER], azp="someone-else")))


def test_the_platforms_keys_are_kept_and_fetched_again_when_it_signs_with_a_new_one(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    map_link(lms, tenant_a.exam)
    fetched = lms.jwks_fetches
    for sub in ("a", "b", "c"):
        assert launch(Client(), lms, lms.claims(sub=sub, roles=[LEARNER])).status_code == 302
    assert lms.jwks_fetches <= fetched + 1  # kept, not fetched on every launch
    lms.key, lms.kid = rsa.generate_private_key(public_exponent=65537, key_size=2048), "rotated"
    assert launch(Client(), lms, lms.claims(sub="d", roles=[LEARNER])).status_code == 302


def test_a_keyset_on_a_private_address_is_refused_and_never_fetched(
    lms: LoopbackPlatform, tenant_a: Tenant, settings: Any
) -> None:
    """The audit: an admin registered a keyset on 127.0.0.1, and any launch made the server fetch it and show its
    answer ("INTERNAL-ONLY ...") on the refusal page."""
    internal = register(lms, tenant_a, keyset_url=f"{lms.url}/internal")  # (allowed in development)
    page = refusal(launch(Client(), lms, lms.claims(sub="x", roles=[LEARNER])))
    assert "did not answer with keys" in page and "INTERNAL" not in page and "hunter2" not in page
    with tenancy.tenant_scope(tenant_a.institution):  # nor in the reason kept for the institution's admin
        assert "hunter2" not in str(AuditEvent.objects.filter(action="lti.launch.refused").values_list("data"))
    settings.LTI_ALLOW_PRIVATE_URLS = False
    loopback = lms.url.replace("http://", "https://")
    with pytest.raises(AppError, match="private or local"):
        register(lms, tenant_a, client_id="other", keyset_url=f"{loopback}/jwks")
    with pytest.raises(AppError, match="https"):
        register(lms, tenant_a, client_id="other", keyset_url="http://lms.example/jwks")
    LtiPlatform.unscoped.filter(pk=internal.pk).update(keyset_url=f"{loopback}/jwks")  # registered before
    fetched = lms.jwks_fetches
    assert "private or local" in refusal(launch(Client(), lms, lms.claims(sub="x", roles=[LEARNER])))
    assert lms.jwks_fetches == fetched


def test_a_keyset_that_never_answers_is_given_up_on(lms: LoopbackPlatform, tenant_a: Tenant, settings: Any) -> None:
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connects, never answers
    try:
        settings.LTI_FETCH_TIMEOUT = 0.5
        register(lms, tenant_a, keyset_url=f"http://127.0.0.1:{silent.getsockname()[1]}/jwks")
        began = time.monotonic()
        assert "did not come in time" in refusal(launch(Client(), lms, lms.claims(sub="x", roles=[LEARNER])))
        assert time.monotonic() - began < 10
    finally:
        silent.close()


# A re-audit of the fixes above

@pytest.mark.parametrize(("url", "problem"), [
    ("https://127.0.0.1:8443\\@1.1.1.1/jwks", "backslash"),  # urlsplit reads 1.1.1.1; requests fetched 127.0.0.1
    ("https://user:pw@1.1.1.1/jwks", "user name or password"),
    ("https://1.1.1.1/jwks x", "space"),
    ("https://1.1.1.1\t/jwks", "control character"),
    ("https://1.1.1.1:99999/jwks", "not a valid address"),  # answered 500
    ("https://1.1.1.1:0/jwks", "not a valid address"),
    ("https://[64:ff9b::7f00:1]/jwks", "private or local"),  # NAT64 of 127.0.0.1: a second re-audit
    ("https://[2002:7f00:1::]/jwks", "private or local"),  # 6to4
])
def test_a_keyset_url_that_parsers_read_differently_is_refused(settings: Any, url: str, problem: str) -> None:
    from exams.lti.services import fetchable_url_error

    settings.LTI_ALLOW_PRIVATE_URLS = False
    assert fetchable_url_error("https://1.1.1.1/jwks") == ""
    assert "does not resolve" in fetchable_url_error("https://bücher.invalid/jwks")  # a name in another script: read
    assert problem in fetchable_url_error(url)


@pytest.mark.parametrize(("roles", "role"), [
    (["Learner", LEARNER_INSTITUTION_INSTRUCTOR], Role.STUDENT),  # LTI 1.3's simple name for a course role
    (["http://purl.imsglobal.org/vocab/lis/v2/Membership#learner", LEARNER_INSTITUTION_INSTRUCTOR], Role.STUDENT),
    (["urn:lti:role:ims/lis/Learner", LEARNER_INSTITUTION_INSTRUCTOR], Role.STUDENT),  # LTI 1.1's URN
    (["urn:lti:role:ims/lis/Instructor/TeachingAssistant"], Role.PROCTOR),
    (["Instructor"], Role.PROCTOR),
])
def test_a_course_role_in_any_of_its_spellings_decides(registered: LtiPlatform, roles: list[str], role: str) -> None:
    """The re-audit: "Learner", or a URI in other capitals, was not read as a course role, and the institution's
    Instructor made a learner staff."""
    from exams.lti.services import role_for

    assert role_for(platform=registered, claims={C.ROLES: roles}) == role


@pytest.mark.parametrize("change", [
    {C.ATTEMPT_NUMBER: 2**31}, {C.ATTEMPT_NUMBER: 10**20}, {C.START_ASSESSMENT_URL: "https://lms.test/" + "a" * 1000},
])
def test_an_attempt_or_a_start_url_beyond_their_columns_is_refused_with_a_4xx(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant, change: dict[str, Any]
) -> None:
    map_link(lms, tenant_a.exam)
    proctoring = {C.ATTEMPT_NUMBER: 1, C.SESSION_DATA: "s", C.START_ASSESSMENT_URL: f"{lms.url}/start", **change}
    refusal(launch(Client(), lms, lms.claims(sub="learner-1", roles=[LEARNER], message_type=C.START_PROCTORING,
                                             **proctoring)))


def test_an_email_links_no_account_another_lms_owns_nor_a_look_alike(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    map_link(lms, tenant_a.exam)
    LtiPlatform.unscoped.filter(pk=registered.pk).update(link_by_email=True)
    other = register(lms, tenant_a, client_id="another-lms")
    with tenancy.tenant_scope(tenant_a.institution):
        LtiUserLink.objects.create(institution=tenant_a.institution, platform=other, sub="s-1", user=tenant_a.student)
    client = Client()
    launch(client, lms, lms.claims(sub="learner-1", roles=[LEARNER], email=tenant_a.student.email))
    assert _signed_in(client).pk != tenant_a.student.pk
    with tenancy.tenant_scope(tenant_a.institution):
        User.objects.filter(pk=tenant_a.student.pk).update(email="student.s@alpha.test")
        LtiUserLink.objects.filter(platform=other).delete()
    client = Client()  # "ſ" is "S" to PostgreSQL's UPPER()
    launch(client, lms, lms.claims(sub="learner-2", roles=[LEARNER], email="student.ſ@alpha.test"))
    assert _signed_in(client).pk != tenant_a.student.pk


def test_keys_are_fetched_again_for_an_unknown_key_at_most_once_a_minute(
    lms: LoopbackPlatform, registered: LtiPlatform, tenant_a: Tenant
) -> None:
    map_link(lms, tenant_a.exam)
    fetched = lms.jwks_fetches
    for sub in ("a", "b", "c"):  # an attacker's made-up key ids
        refusal(launch(Client(), lms, lms.claims(sub=sub, roles=[LEARNER]), kid=f"made-up-{sub}"))
    assert lms.jwks_fetches == fetched + 1
