"""A frozen camera (proctoring.camera): exam frames that repeat an earlier frame byte for byte."""

from __future__ import annotations

import base64
import io
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from accounts import tenancy
from proctoring import camera
from proctoring.models import Frame, Incident
from tests.conftest import Tenant, api_client_for
from tests.proctoring.conftest import image, start_session
from tests.proctoring.test_pipeline import register

pytestmark = pytest.mark.django_db(transaction=True)


def captured(picture: bytes, *, noise: int | None = None) -> bytes:
    """``picture`` as a camera sends it: JPEG, with the sensor's noise of one capture (``noise`` seeds it)."""
    pixels = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"), dtype=np.int16)
    if noise is not None:
        pixels = pixels + np.random.default_rng(noise).integers(-3, 4, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


def send(tenant: Tenant, session: Any, picture: bytes, **extra: Any) -> Any:
    body = {"image": base64.b64encode(picture).decode(), "session": session.pk, **extra}
    response = api_client_for(tenant.student).post("/process?wait=30", body, format="json")
    assert response.status_code == 200, response.content
    return response


def _kinds(tenant: Tenant, session: Any) -> list[tuple[str, str, bool]]:
    with tenancy.tenant_scope(tenant.institution):
        return [(i.kind, i.severity, i.is_open) for i in Incident.objects.filter(session=session).order_by("pk")]


def test_the_same_picture_sent_again_and_again_opens_a_frozen_camera_incident(tenant_a: Tenant) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=2)
    still = captured(image("signer1_b.jpg"))
    for _ in range(3):
        send(tenant_a, session, still)
    assert _kinds(tenant_a, session) == []  # twice the frame before: a chance, not yet three in a row
    send(tenant_a, session, still)
    assert _kinds(tenant_a, session) == [("camera_frozen", "high", True)]
    with tenancy.tenant_scope(tenant_a.institution):
        latest = Frame.objects.filter(session=session).order_by("-captured_at").first()
    told = api_client_for(tenant_a.student).get(f"/api/v1/frames/{latest.pk}/").json()["camera"]
    assert told["frozen"] is True and "camera" in told["message"]  # the student is told to check their camera
    assert latest.findings["Repeats"]["Frame"] != latest.pk


def test_a_student_sitting_still_before_a_real_camera_is_not_frozen(tenant_a: Tenant) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=2)
    for seed in range(4):  # the same scene, each capture with its own noise
        send(tenant_a, session, captured(image("signer1_b.jpg"), noise=seed))
    assert _kinds(tenant_a, session) == []


def test_a_covered_camera_is_its_own_medium_incident_not_frozen_and_not_nobody_in_view(tenant_a: Tenant) -> None:
    # An audit: a camera covered for two minutes was one Low "nobody in view" (risk 6), under a phone's 16.
    session = start_session(tenant_a, debounce_frames=2)
    black = io.BytesIO()
    Image.new("RGB", (640, 480), (38, 26, 22)).save(black, "JPEG")
    for _ in range(4):  # the same bytes each time: a covered camera, not a frozen one
        send(tenant_a, session, black.getvalue())
    assert _kinds(tenant_a, session) == [("camera_covered", "medium", True)]
    with tenancy.tenant_scope(tenant_a.institution):
        latest = Frame.objects.filter(session=session).order_by("-captured_at").first()
    told = api_client_for(tenant_a.student).get(f"/api/v1/frames/{latest.pk}/").json()["camera"]
    assert told == {"frozen": False, "covered": True, "message": camera.COVERED_MESSAGE}
    for seed in range(3):  # uncovered: it closes once it has not held for the rule's window
        send(tenant_a, session, captured(image("signer1_b.jpg"), noise=seed))
    assert _kinds(tenant_a, session) == [("camera_covered", "medium", False)]


def test_an_upload_sent_twice_is_not_frozen(tenant_a: Tenant) -> None:
    other = start_session(tenant_a, debounce_frames=1)
    at = (timezone.now() - timedelta(seconds=2)).isoformat()
    picture = captured(image("signer1_b.jpg"))
    for _ in range(3):  # a retry of an upload whose answer the browser lost: the same capture
        send(tenant_a, other, picture, captured_at=at)
    assert "camera_frozen" not in [kind for kind, _, _ in _kinds(tenant_a, other)]


def test_a_frame_sent_again_after_its_answer_was_lost_is_kept_and_judged_once(tenant_a: Tenant) -> None:
    # An audit: one frame of a second face, its answer lost and the frame sent again, opened a High incident.
    session = start_session(tenant_a, debounce_frames=2)
    at = (timezone.now() - timedelta(seconds=2)).isoformat()
    two = captured(image("two_signers.jpg"))
    body = {"image": base64.b64encode(two).decode(), "session": session.pk, "captured_at": at}
    first, again = (api_client_for(tenant_a.student).post("/process", body, format="json") for _ in range(2))
    assert first.status_code == again.status_code == 202 and first.json()["frame"] == again.json()["frame"]
    with tenancy.tenant_scope(tenant_a.institution):
        assert Frame.objects.filter(session=session).count() == 1
    send(tenant_a, session, captured(image("signer1_b.jpg"), noise=1))
    assert _kinds(tenant_a, session) == []  # one frame of a second person, not two
