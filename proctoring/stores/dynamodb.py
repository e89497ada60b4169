"""The DynamoDB tables: the sample's faces table and the incidents event log.

Writes arrive here only from the outbox relay (proctoring.outbox), so an outage delays them and
never drops one. Every put is conditional, so writes may arrive in any order and any number of
times: an incident's on its version (each change in Postgres bumps it), a face's on the outbox
sequence of the write (a deletion leaves a tombstone, so a late put cannot bring a face back).
Each sender takes the payload and ``sequence``, the outbox message id.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings


def faces_table() -> str:
    return f"{settings.DYNAMODB_TABLE_PREFIX}faces"


def incidents_table() -> str:
    return f"{settings.DYNAMODB_TABLE_PREFIX}incidents"


@functools.cache
def _client(endpoint: str, region: str) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=endpoint or None, region_name=region,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}),
    )


def client() -> Any:
    return _client(settings.DYNAMODB_ENDPOINT_URL, settings.AWS_REGION)


TABLES: dict[str, dict[str, Any]] = {
    "faces": {
        "KeySchema": [{"AttributeName": "ExternalImageId", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "ExternalImageId", "AttributeType": "S"}],
    },
    "incidents": {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
        ],
    },
}


def setup_tables() -> list[str]:
    """Create missing tables (idempotent); answers the names created."""
    names = {"faces": faces_table(), "incidents": incidents_table()}
    existing = set(client().list_tables()["TableNames"])
    created = []
    for key, name in names.items():
        if name in existing:
            continue
        try:
            client().create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **TABLES[key])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
        else:
            created.append(name)
        client().get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return created


def put_face(payload: dict[str, Any], *, sequence: int) -> None:
    """Put a face, unless a later write of it (its deletion) is there already."""
    _put_if_newer(faces_table(), {
        "ExternalImageId": {"S": payload["ExternalImageId"]},
        "CollectionId": {"S": payload["CollectionId"]},
        "FullName": {"S": payload["FullName"]},
        "InstitutionId": {"N": str(payload["InstitutionId"])},
        "Seq": {"N": str(sequence)},
    })


def delete_face(payload: dict[str, Any], *, sequence: int) -> None:
    """Replace the face with a tombstone: its id and sequence, nothing personal.

    Relays may send a face's put and its delete in either order (two relays, a retry after a
    time-out). A plain delete arriving first would let the late put bring the face back; the
    tombstone's sequence makes that put fail its condition instead.
    """
    _put_if_newer(faces_table(), {
        "ExternalImageId": {"S": payload["ExternalImageId"]}, "Deleted": {"BOOL": True}, "Seq": {"N": str(sequence)},
    })


def _put_if_newer(table: str, item: dict[str, Any]) -> None:
    try:
        client().put_item(
            TableName=table, Item=item,
            ConditionExpression="attribute_not_exists(Seq) OR Seq < :seq",
            ExpressionAttributeValues={":seq": item["Seq"]},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise  # the same or a later write is there already: done


def incident_key(institution_id: int, session_id: int, started_at: str, incident_id: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"INSTITUTION#{institution_id}#SESSION#{session_id}"},
        "sk": {"S": f"{started_at}#{incident_id}"},
    }


def put_incident(payload: dict[str, Any], *, sequence: int = 0) -> None:
    """Put an incident at its version, unless that version or a later one is already there."""
    item = {
        **incident_key(payload["institution_id"], payload["session_id"], payload["started_at"], payload["id"]),
        "IncidentId": {"N": str(payload["id"])},
        "Kind": {"S": payload["kind"]},
        "Severity": {"S": payload["severity"]},
        "Open": {"BOOL": payload["is_open"]},
        "StartedAt": {"S": payload["started_at"]},
        "Version": {"N": str(payload["version"])},
        "FrameCount": {"N": str(payload["frame_count"])},
        "StudentId": {"N": str(payload["student_id"])},
        "ExamId": {"N": str(payload["exam_id"])},
        "ReviewStatus": {"S": payload.get("review_status") or "pending"},
    }
    if payload.get("ended_at"):
        item["EndedAt"] = {"S": payload["ended_at"]}
    if payload.get("during_check"):
        item["DuringCheck"] = {"BOOL": True}  # seen in the check before the exam: not the exam's
    try:
        client().put_item(
            TableName=incidents_table(), Item=item,
            ConditionExpression="attribute_not_exists(pk) OR Version < :v",
            ExpressionAttributeValues={":v": {"N": str(payload["version"])}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise  # the same or a newer version is there already: done


# A deleted incident's tombstone carries this version, so no put of it (conditional on a higher
# version) can land after the delete and bring it back, whatever order the relay sends them in.
TOMBSTONE_VERSION = 2**53


def delete_incident(payload: dict[str, Any], *, sequence: int = 0) -> None:
    """Erase an incident of a deleted session (proctoring.erasure): a tombstone with its key only."""
    client().put_item(TableName=incidents_table(), Item={
        **incident_key(payload["institution_id"], payload["session_id"], payload["started_at"], payload["id"]),
        "Deleted": {"BOOL": True}, "Version": {"N": str(TOMBSTONE_VERSION)},
    })


def incidents_of_session(institution_id: int, session_id: int) -> list[dict[str, Any]]:
    response = client().query(
        TableName=incidents_table(), KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"INSTITUTION#{institution_id}#SESSION#{session_id}"}},
    )
    return [item for item in response["Items"] if not item.get("Deleted", {}).get("BOOL")]  # not tombstones


def get_face(external_image_id: str) -> dict[str, Any] | None:
    """The face's item; None when there is none or only its tombstone."""
    response = client().get_item(TableName=faces_table(), Key={"ExternalImageId": {"S": external_image_id}},
                                 ConsistentRead=True)
    item = response.get("Item")
    return None if item is None or item.get("Deleted", {}).get("BOOL") else item


SENDERS = {"faces.put": put_face, "faces.delete": delete_face, "incidents.put": put_incident,
           "incidents.delete": delete_incident}
