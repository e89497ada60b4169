"""The DynamoDB mirror: every change arrives, in any order, once, with no lock held while sending."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections
from django.utils import timezone

from accounts import tenancy
from proctoring import outbox, review
from proctoring.incidents import incident_payload
from proctoring.models import Incident, IncidentKind, OutboxMessage, Severity
from proctoring.stores import dynamodb
from tests.conftest import Tenant, api_client_for
from tests.proctoring.conftest import b64, start_session

pytestmark = pytest.mark.django_db(transaction=True)


def _incident(tenant: Tenant) -> Incident:
    session = start_session(tenant)
    with tenancy.tenant_scope(tenant.institution):
        incident = Incident.objects.create(institution=tenant.institution, session=session,
                                           kind=IncidentKind.NO_FACE, severity=Severity.LOW,
                                           started_at=timezone.now(), frame_count=1)
    return Incident.unscoped.select_related("session").get(pk=incident.pk)


def _item(incident: Incident) -> dict[str, Any]:
    (item,) = dynamodb.incidents_of_session(incident.institution_id, incident.session_id)
    return item


def test_it_mirrors_a_review_decision(tenant_a: Tenant, dynamo: str) -> None:
    incident = _incident(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        review.incident_review(incident_id=incident.pk, reviewer=tenant_a.proctor, decision="confirmed")
    outbox.relay()
    item = _item(incident)
    assert item["ReviewStatus"] == {"S": "confirmed"} and item["Version"] == {"N": "2"}


def test_it_keeps_the_newer_version_when_an_older_put_arrives_late(tenant_a: Tenant, dynamo: str) -> None:
    incident = _incident(tenant_a)
    first = incident_payload(incident)
    incident.is_open, incident.version = False, 2
    dynamodb.put_incident(incident_payload(incident))
    dynamodb.put_incident(first)  # a retry of version 1, delivered after version 2
    item = _item(incident)
    assert item["Version"] == {"N": "2"} and item["Open"] == {"BOOL": False}


def test_it_never_brings_a_deleted_face_back(tenant_a: Tenant, dynamo: str) -> None:
    response = api_client_for(tenant_a.admin).post("/faces/index", {"image": b64("signer1_a.jpg"),
                                                                     "fullName": "Sam Signer"}, format="json")
    external_id = response.json()["ExternalImageId"]
    put = OutboxMessage.objects.get(topic="faces.put")
    assert dynamodb.get_face(external_id) is not None
    api_client_for(tenant_a.admin).delete(f"/api/v1/faces/{external_id}/")
    assert dynamodb.get_face(external_id) is None

    # The put is delivered again after the delete (a relay that timed out and retried, or a second
    # relay that claimed it late): it must not bring the face back.
    dynamodb.SENDERS["faces.put"](put.payload, sequence=put.pk)
    assert dynamodb.get_face(external_id) is None
    raw = dynamodb.client().get_item(TableName=dynamodb.faces_table(), Key={"ExternalImageId": {"S": external_id}})
    assert set(raw["Item"]) == {"ExternalImageId", "Deleted", "Seq"}  # a tombstone keeps no name


def test_it_sends_the_delete_first_and_the_put_later_without_a_ghost(tenant_a: Tenant, dynamo: str) -> None:
    payload = {"ExternalImageId": "f0f0", "CollectionId": "c", "FullName": "Ghost", "InstitutionId": 1}
    put = OutboxMessage.objects.create(topic="faces.put", payload=payload)
    OutboxMessage.objects.filter(pk=put.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    OutboxMessage.objects.create(topic="faces.delete", payload={"ExternalImageId": "f0f0"})
    assert outbox.relay() == {"sent": 1, "failed": 0}  # the delete; the put is still backing off
    OutboxMessage.objects.filter(pk=put.pk).update(next_attempt_at=timezone.now())
    assert outbox.relay() == {"sent": 1, "failed": 0}
    assert dynamodb.get_face("f0f0") is None


def test_it_mirrors_the_frame_count_of_an_open_incident(tenant_a: Tenant, dynamo: str) -> None:
    session = start_session(tenant_a, debounce_frames=1)
    for _ in range(3):
        response = api_client_for(tenant_a.student).post(
            "/process", {"image": b64("empty_room.jpg"), "session": session.pk}, format="json")
        assert response.status_code == 202
    outbox.relay()
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind=IncidentKind.NO_PERSON)  # an empty room
    assert incident.is_open and incident.frame_count == 3
    item = next(i for i in dynamodb.incidents_of_session(tenant_a.institution.pk, session.pk)
                if i["Kind"]["S"] == "no_person")
    assert item["FrameCount"] == {"N": "3"} and item["Version"] == {"N": str(incident.version)}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: Postgres only")
def test_it_holds_no_row_lock_while_sending(tenant_a: Tenant, dynamo: str, monkeypatch: Any) -> None:
    incident = _incident(tenant_a)
    message = OutboxMessage.objects.create(topic="incidents.put", payload=incident_payload(incident))
    seen: list[str] = []

    def slow_store(payload: dict[str, Any], *, sequence: int) -> None:
        # While this send is on the network, another process can lock the message row at once.
        def other_process() -> None:
            try:
                with connections["default"].cursor() as cursor:
                    cursor.execute("BEGIN")
                    cursor.execute("SELECT id FROM proctoring_outboxmessage WHERE id = %s FOR UPDATE NOWAIT",
                                   [message.pk])
                    cursor.execute("ROLLBACK")
                seen.append("free")
            except DatabaseError as exc:
                seen.append(f"locked: {exc}")
            finally:
                connections["default"].close()

        thread = threading.Thread(target=other_process)
        thread.start()
        thread.join()
        dynamodb.put_incident(payload, sequence=sequence)

    monkeypatch.setitem(dynamodb.SENDERS, "incidents.put", slow_store)
    assert outbox.relay() == {"sent": 1, "failed": 0}
    assert seen == ["free"]
