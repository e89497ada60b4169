"""LTI Proctoring Services 1.0, the tool's side: the platform sends LtiStartProctoring, the student
goes through our consent and checks, then we send them back with a signed LtiStartAssessment; the
platform's LtiEndAssessment ends the sitting.

pylti1p3 knows none of these messages (exams.lti.views.ToolMessageLaunch accepts them); the
LtiStartAssessment JWT is signed here with the tool's key for the platform (published at /lti/jwks.json)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.audit import audit
from accounts.decorators import role_required
from accounts.errors import Conflict, NotFound
from accounts.models import Role
from accounts.tenancy import tenant_scope
from exams.lti import claims as C
from exams.lti.models import LtiPlatform, LtiProctoringAttempt, LtiUserLink
from exams.models import ExamSession
from exams.services import session_transition
from exams.statuses import FINISHED, SessionStatus

ATTEMPT = "lti_attempt"
TOKEN_SECONDS = 300


def attempt_open(request: HttpRequest, *, platform: LtiPlatform, claims: dict[str, Any],
                 session: ExamSession) -> LtiProctoringAttempt:
    """Remember the platform's attempt; the student's exam page sends them back once the checks pass."""
    with tenant_scope(platform.institution_id), transaction.atomic():
        attempt, _ = LtiProctoringAttempt.objects.update_or_create(
            session=session, attempt_number=claims[C.ATTEMPT_NUMBER],
            defaults={"institution_id": platform.institution_id, "platform": platform,
                      "resource_link_id": str(claims[C.RESOURCE_LINK]["id"]),
                      "session_data": str(claims.get(C.SESSION_DATA) or ""),
                      "start_assessment_url": str(claims[C.START_ASSESSMENT_URL]),
                      "deployment_id": str(claims[C.DEPLOYMENT_ID])})
        audit(institution_id=platform.institution_id, actor=session.student, action="lti.proctoring.start",
              target=session, data={"attempt": attempt.attempt_number, "platform": platform.pk})
    request.session[ATTEMPT] = attempt.pk
    return attempt


def pending_attempt(session: ExamSession) -> LtiProctoringAttempt | None:
    """The platform's attempt still waiting for LtiStartAssessment, if this sitting came from one."""
    return (LtiProctoringAttempt.objects.filter(session=session, started_at__isnull=True)
            .order_by("-attempt_number").first())


def start_assessment_token(*, attempt: LtiProctoringAttempt) -> str:
    platform = attempt.platform
    now = int(time.time())
    body = {
        "iss": platform.client_id, "aud": platform.issuer, "iat": now, "exp": now + TOKEN_SECONDS,
        "nonce": uuid.uuid4().hex, C.MESSAGE_TYPE: C.START_ASSESSMENT, C.VERSION: "1.3.0",
        C.DEPLOYMENT_ID: attempt.deployment_id, C.RESOURCE_LINK: {"id": attempt.resource_link_id},
        C.ATTEMPT_NUMBER: attempt.attempt_number, C.SESSION_DATA: attempt.session_data,
    }
    return jwt.encode(body, platform.private_key_pem, algorithm="RS256", headers={"kid": platform.kid})


@login_required
@role_required(Role.STUDENT)
@require_GET
def start_assessment(request: HttpRequest) -> HttpResponse:
    """Checks passed: post the signed LtiStartAssessment to the platform (an auto-posting form)."""
    attempt = (LtiProctoringAttempt.objects.select_related("platform", "session")
               .filter(pk=request.session.get(ATTEMPT) or 0, session__student=request.user).first())
    if attempt is None:
        raise NotFound("Not found.")
    if attempt.session.status != SessionStatus.IN_PROGRESS:
        return redirect("session-start", pk=attempt.session_id)
    token = start_assessment_token(attempt=attempt)
    attempt.started_at = timezone.now()
    attempt.save(update_fields=["started_at"])
    audit(institution_id=attempt.institution_id, actor=request.user, action="lti.proctoring.start_assessment",
          target=attempt.session, data={"attempt": attempt.attempt_number})
    response = render(request, "lti/autopost.html", {"action": attempt.start_assessment_url, "fields": {"JWT": token},
                                                     "title": "Back to your course"})
    return csp_update({"form-action": [attempt.start_assessment_url]})(lambda r: response)(request)


def end_assessment(request: HttpRequest, *, platform: LtiPlatform, claims: dict[str, Any]) -> HttpResponse:
    """The platform says the assessment ended: the sitting is submitted (through the state machine)."""
    with tenant_scope(platform.institution_id):
        link = LtiUserLink.objects.filter(platform=platform, sub=str(claims["sub"])).first()
        attempt = None if link is None else (
            LtiProctoringAttempt.objects.select_related("session")
            .filter(platform=platform, session__student_id=link.user_id,
                    resource_link_id=str(claims[C.RESOURCE_LINK]["id"]),
                    attempt_number=claims[C.ATTEMPT_NUMBER]).first())
        if attempt is None:
            raise NotFound("This attempt is not known here.")
        if attempt.ended_at is not None:
            raise Conflict("This attempt has already ended.", code="lti_attempt_ended")
        attempt.ended_at = timezone.now()
        attempt.save(update_fields=["ended_at"])
        if attempt.session.status not in FINISHED:
            if attempt.session.status == SessionStatus.IN_PROGRESS:
                session_transition(session_id=attempt.session_id, to=SessionStatus.SUBMITTED, actor=None)
            else:
                session_transition(session_id=attempt.session_id, to=SessionStatus.TERMINATED, actor=None)
        audit(institution_id=platform.institution_id, actor=None, action="lti.proctoring.end",
              target=attempt.session, data={"attempt": attempt.attempt_number})
    return render(request, "lti/ended.html", {"return_url": claims.get(C.END_ASSESSMENT_RETURN) or ""})
