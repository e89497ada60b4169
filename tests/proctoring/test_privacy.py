"""Frames and faces are biometric data: access-checked views only, and a retention purge."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts import tenancy
from proctoring import retention, tasks
from proctoring.models import Frame, Incident, PurgeRecord, ReviewStatus
from proctoring.storage import private_storage
from tests.conftest import Tenant, api_client_for, page_client_for


def test_it_streams_a_frame_only_to_its_institutions_staff(tenant_a: Tenant) -> None:
    path = f"/api/v1/frames/{tenant_a.frame.pk}/image"
    response = api_client_for(tenant_a.proctor).get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8")
    assert response["Cache-Control"] == "private, no-store"
    assert api_client_for(tenant_a.student).get(path).status_code == 403
    assert api_client_for(None).get(path).status_code == 401


def test_it_gives_biometric_files_no_public_url(tenant_a: Tenant) -> None:
    with pytest.raises(NotImplementedError):
        private_storage.url(tenant_a.frame.image.name)
    # Nothing under the media folders is served by URL, signed in or not.
    for name in (tenant_a.frame.image.name, tenant_a.face.image.name):
        for prefix in ("/media/", "/media-not-public/", "/media/private/", "/static/"):
            assert page_client_for(tenant_a.admin).get(prefix + name).status_code == 404


def _age(frame: Frame, days: int) -> None:
    frame.received_at = timezone.now() - timedelta(days=days)
    frame.save(update_fields=["received_at"])


def _frame(tenant: Tenant, days: int) -> Frame:
    frame = Frame(institution=tenant.institution, session=tenant.session, received_at=timezone.now())
    frame.image.save("f.jpg", ContentFile(b"\xff\xd8 frame \xff\xd9"))
    _age(frame, days)
    return frame


def test_it_purges_frames_past_retention_but_keeps_evidence_under_review(tenant_a: Tenant, db: Any) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        old, recent = _frame(tenant_a, 40), _frame(tenant_a, 3)
        _age(tenant_a.frame, 40)  # evidence of the tenant's pending incident
        reviewed_evidence = _frame(tenant_a, 40)
        Incident.objects.create(institution=tenant_a.institution, session=tenant_a.session, kind="no_person",
                                severity="low", started_at=timezone.now(), evidence_frame=reviewed_evidence,
                                is_open=False, review_status=ReviewStatus.DISMISSED)
    paths = {f.pk: f.image.path for f in (old, recent, tenant_a.frame, reviewed_evidence)}

    assert tasks.purge_frames() == {"frames": 2, "bytes": 2 * len(b"\xff\xd8 frame \xff\xd9"), "incidents": 0,
                                    "faces": 0, "speech_clips": 0}

    assert not os.path.exists(paths[old.pk]) and not os.path.exists(paths[reviewed_evidence.pk])
    assert os.path.exists(paths[recent.pk]) and os.path.exists(paths[tenant_a.frame.pk])
    with tenancy.tenant_scope(tenant_a.institution):
        old.refresh_from_db()
        assert old.purged_at is not None and not old.image
        record = PurgeRecord.objects.get()
    assert record.frames == 2
    assert retention.purge_expired() == {  # idempotent
        "frames": 0, "bytes": 0, "incidents": 0, "faces": 0, "speech_clips": 0}


def test_it_honours_each_institutions_retention(tenant_a: Tenant, tenant_b: Tenant) -> None:
    tenant_b.institution.frame_retention_days = 90
    tenant_b.institution.save()
    with tenancy.tenant_scope(None):
        a, b = _frame(tenant_a, 40), _frame(tenant_b, 40)
    tasks.purge_frames()
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.purged_at is not None and b.purged_at is None


@pytest.mark.parametrize("role", ["admin", "proctor"])
def test_it_refuses_frames_sent_into_a_students_session_by_staff(tenant_a: Tenant, role: str) -> None:
    import base64

    from exams.models import ExamSession
    from tests.proctoring.conftest import image

    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status="in_progress")
    body = {"image": base64.b64encode(image("signer1_b.jpg")).decode(), "session": tenant_a.session.pk}
    response = api_client_for(tenant_a.user(role)).post("/process", body, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_the_sessions_student"
    assert Frame.unscoped.filter(session=tenant_a.session).count() == 1  # only the fixture's own frame


def test_it_answers_another_students_session_like_a_missing_one(tenant_a: Tenant) -> None:
    import base64

    from accounts import services
    from exams.models import ExamSession
    from tests.proctoring.conftest import image

    other = services.user_create(institution=tenant_a.institution, email="other@alpha.test", role="student",
                                 full_name="Other")
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status="in_progress")
    encoded = base64.b64encode(image("signer1_b.jpg")).decode()
    theirs = api_client_for(other).post("/process", {"image": encoded, "session": tenant_a.session.pk}, format="json")
    missing = api_client_for(other).post("/process", {"image": encoded, "session": 999999}, format="json")
    assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
    frame = api_client_for(other).get(f"/api/v1/frames/{tenant_a.frame.pk}/")
    assert frame.status_code == 404
