"""Biometric data is erased with its owner: a student, an exam, a session or an institution.

Registered with accounts.deletion (see ProctoringConfig.ready), so every delete service of
accounts and exams calls ``erase_biometrics`` inside its transaction, before the rows go:

- reference faces of the deleted students (all faces, for an institution) go through
  ``services.face_delete``: out of the engine's collection at once, out of DynamoDB through the
  outbox (committed with the delete), the photo file on commit;
- frames of the deleted sessions: their files are removed on commit, never before (a delete that
  rolls back keeps them); the rows, with their findings and checks, and the incidents, with the
  findings they copied, go by the database's cascade;
- photo-ID requests of the deleted sessions (the gate's fallback): their ID photos and live
  frames are removed on commit, the rows go by the cascade;
- speech segments of the deleted sessions: their clips (voices) are removed on commit, the rows go
  by the cascade;
- incidents mirrored to DynamoDB are deleted there through the outbox;
- an institution's face collection is deleted from the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Q, QuerySet

from accounts import tenancy
from accounts.audit import audit_forget_person
from accounts.deletion import Erasure
from accounts.errors import AppError
from accounts.models import Role, User
from exams.models import ExamSession
from proctoring.analysis import get_backend
from proctoring.analysis.errors import RESOURCE_NOT_FOUND, error_code
from proctoring.incidents import incident_payload
from proctoring.models import Appeal, FaceRegistration, Frame, IdentityApproval, Incident, SpeechSegment
from proctoring.outbox import outbox_add
from proctoring.services import collection_id_for, face_delete
from proctoring.storage import private_storage

logger = logging.getLogger(__name__)


def erase_biometrics(erasure: Erasure) -> None:
    """Erase what belongs to the ids in ``erasure``. Precondition: in the deleting transaction,
    and the caller has checked that the actor may delete them (the ids are not re-scoped here)."""
    with tenancy.tenant_scope(None):
        sessions = _sessions(erasure)
        # Postgres: an analysis of one of these sessions holds this lock; wait for it, so no incident
        # or frame is written into a session after its files were listed.
        list(sessions.select_for_update(of=("self",)).values_list("pk", flat=True))
        _forget_in_audit(erasure, sessions)
        try:
            for registration in FaceRegistration.objects.filter(_faces(erasure)):
                face_delete(registration=registration)
            if erasure.institution_id is not None:
                _delete_collection(collection_id_for(erasure.institution_id))
        except (BotoCoreError, ClientError) as exc:
            # Nothing is deleted (the transaction rolls back): never a row without its erasure.
            raise AppError("The face engine is unavailable, so nothing was deleted. Try again shortly.",
                           code="engine_unavailable", status_code=503) from exc
        for incident in Incident.objects.filter(session__in=sessions).select_related("session"):
            outbox_add(topic="incidents.delete", payload=incident_payload(incident))
        names = list(Frame.objects.filter(session__in=sessions).exclude(image="").values_list("image", flat=True))
        for pair in IdentityApproval.objects.filter(session__in=sessions).values_list("id_photo", "live_photo"):
            names += [name for name in pair if name]
        clips = SpeechSegment.objects.filter(session__in=sessions).exclude(clip="")
        names += list(clips.values_list("clip", flat=True))
    if names:
        transaction.on_commit(lambda: delete_files(private_storage, names), robust=True)


def _forget_in_audit(erasure: Erasure, sessions: QuerySet[ExamSession]) -> None:
    """A person deleted: what the audit log says of them goes too (accounts.audit.audit_forget_person), in the events
    about their account, sessions, incidents, appeals, photo IDs and faces; a student's own words (an appeal's note)
    too, while staff's acts stay the institution's record."""
    for user in User.objects.filter(pk__in=erasure.user_ids).exclude(institution_id=None):
        own = sessions.filter(student_id=user.pk)
        targets = [(model.__name__, str(pk)) for model, ids in (
            (ExamSession, own.values_list("pk", flat=True)),
            (Incident, Incident.objects.filter(session__in=own).values_list("pk", flat=True)),
            (Appeal, Appeal.objects.filter(student_id=user.pk).values_list("pk", flat=True)),
            (IdentityApproval, IdentityApproval.objects.filter(session__in=own).values_list("pk", flat=True)),
            (FaceRegistration, FaceRegistration.objects.filter(student_id=user.pk).values_list("pk", flat=True)),
        ) for pk in ids]
        audit_forget_person(institution_id=user.institution_id, user_id=user.pk, targets=tuple(targets),
                            own_acts=user.role == Role.STUDENT)


def _sessions(erasure: Erasure) -> QuerySet[ExamSession]:
    condition = (Q(student_id__in=erasure.user_ids) | Q(exam_id__in=erasure.exam_ids)
                 | Q(pk__in=erasure.session_ids))
    if erasure.institution_id is not None:
        condition |= Q(institution_id=erasure.institution_id)
    return ExamSession.objects.filter(condition)


def _faces(erasure: Erasure) -> Q:
    condition = Q(student_id__in=erasure.user_ids)
    if erasure.institution_id is not None:
        condition |= Q(institution_id=erasure.institution_id)
    return condition


def _delete_collection(collection_id: str) -> None:
    try:
        get_backend().delete_collection(CollectionId=collection_id)
    except ClientError as exc:
        if error_code(exc) != RESOURCE_NOT_FOUND:
            raise


def delete_files(storage: Storage, names: Iterable[str]) -> int:
    """Delete files (after commit); one that cannot be deleted is logged, the others still go."""
    deleted = 0
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # noqa: BLE001 - storage errors vary by backend; keep erasing the rest
            logger.exception("Could not delete the biometric file %s; delete it by hand.", name)
        else:
            deleted += 1
    return deleted
