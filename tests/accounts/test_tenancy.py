"""Tenancy: one table of every endpoint that takes an id.

Adding an endpoint = adding one line to ENDPOINTS; ``test_it_covers_every_route_that_takes_an_id``
fails until the line is there.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts import tenancy
from tests.conftest import Tenant, api_client_for, page_client_for

MISSING_ID = 987654321


@dataclass(frozen=True)
class Endpoint:
    route: str  # the URL name (with namespace), used by the coverage test
    method: str
    path: Callable[[Any], str]  # object key -> path
    obj: Callable[[Tenant], Any]  # the key of the tenant A object it addresses
    ok_role: str  # a role that may use it (answers 2xx/3xx)
    denied_role: str | None  # a role of the same institution that gets a 403
    body: dict[str, Any] | None = None
    body_format: str = "json"  # of an API body: "multipart" for uploads

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api-")

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


def exam(t: Tenant) -> int:
    return t.exam.pk


def student(t: Tenant) -> int:
    return t.student.pk


def face(t: Tenant) -> uuid.UUID:
    return t.face.external_image_id


def frame(t: Tenant) -> int:
    return t.frame.pk


def incident(t: Tenant) -> int:
    return t.incident.pk


def session(t: Tenant) -> int:
    return t.session.pk


def approval(t: Tenant) -> int:
    """A photo-ID request of the tenant's session (made directly; the gate's tests make them for real)."""
    from django.core.files.base import ContentFile

    from proctoring.models import IdentityApproval

    with tenancy.tenant_scope(t.institution):
        existing = IdentityApproval.objects.filter(session=t.session).first()
        if existing is not None:
            return existing.pk
        request = IdentityApproval(institution=t.institution, session=t.session)
        request.id_photo.save("id.jpg", ContentFile(b"\xff\xd8 not really a jpeg \xff\xd9"), save=False)
        request.live_photo.save("live.jpg", ContentFile(b"\xff\xd8 not really a jpeg \xff\xd9"), save=False)
        request.save()
    return request.pk


def speech_segment(t: Tenant) -> int:
    """A speech clip of the tenant's session (made directly; tests/proctoring/test_speech.py uploads them)."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from proctoring.models import SpeechSegment

    with tenancy.tenant_scope(t.institution):
        existing = SpeechSegment.objects.filter(session=t.session).first()
        if existing is not None:
            return existing.pk
        now = timezone.now()
        segment = SpeechSegment(institution=t.institution, session=t.session, started_at=now, ended_at=now,
                                received_at=now, speech_seconds=1.0, probability=0.9)
        segment.clip.save("clip.wav", ContentFile(b"RIFF not really a wav"), save=False)
        segment.save()
    return segment.pk


def answer(t: Tenant) -> int:
    """A short-text answer of the tenant's session (made directly; tests/exams/test_grading.py grades real ones)."""
    from exams.models import Answer, Question

    with tenancy.tenant_scope(t.institution):
        existing = Answer.objects.filter(session=t.session).first()
        if existing is not None:
            return existing.pk
        question = Question.objects.create(institution=t.institution, exam=t.exam, kind="text", prompt="Why?")
        return Answer.objects.create(institution=t.institution, session=t.session, question=question, text="x").pk


def reviewed_session(t: Tenant) -> int:
    """The tenant's session, ended, with its incident confirmed: the student sees it on their record."""
    from tests.proctoring.conftest import reviewed

    reviewed(t)
    return t.session.pk


def reviewed_incident(t: Tenant) -> int:
    from tests.proctoring.conftest import reviewed

    return reviewed(t).pk


def evidence_frame(t: Tenant) -> int:
    """The frame of the tenant's confirmed incident (its evidence), which its student may see."""
    from tests.proctoring.conftest import reviewed

    return reviewed(t).evidence_frame_id


def appeal(t: Tenant) -> int:
    from tests.proctoring.conftest import appealed

    return appealed(t).pk


