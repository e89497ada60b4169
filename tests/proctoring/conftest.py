from __future__ import annotations

import base64
import functools
import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from accounts import tenancy
from exams import services as exam_services
from exams.models import Exam, ExamSession
from exams.statuses import SessionStatus
from proctoring import gate
from proctoring.models import Frame
from proctoring.stores import dynamodb
from tests.conftest import Tenant, head_turn_yaws
from tests.dynalite import dynalite
from tests.s3_server import s3_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "images"
_prefixes = itertools.count()


def turned_head(session: ExamSession) -> None:
    """Frames of the gate, before the session's others, of the student doing the head turns it asks for: as the
    pipeline stores them (their 1:1 check passed), without a thumbnail (never a frame to carry);
    tests/proctoring/test_skipping.py and scripts/profile_frame_cost.py."""
    yaws = head_turn_yaws(gate.challenge_order(session))
    with tenancy.tenant_scope(None):
        for index, yaw in enumerate(yaws):
            at = session.created_at - timedelta(seconds=2 * (len(yaws) - index))
            Frame.objects.create(
                institution_id=session.institution_id, session=session, status="done", received_at=at,
                captured_at=at, checks=[], findings={
                    "FaceDetails": [{"Pose": {"Yaw": yaw, "Pitch": 0.0, "Roll": 0.0}}], "Labels": [],
                    "Verification": {"Passed": True, "Reason": "match", "Similarity": 96.0, "FaceId": None}})


def image(name: str) -> bytes:
    if name == "two_signers.jpg":
        return _side_by_side("signer1_a.jpg", "signer2_a.jpg")
    return (FIXTURES / name).read_bytes()


@functools.cache
def _side_by_side(left: str, right: str) -> bytes:
    """Two people in one frame, made from two single-person fixtures."""
    images = [Image.open(FIXTURES / name).convert("RGB") for name in (left, right)]
    height = min(i.height for i in images)
    images = [i.resize((i.width * height // i.height, height)) for i in images]
    canvas = Image.new("RGB", (sum(i.width for i in images), height))
    canvas.paste(images[0], (0, 0))
    canvas.paste(images[1], (images[0].width, 0))
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=90)
    return out.getvalue()


def b64(name: str) -> str:
    return base64.b64encode(image(name)).decode()


_captures = itertools.count()


def shot(data: bytes) -> bytes:
    """A JPEG as one capture of a camera sends it: bytes of its own each time (a JPEG comment with a counter), the
    same pixels. A real camera's noise makes every capture's bytes differ; the same bytes twice are a frozen camera
    (proctoring.camera), which a test that sends one photo for a student sitting still does not mean."""
    assert data[:2] == b"\xff\xd8", "a JPEG"
    comment = f"capture {next(_captures)}".encode()
    return data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]


def shot_b64(name: str) -> str:
    """``b64`` of one capture (``shot``) of a fixture."""
    return base64.b64encode(shot(image(name))).decode()


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    with dynalite() as endpoint:
        yield endpoint


@pytest.fixture
def dynamo(settings: Any, monkeypatch: Any, dynamodb_endpoint: str) -> str:
    """DynamoDB configured for this test, with fresh tables of its own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    settings.DYNAMODB_ENDPOINT_URL = dynamodb_endpoint
    settings.DYNAMODB_ENABLED = True
    settings.DYNAMODB_TABLE_PREFIX = f"test{next(_prefixes)}-"
    dynamodb._client.cache_clear()
    dynamodb.setup_tables()
    return dynamodb_endpoint


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


@dataclass
class Bucket:
    """The test's own bucket on the S3-compatible server, seen with boto3 (not through the app)."""

    name: str
    endpoint: str
    client: Any

    def keys(self) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


def s3_environment(endpoint: str, bucket: str) -> dict[str, str]:
    """The environment that puts a process's biometric files in ``bucket`` (as make stack does)."""
    return {"S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint, "S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@pytest.fixture
def s3(settings: Any, monkeypatch: Any, s3_endpoint: str) -> Bucket:
    """Biometric files of this test in a private bucket of its own on the S3-compatible server.

    Ask for it before ``tenant_a``/``tenant_b``, so that their fixture files go there too."""
    import boto3

    from proctoring.storage import private_storage

    name = f"test-{os.getpid()}-{next(_prefixes)}"
    for key, value in s3_environment(s3_endpoint, name).items():
        monkeypatch.setenv(key, value)
    settings.S3_BUCKET = name
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "proctoring.storage.S3PrivateStorage",
        "OPTIONS": {"bucket_name": name, "endpoint_url": s3_endpoint, "region_name": "us-east-1"}}}
    assert private_storage.setup_bucket() is True
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="local",
                          aws_secret_access_key="local")
    return Bucket(name, s3_endpoint, client)


def start_session(tenant: Tenant, *, debounce_frames: int = 1, until: str = SessionStatus.IN_PROGRESS) -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        # A new exam: the tenant's own exam already has a session with objects for the tenancy tests.
        exam = Exam.objects.create(institution=tenant.institution, title="Proctored exam",
                                   debounce_frames=debounce_frames)
        session = exam_services.session_create(exam=exam, student=tenant.student)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS)[:2 if until == SessionStatus.IN_PROGRESS else 1]:
            exam_services.session_transition(session_id=session.pk, to=to, actor=tenant.student)
    return session


def reviewed(tenant: Tenant, *, decision: str = "confirmed", note: str = "A second face beside yours.",
             days_ago: float = 0) -> Any:
    """The tenant's session ended (submitted) and its incident decided through the review service,
    ``days_ago`` days ago: what a student may see and appeal (proctoring.appeals)."""
    from django.utils import timezone

    from proctoring.models import Incident
    from proctoring.review import incident_review

    with tenancy.tenant_scope(tenant.institution):
        ExamSession.objects.filter(pk=tenant.session.pk).update(status=SessionStatus.SUBMITTED,
                                                                ended_at=timezone.now())
        incident_review(incident_id=tenant.incident.pk, reviewer=tenant.proctor, decision=decision, note=note)
        if days_ago:
            Incident.objects.filter(pk=tenant.incident.pk).update(
                reviewed_at=timezone.now() - timedelta(days=days_ago))
        tenant.session.refresh_from_db()
        tenant.incident.refresh_from_db()
    return tenant.incident


def appealed(tenant: Tenant, note: str = "That was my reflection in the window.") -> Any:
    """The tenant's confirmed incident appealed by its student (the same appeal when called again)."""
    from proctoring.appeals import appeal_create
    from proctoring.models import Appeal

    with tenancy.tenant_scope(tenant.institution):
        existing = Appeal.objects.filter(incident_id=tenant.incident.pk).first()
    if existing is not None:
        return existing
    reviewed(tenant)
    with tenancy.tenant_scope(tenant.institution):
        return appeal_create(incident_id=tenant.incident.pk, student=tenant.student, note=note)
