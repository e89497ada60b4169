"""Which pending frames lost their analysis message, so that the sweeper queues only those again.

A frame is queued once, on commit. Its message can be lost in three ways: the publish failed (the
broker was down), Redis lost its data (restarted without persistence), or the task gave up after
its retries. A frame that merely waits behind a backlog, or whose worker died mid-task (the broker
gives the unacknowledged message to another worker after the visibility timeout), has not lost
it, and queueing it again would only analyse it twice.

So each successful publish records the frame in a sorted set *in the broker's own Redis*
(member: frame id, score: when queued). What loses the queue loses the set with it, and a failed
publish never writes it. The sweeper then queues again:

- a stale pending frame with no record: its publish failed or Redis lost the message;
- a frame recorded longer ago than the visibility timeout, only after looking into the broker
  (the queue and the unacknowledged messages) and not finding it there: its task gave up, or the
  record outlived the message in some other way. One found there is left alone and its record
  refreshed, so a long backlog is scanned at most once per visibility timeout.

Without a Redis broker (the embedded default runs tasks in-process) every stale frame is queued
again, as before. Nothing here raises: the record is an optimisation of the sweeper, and a Redis
fault must not fail a request or a task.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

QUEUED_KEY = "openproctor:frames:queued"
ANALYZE_TASK = "proctoring.analyze_frame"
# kombu's Redis keys: the queue list (plus one list per priority step) and the unacked hash.
QUEUE = "celery"
PRIORITY_SEP = "\x06\x16"
UNACKED_KEY = "unacked"


def _broker_url() -> str | None:
    from config.celery import app

    if app.conf.task_always_eager:
        return None
    url = str(app.conf.broker_url or "")
    return url if url.startswith(("redis://", "rediss://")) else None


@functools.lru_cache(maxsize=8)
def _client_for(url: str) -> Any:
    import redis

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return redis.Redis.from_url(url, socket_timeout=options.get("socket_timeout", 0.25),
                                socket_connect_timeout=options.get("socket_connect_timeout", 0.3))


def _client() -> Any | None:
    url = _broker_url()
    return _client_for(url) if url else None


def check_after() -> float:
    """Seconds after which a recorded frame's message is looked for in the broker."""
    return float(settings.CELERY_BROKER_VISIBILITY_TIMEOUT) + 60


def mark_queued(*, frame_ids: Iterable[int]) -> None:
    client = _client()
    ids = list(frame_ids)
    if client is None or not ids:
        return
    try:
        client.zadd(QUEUED_KEY, {str(i): time.time() for i in ids})
    except Exception:  # noqa: BLE001 - without the record the sweeper queues it again: a duplicate, not a loss
        logger.warning("Could not record frames %s as queued.", ids, exc_info=True)


def mark_finished(*, frame_id: int) -> None:
    client = _client()
    if client is None:
        return
    try:
        client.zrem(QUEUED_KEY, str(frame_id))
    except Exception:  # noqa: BLE001 - the sweeper prunes records of finished frames
        logger.warning("Could not clear the queued record of frame %s.", frame_id, exc_info=True)


def lost_frames(*, frame_ids: list[int]) -> list[int]:
    """Of these stale pending frames, those whose analysis message is lost (see the module doc)."""
    client = _client()
    if client is None or not frame_ids:
        return list(frame_ids)
    try:
        scores = client.zmscore(QUEUED_KEY, [str(i) for i in frame_ids])
        now, recorded = time.time(), dict(zip(frame_ids, scores, strict=True))
        lost = [i for i, score in recorded.items() if score is None]
        old = [i for i, score in recorded.items() if score is not None and score < now - check_after()]
        if old:
            in_broker = frame_ids_in_broker(client) & set(old)
            lost += [i for i in old if i not in in_broker]
            if in_broker:
                client.zadd(QUEUED_KEY, {str(i): now for i in in_broker})
    except Exception:  # noqa: BLE001 - Redis is down: nothing can be queued now anyway
        logger.warning("Could not read the queued records; the sweeper waits for Redis.", exc_info=True)
        return []
    return lost


def prune(*, older_than: float, still_pending: Any) -> int:
    """Drop records older than ``older_than`` seconds of frames no longer pending; answers how many."""
    client = _client()
    if client is None:
        return 0
    try:
        members = client.zrangebyscore(QUEUED_KEY, "-inf", time.time() - older_than, start=0, num=1000)
        ids = [int(m) for m in members]
        pending = set(still_pending(ids))
        done = [str(i) for i in ids if i not in pending]
        if done:
            client.zrem(QUEUED_KEY, *done)
    except Exception:  # noqa: BLE001 - housekeeping only
        logger.warning("Could not prune the queued records.", exc_info=True)
        return 0
    return len(done)


def frame_ids_in_broker(client: Any) -> set[int]:
    """Frame ids of analyze_frame messages waiting in the queue or taken but not acknowledged."""
    raw: list[bytes] = []
    for key in [QUEUE, *(f"{QUEUE}{PRIORITY_SEP}{step}" for step in range(1, 10))]:
        raw += client.lrange(key, 0, -1)
    found = {_frame_id(json.loads(r)) for r in raw}
    for value in client.hvals(UNACKED_KEY):
        found.add(_frame_id(json.loads(value)[0]))
    found.discard(None)
    return found  # type: ignore[return-value]


def _frame_id(message: dict[str, Any]) -> int | None:
    try:
        if message["headers"].get("task") != ANALYZE_TASK:
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return int(args[0])
    except (KeyError, ValueError, TypeError, IndexError):
        return None