def proctor_message(t: Tenant) -> int:
    """A proctor's message to the tenant's session (made directly; tests/proctoring/test_live_actions.py sends them)."""
    from proctoring.models import ProctorMessage

    with tenancy.tenant_scope(t.institution):
        message, _ = ProctorMessage.objects.get_or_create(institution=t.institution, session=t.session,
                                                          defaults={"sender": t.proctor, "text": "Face the camera"})
    return message.pk


def lti_platform(t: Tenant) -> int:
    """An LMS registered by the tenant (exams.lti); its own issuer, so that both tenants can have one."""
    from exams.lti.models import LtiPlatform
    from exams.lti.services import platform_register

    existing = LtiPlatform.unscoped.filter(institution=t.institution).first()
    if existing is not None:
        return existing.pk
    lms = f"https://lms.{t.institution.slug}.test"
    return platform_register(institution=t.institution, name="LMS", issuer=lms, client_id="tool",
                             deployment_ids=["d1"], auth_login_url=f"{lms}/auth", keyset_url=f"{lms}/jwks").pk


def question_key(t: Tenant) -> Any:
    from tests.web.manage_endpoints import question

    return question(t)


def _api_question_path(key: int) -> str:
    return f"/api/v1/exams/{getattr(key, 'exam_pk', key)}/questions/{key}"


class EnrolmentKey(int):
    """A student's id that also knows the exam they are enrolled in; a bare int uses itself for both."""

    exam_pk: int


def enrolment_key(t: Tenant) -> EnrolmentKey:
    key = EnrolmentKey(t.student.pk)
    key.exam_pk = t.exam.pk
    return key


def _enrolment_path(key: int) -> str:
    return f"/api/v1/exams/{getattr(key, 'exam_pk', key)}/enrolments/{key}"


def _photos() -> dict[str, str]:
    import base64

    from tests.proctoring.conftest import image

    photo = base64.b64encode(image("signer1_a.jpg")).decode()
    return {"id_photo": photo, "live_photo": photo}


