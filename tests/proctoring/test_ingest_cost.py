"""What the web does per webcam frame: every student posts one every few seconds and polls its result, so
each query and round trip here is paid hundreds of times a second at scale (scripts/bench_scale.py)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone
from knox.models import AuthToken

from accounts import services as account_services
from accounts.throttle import window_hit
from proctoring.models import Frame, FrameStatus
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import Bucket, image, start_session


def _post(client: Any, session: Any) -> Any:
    payload = {"image": base64.b64encode(image("signer1_b.jpg")).decode(), "session": session.pk}
    return client.post("/process", json.dumps(payload), content_type="application/json")


@pytest.mark.django_db(transaction=True)  # no test transaction around it: a request runs in autocommit
def test_it_stores_a_frame_with_four_queries(tenant_a: Tenant, django_assert_num_queries: Any,
                                             monkeypatch: Any) -> None:
    """The token with its user and institution, the session with its exam and the student's accommodation, the
    frame's INSERT, and the student's messages: the answer's inbox, which spares the exam page its message poll."""
    monkeypatch.setattr("proctoring.services.enqueue_analysis", lambda frame_id: True)  # the broker's part
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)

    with django_assert_num_queries(4):
        response = _post(client, session)

    assert response.status_code == 202, response.content
    assert Frame.unscoped.get(pk=response.json()["frame"]).status == FrameStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_it_stores_a_camera_check_frame_with_three_queries(tenant_a: Tenant, django_assert_num_queries: Any,
                                                          monkeypatch: Any) -> None:
    """At the check (every 2 s at an exam's start) the answer brings no inbox: no messages' query."""
    from exams.statuses import SessionStatus

    monkeypatch.setattr("proctoring.services.enqueue_analysis", lambda frame_id: True)
    session = start_session(tenant_a, until=SessionStatus.CHECKING)
    client = api_client_for(tenant_a.student)

    with django_assert_num_queries(3):
        response = _post(client, session)

    assert response.status_code == 202, response.content
    assert "inbox" not in response.json()


def test_it_answers_a_students_status_poll_with_two_queries(tenant_a: Tenant, django_assert_num_queries: Any,
                                                            monkeypatch: Any) -> None:
    monkeypatch.setattr("proctoring.services.enqueue_analysis", lambda frame_id: True)
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    frame = _post(client, session).json()

    with django_assert_num_queries(2) as captured:
        response = client.get(frame["status_url"])

    assert response.status_code == 200 and response.json()["status"] == "pending"
    frame_query = captured.captured_queries[-1]["sql"]
    assert '"exams_examsession"."status"' not in frame_query  # the frame alone: no session, exam or student


@pytest.mark.django_db(transaction=True)
def test_it_answers_the_exam_pages_message_poll_with_four_queries(tenant_a: Tenant,
                                                                  django_assert_num_queries: Any) -> None:
    """An exam page asks every 4 s while its frames do not bring the inbox (static/js/exam.js pollMessages): the
    browser's session, its user, the session with its exam and the student's accommodation (its deadline), the
    messages."""
    from exams.models import Accommodation

    session = start_session(tenant_a)
    Accommodation.unscoped.create(institution=tenant_a.institution, student=tenant_a.student, extra_minutes=15,
                                  reason="test")
    client = page_client_for(tenant_a.student)

    with django_assert_num_queries(4):
        response = client.get(f"/api/v1/sessions/{session.pk}/messages")

    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert response.json()["deadline"] == session.deadline.isoformat().replace("+00:00", "Z")
    assert session.extra_time == timedelta(minutes=15)


def test_it_refuses_and_deletes_an_expired_token(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.student)
    AuthToken.objects.filter(user=tenant_a.student).update(expiry=timezone.now() - timedelta(seconds=1))

    assert client.get("/api/v1/me").status_code == 401
    assert not AuthToken.objects.filter(user=tenant_a.student).exists()


def test_it_deletes_a_users_expired_tokens_when_it_issues_one(tenant_a: Tenant) -> None:
    """Authentication no longer reads the user's other tokens to delete the expired ones: issuing does."""
    account_services.user_api_token(user=tenant_a.student)
    AuthToken.objects.filter(user=tenant_a.student).update(expiry=timezone.now() - timedelta(seconds=1))
    other = account_services.user_api_token(user=tenant_a.proctor)
    AuthToken.objects.filter(user=tenant_a.proctor).update(expiry=timezone.now() - timedelta(seconds=1))

    account_services.user_api_token(user=tenant_a.student)

    assert AuthToken.objects.filter(user=tenant_a.student).count() == 1  # the new one
    assert AuthToken.objects.filter(user=tenant_a.proctor).count() == 1  # another user's are theirs
    assert other


