"""Deleting a student, an exam, a session or an institution erases its biometric data in every store:
database rows, files on disk, the engine's face collection and DynamoDB (a real dynalite)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.contrib import admin
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from accounts import roster, tenancy
from accounts.admin import DeletesThroughService, institution_admin_site
from accounts.audit import AuditEvent
from accounts.models import Institution, User
from exams import services as exam_services
from exams.models import Exam, ExamSession
from proctoring import outbox, retention
from proctoring.analysis import get_backend
from proctoring.incidents import incident_payload
from proctoring.models import (
    FaceRegistration,
    Frame,
    Incident,
    OutboxMessage,
    PurgeRecord,
    ReviewStatus,
    StoredCollection,
    StoredFace,
)
from proctoring.services import collection_id_for
from proctoring.stores import dynamodb
from tests.conftest import PASSWORD, Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import start_session
from tests.proctoring.test_pipeline import process, register

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Trail:
    """What one proctored sitting leaves behind in every store."""

    institution_id: int
    session_id: int
    external_id: str
    face_id: str
    files: list[Path]


def leave_a_trail(tenant: Tenant) -> Trail:
    """A registered reference face, a session whose frames opened an incident, all mirrored."""
    external_id = register(tenant, "signer1_a.jpg", "Sam Signer", student=tenant.student)
    session = start_session(tenant, debounce_frames=1)
    assert process(tenant, "two_signers.jpg", session=session, user=tenant.student).status_code == 200
    with tenancy.tenant_scope(tenant.institution):
        face = FaceRegistration.objects.get(external_image_id=external_id)
        frames = list(Frame.objects.filter(session=session))
        incidents = list(Incident.objects.filter(session=session))
    assert all(i.details["findings"]["FaceDetails"] for i in incidents)  # findings copied into incidents
    files = [Path(face.image.path), *(Path(f.image.path) for f in frames)]
    trail = Trail(tenant.institution.pk, session.pk, external_id, face.face_id, files)
    assert _stores(trail) == EVERYTHING
    return trail


def _stores(trail: Trail) -> dict[str, int]:
    """How much of the trail each store still holds."""
    with tenancy.tenant_scope(None):
        return {
            "face rows": FaceRegistration.objects.filter(external_image_id=trail.external_id).count(),
            "engine faces": StoredFace.objects.filter(face_id=trail.face_id).count(),
            "frame rows": Frame.objects.filter(session_id=trail.session_id).count(),
            "incident rows": Incident.objects.filter(session_id=trail.session_id).count(),
            "files": sum(path.exists() for path in trail.files),
            "dynamodb faces": int(dynamodb.get_face(trail.external_id) is not None),
            "dynamodb incidents": len(dynamodb.incidents_of_session(trail.institution_id, trail.session_id)),
        }


# Two people in one frame open one incident: several people (it absorbs several faces).
EVERYTHING = {"face rows": 1, "engine faces": 1, "frame rows": 1, "incident rows": 1, "files": 2,
              "dynamodb faces": 1, "dynamodb incidents": 1}
NOTHING = {"face rows": 0, "engine faces": 0, "frame rows": 0, "incident rows": 0, "files": 0,
           "dynamodb faces": 0, "dynamodb incidents": 0}
# An exam or a session belongs to the student's sittings, not to the student: the face stays.
ONLY_THE_FACE = {**NOTHING, "face rows": 1, "engine faces": 1, "files": 1, "dynamodb faces": 1}


def test_it_erases_a_student_everywhere_through_the_api(tenant_a: Tenant, tenant_b: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    other = leave_a_trail(tenant_b)
    fixture_frame = Path(tenant_a.frame.image.path)  # the fixture's own session of the same student

    response = api_client_for(tenant_a.admin).delete(f"/api/v1/users/{tenant_a.student.pk}/")

    assert response.status_code == 204, response.content
    assert _stores(trail) == NOTHING
    assert not fixture_frame.exists()
    assert not User.objects.filter(pk=tenant_a.student.pk).exists()
    assert _stores(other) == EVERYTHING  # another institution's student keeps everything
    with tenancy.tenant_scope(None):  # who deleted whom; the name and email went with the person
        event = AuditEvent.objects.get(action="user.delete")
    assert (event.actor, event.target_id, event.data) == (tenant_a.admin, str(tenant_a.student.pk), {"role": "student"})


def test_it_answers_404_for_another_institutions_student_and_erases_nothing(
    tenant_a: Tenant, tenant_b: Tenant, dynamo: str
) -> None:
    trail = leave_a_trail(tenant_b)
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/users/{tenant_b.student.pk}/")
    assert response.status_code == 404
    assert _stores(trail) == EVERYTHING


def test_it_refuses_to_let_an_admin_delete_themselves(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/users/{tenant_a.admin.pk}/")
    assert response.status_code == 400 and response.json()["error"]["code"] == "self_deletion"
    assert User.objects.filter(pk=tenant_a.admin.pk).exists()


def test_it_erases_an_exam_everywhere_through_the_api(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(None):
        exam_id = ExamSession.objects.get(pk=trail.session_id).exam_id

    response = api_client_for(tenant_a.admin).delete(f"/api/v1/exams/{exam_id}/")

    assert response.status_code == 204, response.content
    assert _stores(trail) == ONLY_THE_FACE
    with tenancy.tenant_scope(None):
        assert not Exam.objects.filter(pk=exam_id).exists()
        assert AuditEvent.objects.filter(action="exam.delete", target_id=str(exam_id), actor=tenant_a.admin).exists()


def test_it_erases_a_session_everywhere_through_the_api(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)

    assert api_client_for(tenant_a.student).delete(f"/api/v1/sessions/{trail.session_id}/").status_code == 403
    assert api_client_for(tenant_a.proctor).delete(f"/api/v1/sessions/{trail.session_id}/").status_code == 403
    assert _stores(trail)["frame rows"] == 1
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/sessions/{trail.session_id}/")

    assert response.status_code == 204, response.content
    assert _stores(trail) == ONLY_THE_FACE
    with tenancy.tenant_scope(None):
        assert AuditEvent.objects.filter(action="session.delete", target_id=str(trail.session_id)).exists()


def test_it_erases_a_student_deleted_on_the_students_page(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    admin = page_client_for(tenant_a.admin)
    assert b"Delete student" in admin.get(f"/students/{tenant_a.student.pk}/delete").content
    assert _stores(trail) == EVERYTHING  # asking is not deleting
    response = admin.post(f"/students/{tenant_a.student.pk}/delete")
    assert response.status_code == 302 and response["Location"] == "/students/"
    assert _stores(trail) == NOTHING


def test_it_erases_an_exam_deleted_on_the_exam_pages(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(None):
        exam_id = ExamSession.objects.get(pk=trail.session_id).exam_id
    response = page_client_for(tenant_a.admin).post(f"/exams/{exam_id}/delete")
    assert response.status_code == 302 and response["Location"] == "/exams/"
    assert _stores(trail) == ONLY_THE_FACE


def test_it_erases_a_session_deleted_on_the_enrolments_page(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(None):
        exam_id = ExamSession.objects.get(pk=trail.session_id).exam_id
    admin = page_client_for(tenant_a.admin)
    assert admin.post(f"/exams/{tenant_a.exam.pk}/sessions/{trail.session_id}/delete").status_code == 404  # other exam
    response = admin.post(f"/exams/{exam_id}/sessions/{trail.session_id}/delete")
    assert response.status_code == 302 and response["Location"] == f"/exams/{exam_id}/enrolments"
    assert _stores(trail) == ONLY_THE_FACE


def test_it_answers_404_to_another_institutions_admin_deleting_a_session(
    tenant_a: Tenant, tenant_b: Tenant, dynamo: str
) -> None:
    trail = leave_a_trail(tenant_a)
    assert api_client_for(tenant_b.admin).delete(f"/api/v1/sessions/{trail.session_id}/").status_code == 404
    assert _stores(trail) == EVERYTHING


def test_it_erases_a_student_deleted_in_the_manage_admin(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    response = page_client_for(tenant_a.admin).post(
        f"/manage/accounts/user/{tenant_a.student.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content
    assert _stores(trail) == NOTHING


def test_it_erases_students_deleted_by_the_manage_admins_bulk_action(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    response = page_client_for(tenant_a.admin).post("/manage/accounts/user/", {
        "action": "delete_selected", "_selected_action": [tenant_a.student.pk], "post": "yes"})
    assert response.status_code == 302, response.content
    assert _stores(trail) == NOTHING


def test_it_erases_an_exam_deleted_in_the_manage_admin(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(None):
        exam_id = ExamSession.objects.get(pk=trail.session_id).exam_id
    response = page_client_for(tenant_a.admin).post(f"/manage/exams/exam/{exam_id}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content
    assert _stores(trail) == ONLY_THE_FACE


def test_it_erases_exams_deleted_by_the_manage_admins_bulk_action(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(None):
        exam_id = ExamSession.objects.get(pk=trail.session_id).exam_id
    response = page_client_for(tenant_a.admin).post("/manage/exams/exam/", {
        "action": "delete_selected", "_selected_action": [exam_id], "post": "yes"})
    assert response.status_code == 302, response.content
    assert _stores(trail) == ONLY_THE_FACE


def test_it_erases_a_student_deleted_in_the_platform_admin(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    superuser = User.objects.create_superuser("root@platform.test", PASSWORD)
    response = page_client_for(superuser).post(f"/platform/accounts/user/{tenant_a.student.pk}/delete/",
                                               {"post": "yes"})
    assert response.status_code == 302, response.content
    assert _stores(trail) == NOTHING


def test_it_erases_an_institution_deleted_in_the_platform_admin(
    tenant_a: Tenant, tenant_b: Tenant, dynamo: str
) -> None:
    trail = leave_a_trail(tenant_a)
    other = leave_a_trail(tenant_b)
    superuser = User.objects.create_superuser("root@platform.test", PASSWORD)
    response = page_client_for(superuser).post(
        f"/platform/accounts/institution/{tenant_a.institution.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content
    assert _stores(trail) == NOTHING
    assert not Institution.objects.filter(pk=tenant_a.institution.pk).exists()
    assert not StoredCollection.objects.filter(collection_id=collection_id_for(tenant_a.institution.pk)).exists()
    assert _stores(other) == EVERYTHING


def test_it_keeps_every_store_when_the_delete_rolls_back(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    before = _stores(trail)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), tenancy.tenant_scope(tenant_a.institution), transaction.atomic():
        roster.user_delete(user=tenant_a.student, actor=tenant_a.admin)
        raise Abort  # files are removed on commit, never before

    assert _stores(trail) == before


def test_it_erases_a_session_through_the_service(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_delete(session=ExamSession.objects.get(pk=trail.session_id), actor=None)
    assert _stores(trail) == ONLY_THE_FACE


# --- retention -------------------------------------------------------------------------------------

FINDINGS = {"FaceDetails": [{"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.3, "Height": 0.4},
                             "Landmarks": [{"Type": "eyeLeft", "X": 0.2, "Y": 0.2}]}]}
CHECKS = [{"TestName": "Person Recognition", "Success": False, "Details": "Someone Else"},
          {"TestName": "Face Detection", "Success": True, "Details": "1"}]


def _evidence(tenant: Tenant, *, days: int, review_status: str) -> tuple[Frame, Incident]:
    """A frame with the engine's findings, ``days`` old, and an incident that copied them."""
    then = timezone.now() - timedelta(days=days)
    frame = Frame(institution=tenant.institution, session=tenant.session, received_at=then, status="done",
                  findings=FINDINGS, checks=CHECKS)
    frame.image.save("f.jpg", ContentFile(b"\xff\xd8 frame \xff\xd9"))
    incident = Incident.objects.create(
        institution=tenant.institution, session=tenant.session, kind="wrong_person", severity="high",
        started_at=then, evidence_frame=frame, first_frame=frame, last_frame=frame, is_open=False,
        review_status=review_status, details={"findings": FINDINGS, "checks": CHECKS})
    return frame, incident


