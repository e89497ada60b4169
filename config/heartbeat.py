"""The Celery worker's heartbeat: while a worker runs, its main process writes the time to the cache
(Redis in the stack) every WORKER_HEARTBEAT_INTERVAL seconds; ``/healthz`` reads it.

A thread of the worker's main process, started when the worker is ready: it stops when that process
dies (SIGKILL included), and it keeps beating while the pool is busy with long analyses, so the
heartbeat means "a worker is alive" and the backlog checks say whether it keeps up.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.signals import worker_ready
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "health:worker-heartbeat"


def heartbeat_write() -> None:
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def heartbeat_age() -> float | None:
    """Seconds since a worker last beat; None when none ever has."""
    beat = cache.get(HEARTBEAT_KEY)
    return None if beat is None else max(0.0, time.time() - float(beat))


def _beat_forever(interval: float) -> None:
    while True:
        try:
            heartbeat_write()
        except Exception:  # noqa: BLE001 - Redis down: /healthz says so; keep trying
            logger.warning("Worker heartbeat could not be written", exc_info=True)
        time.sleep(interval)


@worker_ready.connect
def _start_heartbeat(**_: Any) -> None:
    thread = threading.Thread(target=_beat_forever, args=(settings.WORKER_HEARTBEAT_INTERVAL,),
                              name="openproctor-heartbeat", daemon=True)
    thread.start()