@pytest.mark.parametrize("size", [50_000, 9 * 1024 * 1024])  # one PutObject; past the multipart threshold
def test_it_stores_a_file_in_the_bucket_privately_with_its_type(s3: Bucket, tenant_a: Tenant, size: int) -> None:
    from django.core.files.base import ContentFile

    from proctoring.storage import private_storage

    data = bytes(range(256)) * (size // 256)
    name = private_storage.save("frames/test/one.jpg", ContentFile(data))

    assert s3.read(name) == data
    head = s3.client.head_object(Bucket=s3.name, Key=name)
    assert head["ContentType"] == "image/jpeg"
    if size < 8 * 1024 * 1024:  # moto answers 500 for a multipart object's ACL; the library's path is unchanged
        grants = s3.client.get_object_acl(Bucket=s3.name, Key=name)["Grants"]
        assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    private_storage.delete(name)
    private_storage.delete(name)  # already gone: no error
    assert name not in s3.keys()


@pytest.mark.django_db(transaction=True)  # no test transaction around it: a request runs in autocommit
def test_it_stores_a_frame_from_the_browser_with_five_queries(tenant_a: Tenant, django_assert_num_queries: Any,
                                                               monkeypatch: Any) -> None:
    """Signed in with a session cookie, as the exam page: the session, the user with their institution, the
    exam session with its exam and the student's accommodation, the INSERT, the student's messages (the inbox:
    the page's message poll, four queries more, need not go)."""
    monkeypatch.setattr("proctoring.services.enqueue_analysis", lambda frame_id: True)
    session = start_session(tenant_a)
    client = page_client_for(tenant_a.student)

    with django_assert_num_queries(5):
        response = _post(client, session)

    assert response.status_code == 202, response.content


def test_it_counts_a_rate_limit_on_redis_with_the_backends_one_client(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")}}
    key = f"test-{uuid.uuid4()}"

    assert [window_hit(key, limit=2, window=60) for _ in range(3)][:2] == [None, None]
    assert window_hit(key, limit=2, window=60) is not None  # the third and fourth are over
    client = caches["default"]._window_client
    window_hit(key, limit=2, window=60)
    assert caches["default"]._window_client is client


def test_a_retried_upload_inside_a_transaction_is_the_frame_it_repeats(tenant_a: Tenant, monkeypatch: Any) -> None:
    # The same capture sent again (its answer was lost): the unique constraint finds it, inside a caller's
    # transaction too (a savepoint; autocommit: tests/proctoring/test_camera.py).
    monkeypatch.setattr("proctoring.services.enqueue_analysis", lambda frame_id: True)
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    at = (timezone.now() - timedelta(seconds=1)).isoformat()
    payload = {"image": base64.b64encode(image("signer1_b.jpg")).decode(), "session": session.pk, "captured_at": at}
    first, again = (client.post("/process", json.dumps(payload), content_type="application/json") for _ in range(2))
    assert first.status_code == again.status_code == 202 and first.json()["frame"] == again.json()["frame"]
    assert Frame.unscoped.filter(session=session).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_gate_status_reads_the_sessions_frames_once(tenant_a: Tenant) -> None:
    """The camera check asks for the gate's status after every frame: its identity verdict, failed tries and head
    turns are judged on one read of the session's latest frames (the turns read them again only when there are
    more in their window than that read holds: proctoring.gate._window_of), and the start rule takes the head turns
    as judged there; it reads only the latest frame's verdict itself. Each more read of a check's minutes of frames
    cost the poll about a quarter of its CPU (scripts/profile_frame_cost.py, 168 frames, PostgreSQL: 12 queries and
    53-66 CPU-ms, then 9 and 30-36)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts import tenancy
    from exams.models import Exam, ExamSession
    from exams.statuses import SessionStatus
    from proctoring import gate
    from tests.conftest import head_turn_yaws

    session = start_session(tenant_a, until=SessionStatus.CHECKING)
    Exam.unscoped.filter(pk=session.exam_id).update(status="published")
    ExamSession.unscoped.filter(pk=session.pk).update(consent_at=timezone.now(),
                                                      consent_version=tenant_a.institution.consent_version)
    yaws = [0.0] * 10 + head_turn_yaws(gate.challenge_order(session))
    now = timezone.now()
    with tenancy.tenant_scope(None):
        for i, yaw in enumerate(yaws):
            at = now - timedelta(seconds=2 * (len(yaws) - i))
            Frame.objects.create(institution_id=session.institution_id, session=session, status=FrameStatus.DONE,
                                 received_at=at, captured_at=at, findings={
                                     "FaceDetails": [{"Pose": {"Yaw": yaw}}],
                                     "Verification": {"Passed": True, "Reason": "match", "Similarity": 96.0}},
                                 checks=[{"TestName": "Person Recognition", "Success": True, "Details": "Alpha"}])
    client = api_client_for(tenant_a.student)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/sessions/{session.pk}/gate")

    assert response.status_code == 200, response.content
    assert response.json()["identity"]["passed"] and response.json()["can_start"], response.json()["blocker"]
    frame_reads = [q["sql"][:160] for q in queries.captured_queries if 'FROM "proctoring_frame"' in q["sql"]]
    assert len(frame_reads) == 2, frame_reads  # the latest frames, and the start rule's latest verdict (by arrival)