ENDPOINTS = [
    Endpoint("api-exam-detail", "GET", lambda i: f"/api/v1/exams/{i}/", exam, "proctor", "student"),
    Endpoint("api-exam-detail", "PATCH", lambda i: f"/api/v1/exams/{i}/", exam, "admin", "proctor", {"title": "x"}),
    Endpoint("api-exam-detail", "DELETE", lambda i: f"/api/v1/exams/{i}/", exam, "admin", "student"),
    Endpoint("api-exam-status", "POST", lambda i: f"/api/v1/exams/{i}/status", exam, "admin", "proctor",
             {"to": "archived"}),
    Endpoint("api-user-detail", "GET", lambda i: f"/api/v1/users/{i}/", student, "admin", "proctor"),
    Endpoint("api-user-detail", "PATCH", lambda i: f"/api/v1/users/{i}/", student, "admin", "student",
             {"full_name": "x"}),
    Endpoint("api-face-detail", "GET", lambda i: f"/api/v1/faces/{i}/", face, "admin", "proctor"),
    Endpoint("api-face-detail", "DELETE", lambda i: f"/api/v1/faces/{i}/", face, "admin", "student"),
    Endpoint("api-face-image", "GET", lambda i: f"/api/v1/faces/{i}/image", face, "proctor", "student"),
    Endpoint("api-frame-detail", "GET", lambda i: f"/api/v1/frames/{i}/", frame, "proctor", None),
    Endpoint("api-frame-image", "GET", lambda i: f"/api/v1/frames/{i}/image", frame, "proctor", "student"),
    Endpoint("api-incident-detail", "GET", lambda i: f"/api/v1/incidents/{i}/", incident, "proctor", "student"),
    Endpoint("api-session-detail", "GET", lambda i: f"/api/v1/sessions/{i}/", session, "proctor", None),
    Endpoint("api-session-transition", "POST", lambda i: f"/api/v1/sessions/{i}/transition", session, "proctor",
             "student", {"to": "terminated"}),
    Endpoint("api-session-answers", "POST", lambda i: f"/api/v1/sessions/{i}/answers", session, "student",
             "proctor", {"question": 1, "value": 0}),
    Endpoint("api-session-answers", "GET", lambda i: f"/api/v1/sessions/{i}/answers", session, "proctor",
             "student"),
    Endpoint("api-answer-grade", "POST", lambda i: f"/api/v1/answers/{i}/grade", answer, "admin", "proctor",
             {"points": 0}),  # the tenant's session is scheduled: 409, never graded
    Endpoint("session-answers", "GET", lambda i: f"/sessions/{i}/answers", session, "proctor", "student"),
    Endpoint("session-answers", "POST", lambda i: f"/sessions/{i}/answers", session, "admin", "student",
             {"answer": "", "points": "0"}),
    Endpoint("api-session-microphone-check", "POST", lambda i: f"/api/v1/sessions/{i}/microphone-check", session,
             "student", "proctor", {"level": 0.5}),  # the tenant's session is scheduled: 409
    Endpoint("api-session-events", "POST", lambda i: f"/api/v1/sessions/{i}/events", session, "student", "admin",
             {"kind": "tab_hidden"}),
    Endpoint("api-student-accommodation", "GET", lambda i: f"/api/v1/students/{i}/accommodation", student, "proctor",
             "student"),
    Endpoint("api-student-accommodation", "PUT", lambda i: f"/api/v1/students/{i}/accommodation", student, "admin",
             "proctor", {"reason": "Extra time", "extra_minutes": 10}),
    Endpoint("api-student-accommodation", "DELETE", lambda i: f"/api/v1/students/{i}/accommodation", student,
             "admin", "student"),
    Endpoint("api-session-reset", "POST", lambda i: f"/api/v1/sessions/{i}/reset", session, "admin", "proctor",
             {"reason": "x"}),  # the tenant's session is scheduled: 409, never reset
    Endpoint("api-session-unlock", "POST", lambda i: f"/api/v1/sessions/{i}/unlock", session, "admin", "student",
             {"minutes": 5, "reason": "x"}),  # scheduled: 409
    Endpoint("api-session-end", "POST", lambda i: f"/api/v1/sessions/{i}/end", session, "proctor", "student",
             {"reason": "x"}),
    Endpoint("api-session-messages", "GET", lambda i: f"/api/v1/sessions/{i}/messages", session, "student", None),
    Endpoint("api-session-messages", "POST", lambda i: f"/api/v1/sessions/{i}/messages", session, "proctor",
             "student", {"text": "x"}),  # scheduled: 409
    Endpoint("api-message-ack", "POST", lambda i: f"/api/v1/messages/{i}/ack", proctor_message, "student", "proctor"),
    Endpoint("api-exam-live", "GET", lambda i: f"/api/v1/exams/{i}/live", exam, "proctor", "student"),
    Endpoint("api-exam-questions", "GET", lambda i: f"/api/v1/exams/{i}/questions", exam, "proctor", "student"),
    Endpoint("api-exam-questions", "POST", lambda i: f"/api/v1/exams/{i}/questions", exam, "admin", "proctor",
             {"kind": "text", "prompt": "x"}),
    Endpoint("api-exam-question-detail", "GET", lambda k: _api_question_path(k), question_key, "proctor", "student"),
    Endpoint("api-exam-question-detail", "PATCH", lambda k: _api_question_path(k), question_key, "admin", "proctor",
             {"prompt": "x"}),
    Endpoint("api-exam-question-detail", "DELETE", lambda k: _api_question_path(k), question_key, "admin",
             "proctor"),
    Endpoint("api-exam-enrolments", "GET", lambda i: f"/api/v1/exams/{i}/enrolments", exam, "proctor", "student"),
    Endpoint("api-exam-enrolments", "POST", lambda i: f"/api/v1/exams/{i}/enrolments", exam, "admin", "proctor",
             {"students": []}),
    Endpoint("api-exam-enrolment-detail", "DELETE", lambda k: _enrolment_path(k), enrolment_key, "admin",
             "proctor"),
    Endpoint("api-session-consent", "GET", lambda i: f"/api/v1/sessions/{i}/consent", session, "student", "proctor"),
    Endpoint("api-session-consent", "POST", lambda i: f"/api/v1/sessions/{i}/consent", session, "student", "admin",
             {"agree": True}),
    Endpoint("session-start", "GET", lambda i: f"/sessions/{i}/start", session, "student", "proctor"),
    Endpoint("session-consent", "GET", lambda i: f"/sessions/{i}/consent", session, "student", "admin"),
    Endpoint("session-check", "GET", lambda i: f"/sessions/{i}/check", session, "student", "proctor"),
    Endpoint("session-exam", "GET", lambda i: f"/sessions/{i}/exam", session, "student", "proctor"),
    Endpoint("session-submit", "POST", lambda i: f"/sessions/{i}/submit", session, "student", "proctor", {}),
    Endpoint("session-done", "GET", lambda i: f"/sessions/{i}/done", session, "student", "admin"),
    Endpoint("session-report", "GET", lambda i: f"/sessions/{i}/report", session, "proctor", "student"),
    Endpoint("exam-live", "GET", lambda i: f"/exams/{i}/live", exam, "proctor", "student"),
    Endpoint("exam-report", "GET", lambda i: f"/exams/{i}/report", exam, "admin", "student"),
    Endpoint("exam-report-csv", "GET", lambda i: f"/exams/{i}/report.csv", exam, "proctor", "student"),
    Endpoint("incident-detail", "GET", lambda i: f"/incidents/{i}/", incident, "proctor", "student"),
    Endpoint("incident-detail", "POST", lambda i: f"/incidents/{i}/", incident, "proctor", "student",
             {"decision": "dismissed", "note": "x"}),
    Endpoint("exam-detail", "GET", lambda i: f"/exams/{i}/", exam, "proctor", "student"),
    Endpoint("api-session-gate", "GET", lambda i: f"/api/v1/sessions/{i}/gate", session, "student", None),
    Endpoint("api-session-identity-requests", "POST", lambda i: f"/api/v1/sessions/{i}/identity-requests", session,
             "student", "proctor", _photos()),
    Endpoint("api-session-speech", "POST", lambda i: f"/api/v1/sessions/{i}/speech", session, "student", "admin",
             {"clip": b"wav", "started_at": "2026-01-01T00:00:00Z", "ended_at": "2026-01-01T00:00:01Z"},
             "multipart"),
    Endpoint("api-session-speech-accommodation", "POST", lambda i: f"/api/v1/sessions/{i}/speech-accommodation",
             session, "admin", "proctor", {"on": True}),
    Endpoint("api-speech-clip", "GET", lambda i: f"/api/v1/speech/{i}/clip", speech_segment, "proctor", "student"),
    Endpoint("identity-request", "GET", lambda i: f"/identity/{i}/", approval, "proctor", "student"),
    Endpoint("identity-request", "POST", lambda i: f"/identity/{i}/", approval, "proctor", "student",
             {"decision": "approved"}),
    Endpoint("identity-photo", "GET", lambda i: f"/identity/{i}/id.jpg", approval, "proctor", "student"),
    Endpoint("identity-photo", "GET", lambda i: f"/identity/{i}/live.jpg", approval, "admin", "student"),
    Endpoint("identity-reference", "GET", lambda i: f"/identity/{i}/references/1.jpg", approval, "proctor",
             "student"),
    Endpoint("session-record", "GET", lambda i: f"/sessions/{i}/record", reviewed_session, "student", "proctor"),
    Endpoint("record-frame", "GET", lambda i: f"/record/frames/{i}.jpg", evidence_frame, "student", "admin"),
    Endpoint("incident-appeal", "POST", lambda i: f"/record/incidents/{i}/appeal", reviewed_incident, "student",
             "proctor", {"note": "It was my reflection."}),
    Endpoint("appeal-detail", "GET", lambda i: f"/appeals/{i}/", appeal, "proctor", "student"),
    Endpoint("appeal-detail", "POST", lambda i: f"/appeals/{i}/", appeal, "admin", "student",
             {"decision": "upheld", "note": "x"}),
    Endpoint("api-session-record", "GET", lambda i: f"/api/v1/sessions/{i}/record", reviewed_session, "student",
             "admin"),
    Endpoint("api-record-frame-image", "GET", lambda i: f"/api/v1/record/frames/{i}/image", evidence_frame,
             "student", "proctor"),
    Endpoint("api-incident-appeal", "POST", lambda i: f"/api/v1/incidents/{i}/appeal", reviewed_incident, "student",
             "proctor", {"note": "It was my reflection."}),
    Endpoint("api-appeal-detail", "GET", lambda i: f"/api/v1/appeals/{i}/", appeal, "proctor", "student"),
    Endpoint("api-appeal-decision", "POST", lambda i: f"/api/v1/appeals/{i}/decision", appeal, "admin", "student",
             {"decision": "overturned", "note": "x"}),
    Endpoint("manage:exams_exam_change", "GET", lambda i: f"/manage/exams/exam/{i}/change/", exam, "admin", "proctor"),
    Endpoint("manage:exams_exam_delete", "GET", lambda i: f"/manage/exams/exam/{i}/delete/", exam, "admin", "student"),
    Endpoint("manage:exams_exam_history", "GET", lambda i: f"/manage/exams/exam/{i}/history/", exam, "admin",
             "student"),
    Endpoint("manage:exams_ltiplatform_change", "GET", lambda i: f"/manage/exams/ltiplatform/{i}/change/",
             lti_platform, "admin", "proctor"),
    Endpoint("manage:exams_ltiplatform_delete", "GET", lambda i: f"/manage/exams/ltiplatform/{i}/delete/",
             lti_platform, "admin", "student"),
    Endpoint("manage:exams_ltiplatform_history", "GET", lambda i: f"/manage/exams/ltiplatform/{i}/history/",
             lti_platform, "admin", "student"),
    Endpoint("manage:accounts_user_change", "GET", lambda i: f"/manage/accounts/user/{i}/change/", student, "admin",
             "student"),
    Endpoint("manage:accounts_user_delete", "GET", lambda i: f"/manage/accounts/user/{i}/delete/", student, "admin",
             "proctor"),
    Endpoint("manage:accounts_user_history", "GET", lambda i: f"/manage/accounts/user/{i}/history/", student,
             "admin", "student"),
]

