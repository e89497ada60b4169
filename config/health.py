"""/healthz: the database always; Redis, DynamoDB and the S3 bucket when configured; the Celery worker's heartbeat
when tasks go through a broker; and the backlog (oldest pending frame, oldest unsent outbox
message). 503 when a service is down, the worker is silent, or a backlog is older than its limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from accounts import tenancy
from config.heartbeat import heartbeat_age


class Unhealthy(Exception):
    """A check ran but found a problem (details in the message)."""


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()


def _check_dynamodb() -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.DYNAMODB_ENDPOINT_URL or None,
        config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1}),
    )
    client.list_tables(Limit=1)


def _check_s3() -> None:
    """The biometric files' bucket answers (a HEAD request with the app's credentials)."""
    import boto3
    from botocore.config import Config

    options = settings.STORAGES["private"].get("OPTIONS", {})
    client = boto3.client(
        "s3",
        region_name=options.get("region_name"),
        endpoint_url=options.get("endpoint_url"),
        config=Config(connect_timeout=2, read_timeout=2, retries={"max_attempts": 1}),
    )
    client.head_bucket(Bucket=options["bucket_name"])


def _check_worker() -> dict[str, Any]:
    age = heartbeat_age()
    if age is None:
        raise Unhealthy("No Celery worker has sent a heartbeat.")
    if age > settings.HEALTH_WORKER_MAX_SILENCE:
        raise Unhealthy(f"The last worker heartbeat is {age:.0f} s old (limit {settings.HEALTH_WORKER_MAX_SILENCE} s).")
    return {"heartbeat_age_s": round(age, 1)}


def _age(oldest: datetime | None) -> float:
    return 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())


def _backlog(name: str, count: int, oldest: datetime | None, limit: int) -> dict[str, Any]:
    age = _age(oldest)
    if age > limit:
        raise Unhealthy(f"{count} {name} waiting, the oldest for {age:.0f} s (limit {limit} s).")
    return {"waiting": count, "oldest_age_s": round(age, 1)}


def _check_frames() -> dict[str, Any]:
    from proctoring.models import Frame, FrameStatus

    with tenancy.tenant_scope(None):
        pending = Frame.objects.filter(status=FrameStatus.PENDING).aggregate(
            count=Count("id"), oldest=Min("received_at"))
    return _backlog("frames", pending["count"], pending["oldest"], settings.HEALTH_FRAME_BACKLOG_MAX_AGE)


def _check_outbox() -> dict[str, Any]:
    from proctoring.models import OutboxMessage

    unsent = OutboxMessage.objects.filter(sent_at__isnull=True).aggregate(count=Count("id"), oldest=Min("created_at"))
    return _backlog("outbox messages", unsent["count"], unsent["oldest"], settings.HEALTH_OUTBOX_BACKLOG_MAX_AGE)


def _checks() -> dict[str, Callable[[], Any]]:
    checks: dict[str, Callable[[], Any]] = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    if settings.DYNAMODB_ENABLED:
        checks["dynamodb"] = _check_dynamodb
    if settings.S3_BUCKET:
        checks["s3"] = _check_s3
    if not settings.CELERY_TASK_ALWAYS_EAGER:  # tasks go through a broker: a worker must be alive
        checks["worker"] = _check_worker
    return checks


def _run(check: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        details = check()
    except Unhealthy as exc:
        return {"status": "down", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; report it, don't raise
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1), **(details or {})}


def healthz(request: HttpRequest) -> JsonResponse:
    results = {name: _run(check) for name, check in _checks().items()}
    backlog = {"frames": _run(_check_frames), "outbox": _run(_check_outbox)}
    healthy = all(result["status"] == "ok" for result in [*results.values(), *backlog.values()])
    return JsonResponse({"status": "ok" if healthy else "down", "checks": results, "backlog": backlog},
                        status=200 if healthy else 503)
