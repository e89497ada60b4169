"""Bad input and faults on the frame path: a clear 4xx, or retried and completed later."""

from __future__ import annotations

import base64
import io
import os
import signal
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from PIL import Image

from accounts import tenancy
from exams import services as exam_services
from exams.statuses import SessionStatus
from proctoring import checks, incidents, queueing, services, tasks
from proctoring.models import Frame, FrameStatus, Incident
from tests.celery_worker import own_redis, restart_redis, running_worker, using_broker
from tests.conftest import Tenant, api_client_for
from tests.proctoring.conftest import b64, image, start_session

pytestmark = pytest.mark.django_db(transaction=True)


def png(width: int, height: int, **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, format="PNG", **save)
    return out.getvalue()


def animated_gif() -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", (120, 120), color) for color in ("red", "blue")]
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def post(tenant: Tenant, body: Any, session: Any = None, user: Any = None, **kwargs: Any) -> Any:
    client = api_client_for(user or tenant.student)
    if isinstance(body, (bytes, str)) and not kwargs:
        payload = {"image": body if isinstance(body, str) else base64.b64encode(body).decode()}
        if session is not None:
            payload["session"] = session.pk
        return client.post("/process", payload, format="json")
    return client.generic("POST", "/process", body, **kwargs)


BAD_IMAGES = [
    ("not base64", "%%% not base64 %%%", 400, "invalid_base64"),
    ("not an image", b"hello, I am text" * 20, 400, "invalid_image"),
    ("truncated JPEG", None, 400, "invalid_image"),
    ("1x1 PNG", png(1, 1), 400, "image_too_small"),
    ("decompression bomb", png(20000, 20000, optimize=True), 413, "image_too_large"),
    # 36 megapixels in a small PNG: a camera sends no such frame, and its decoding cost seconds and 500 MB
    ("36 megapixels", png(7200, 5000, optimize=True), 413, "image_too_large"),
    ("animated GIF", animated_gif(), 415, "unsupported_image"),
]