def test_it_clears_findings_and_names_of_expired_frames_and_reviewed_incidents(tenant_a: Tenant, db: Any) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        frame, incident = _evidence(tenant_a, days=40, review_status=ReviewStatus.CONFIRMED)
        path = Path(frame.image.path)

        totals = retention.purge_expired()

        frame.refresh_from_db()
        incident.refresh_from_db()
    assert totals["frames"] == 1 and totals["incidents"] == 1
    assert not path.exists() and not frame.image
    assert frame.findings is None
    assert frame.checks == [{"TestName": "Person Recognition", "Success": False, "Details": ""},
                            {"TestName": "Face Detection", "Success": True, "Details": "1"}]  # verdicts stay
    assert incident.details == {"checks": frame.checks}
    assert retention.purge_expired()["incidents"] == 0  # idempotent


def test_it_keeps_the_findings_of_incidents_waiting_for_review(tenant_a: Tenant, db: Any) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        frame, incident = _evidence(tenant_a, days=40, review_status=ReviewStatus.PENDING)
        recent, recent_incident = _evidence(tenant_a, days=3, review_status=ReviewStatus.DISMISSED)

        assert retention.purge_expired()["incidents"] == 0

        for row in (frame, incident, recent, recent_incident):
            row.refresh_from_db()
    assert frame.findings == FINDINGS and frame.checks == CHECKS and frame.image
    assert incident.details == {"findings": FINDINGS, "checks": CHECKS}
    assert recent.findings == FINDINGS and recent_incident.details["findings"] == FINDINGS


