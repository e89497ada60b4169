"""Retention: biometric data older than the institution's retention is erased, with a record of it.

- Frames received more than ``frame_retention_days`` ago lose their image, the engine's findings
  (landmarks, boxes) and the name in their checks; the pass/fail verdicts stay for the timeline.
- Incidents started before the same cutoff lose the findings and names they copied from their
  evidence frame. Incidents still waiting for review keep all their evidence (frames included)
  until they have been reviewed.
- Speech segments received before the same cutoff lose their clip (the voice); their times and
  measured seconds stay for the timeline. Clips that are evidence of an incident still waiting for
  review are kept until it has been reviewed.
- Photo-ID requests of the gate (ID photo, live frame) lose both photos once decided and received
  before the same cutoff; a request still waiting for a proctor keeps them.
- Reference faces are erased (engine collection, DynamoDB, file, row) ``face_retention_days``
  after the student's last sitting ended. A sitting that has not ended holds the face while its
  exam can still be sat (no closing time, or one after the cutoff, and not archived). A face with
  no sittings, or registered without a student, is erased that many days after registration.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import tenancy
from accounts.models import Institution
from exams.models import ExamSession, ExamStatus
from exams.policy import CHECK_PERSON_RECOGNITION
from exams.statuses import ApprovalStatus
from proctoring.models import (
    FaceRegistration,
    Frame,
    IdentityApproval,
    Incident,
    PurgeRecord,
    ReviewStatus,
    SpeechSegment,
)
from proctoring.services import face_delete

logger = logging.getLogger(__name__)


def purge_expired() -> dict[str, int]:
    """Run every institution's retention (the hourly ``proctoring.purge_frames`` task)."""
    totals = {"frames": 0, "bytes": 0, "incidents": 0, "faces": 0, "speech_clips": 0}
    for institution in Institution.objects.all():
        with tenancy.tenant_scope(institution):
            for key, value in purge_institution(institution).items():
                totals[key] += value
    return totals


def purge_institution(institution: Institution) -> dict[str, int]:
    now = timezone.now()
    frame_cutoff = now - timedelta(days=institution.frame_retention_days)
    frames, size = _purge_frames(frame_cutoff)
    size += _purge_identity_photos(frame_cutoff)
    clips, clip_bytes = _purge_speech(frame_cutoff)
    size += clip_bytes
    incidents = _purge_incidents(frame_cutoff)
    faces = _purge_faces(now - timedelta(days=institution.face_retention_days))
    if frames or incidents or faces or clips:
        PurgeRecord.objects.create(institution=institution, frames=frames, bytes=size, incidents=incidents,
                                   faces=faces, speech_clips=clips, older_than=frame_cutoff)
    return {"frames": frames, "bytes": size, "incidents": incidents, "faces": faces, "speech_clips": clips}


def _purge_frames(cutoff: datetime) -> tuple[int, int]:
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
        frame.findings = frame.thumbnail = None
        frame.checks = without_names(frame.checks)
        frame.purged_at = timezone.now()
        frame.save(update_fields=["image", "findings", "thumbnail", "checks", "purged_at"])
        count += 1
    return count, size


def _purge_speech(cutoff: datetime) -> tuple[int, int]:
    """Erase the clips of speech segments received before ``cutoff``, except evidence still under review."""
    expired = (SpeechSegment.objects.filter(received_at__lt=cutoff, purged_at__isnull=True)
               .exclude(incident__review_status=ReviewStatus.PENDING))
    count = size = 0
    for segment in expired.iterator():
        if segment.clip:
            size += segment.clip_bytes
            segment.clip.delete(save=False)
        segment.purged_at = timezone.now()
        segment.save(update_fields=["clip", "purged_at"])
        count += 1
    return count, size


def _purge_identity_photos(cutoff: datetime) -> int:
    """Erase the photos of decided photo-ID requests older than ``cutoff``; answers the bytes freed."""
    expired = (IdentityApproval.objects.filter(requested_at__lt=cutoff, purged_at__isnull=True)
               .exclude(status=ApprovalStatus.PENDING))
    size = 0
    for approval in expired.iterator():
        for field in (approval.id_photo, approval.live_photo):
            if field:
                try:
                    size += field.size
                except OSError:
                    pass
                field.delete(save=False)
        approval.purged_at = timezone.now()
        approval.save(update_fields=["id_photo", "live_photo", "purged_at"])
    return size


def _purge_incidents(cutoff: datetime) -> int:
    expired = (Incident.objects.filter(started_at__lt=cutoff).exclude(review_status=ReviewStatus.PENDING)
               .filter(Q(details__has_key="findings") | Q(details__has_key="checks")))
    count = 0
    for incident in expired.iterator():
        details = {key: value for key, value in incident.details.items() if key != "findings"}
        if "checks" in details:
            details["checks"] = without_names(details["checks"])
        if details != incident.details:
            incident.details = details
            incident.save(update_fields=["details"])
            count += 1
    return count


def without_names(checks: Any) -> Any:
    """The five checks with the matched person's name blanked out (the verdicts stay)."""
    if not isinstance(checks, list):
        return checks
    return [{**check, "Details": ""} if isinstance(check, dict) and check.get("TestName") == CHECK_PERSON_RECOGNITION
            else check for check in checks]


def _purge_faces(cutoff: datetime) -> int:
    holding = ExamSession.objects.filter(student_id=OuterRef("student_id")).filter(
        Q(ended_at__gte=cutoff)
        | Q(ended_at__isnull=True) & ~Q(exam__status=ExamStatus.ARCHIVED)
        & (Q(exam__closes_at__isnull=True) | Q(exam__closes_at__gte=cutoff))
    )
    expired = FaceRegistration.objects.filter(created_at__lt=cutoff).exclude(Exists(holding))
    count = 0
    for registration in list(expired):
        try:
            with transaction.atomic():
                face_delete(registration=registration)
        except Exception:  # noqa: BLE001 - the engine is down: the next run erases it
            logger.exception("Could not erase reference face %s; retrying at the next run.", registration.pk)
        else:
            count += 1
    return count