@pytest.mark.parametrize("label, body, status, code", BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_it_refuses_bad_frames_with_a_clear_error(tenant_a: Tenant, label: str, body: Any, status: int,
                                                  code: str) -> None:
    session = start_session(tenant_a)
    if body is None:
        body = image("signer1_b.jpg")[:-2000]
    response = post(tenant_a, body, session=session)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    with tenancy.tenant_scope(tenant_a.institution):
        assert not Frame.objects.filter(session=session).exists()


def test_it_refuses_an_empty_body(tenant_a: Tenant) -> None:
    response = post(tenant_a, b"", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_it_refuses_a_40_mb_body_before_reading_it(tenant_a: Tenant) -> None:
    response = post(tenant_a, b"x" * (40 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_it_refuses_bad_face_registrations_too(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    assert client.post("/faces/index", {"image": "@@@", "fullName": "X"}, format="json").status_code == 400
    response = client.post("/faces/index", {"image": b64("signer1_a.jpg")}, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"] == {"fullName": ["Required."]}
    response = client.post("/faces/index", {"image": b64("signer1_a.jpg"), "fullName": "X", "extra": 1},
                           format="json")
    assert response.json()["error"]["details"] == {"extra": ["Unknown field."]}
    assert api_client_for(tenant_a.student).post("/faces/index", {}, format="json").status_code == 403


def test_it_answers_404_for_a_session_of_another_institution(tenant_a: Tenant, tenant_b: Tenant) -> None:
    session = start_session(tenant_a)
    response = post(tenant_b, image("signer1_b.jpg"), session=session, user=tenant_b.admin)
    assert response.status_code == 404


def test_it_answers_404_for_another_students_session(tenant_a: Tenant) -> None:
    from accounts import services as account_services

    session = start_session(tenant_a)
    other = account_services.user_create(institution=tenant_a.institution, email="o@alpha.test", role="student")
    assert post(tenant_a, image("signer1_b.jpg"), session=session, user=other).status_code == 404


def test_it_refuses_frames_for_a_finished_session(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.SUBMITTED, actor=tenant_a.student)
    response = post(tenant_a, image("signer1_b.jpg"), session=session)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_not_running"


def test_it_requires_a_session_for_students(tenant_a: Tenant) -> None:
    response = post(tenant_a, image("signer1_b.jpg"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "session_required"


def test_it_keeps_a_frame_when_redis_is_down_and_analyses_it_later(tenant_a: Tenant, settings: Any) -> None:
    session = start_session(tenant_a)
    with using_broker("redis://127.0.0.1:1/0"):  # nothing listens there
        response = post(tenant_a, image("signer1_b.jpg"), session=session)
    assert response.status_code == 202
    with tenancy.tenant_scope(tenant_a.institution):
        frame = Frame.objects.get(pk=response.json()["frame"])
    assert frame.status == FrameStatus.PENDING and frame.image

    settings.FRAME_REQUEUE_AFTER_SECONDS = 0  # Redis is back; the sweeper runs
    assert tasks.requeue_stale_frames() >= 1
    frame.refresh_from_db()
    assert frame.status == FrameStatus.DONE and len(frame.checks) == 5


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_it_answers_a_frame_within_a_second_when_redis_is_unreachable(tenant_a: Tenant, fault: str) -> None:
    session = start_session(tenant_a)
    body = image("signer1_b.jpg")
    with own_redis() as (url, redis_server), using_broker(url):
        assert post(tenant_a, body, session=session).status_code == 202  # warm: the pool holds a connection
        started = time.monotonic()
        assert post(tenant_a, body, session=session).status_code == 202
        healthy = time.monotonic() - started  # Redis answering: the fault adds the rest
        if fault == "killed":
            redis_server.kill()
            redis_server.wait()
        else:
            os.kill(redis_server.pid, signal.SIGSTOP)  # accepts connections, never answers
        try:
            timings = []
            for _ in range(2):
                started = time.monotonic()
                response = post(tenant_a, body, session=session)
                timings.append(time.monotonic() - started)
                assert response.status_code == 202
        finally:
            if fault == "hung":
                os.kill(redis_server.pid, signal.SIGCONT)
    print(f"POST /process with Redis {fault}: {[round(t, 3) for t in timings]} s, healthy {healthy:.3f} s")
    assert max(timings) - healthy < 1.0, (timings, healthy)  # the fault costs under a second, however busy the machine
    with tenancy.tenant_scope(tenant_a.institution):
        assert Frame.objects.filter(session=session, status=FrameStatus.PENDING).count() == 4  # kept for the sweeper


def test_it_completes_a_frame_whose_worker_was_killed_mid_task(tenant_a: Tenant, settings: Any, tmp_path: Any,
                                                                monkeypatch: Any) -> None:
    session = start_session(tenant_a, debounce_frames=1)
    env = {"PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT), "ANALYSIS_GATE_DIR": str(tmp_path),
           # The broker hands an unacknowledged message to another worker after 5 s, checked every second.
           "CELERY_BROKER_VISIBILITY_TIMEOUT": "5", "BROKER_UNACKED_RESTORE_INTERVAL": "1",
           "BROKER_UNACKED_RESTORE_THROTTLE": "1"}
    with own_redis() as (url, _redis):
        with running_worker(env, redis_url=url, gated=True) as worker:
            response = post(tenant_a, image("empty_room.jpg"), session=session)
            assert response.status_code == 202
            _wait_for(lambda: list(tmp_path.glob("inside-*")))  # inside the engine call, the task running
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            frame = Frame.unscoped.get(pk=response.json()["frame"])
            assert frame.status == FrameStatus.PENDING and frame.attempts == 0  # died mid-task, nothing written

            # The message is the broker's, taken and never acknowledged: the sweeper leaves it alone,
            # even when its record is old enough to look into the broker.
            frame.received_at = timezone.now() - timedelta(minutes=5)
            frame.save(update_fields=["received_at"])
            monkeypatch.setattr(queueing, "check_after", lambda: 0.0)
            assert tasks.requeue_stale_frames() == 0

        (tmp_path / "open").write_text("")
        with running_worker(env, redis_url=url, flush=False, gated=True):
            _wait_for(lambda: Frame.unscoped.get(pk=frame.pk).status != FrameStatus.PENDING, timeout=120)
            # A redelivery of the same message changes nothing: the task is idempotent.
            result = tasks.analyze_frame.apply_async((frame.pk,), ignore_result=False).get(timeout=60)
            assert result["status"] == "done"
    frame.refresh_from_db()
    assert frame.status == FrameStatus.DONE and frame.attempts == 1  # analysed once
    with tenancy.tenant_scope(tenant_a.institution):
        kinds = sorted(Incident.objects.filter(session=session).values_list("kind", flat=True))
    assert kinds == sorted(set(kinds)) and "no_person" in kinds  # each incident exactly once


def _queued_frame(tenant: Tenant, session: Any) -> Frame:
    """A frame posted while no worker runs: its message waits in the broker."""
    response = post(tenant, image("signer1_b.jpg"), session=session)
    assert response.status_code == 202
    frame = Frame.unscoped.get(pk=response.json()["frame"])
    frame.received_at = timezone.now() - timedelta(minutes=5)
    frame.save(update_fields=["received_at"])
    return frame


def _queue_length(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).llen("celery"))


def test_it_does_not_requeue_a_frame_that_waits_behind_a_backlog(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    with own_redis() as (url, _redis), using_broker(url):
        _queued_frame(tenant_a, session)
        assert _queue_length(url) == 1
        assert tasks.requeue_stale_frames() == 0
        assert _queue_length(url) == 1


def test_it_requeues_a_frame_whose_message_redis_lost(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    with own_redis() as (url, redis_server), using_broker(url):
        frame = _queued_frame(tenant_a, session)
        redis_server.kill()  # no persistence: the queue is gone with it
        redis_server.wait()
        assert tasks.requeue_stale_frames() == 0  # Redis down: nothing to do yet
        restarted = restart_redis(url)
        try:
            assert tasks.requeue_stale_frames() == 1
            assert _queue_length(url) == 1
            assert tasks.requeue_stale_frames() == 0  # queued again once, not every minute
        finally:
            restarted.kill()
            restarted.wait()
    assert Frame.unscoped.get(pk=frame.pk).status == FrameStatus.PENDING


def test_it_requeues_a_frame_whose_publish_failed(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    with own_redis() as (url, redis_server), using_broker(url):
        redis_server.kill()
        redis_server.wait()
        _queued_frame(tenant_a, session)
        restarted = restart_redis(url)
        try:
            assert _queue_length(url) == 0
            assert tasks.requeue_stale_frames() == 1
            assert _queue_length(url) == 1
        finally:
            restarted.kill()
            restarted.wait()


def test_it_looks_into_the_broker_before_requeueing_a_long_queued_frame(tenant_a: Tenant, monkeypatch: Any) -> None:
    import redis

    session = start_session(tenant_a)
    monkeypatch.setattr(queueing, "check_after", lambda: 0.0)  # every record is old enough to look
    with own_redis() as (url, _redis), using_broker(url):
        _queued_frame(tenant_a, session)
        assert tasks.requeue_stale_frames() == 0  # still in the queue
        redis.Redis.from_url(url).delete("celery")  # its task gave up, or the message went some other way
        assert tasks.requeue_stale_frames() == 1
        assert _queue_length(url) == 1


def _wait_for(condition: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition}")


def _pending_frames(tenant: Tenant, session: Any, count: int) -> list[Frame]:
    """Frames stored while the broker is down: pending, their analysis not queued."""
    with using_broker("redis://127.0.0.1:1/0"):
        responses = [post(tenant, image("empty_room.jpg"), session=session) for _ in range(count)]
    return [Frame.unscoped.get(pk=r.json()["frame"]) for r in responses]


@pytest.fixture
def unscoped() -> Any:
    """Run as the analysis task does: across tenants."""
    with tenancy.tenant_scope(None):
        yield


@pytest.mark.usefixtures("unscoped")
def test_it_does_not_analyse_a_finished_frame_again(tenant_a: Tenant, monkeypatch: Any) -> None:
    session = start_session(tenant_a)
    (frame,) = _pending_frames(tenant_a, session, 1)
    services.frame_analyze(frame_id=frame.pk)

    def engine_called(**kwargs: Any) -> Any:
        raise AssertionError("a finished frame went to the engine again")

    monkeypatch.setattr(services, "analyze_image", engine_called)
    assert services.frame_analyze(frame_id=frame.pk).status == FrameStatus.DONE  # a redelivery: nothing to do


@pytest.mark.usefixtures("unscoped")
def test_it_keeps_one_result_when_two_deliveries_of_a_frame_race(tenant_a: Tenant, monkeypatch: Any) -> None:
    session = start_session(tenant_a, debounce_frames=1)
    (frame,) = _pending_frames(tenant_a, session, 1)
    real = services.analyze_image
    calls = []

    def racing(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # while this delivery is in the engine, another one finishes the frame
            services.frame_analyze(frame_id=frame.pk)
        return real(**kwargs)

    monkeypatch.setattr(services, "analyze_image", racing)
    services.frame_analyze(frame_id=frame.pk)
    frame.refresh_from_db()
    assert len(calls) == 2 and frame.attempts == 1
    incident = Incident.unscoped.get(session=session, kind="no_person")
    assert incident.frame_count == 1 and incident.version == 1  # the frame counted once


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: Postgres only")
@pytest.mark.usefixtures("unscoped")
def test_it_judges_the_frames_of_a_session_one_at_a_time(tenant_a: Tenant, monkeypatch: Any) -> None:
    session = start_session(tenant_a, debounce_frames=2)
    first, second = _pending_frames(tenant_a, session, 2)
    result = services.analyze_image(institution_id=tenant_a.institution.pk, image=image("empty_room.jpg"),
                                     policy=checks.Policy.of_exam(session.exam), student_id=session.student_id)
    monkeypatch.setattr(services, "analyze_image", lambda **kwargs: result)
    real_apply = incidents.apply_frame
    first_in, second_in = threading.Event(), threading.Event()

    def apply_frame(**kwargs: Any) -> Any:
        if kwargs["frame"].pk == first.pk:
            first_in.set()
            second_in.wait(timeout=3)  # without the session lock, the second frame is judged meanwhile
        else:
            second_in.set()
        return real_apply(**kwargs)

    monkeypatch.setattr(incidents, "apply_frame", apply_frame)
    errors: list[BaseException] = []

    def analyse(frame_id: int) -> None:
        try:
            with tenancy.tenant_scope(None):
                services.frame_analyze(frame_id=frame_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=analyse, args=(first.pk,))]
    threads[0].start()
    assert first_in.wait(timeout=30)
    threads.append(threading.Thread(target=analyse, args=(second.pk,)))
    threads[1].start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    incident = Incident.unscoped.get(session=session, kind="no_person")
    assert incident.frame_count == 2 and incident.first_frame_id == first.pk and incident.last_frame_id == second.pk
