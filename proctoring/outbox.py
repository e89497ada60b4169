"""Transactional outbox: writes for DynamoDB are rows committed with the Postgres change.

``outbox_add`` is called inside the caller's transaction and schedules a relay on commit. The
relay sends due messages in order, marks each sent, and backs off on failure; the periodic
``relay_outbox`` task picks up anything left behind (the store was down, the process died).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from proctoring.models import OutboxMessage
from proctoring.stores import dynamodb

logger = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(minutes=10)


def outbox_add(*, topic: str, payload: dict[str, Any]) -> OutboxMessage | None:
    """Queue a DynamoDB write (nothing when DynamoDB is not configured)."""
    if not settings.DYNAMODB_ENABLED:
        return None
    if topic not in dynamodb.SENDERS:
        raise ValueError(f"unknown outbox topic {topic!r}")
    message = OutboxMessage.objects.create(topic=topic, payload=payload)
    transaction.on_commit(_enqueue_relay)
    return message


def _enqueue_relay() -> None:
    from proctoring.tasks import relay_outbox

    try:
        relay_outbox.delay()
    except Exception:  # noqa: BLE001 - broker down: the periodic relay will send it
        logger.warning("Could not enqueue the outbox relay; the periodic relay will pick it up.", exc_info=True)


def relay(*, limit: int = 200) -> dict[str, int]:
    """Send due messages; answers counts of sent and failed."""
    sent = failed = 0
    now = timezone.now()
    due = (OutboxMessage.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now)
           .order_by("id").values_list("id", flat=True)[:limit])
    for message_id in list(due):
        with transaction.atomic():
            message = (OutboxMessage.objects.select_for_update(skip_locked=True)
                       .filter(pk=message_id, sent_at__isnull=True).first())
            if message is None:
                continue  # another relay has it
            try:
                dynamodb.SENDERS[message.topic](message.payload)
            except Exception as exc:  # noqa: BLE001 - any failure: keep it and retry later
                message.attempts += 1
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                message.next_attempt_at = timezone.now() + min(MAX_BACKOFF, timedelta(seconds=2**message.attempts))
                message.save(update_fields=["attempts", "last_error", "next_attempt_at"])
                failed += 1
                break  # one destination: when it is down, the rest would only wait for their time-outs
            else:
                message.sent_at = timezone.now()
                message.save(update_fields=["sent_at"])
                sent += 1
    return {"sent": sent, "failed": failed}