# The institution-admin pages keep their rows beside their tests (they import Endpoint from here). They are
# appended before any table below is built: a table built first (the wrong-role one was) silently skips them.
from tests.web.manage_endpoints import MANAGE_ENDPOINTS  # noqa: E402

ENDPOINTS += MANAGE_ENDPOINTS
WRONG_ROLE = [e for e in ENDPOINTS if e.denied_role]

# Routes with a parameter that address no tenant object, and why.
NOT_TENANT_OBJECTS = {
    "manage:app_list": "an app label, not an object",
    "manage:view_on_site": "content type + id redirect; our models have no public page",
    "manage:exams_exam_changelist": "",
    "manage:accounts_user_changelist": "",
    "password_reset_confirm": "a one-time signed token; a wrong or foreign one opens nothing",
}


def silent_wav() -> Any:
    """A fresh upload (one per call) of one second of 16 kHz mono silence."""
    import io
    import wave

    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 16000)
    return SimpleUploadedFile("clip.wav", buffer.getvalue(), content_type="audio/wav")


def without_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


def call(client: Any, endpoint: Endpoint, object_id: int) -> Any:
    kwargs: dict[str, Any] = {}
    if endpoint.body is not None:
        body = {name: silent_wav() if value == b"wav" else value for name, value in endpoint.body.items()}
        kwargs = {"data": body, "format": endpoint.body_format} if endpoint.is_api else {"data": body}
    return getattr(client, endpoint.method.lower())(endpoint.path(object_id), **kwargs)


