"""/healthz: the database always; Redis and DynamoDB only when configured. 503 if one is down."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


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


def _checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    if settings.DYNAMODB_ENABLED:
        checks["dynamodb"] = _check_dynamodb
    return checks


def healthz(request: HttpRequest) -> JsonResponse:
    results = {}
    for name, check in _checks().items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down"; report it, don't raise
            results[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            results[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
    healthy = all(result["status"] == "ok" for result in results.values())
    return JsonResponse({"status": "ok" if healthy else "down", "checks": results}, status=200 if healthy else 503)
