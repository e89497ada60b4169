"""/faces/index and /process end to end: the real local engine, SQLite or Postgres, and dynalite."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import tenancy
from proctoring import outbox
from proctoring.incidents import MIN_FRAMES
from proctoring.models import FaceRegistration, Frame, Incident, IncidentKind, OutboxMessage, StoredFace
from proctoring.stores import dynamodb
from tests.conftest import Tenant, api_client_for
from tests.proctoring.conftest import b64, image, shot_b64, start_session

pytestmark = pytest.mark.django_db(transaction=True)
CHECK_NAMES = ["Objects of Interest", "Person Detection", "Person Recognition", "Face Detection", "Unsafe Content"]


def register(tenant: Tenant, fixture: str, name: str, student: Any = None) -> str:
    body = {"image": b64(fixture), "fullName": name}
    if student is not None:
        body["student"] = student.pk
    response = api_client_for(tenant.admin).post("/faces/index", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["ExternalImageId"]


def process(tenant: Tenant, fixture: str, session: Any = None, user: Any = None, wait: float | None = 30) -> Any:
    body: dict[str, Any] = {"image": b64(fixture)}
    if session is not None:
        body["session"], body["image"] = session.pk, shot_b64(fixture)  # a frame of a camera, not a still
    path = "/process" if wait is None else f"/process?wait={wait}"
    return api_client_for(user or tenant.admin).post(path, body, format="json")


def by_name(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert [r["TestName"] for r in results] == CHECK_NAMES
    return {r["TestName"]: r for r in results}


def test_it_registers_a_face_in_postgres_the_engine_and_dynamodb(tenant_a: Tenant, dynamo: str) -> None:
    external_id = register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        registration = FaceRegistration.objects.get(external_image_id=external_id)
    assert registration.student == tenant_a.student
    assert StoredFace.objects.filter(face_id=registration.face_id).exists()
    item = dynamodb.get_face(external_id)
    assert item.pop("Seq")  # the outbox sequence of the write (faces' puts and deletes are ordered by it)
    assert item == {"ExternalImageId": {"S": external_id}, "CollectionId": {"S": registration.collection_id},
                    "FullName": {"S": "Sam Signer"}, "InstitutionId": {"N": str(tenant_a.institution.pk)}}


def test_it_registers_a_face_from_a_multipart_upload(tenant_a: Tenant) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("me.jpg", image("grace_hopper.jpg"), content_type="image/jpeg")
    response = api_client_for(tenant_a.admin).post("/faces/index", {"image": upload, "fullName": "Grace"},
                                                   format="multipart")
    assert response.status_code == 200, response.content
    listing = api_client_for(tenant_a.admin).get("/api/v1/faces/").json()
    assert "Grace" in [f["FullName"] for f in listing["results"]]


@pytest.mark.parametrize("fixture, reason", [
    ("empty_room.jpg", "NO_FACE"),
    ("two_signers.jpg", "EXCEEDS_MAX_FACES"),
    ("two_people_walking.jpg", "SMALL_BOUNDING_BOX"),
])
def test_it_refuses_a_photo_without_exactly_one_usable_face(tenant_a: Tenant, fixture: str, reason: str) -> None:
    response = api_client_for(tenant_a.admin).post("/faces/index", {"image": b64(fixture), "fullName": "X"},
                                                   format="json")
    assert response.status_code == 422
    assert reason in response.json()["error"]["details"]["reasons"]
    assert not StoredFace.objects.exists()  # nothing half-registered


def test_it_passes_all_five_checks_for_the_registered_person(tenant_a: Tenant) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer")
    response = process(tenant_a, "signer1_b.jpg")
    assert response.status_code == 200
    checks = by_name(response.json())
    assert all(check["Success"] for check in checks.values()), checks
    assert checks["Person Recognition"]["Details"] == "Sam Signer"
    assert checks["Face Detection"]["Details"] == 1


def test_it_fails_person_and_face_detection_for_two_people(tenant_a: Tenant) -> None:
    checks = by_name(process(tenant_a, "two_signers.jpg").json())
    assert checks["Face Detection"] == {"TestName": "Face Detection", "Success": False, "Details": 2}
    assert checks["Person Detection"] == {"TestName": "Person Detection", "Success": False, "Details": 2}


def test_it_opens_a_wrong_person_incident_once_the_1to1_check_fails_for_a_sustained_stretch(
    tenant_a: Tenant, dynamo: str
) -> None:
    from accounts import services as account_services

    other = account_services.user_create(institution=tenant_a.institution, email="other@alpha.test",
                                         role="student", full_name="Other")
    own_id = register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    register(tenant_a, "signer2_a.jpg", "Olga Other", student=other)
    session = start_session(tenant_a, debounce_frames=1)

    ok = process(tenant_a, "signer1_b.jpg", session=session, user=tenant_a.student)
    assert ok.status_code == 200 and all(c["Success"] for c in ok.json())
    for _ in range(MIN_FRAMES[IncidentKind.WRONG_PERSON]):
        with tenancy.tenant_scope(tenant_a.institution):
            assert not Incident.objects.filter(session=session).exists()  # one odd frame accuses nobody
        wrong = by_name(process(tenant_a, "signer2_a.jpg", session=session, user=tenant_a.student).json())
        assert wrong["Person Recognition"] == {"TestName": "Person Recognition", "Success": False, "Details": "0"}
    with tenancy.tenant_scope(tenant_a.institution):
        frame = Frame.objects.filter(session=session).latest("received_at")
        own_face = FaceRegistration.objects.get(external_image_id=own_id).face_id
    # Verified 1:1 against Sam's own face: nobody is named, not even to staff, who get the score.
    seen = {role: api_client_for(user).get(f"/api/v1/frames/{frame.pk}/").json()
            for role, user in (("student", tenant_a.student), ("proctor", tenant_a.proctor))}
    for answer in seen.values():
        assert by_name(answer["checks"])["Person Recognition"]["Details"] == "0"
        assert answer["identity"] == {"passed": False, "reason": "not_matching",
                                      "message": "This doesn't match your registered photo."}
    verification = frame.findings["Verification"]
    assert verification["Reason"] == "not_matching" and verification["FaceId"] == own_face
    assert verification["Similarity"] < 90
    assert frame.findings["FaceMatches"] == []

    with tenancy.tenant_scope(tenant_a.institution):
        incidents = list(Incident.objects.filter(session=session))
        assert [(i.kind, i.is_open, i.frame_count) for i in incidents] == [("wrong_person", True, 3)]
        assert incidents[0].evidence_frame.image
        assert incidents[0].details["findings"]["Verification"]["Reason"] == "not_matching"
    outbox.relay()  # a second relay must not duplicate anything
    items = dynamodb.incidents_of_session(tenant_a.institution.pk, session.pk)
    assert [(item["Kind"]["S"], item["IncidentId"]["N"]) for item in items] == [("wrong_person", str(incidents[0].pk))]


def test_it_debounces_and_closes_incidents(tenant_a: Tenant, dynamo: str) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=2)  # 2 of the latest 3 frames
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        assert not Incident.objects.filter(session=session).exists()  # one frame is not enough
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    for _ in range(3):  # it closes once it has not held for 3 frames running
        with tenancy.tenant_scope(tenant_a.institution):
            assert Incident.objects.get(session=session).is_open
        process(tenant_a, "signer1_b.jpg", session=session, user=tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        # One second person, one incident: "several people" absorbs "several faces".
        incident = Incident.objects.get(session=session)
        frames = list(Frame.objects.filter(session=session))
    assert incident.kind == "multiple_people"
    assert not incident.is_open and incident.frame_count == 2
    assert incident.first_frame == frames[0] and incident.last_frame == frames[1]
    assert incident.ended_at == frames[2].received_at  # the first frame without it
    items = dynamodb.incidents_of_session(tenant_a.institution.pk, session.pk)
    assert len(items) == 1 and items[0]["Open"] == {"BOOL": False} and items[0]["Version"] == {"N": "2"}


def test_it_queues_session_frames_and_reports_their_status(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    response = process(tenant_a, "signer1_b.jpg", session=session, user=tenant_a.student, wait=None)
    assert response.status_code == 202
    status = api_client_for(tenant_a.student).get(response.json()["status_url"])
    # The embedded default runs the task in-process at commit, so it is done already.
    assert status.json()["status"] == "done" and len(status.json()["checks"]) == 5


def test_it_deletes_a_face_everywhere(tenant_a: Tenant, dynamo: str) -> None:
    external_id = register(tenant_a, "signer1_a.jpg", "Sam Signer")
    with tenancy.tenant_scope(tenant_a.institution):
        registration = FaceRegistration.objects.get(external_image_id=external_id)
    path = registration.image.path
    response = api_client_for(tenant_a.admin).delete(f"/api/v1/faces/{external_id}/")
    assert response.status_code == 204
    assert not StoredFace.objects.exists()
    assert dynamodb.get_face(external_id) is None
    import os

    assert not os.path.exists(path)
    checks = by_name(process(tenant_a, "signer1_b.jpg").json())
    assert checks["Person Recognition"]["Success"] is False


def test_it_keeps_dynamodb_writes_while_dynamodb_is_down(tenant_a: Tenant, dynamo: str, settings: Any) -> None:
    from tests.dynalite import free_port

    session = start_session(tenant_a, debounce_frames=1)
    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    dynamodb._client.cache_clear()
    process(tenant_a, "empty_room.jpg", session=session, user=tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        kinds = set(Incident.objects.filter(session=session).values_list("kind", flat=True))
    assert "no_person" in kinds and "no_face" not in kinds  # an empty room: one event, one kind
    pending = OutboxMessage.objects.filter(sent_at__isnull=True)
    assert pending.count() == len(kinds) and pending.first().attempts >= 1

    settings.DYNAMODB_ENDPOINT_URL = dynamo  # DynamoDB is back
    dynamodb._client.cache_clear()
    OutboxMessage.objects.update(next_attempt_at="2000-01-01T00:00:00Z")
    assert outbox.relay() == {"sent": len(kinds), "failed": 0}
    assert outbox.relay() == {"sent": 0, "failed": 0}
    items = dynamodb.incidents_of_session(tenant_a.institution.pk, session.pk)
    assert sorted(item["Kind"]["S"] for item in items) == sorted(kinds)


def test_it_sets_up_dynamodb_tables_idempotently(dynamo: str) -> None:
    from io import StringIO

    from django.core.management import call_command

    first, second = StringIO(), StringIO()
    call_command("dynamodb_setup", stdout=first)
    call_command("dynamodb_setup", stdout=second)
    assert "exists" in first.getvalue() and "created" not in second.getvalue()
    assert dynamodb.faces_table() in dynamodb.client().list_tables()["TableNames"]


def test_it_registers_a_face_while_dynamodb_is_down_and_writes_it_later(
    tenant_a: Tenant, dynamo: str, settings: Any
) -> None:
    from tests.dynalite import free_port

    settings.DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    dynamodb._client.cache_clear()
    external_id = register(tenant_a, "signer1_a.jpg", "Sam Signer")  # still a 200
    assert OutboxMessage.objects.get(sent_at__isnull=True).topic == "faces.put"

    settings.DYNAMODB_ENDPOINT_URL = dynamo
    dynamodb._client.cache_clear()
    OutboxMessage.objects.update(next_attempt_at="2000-01-01T00:00:00Z")
    assert outbox.relay() == {"sent": 1, "failed": 0}
    assert dynamodb.get_face(external_id)["FullName"] == {"S": "Sam Signer"}


@pytest.mark.parametrize("watched", [("Mobile Phone", "Cell Phone"), ("Laptop", "Monitor")])
def test_it_tells_the_engine_which_labels_the_exam_watches(
        tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch, watched: tuple[str, ...]) -> None:
    # The engine skips YOLO on plain frames only for an exam that watches nothing but NanoDet's labels.
    from proctoring import checks, services
    from proctoring.analysis import get_backend

    engine = get_backend()
    seen: list[dict[str, Any]] = []
    analyze = engine.analyze

    def recorded(**kwargs: Any) -> dict:
        seen.append(kwargs)
        return analyze(**kwargs)

    monkeypatch.setattr(engine, "analyze", recorded)
    services.analyze_image(institution_id=tenant_a.institution.pk, image=image("headpose_man.jpg"),
                           policy=checks.Policy(objects_of_interest=watched))
    assert [call["LabelsOfInterest"] for call in seen] == [list(watched)]
