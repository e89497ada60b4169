"""Retention: frames older than the institution's retention are deleted, with a record of it.

Evidence of incidents still waiting for review is kept until it has been reviewed.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts import tenancy
from accounts.models import Institution
from proctoring.models import Frame, Incident, PurgeRecord, ReviewStatus


def purge_expired_frames() -> dict[str, int]:
    totals = {"frames": 0, "bytes": 0}
    for institution in Institution.objects.all():
        with tenancy.tenant_scope(institution):
            frames, size = purge_institution(institution)
        totals["frames"] += frames
        totals["bytes"] += size
    return totals


def purge_institution(institution: Institution) -> tuple[int, int]:
    cutoff = timezone.now() - timedelta(days=institution.frame_retention_days)
    pending = Incident.objects.filter(review_status=ReviewStatus.PENDING)
    kept = set()
    for field in ("first_frame_id", "last_frame_id", "evidence_frame_id"):
        kept |= set(pending.exclude(**{field: None}).values_list(field, flat=True))
    expired = Frame.objects.filter(received_at__lt=cutoff, purged_at__isnull=True).exclude(pk__in=kept)
    count = size = 0
    for frame in expired.iterator():
        if frame.image:
            try:
                size += frame.image.size
            except OSError:
                pass
            frame.image.delete(save=False)
        frame.purged_at = timezone.now()
        frame.save(update_fields=["image", "purged_at"])
        count += 1
    if count:
        PurgeRecord.objects.create(institution=institution, frames=count, bytes=size, older_than=cutoff)
    return count, size


