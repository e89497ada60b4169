"""Abuse limits on the frame path and the API: 429 with the error envelope and Retry-After."""

from __future__ import annotations

import base64
import io
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from accounts import tenancy, throttle
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring import services
from proctoring.models import Frame
from tests.conftest import PASSWORD, Tenant, api_client_for
from tests.proctoring.conftest import start_session

UNREACHABLE_REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                 "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens there


def jpeg(size: int = 96) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), "gray").save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def _no_analysis(monkeypatch: Any) -> None:
    # The limits are under test, not the engine: frames stay pending.
    monkeypatch.setattr(services, "enqueue_analysis", lambda frame_id: True)


def send(session: Any, user: Any, image: bytes | None = None) -> Any:
    body = {"image": base64.b64encode(image or jpeg()).decode(), "session": session.pk}
    return api_client_for(user).post("/process", body, format="json")


def frames_of(tenant: Tenant, session: Any) -> int:
    with tenancy.tenant_scope(tenant.institution):
        return Frame.objects.filter(session=session).count()


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


def test_it_takes_a_burst_then_about_one_frame_per_capture_interval(tenant_a: Tenant, settings: Any) -> None:
    settings.FRAME_RATE_WINDOW, settings.FRAME_RATE_BURST = 60, 2
    session = start_session(tenant_a)
    session.exam.capture_interval_seconds = 30  # 60 s / 30 s = 2 frames, plus a burst of 2
    session.exam.save()
    for _ in range(4):
        assert send(session, tenant_a.student).status_code == 202
    refused = send(session, tenant_a.student)
    assert_throttled(refused)
    assert "capture interval" in refused.json()["error"]["message"]
    assert frames_of(tenant_a, session) == 4


def test_it_takes_the_gates_faster_frames_before_the_exam_starts(tenant_a: Tenant, settings: Any) -> None:
    """The identity gate sends a frame every 2 s for its liveness challenge, even in an exam that
    captures one frame a minute; once the exam runs, the exam's own interval applies again."""
    settings.FRAME_RATE_WINDOW, settings.FRAME_RATE_BURST, settings.GATE_FRAME_INTERVAL = 60, 2, 2
    session = start_session(tenant_a)
    session.exam.capture_interval_seconds = 60
    session.exam.save()
    ExamSession.unscoped.filter(pk=session.pk).update(status=SessionStatus.CHECKING)
    session.refresh_from_db()
    for _ in range(32):  # 60 s / 2 s + a burst of 2
        assert send(session, tenant_a.student).status_code == 202
    assert_throttled(send(session, tenant_a.student))


def test_it_counts_each_session_apart(tenant_a: Tenant, settings: Any) -> None:
    settings.FRAME_RATE_WINDOW, settings.FRAME_RATE_BURST = 60, 0
    first, second = start_session(tenant_a), start_session(tenant_a)
    for session in (first, second):
        session.exam.capture_interval_seconds = 60
        session.exam.save()
    assert send(first, tenant_a.student).status_code == 202
    assert send(first, tenant_a.student).status_code == 429
    assert send(second, tenant_a.student).status_code == 202


def test_it_caps_the_bytes_a_user_sends(tenant_a: Tenant, settings: Any) -> None:
    image = jpeg(400)
    settings.FRAME_RATE_BURST = 100
    settings.FRAME_BYTES_PER_USER, settings.FRAME_BYTES_WINDOW = 3 * len(image), 300
    first, second = start_session(tenant_a), start_session(tenant_a)
    for session in (first, first, second):
        assert send(session, tenant_a.student, image).status_code == 202
    refused = send(second, tenant_a.student, image)  # another session: the cap is the user's
    assert_throttled(refused)
    assert frames_of(tenant_a, first) + frames_of(tenant_a, second) == 3


