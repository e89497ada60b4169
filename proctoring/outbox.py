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
# How long a claimed message is left to its relay before another may send it: longer than one
# send can take (boto3: 2 s connect + 5 s read, two attempts).
CLAIM_LEASE = timedelta(seconds=60)


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
    """Send due messages; answers counts of sent and failed.

    Each message is claimed by moving its ``next_attempt_at`` a lease ahead in a short UPDATE,
    then sent with no transaction or row lock held across the network call, then marked sent
    (or given its back-off). A relay that dies mid-send leaves the claim to expire, and another
    relay sends the message again: every DynamoDB write is conditional, so a second or
    out-of-order delivery changes nothing.
    """
    sent = failed = 0
    now = timezone.now()
    due = (OutboxMessage.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now)
           .order_by("id").values_list("id", "next_attempt_at")[:limit])
    for message_id, due_at in list(due):
        # Claim: only one relay's UPDATE matches the next_attempt_at it read.
        claimed = OutboxMessage.objects.filter(pk=message_id, sent_at__isnull=True, next_attempt_at=due_at).update(
            next_attempt_at=timezone.now() + CLAIM_LEASE)
        if not claimed:
            continue  # another relay has it
        message = OutboxMessage.objects.get(pk=message_id)
        try:
            dynamodb.SENDERS[message.topic](message.payload, sequence=message.pk)
        except Exception as exc:  # noqa: BLE001 - any failure: keep it and retry later
            attempts = message.attempts + 1
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=attempts, last_error=f"{type(exc).__name__}: {exc}"[:2000],
                next_attempt_at=timezone.now() + min(MAX_BACKOFF, timedelta(seconds=2**attempts)))
            failed += 1
            break  # one destination: when it is down, the rest would only wait for their time-outs
        OutboxMessage.objects.filter(pk=message.pk).update(sent_at=timezone.now())
        sent += 1
    return {"sent": sent, "failed": failed}
