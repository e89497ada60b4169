"""Download my data: one zip of everything biometric held about the student (reference photos, ID photos,
frames, speech clips) and findings.json; theirs only, on local files and S3 alike; audited; rate-limited;
streamed in small chunks."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts import services, tenancy
from accounts.audit import AuditEvent
from accounts.models import Role, User
from exams.services import session_create
from proctoring.models import Frame, IdentityApproval, Incident, SpeechSegment
from proctoring.subject_archive import CHUNK, archive_stream
from tests.conftest import PASSWORD, Tenant, page_client_for
from tests.proctoring.conftest import Bucket, appealed

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8 not really a jpeg \xff\xd9"


def download(user: User) -> Any:
    return page_client_for(user).get("/record/my-data.zip")


def unzip(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/zip" and response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def held(tenant: Tenant) -> dict[str, Any]:
    """An ID photo, a speech clip, a frame whose findings name somebody else's face, and a second incident
    still waiting for review, besides the tenant's face, frame and (appealed) incident."""
    appealed(tenant)
    with tenancy.tenant_scope(tenant.institution):
        approval = IdentityApproval(institution=tenant.institution, session=tenant.session)
        approval.id_photo.save("id.jpg", ContentFile(b"ID" + JPEG), save=False)
        approval.live_photo.save("live.jpg", ContentFile(b"LIVE" + JPEG), save=False)
        approval.save()
        now = timezone.now()
        clip = SpeechSegment(institution=tenant.institution, session=tenant.session, started_at=now, ended_at=now,
                             received_at=now, speech_seconds=1.0, probability=0.9)
        clip.clip.save("c.wav", ContentFile(b"RIFF voice"), save=False)
        clip.save()
        Frame.objects.filter(pk=tenant.frame.pk).update(status="done", findings={"FaceMatches": [
            {"Similarity": 97.0, "Face": {"ExternalImageId": str(tenant.face.external_image_id)}},
            {"Similarity": 91.0, "Face": {"ExternalImageId": "somebody-else"}}]})
        pending = Incident.objects.create(institution=tenant.institution, session=tenant.session, kind="talking",
                                          severity="medium", started_at=now, is_open=False)
    return {"approval": approval, "clip": clip, "pending": pending}


def test_it_zips_everything_biometric_and_the_findings(tenant_a: Tenant) -> None:
    rows = held(tenant_a)
    archive = unzip(download(tenant_a.student))
    session, approval = tenant_a.session.pk, rows["approval"].pk
    assert set(archive.namelist()) == {
        "findings.json", f"reference-photos/{tenant_a.face.external_image_id}.jpg",
        f"frames/session-{session}/{tenant_a.frame.pk}.jpg", f"speech/session-{session}/{rows['clip'].pk}.wav",
        f"id-photos/session-{session}/{approval}-id.jpg", f"id-photos/session-{session}/{approval}-live.jpg"}
    assert archive.read(f"frames/session-{session}/{tenant_a.frame.pk}.jpg") == JPEG
    assert archive.read(f"id-photos/session-{session}/{approval}-live.jpg") == b"LIVE" + JPEG
    findings = json.loads(archive.read("findings.json"))
    assert findings["student"]["email"] == "student@alpha.test"
    [held_session] = findings["sessions"]
    [frame] = held_session["frames"]
    assert [m["Face"]["ExternalImageId"] for m in frame["findings"]["FaceMatches"]] == [
        str(tenant_a.face.external_image_id)]  # never whom else the face resembled
    [incident] = held_session["incidents"]  # the decided one; the one waiting for review is counted only
    assert (incident["id"], incident["decision"], incident["reason"]) == (
        tenant_a.incident.pk, "confirmed", "A second face beside yours.")
    assert incident["evidence_frames"] == [tenant_a.frame.pk]
    assert findings["incidents_waiting_for_review"] == 1
    assert [(a["incident"], a["status"]) for a in findings["appeals"]] == [(tenant_a.incident.pk, "open")]


