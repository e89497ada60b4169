"""Celery tasks: each takes ids, loads, calls one service; all are idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from accounts import tenancy
from proctoring import outbox, queueing, retention, services, speaker, stages
from proctoring.models import Frame, FrameStatus

logger = logging.getLogger(__name__)


@shared_task(
    name="proctoring.analyze_frame", bind=True, acks_late=True, max_retries=8, ignore_result=True,
    autoretry_for=(ClientError, BotoCoreError, OperationalError, ConnectionError),
    retry_backoff=2, retry_backoff_max=120, retry_jitter=True,
)
def analyze_frame(self: Any, frame_id: int) -> dict[str, Any]:
    with tenancy.tenant_scope(None), stages.collect() as spent:
        frame = services.frame_analyze(frame_id=frame_id)
    queueing.mark_finished(frame_id=frame_id)
    # CPU/wall ms by stage (proctoring/stages.py), read by scripts/bench_scale.py from the worker's log.
    logger.info("Frame %s stages %s ms: %s", frame_id, frame.status if frame is not None else "erased",
                stages.line(spent))
    if frame is None:
        logger.info("Frame %s was erased with its session; nothing to analyse.", frame_id)
        return {"frame": frame_id, "status": "erased", "checks": []}
    return {"frame": frame.pk, "status": frame.status, "checks": frame.checks}


@shared_task(
    name="proctoring.judge_speaker", acks_late=True, max_retries=3, ignore_result=True,
    autoretry_for=(OperationalError,), retry_backoff=2, retry_jitter=True,
)
def judge_speaker(incident_id: int) -> str | None:
    """Mouth movement on a talking incident's frames (proctoring.speaker); run when it opens or grows."""
    with tenancy.tenant_scope(None):
        incident = speaker.speaker_judge(incident_id=incident_id)
    return None if incident is None else incident.details.get("mouth", {}).get("verdict")


@shared_task(name="proctoring.relay_outbox", ignore_result=True)
def relay_outbox() -> dict[str, int]:
    return outbox.relay()


@shared_task(name="proctoring.requeue_stale_frames")
def requeue_stale_frames() -> int:
    """Queue again frames pending for a minute whose message was lost (proctoring/queueing.py).

    A frame that waits behind a backlog, or whose worker died mid-task, still has its message in
    the broker: queueing it again would only analyse it twice.
    """
    with tenancy.tenant_scope(None):
        stale_after = timedelta(seconds=settings.FRAME_REQUEUE_AFTER_SECONDS)
        stale = Frame.objects.filter(status=FrameStatus.PENDING, received_at__lt=timezone.now() - stale_after)
        ids = list(stale.order_by("received_at").values_list("id", flat=True)[:1000])
        queueing.prune(older_than=stale_after.total_seconds(), still_pending=lambda frame_ids: Frame.objects.filter(
            pk__in=frame_ids, status=FrameStatus.PENDING).values_list("id", flat=True))
    return sum(services.enqueue_analysis(frame_id) for frame_id in queueing.lost_frames(frame_ids=ids))


@shared_task(name="proctoring.purge_frames")
def purge_frames() -> dict[str, int]:
    return retention.purge_expired()  # frames, incidents' copied findings, reference faces
