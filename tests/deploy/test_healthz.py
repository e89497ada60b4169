"""/healthz reports the worker's heartbeat and the backlog, and answers 503 past each limit."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts import tenancy
from config.heartbeat import HEARTBEAT_KEY, heartbeat_write
from proctoring.models import Frame, FrameStatus, OutboxMessage
from tests.celery_worker import WORKER_REDIS_URL, running_worker
from tests.conftest import Tenant


def _health() -> tuple[int, dict[str, Any]]:
    response = Client().get("/healthz")
    return response.status_code, response.json()


def test_it_answers_503_when_no_worker_has_sent_a_heartbeat(db: Any, settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False  # tasks go through a broker, so a worker must run
    status, body = _health()
    assert status == 503
    assert body["checks"]["worker"]["status"] == "down"
    assert "heartbeat" in body["checks"]["worker"]["error"]


def test_it_answers_503_when_the_worker_heartbeat_is_too_old(db: Any, settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.HEALTH_WORKER_MAX_SILENCE = 30
    heartbeat_write()
    status, body = _health()
    assert status == 200 and body["checks"]["worker"]["status"] == "ok"
    cache.set(HEARTBEAT_KEY, time.time() - 31, timeout=None)
    status, body = _health()
    assert status == 503 and body["checks"]["worker"]["status"] == "down"


def test_it_does_not_ask_for_a_worker_when_tasks_run_in_process(db: Any) -> None:
    status, body = _health()
    assert status == 200 and "worker" not in body["checks"]


def test_it_answers_503_when_the_oldest_pending_frame_is_too_old(tenant_a: Tenant, settings: Any) -> None:
    settings.HEALTH_FRAME_BACKLOG_MAX_AGE = 120
    with tenancy.tenant_scope(None):
        Frame.objects.update(status=FrameStatus.DONE)
        frame = Frame.objects.create(institution=tenant_a.institution, session=tenant_a.session,
                                     received_at=timezone.now() - timedelta(seconds=60))
    status, body = _health()
    assert status == 200
    assert body["backlog"]["frames"]["waiting"] == 1 and body["backlog"]["frames"]["oldest_age_s"] >= 60
    with tenancy.tenant_scope(None):
        Frame.objects.filter(pk=frame.pk).update(received_at=timezone.now() - timedelta(seconds=121))
    status, body = _health()
    assert status == 503 and body["status"] == "down"
    assert body["backlog"]["frames"]["status"] == "down" and "1 frames" in body["backlog"]["frames"]["error"]
    with tenancy.tenant_scope(None):
        Frame.objects.filter(pk=frame.pk).update(status=FrameStatus.DONE)  # analysed: no backlog any more
    assert _health()[0] == 200


def test_it_answers_503_when_the_oldest_unsent_outbox_message_is_too_old(db: Any, settings: Any) -> None:
    settings.HEALTH_OUTBOX_BACKLOG_MAX_AGE = 300
    message = OutboxMessage.objects.create(topic="faces.put", payload={})
    sent = OutboxMessage.objects.create(topic="faces.put", payload={}, sent_at=timezone.now())
    OutboxMessage.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(days=1))
    status, body = _health()
    assert status == 200 and body["backlog"]["outbox"]["waiting"] == 1
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=301))
    status, body = _health()
    assert status == 503 and body["backlog"]["outbox"]["status"] == "down"


def test_it_sees_a_real_workers_heartbeat_and_its_death(db: Any, settings: Any) -> None:
    """A real Celery worker beats into Redis; SIGKILL it and /healthz turns 503 once it is silent."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": WORKER_REDIS_URL}}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.HEALTH_WORKER_MAX_SILENCE = 3
    with running_worker({"WORKER_HEARTBEAT_INTERVAL": "1"}) as worker:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _health()[1]["checks"]["worker"]["status"] != "ok":
            time.sleep(0.3)
        status, body = _health()
        assert body["checks"]["worker"]["status"] == "ok", body
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        time.sleep(4.5)
        status, body = _health()
        assert status == 503 and body["checks"]["worker"]["status"] == "down", body