def client_for(endpoint: Endpoint, user: Any) -> Any:
    return api_client_for(user) if endpoint.is_api else page_client_for(user)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_it_answers_404_for_another_institutions_object_as_for_a_missing_one(
    endpoint: Endpoint, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = client_for(endpoint, tenant_b.user(endpoint.ok_role))
    foreign = call(client, endpoint, endpoint.obj(tenant_a))
    key = endpoint.obj(tenant_a)
    missing = call(client, endpoint, uuid.uuid4() if isinstance(key, uuid.UUID) else MISSING_ID)
    assert foreign.status_code == 404
    assert missing.status_code == 404
    assert without_csrf(foreign.content) == without_csrf(missing.content)
    with tenancy.tenant_scope(None):  # and nothing changed on A's side
        tenant_a.exam.refresh_from_db()
        tenant_a.student.refresh_from_db()
    assert tenant_a.exam.title == "alpha exam"
    assert tenant_a.student.full_name == "alpha Student"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_it_serves_the_owner(endpoint: Endpoint, tenant_a: Tenant, tenant_b: Tenant) -> None:
    response = call(client_for(endpoint, tenant_a.user(endpoint.ok_role)), endpoint, endpoint.obj(tenant_a))
    # Reached the object: 2xx, a redirect to the next step, or a 409 about its state; never 403/404/5xx.
    assert response.status_code < 400 or response.status_code == 409, response.content[:300]


@pytest.mark.parametrize("endpoint", WRONG_ROLE, ids=str)
def test_it_answers_403_for_the_wrong_role(endpoint: Endpoint, tenant_a: Tenant) -> None:
    response = call(client_for(endpoint, tenant_a.user(endpoint.denied_role)), endpoint, endpoint.obj(tenant_a))
    assert response.status_code == 403


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_it_turns_away_anonymous_callers(endpoint: Endpoint, tenant_a: Tenant) -> None:
    response = call(client_for(endpoint, None), endpoint, endpoint.obj(tenant_a))
    if endpoint.is_api:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    else:
        assert response.status_code == 302
        assert "login" in response["Location"]


def _named_routes(resolver: URLResolver, namespace: str = "") -> list[tuple[str, str]]:
    routes = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            routes += [(name, str(pattern.pattern) + regex) for name, regex in _named_routes(pattern, inner)]
        elif isinstance(pattern, URLPattern) and pattern.name:
            routes.append((namespace + pattern.name, str(pattern.pattern)))
    return routes


def test_it_covers_every_route_that_takes_an_id() -> None:
    with_parameters = {
        name for name, regex in _named_routes(get_resolver())
        if ("<" in regex or "(?P" in regex) and not name.startswith("admin:")  # platform admin: superusers
    }
    covered = {e.route for e in ENDPOINTS} | set(NOT_TENANT_OBJECTS)
    assert with_parameters - covered == set()



def test_it_runs_every_row_in_every_table(request: pytest.FixtureRequest) -> None:
    """Each table's parametrisation holds every row, the /manage/ pages included."""
    from tests.web.manage_endpoints import MANAGE_ENDPOINTS

    module = request.module
    by_test = {name: [m for m in getattr(module, name).pytestmark if m.name == "parametrize"][0].args[1]
               for name in ("test_it_answers_404_for_another_institutions_object_as_for_a_missing_one",
                            "test_it_serves_the_owner", "test_it_answers_403_for_the_wrong_role",
                            "test_it_turns_away_anonymous_callers")}
    assert all(row in rows for rows in by_test.values() for row in MANAGE_ENDPOINTS if row.denied_role)
    assert by_test["test_it_answers_403_for_the_wrong_role"] == [e for e in ENDPOINTS if e.denied_role]
    assert all(rows == ENDPOINTS for name, rows in by_test.items() if "wrong_role" not in name)


# Ids that arrive in a body or a query string, not in the path: another institution's id must be treated
# exactly as a missing one (same status, same body) and must change nothing.

@dataclass(frozen=True)
class IdInput:
    name: str
    method: str
    role: str  # the tenant B role that sends it
    path: Callable[[Tenant], str]  # given tenant B
    body: Callable[[Tenant, Any], dict[str, Any] | None]  # (tenant B, the id under test) -> body
    obj: Callable[[Tenant], Any]  # the tenant A object whose id is sent

    def __str__(self) -> str:
        return self.name


def question_of(t: Tenant) -> int:
    from tests.web.manage_endpoints import question

    return int(question(t))


ID_INPUTS = [
    IdInput("session create: exam", "POST", "admin", lambda b: "/api/v1/sessions/",
            lambda b, i: {"exam": i, "student": b.student.pk}, exam),
    IdInput("session create: student", "POST", "admin", lambda b: "/api/v1/sessions/",
            lambda b, i: {"exam": b.exam.pk, "student": i}, student),
    IdInput("sessions ?exam=", "GET", "proctor", lambda b: "/api/v1/sessions/?exam={id}", lambda b, i: None, exam),
    IdInput("incidents review: ids", "POST", "proctor", lambda b: "/api/v1/incidents/review",
            lambda b, i: {"ids": [b.incident.pk, i], "decision": "dismissed"}, incident),
    IdInput("incidents ?session=", "GET", "proctor", lambda b: "/api/v1/incidents/?session={id}",
            lambda b, i: None, session),
    IdInput("face register: student", "POST", "admin", lambda b: "/faces/index",
            lambda b, i: {"image": "aGVsbG8=", "fullName": "x", "student": i}, student),
    IdInput("process: session", "POST", "student", lambda b: "/process",
            lambda b, i: {"image": "aGVsbG8=", "session": i}, session),
    IdInput("enrol: students", "POST", "admin", lambda b: f"/api/v1/exams/{b.exam.pk}/enrolments",
            lambda b, i: {"students": [i]}, student),
    IdInput("answer: question", "POST", "student", lambda b: f"/api/v1/sessions/{b.session.pk}/answers",
            lambda b, i: {"question": i, "value": "x"}, question_of),
]


def _running(t: Tenant) -> None:
    from exams.models import ExamSession

    with tenancy.tenant_scope(t.institution):
        ExamSession.objects.filter(pk=t.session.pk).update(status="in_progress", started_at=timezone.now())


def _counts(t: Tenant) -> tuple[int, ...]:
    from exams.models import Answer, ExamSession
    from proctoring.models import FaceRegistration, Frame

    with tenancy.tenant_scope(None):
        return tuple(m.objects.filter(institution=t.institution).count()
                     for m in (ExamSession, Answer, FaceRegistration, Frame))


@pytest.mark.parametrize("case", ID_INPUTS, ids=str)
def test_it_treats_another_institutions_id_in_a_body_or_query_as_missing(
    case: IdInput, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    _running(tenant_b)
    client = api_client_for(tenant_b.user(case.role))
    before = (_counts(tenant_a), _counts(tenant_b))

    def send(object_id: Any) -> Any:
        path = case.path(tenant_b).replace("{id}", str(object_id))
        body = case.body(tenant_b, object_id)
        return client.generic(case.method, path, json.dumps(body) if body is not None else "", "application/json")

    foreign, missing = send(case.obj(tenant_a)), send(MISSING_ID)
    assert 200 <= missing.status_code < 500
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    if foreign.status_code == 200:
        assert foreign.json()["count"] == 0
    assert (_counts(tenant_a), _counts(tenant_b)) == before


@pytest.mark.parametrize("query", ["/review/?exam={id}"])
def test_it_treats_another_institutions_id_in_a_page_query_as_missing(
    query: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = page_client_for(tenant_b.proctor)
    foreign = client.get(query.format(id=tenant_a.exam.pk))
    missing = client.get(query.format(id=MISSING_ID))
    assert foreign.status_code == missing.status_code == 200
    assert without_csrf(foreign.content) == without_csrf(missing.content)
    assert tenant_a.exam.title.encode() not in foreign.content