def _sittings_ended(tenant: Tenant, *, days_ago: int) -> None:
    """Every sitting of the tenant's student ended ``days_ago``; every face was registered before."""
    then = timezone.now() - timedelta(days=days_ago)
    with tenancy.tenant_scope(None):
        ExamSession.objects.filter(student=tenant.student).update(status="submitted", ended_at=then)
        FaceRegistration.objects.filter(institution=tenant.institution).update(created_at=then - timedelta(days=200))


def test_it_erases_a_reference_face_everywhere_after_the_students_last_exam(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    _sittings_ended(tenant_a, days_ago=tenant_a.institution.face_retention_days + 1)

    assert retention.purge_expired()["faces"] == 2  # the trail's face and the fixture's

    # Frames follow their own (frame) retention: these arrived today.
    assert _stores(trail) == {**NOTHING, "frame rows": 1, "incident rows": 1, "files": 1, "dynamodb incidents": 1}
    with tenancy.tenant_scope(None):
        assert PurgeRecord.objects.get(institution=tenant_a.institution).faces == 2


def test_it_keeps_a_reference_face_within_retention_after_the_last_exam(tenant_a: Tenant, db: Any) -> None:
    _sittings_ended(tenant_a, days_ago=tenant_a.institution.face_retention_days - 1)
    assert retention.purge_expired()["faces"] == 0
    with tenancy.tenant_scope(None):
        assert FaceRegistration.objects.filter(pk=tenant_a.face.pk).exists()


def test_it_keeps_the_face_of_a_student_with_an_exam_still_to_sit(tenant_a: Tenant, db: Any) -> None:
    _sittings_ended(tenant_a, days_ago=365)
    with tenancy.tenant_scope(None):  # a new sitting, not ended, of an exam that has not closed
        exam = Exam.objects.create(institution=tenant_a.institution, title="Next term",
                                   closes_at=timezone.now() + timedelta(days=30))
        exam_services.session_create(exam=exam, student=tenant_a.student)

    assert retention.purge_expired()["faces"] == 0

    with tenancy.tenant_scope(None):
        Exam.objects.filter(pk=exam.pk).update(closes_at=timezone.now() - timedelta(days=365))
    assert retention.purge_expired()["faces"] == 1  # the exam closed long ago: the sitting no longer holds it


def test_it_erases_a_face_without_sittings_after_its_registration(tenant_a: Tenant, db: Any) -> None:
    with tenancy.tenant_scope(None):
        ExamSession.objects.filter(student=tenant_a.student).delete()
        FaceRegistration.objects.filter(pk=tenant_a.face.pk).update(
            created_at=timezone.now() - timedelta(days=tenant_a.institution.face_retention_days - 1))
    assert retention.purge_expired()["faces"] == 0
    with tenancy.tenant_scope(None):
        FaceRegistration.objects.filter(pk=tenant_a.face.pk).update(
            created_at=timezone.now() - timedelta(days=tenant_a.institution.face_retention_days + 1))
    assert retention.purge_expired()["faces"] == 1
    with tenancy.tenant_scope(None):
        assert not FaceRegistration.objects.filter(pk=tenant_a.face.pk).exists()


def test_it_sets_the_face_retention_on_the_settings_page(tenant_a: Tenant, db: Any) -> None:
    admin = page_client_for(tenant_a.admin)
    body = {"form": "settings", "frame_retention_days": "30", "consent_text": tenant_a.institution.consent_text}
    assert admin.post("/settings/", {**body, "face_retention_days": "0"}).status_code == 200  # refused
    assert admin.post("/settings/", {**body, "face_retention_days": "14"}).status_code == 302
    tenant_a.institution.refresh_from_db()
    assert tenant_a.institution.face_retention_days == 14
    with tenancy.tenant_scope(None):
        event = AuditEvent.objects.get(action="institution.settings")
    assert event.data == {"face_retention_days": [90, 14]}


def test_it_answers_503_and_deletes_nothing_while_the_face_engine_is_down(
    tenant_a: Tenant, dynamo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = leave_a_trail(tenant_a)

    def engine_down(**_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "DeleteFaces")

    monkeypatch.setattr(get_backend(), "delete_faces", engine_down)
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/users/{tenant_a.student.pk}/")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "engine_unavailable"
    assert _stores(trail) == EVERYTHING
    assert User.objects.filter(pk=tenant_a.student.pk).exists()


@pytest.mark.parametrize("site", [admin.site, institution_admin_site], ids=["platform", "manage"])
def test_it_deletes_through_the_services_on_every_admin_site(site: Any) -> None:
    """A model that owns biometric data, registered with delete rights, must delete through its service."""
    owners = {User, Institution, Exam, ExamSession, FaceRegistration, Frame, Incident}
    for model, model_admin in site._registry.items():
        if model in owners:
            assert isinstance(model_admin, DeletesThroughService), model


def test_it_erases_dynamodb_items_once_dynamodb_is_back(tenant_a: Tenant, dynamo: str, settings: Any) -> None:
    from tests.dynalite import free_port

    trail = leave_a_trail(tenant_a)
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    dynamodb._client.cache_clear()
    assert api_client_for(tenant_a.admin).delete(f"/api/v1/users/{tenant_a.student.pk}/").status_code == 204
    waiting = sorted(OutboxMessage.objects.filter(sent_at__isnull=True).values_list("topic", flat=True))
    # The trail's face and incident, and the fixture's face and incident (never mirrored: a no-op).
    assert waiting == ["faces.delete"] * 2 + ["incidents.delete"] * 2

    settings.DYNAMODB_ENDPOINT_URL = dynamo  # DynamoDB is back
    dynamodb._client.cache_clear()
    assert _stores(trail)["dynamodb faces"] == 1  # not yet
    OutboxMessage.objects.update(next_attempt_at="2000-01-01T00:00:00Z")
    assert outbox.relay() == {"sent": 4, "failed": 0}
    assert _stores(trail) == NOTHING


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: Postgres only (SQLite runs one writer)")
def test_it_waits_for_an_analysis_in_flight_and_erases_what_it_wrote(tenant_a: Tenant, dynamo: str) -> None:
    """An analysis holds its session's row lock while it writes; a delete that started meanwhile waits for it,
    then erases the frame it added too (without the lock: an IntegrityError at commit, or an orphan file)."""
    trail = leave_a_trail(tenant_a)
    locked, go = threading.Event(), threading.Event()
    written: list[Path] = []
    errors: list[BaseException] = []

    def analysis() -> None:
        try:
            with tenancy.tenant_scope(None), transaction.atomic():
                session = ExamSession.objects.select_for_update(of=("self",)).get(pk=trail.session_id)
                locked.set()
                assert go.wait(30)
                frame = Frame(institution_id=session.institution_id, session=session, received_at=timezone.now())
                frame.image.save("late.jpg", ContentFile(b"\xff\xd8 late frame \xff\xd9"))
                written.append(Path(frame.image.path))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    def delete() -> None:
        try:
            with tenancy.tenant_scope(tenant_a.institution):
                exam_services.session_delete(session=ExamSession.objects.get(pk=trail.session_id), actor=None)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=analysis)
    writer.start()
    assert locked.wait(30)
    deleter = threading.Thread(target=delete)
    deleter.start()
    _await_a_lock_wait()
    go.set()
    writer.join(30)
    deleter.join(30)

    assert errors == []
    assert written and not written[0].exists()
    assert _stores(trail) == ONLY_THE_FACE


def _await_a_lock_wait() -> None:
    """Until another connection of this database waits on a row lock (the delete, behind the analysis)."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the delete never waited for the analysis' lock")


def test_it_keeps_a_deleted_incident_deleted_when_a_late_put_arrives(tenant_a: Tenant, dynamo: str) -> None:
    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(None):
        late = [incident_payload(i) for i in Incident.objects.filter(session_id=trail.session_id)]
    assert api_client_for(tenant_a.admin).delete(f"/api/v1/sessions/{trail.session_id}/").status_code == 204

    for payload in late:  # a relay that claimed an older put sends it only now
        dynamodb.put_incident(payload)

    assert dynamodb.incidents_of_session(trail.institution_id, trail.session_id) == []
    raw = dynamodb.client().query(
        TableName=dynamodb.incidents_table(), KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"INSTITUTION#{trail.institution_id}#SESSION#{trail.session_id}"}},
    )["Items"]
    assert len(raw) == EVERYTHING["dynamodb incidents"]  # one tombstone an incident, nothing personal in it
    assert all(set(item) == {"pk", "sk", "Deleted", "Version"} for item in raw)


def test_it_stores_nothing_for_a_frame_sent_while_its_session_is_deleted(
    tenant_a: Tenant, monkeypatch: Any, settings: Any
) -> None:
    """The session goes between the upload's checks and its commit: 404, and neither a row nor a file
    (the foreign key is checked at commit; without the clean-up: a 500 and an orphan biometric file)."""
    from proctoring import services as proctoring_services

    session = start_session(tenant_a)
    real_rate_check = proctoring_services.check_frame_rate

    def deleted_meanwhile(**kwargs: Any) -> None:
        real_rate_check(**kwargs)
        with tenancy.tenant_scope(tenant_a.institution):
            exam_services.session_delete(session=ExamSession.objects.get(pk=session.pk), actor=None)

    monkeypatch.setattr(proctoring_services, "check_frame_rate", deleted_meanwhile)
    before = {path for path in Path(settings.PRIVATE_MEDIA_ROOT).rglob("*") if path.is_file()}
    response = process(tenant_a, "signer1_a.jpg", session=session, user=tenant_a.student, wait=None)

    assert response.status_code == 404, response.content
    with tenancy.tenant_scope(None):
        assert not Frame.objects.filter(session_id=session.pk).exists()
    assert {path for path in Path(settings.PRIVATE_MEDIA_ROOT).rglob("*") if path.is_file()} == before


def test_it_drops_the_analysis_of_a_frame_erased_before_it_ran(tenant_a: Tenant, dynamo: str) -> None:
    """A queued frame whose session is deleted before a worker takes it: the task ends quietly."""
    from proctoring import tasks

    trail = leave_a_trail(tenant_a)
    with tenancy.tenant_scope(None):
        frame_id = Frame.objects.filter(session_id=trail.session_id).values_list("pk", flat=True).first()
        exam_services.session_delete(session=ExamSession.objects.get(pk=trail.session_id), actor=None)
    assert tasks.analyze_frame.apply(args=[frame_id]).get() == {"frame": frame_id, "status": "erased", "checks": []}


def test_a_deleted_student_leaves_no_name_email_or_words_in_the_audit_log(tenant_a: Tenant, dynamo: str) -> None:
    # An audit: the deleted student's name and email stayed in user.created, their name in face.registered, and
    # their name and similarity in another student's face.duplicate_confirmed.
    from django.contrib.admin.models import LogEntry

    from accounts import services as account_services
    from exams.accommodations import accommodation_set
    from proctoring.messages import message_send
    from tests.proctoring.conftest import appealed
    from tests.proctoring.test_pipeline import b64

    student = tenant_a.student
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=student)
    with tenancy.tenant_scope(tenant_a.institution):
        twin = account_services.user_create(institution=tenant_a.institution, email="twin@a.test", role="student",
                                            full_name="Tess Twin", student_number="T2")
    duplicate = api_client_for(tenant_a.admin).post("/faces/index", {
        "image": b64("signer1_a.jpg"), "fullName": "Tess Twin", "student": twin.pk, "confirmDuplicate": True},
        format="json")
    assert duplicate.status_code == 200, duplicate.content
    appealed(tenant_a, note="Sam here: that was my reflection.")
    with tenancy.tenant_scope(tenant_a.institution):  # (a re-audit: a reason and a message stayed)
        accommodation_set(actor=tenant_a.admin, student=student, extra_minutes=10, extra_percent=0, exempt_checks=[],
                          reason="Sam's letter from Dr Miller: dyslexia")
        session = start_session(tenant_a)
        message_send(session=session, actor=tenant_a.proctor, text="Sam, please take off your headphones")
    personal = (student.email, student.full_name, "Sam Signer", "Sam here: that was my reflection.",
                "A second face beside yours.", "Dr Miller", "take off your headphones")

    def log() -> str:
        with tenancy.tenant_scope(tenant_a.institution):
            return repr([(e.action, e.data) for e in AuditEvent.objects.all()])
    before = log()
    assert all(text in before for text in personal) and "face.duplicate_confirmed" in before

    deleted = page_client_for(tenant_a.admin).post(f"/manage/accounts/user/{student.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302, deleted.content
    after = log()
    assert [text for text in personal if text in after] == []
    admin_log = repr(list(LogEntry.objects.values_list("object_repr", "change_message")))
    assert student.full_name not in admin_log and student.email not in admin_log and "[erased]" in admin_log
    assert "Tess Twin" in after and "twin@a.test" in after  # the other student's own record stays
    assert after.count("face.registered") == before.count("face.registered")  # what was done, and when, stays
