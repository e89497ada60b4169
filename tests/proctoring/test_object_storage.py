"""Biometric files in a private S3 bucket, on a real S3-compatible server on loopback (moto's server
mode): written and read back through the storage API, private, streamed only after the access
check, erased and purged like local files."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from accounts import tenancy
from exams.models import ExamSession
from exams.statuses import ApprovalStatus
from proctoring import tasks
from proctoring.models import FaceRegistration, Frame, IdentityApproval, PurgeRecord
from proctoring.storage import private_storage
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import Bucket, image
from tests.proctoring.test_faults import post

JPEG = b"\xff\xd8 not really a jpeg \xff\xd9"


def _local_files(settings: Any) -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def _approval(tenant: Tenant, *, status: str = ApprovalStatus.PENDING) -> IdentityApproval:
    with tenancy.tenant_scope(tenant.institution):
        approval = IdentityApproval(institution=tenant.institution, session=tenant.session, status=status)
        approval.id_photo.save("id.jpg", ContentFile(JPEG), save=False)
        approval.live_photo.save("live.jpg", ContentFile(JPEG), save=False)
        approval.save()
    return approval


def _names(*objects: Any) -> set[str]:
    names = set()
    for obj in objects:
        for field in ("image", "id_photo", "live_photo"):
            if getattr(obj, field, None):
                names.add(getattr(obj, field).name)
    return names


def test_it_keeps_frames_and_faces_in_the_bucket_and_streams_them_back(s3: Bucket, tenant_a: Tenant,
                                                                       settings: Any) -> None:
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status="in_progress")
    sent = image("signer1_b.jpg")

    response = post(tenant_a, sent, session=tenant_a.session)  # the browser's path (its analysis: test_worker_nodes)

    assert response.status_code == 202, response.content
    frame = Frame.unscoped.get(pk=response.json()["frame"])
    assert s3.keys() == _names(frame, tenant_a.frame, tenant_a.face)
    assert s3.read(frame.image.name) == sent
    assert _local_files(settings) == []  # nothing on this node's disk
    streamed = api_client_for(tenant_a.proctor).get(f"/api/v1/frames/{frame.pk}/image")
    assert streamed.status_code == 200 and streamed["Cache-Control"] == "private, no-store"
    assert b"".join(streamed.streaming_content) == sent
    face = api_client_for(tenant_a.admin).get(f"/api/v1/faces/{tenant_a.face.external_image_id}/image")
    assert b"".join(face.streaming_content) == JPEG


def test_it_keeps_every_object_private(s3: Bucket, tenant_a: Tenant) -> None:
    key = tenant_a.frame.image.name
    with pytest.raises(urllib.error.HTTPError) as refused:  # anonymous, straight to the bucket
        urllib.request.urlopen(f"{s3.endpoint}/{s3.name}/{key}", timeout=5)
    assert refused.value.code == 403
    grants = s3.client.get_object_acl(Bucket=s3.name, Key=key)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner's, nobody else's
    assert grants[0]["Grantee"]["Type"] == "CanonicalUser"
    block = s3.client.get_public_access_block(Bucket=s3.name)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    with pytest.raises(NotImplementedError):  # no presigned or public URL to hand out
        private_storage.url(key)


def _paths(tenant: Tenant, approval: IdentityApproval) -> list[tuple[str, str]]:
    return [("api", f"/api/v1/frames/{tenant.frame.pk}/image"),
            ("api", f"/api/v1/faces/{tenant.face.external_image_id}/image"),
            ("page", f"/identity/{approval.pk}/id.jpg"),
            ("page", f"/identity/{approval.pk}/references/1.jpg")]


def _get(kind: str, user: Any, path: str) -> Any:
    return (api_client_for if kind == "api" else page_client_for)(user).get(path)


def test_it_streams_an_object_only_to_its_institutions_staff(s3: Bucket, tenant_a: Tenant, tenant_b: Tenant) -> None:
    approval = _approval(tenant_a)
    expected = {tenant_a.proctor: 200, tenant_a.admin: 200, tenant_a.student: 403, tenant_b.admin: 404,
                tenant_b.proctor: 404}
    answers = {user: {path: _get(kind, user, path).status_code for kind, path in _paths(tenant_a, approval)}
               for user in expected}
    assert {user: set(by_path.values()) for user, by_path in answers.items()} == {
        user: {status} for user, status in expected.items()}, answers


def test_it_answers_404_for_an_object_gone_from_the_bucket(s3: Bucket, tenant_a: Tenant) -> None:
    s3.client.delete_object(Bucket=s3.name, Key=tenant_a.frame.image.name)
    assert api_client_for(tenant_a.proctor).get(f"/api/v1/frames/{tenant_a.frame.pk}/image").status_code == 404


@pytest.mark.django_db(transaction=True)  # the objects go when the deletion commits
def test_it_erases_a_deleted_students_objects_from_the_bucket(s3: Bucket, tenant_a: Tenant,
                                                              tenant_b: Tenant) -> None:
    _approval(tenant_a)
    others = _names(tenant_b.frame, tenant_b.face, _approval(tenant_b))
    assert len(s3.keys()) == 4 + len(others)

    response = api_client_for(tenant_a.admin).delete(f"/api/v1/users/{tenant_a.student.pk}/")

    assert response.status_code == 204, response.content
    assert s3.keys() == others  # the other institution's student keeps everything


def _aged(obj: Any, field: str, days: int) -> Any:
    type(obj).unscoped.filter(pk=obj.pk).update(**{field: timezone.now() - timedelta(days=days)})
    return obj


def test_it_purges_objects_past_retention_from_the_bucket(s3: Bucket, tenant_a: Tenant,
                                                         django_capture_on_commit_callbacks: Any) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        old, recent = (Frame(institution=tenant_a.institution, session=tenant_a.session, received_at=timezone.now())
                       for _ in range(2))
        for frame in (old, recent):
            frame.image.save("f.jpg", ContentFile(JPEG))
    _aged(old, "received_at", 40)
    _aged(tenant_a.frame, "received_at", 40)
    decided = _aged(_approval(tenant_a, status=ApprovalStatus.APPROVED), "requested_at", 40)
    _aged(tenant_a.face, "created_at", 400)
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(ended_at=timezone.now() - timedelta(days=400))
    kept = _names(recent, tenant_a.frame)  # a recent frame; an old one, evidence of an incident not reviewed yet

    with django_capture_on_commit_callbacks(execute=True):  # a face's photo goes when its erasure commits
        totals = tasks.purge_frames()

    assert s3.keys() == kept
    assert totals == {"frames": 1, "bytes": 3 * len(JPEG), "incidents": 0, "faces": 1, "speech_clips": 0}  # from S3
    assert not FaceRegistration.unscoped.filter(pk=tenant_a.face.pk).exists()
    decided.refresh_from_db()
    assert decided.purged_at is not None and not decided.id_photo and not decided.live_photo
    assert PurgeRecord.unscoped.get().frames == 1


def test_it_reports_the_bucket_on_healthz(s3: Bucket, settings: Any, db: Any) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json()["checks"]["s3"]["status"] == "ok"
    settings.STORAGES = {**settings.STORAGES, "private": {**settings.STORAGES["private"], "OPTIONS": {
        **settings.STORAGES["private"]["OPTIONS"], "bucket_name": f"{s3.name}-missing"}}}
    response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["checks"]["s3"]["status"] == "down"