def test_it_holds_only_the_students_own_data(tenant_a: Tenant, tenant_b: Tenant) -> None:
    held(tenant_a)
    other = services.user_create(institution=tenant_a.institution, email="other@alpha.test", role=Role.STUDENT,
                                 password=PASSWORD)
    with tenancy.tenant_scope(tenant_a.institution):
        session_create(exam=tenant_a.exam, student=other)
    for user in (other, tenant_b.student):
        archive = unzip(download(user))
        findings = json.loads(archive.read("findings.json"))
        own_files = [] if user == other else [f"reference-photos/{tenant_b.face.external_image_id}.jpg",
                                               f"frames/session-{tenant_b.session.pk}/{tenant_b.frame.pk}.jpg"]
        assert sorted(archive.namelist()) == sorted(["findings.json", *own_files])
        assert findings["appeals"] == [] and findings["student"]["id"] == user.pk
        assert all(s["incidents"] == [] for s in findings["sessions"])
    for staff in (tenant_a.proctor, tenant_a.admin):
        assert download(staff).status_code == 403  # a student's own copy; staff have their pages


def test_it_audits_each_download(tenant_a: Tenant) -> None:
    unzip(download(tenant_a.student))
    with tenancy.tenant_scope(tenant_a.institution):
        event = AuditEvent.objects.get(action="subject.archive")
    assert (event.actor, event.target_id) == (tenant_a.student, str(tenant_a.student.pk))


def test_it_limits_downloads_per_day(tenant_a: Tenant, settings: Any) -> None:
    settings.SUBJECT_ARCHIVE_LIMIT = 2
    assert download(tenant_a.student).status_code == 200
    assert download(tenant_a.student).status_code == 200
    refused = download(tenant_a.student)
    assert refused.status_code == 429 and b"Try again in" in refused.content and int(refused["Retry-After"]) > 0
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.filter(action="subject.archive").count() == 2


def test_it_leaves_out_a_file_erased_since_it_was_listed(tenant_a: Tenant) -> None:
    stream = archive_stream_for(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        Frame.objects.get(pk=tenant_a.frame.pk).image.delete(save=False)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(stream)))
    assert f"frames/session-{tenant_a.session.pk}/{tenant_a.frame.pk}.jpg" not in archive.namelist()
    assert archive.testzip() is None


def archive_stream_for(tenant: Tenant) -> Any:
    with tenancy.tenant_scope(tenant.institution):
        return archive_stream(student=tenant.student)


def test_it_streams_the_zip_in_small_chunks(tenant_a: Tenant) -> None:
    """200 frames of 100 KB and one of 4 MB (24 MB): no chunk of more than a file of 100 KB or a few 64 KB reads
    (the big file goes out in pieces), and the stream's peak memory stays small."""
    picture = os.urandom(100 * 1024)
    with tenancy.tenant_scope(tenant_a.institution):
        for size in [4 * 2**20] + [len(picture)] * 200:
            frame = Frame(institution=tenant_a.institution, session=tenant_a.session, received_at=timezone.now())
            frame.image.save("f.jpg", ContentFile(picture if size == len(picture) else os.urandom(size)))
    stream = archive_stream_for(tenant_a)
    tracemalloc.start()
    total, largest = 0, 0
    for chunk in stream:
        total, largest = total + len(chunk), max(largest, len(chunk))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\nzip {total / 2**20:.1f} MiB, largest chunk {largest / 1024:.0f} KiB, peak {peak / 2**20:.2f} MiB")
    assert total > 200 * 100 * 1024 + 4 * 2**20
    assert largest < 3 * CHUNK
    assert peak < 4 * 2**20


def test_it_zips_the_files_from_the_bucket(s3: Bucket, tenant_a: Tenant) -> None:
    rows = held(tenant_a)
    assert tenant_a.frame.image.name in s3.keys()
    archive = unzip(download(tenant_a.student))
    session = tenant_a.session.pk
    assert archive.read(f"frames/session-{session}/{tenant_a.frame.pk}.jpg") == JPEG
    assert archive.read(f"reference-photos/{tenant_a.face.external_image_id}.jpg") == JPEG
    assert archive.read(f"speech/session-{session}/{rows['clip'].pk}.wav") == b"RIFF voice"
    assert len(archive.namelist()) == 6