def test_it_takes_frames_when_the_cache_is_unreachable(tenant_a: Tenant, settings: Any) -> None:
    session = start_session(tenant_a)
    settings.FRAME_RATE_BURST = 0
    session.exam.capture_interval_seconds = 300
    session.exam.save()
    settings.CACHES = UNREACHABLE_REDIS
    for _ in range(3):
        assert send(session, tenant_a.student).status_code == 202
    assert frames_of(tenant_a, session) == 3


def test_it_counts_nothing_and_allows_when_the_cache_is_unreachable(settings: Any) -> None:
    settings.CACHES = UNREACHABLE_REDIS
    assert throttle.window_hit("k", limit=0, window=60) is None  # over the limit, but nobody can tell
    assert not throttle.cache_usable()  # and the next checks skip the cache for a while


@pytest.fixture
def hung_redis(settings: Any) -> Iterator[None]:
    """A Redis that accepts connections and never answers (the kernel completes the handshake)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": f"redis://127.0.0.1:{server.getsockname()[1]}/0",
                                       "OPTIONS": settings.REDIS_CACHE_OPTIONS}}
        yield


def test_it_answers_at_once_while_redis_hangs(tenant_a: Tenant, hung_redis: None) -> None:
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    body = {"image": base64.b64encode(jpeg()).decode(), "session": session.pk}
    started = time.monotonic()
    statuses = [client.post("/process", body, format="json").status_code for _ in range(5)]
    statuses.append(client.post("/api/v1/auth/token", {"email": "admin@alpha.test", "password": PASSWORD},
                                format="json").status_code)
    elapsed = time.monotonic() - started
    assert statuses == [202] * 5 + [200]
    # One socket timeout trips the breaker; the limits are then skipped, not waited on, each time.
    assert elapsed < 2.5, elapsed


def test_it_does_not_double_the_allowance_at_a_window_boundary(monkeypatch: Any) -> None:
    clock = [1_000_000 * 60 + 50.0]  # 50 s into a 60 s window
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    assert all(throttle.window_hit("edge", limit=6, window=60) is None for _ in range(6))
    clock[0] += 15  # 5 s into the next window: 55/60 of the previous one still counts
    assert throttle.window_hit("edge", limit=6, window=60) is not None
    clock[0] += 55  # the previous window has slid out
    assert throttle.window_hit("edge", limit=6, window=60) is None


def test_it_throttles_face_registrations(tenant_a: Tenant, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "faces": "2/min"}}
    client = api_client_for(tenant_a.admin)
    for _ in range(2):
        assert client.post("/faces/index", {"image": "x", "fullName": "A"}, format="json").status_code == 400
    assert_throttled(client.post("/faces/index", {"image": "x", "fullName": "A"}, format="json"))
    assert client.get("/api/v1/faces/").status_code == 200  # only registrations have that scope


def test_it_throttles_the_api_per_user(tenant_a: Tenant, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "3/min"}}
    client = api_client_for(tenant_a.admin)
    for _ in range(3):
        assert client.get("/api/v1/me").status_code == 200
    assert_throttled(client.get("/api/v1/me"))
    assert api_client_for(tenant_a.proctor).get("/api/v1/me").status_code == 200


def test_it_throttles_anonymous_calls_per_real_client_address(db: Any, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": "2/min"}}
    client = api_client_for(None)

    def call(forwarded: str) -> Any:
        return client.post("/api/v1/auth/token", {"email": "a@b.test", "password": "x"}, format="json",
                           REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert call("1.1.1.1, 10.0.0.1").status_code == 400
    assert call("2.2.2.2, 10.0.0.1").status_code == 400
    assert_throttled(call("3.3.3.3, 10.0.0.1"))  # what the client wrote does not make it someone else
    assert call("10.0.0.2").status_code == 400  # another client behind the same proxy


def test_it_allows_api_calls_when_the_cache_is_unreachable(tenant_a: Tenant, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "1/min"}}
    settings.CACHES = UNREACHABLE_REDIS
    client = api_client_for(tenant_a.admin)
    assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 200]
