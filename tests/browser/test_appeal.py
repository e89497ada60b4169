"""A student's appeal answered by staff, in a real browser: the student reads their record after the review,
sees their own evidence frame, appeals with a note; a proctor overturns it from the appeals queue; the student
sees the outcome, and downloads their data. Screenshots at 1280 and 390 px."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from proctoring.models import Appeal, Incident
from tests.browser.conftest import Shots, sign_in
from tests.browser.test_identity_pages import fits_a_phone, images_loaded
from tests.conftest import PASSWORD, Tenant
from tests.proctoring.conftest import image, reviewed

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_a_students_appeal_is_answered_by_staff(live_server: Any, tenant_a: Tenant, camera_browser: Any,
                                                  shots: Shots) -> None:
    base = live_server.url
    tenant_a.frame.image.save("evidence.jpg", ContentFile(image("signer1_a.jpg")))  # a real picture to show
    incident = reviewed(tenant_a, note="Nobody was in front of the camera for two minutes.")
    browser = camera_browser()
    errors: list[str] = []

    student = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    student.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(student, base, tenant_a.student.email, PASSWORD)
    student.click("text=Your record")
    expect(student.locator(f"#incident-{incident.pk} .reason")).to_have_text(
        "Nobody was in front of the camera for two minutes.")
    expect(student.locator(f"#incident-{incident.pk} .decision")).to_have_text("Confirmed")
    assert images_loaded(student, f"#incident-{incident.pk} .record-frames img", 1) == 1  # their own frame
    fits_a_phone(student)
    shots.take(student, "student-record")

    student.fill(f"#note-{incident.pk}", "I was there; the lamp went out and the camera saw nothing.")
    student.click("text=Send appeal")
    expect(student.locator(".appeal-status")).to_contain_text("Waiting for staff")
    expect(student.locator(f"#incident-{incident.pk} form")).to_have_count(0)  # once per incident
    shots.take(student, "student-appealed")

    proctor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    proctor.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(proctor, base, tenant_a.proctor.email, PASSWORD)
    expect(proctor.locator("#appeals-open")).to_have_text("1")
    proctor.click("nav >> text=Appeals")
    expect(proctor.locator("#appeal-queue")).to_be_visible()  # the queue's page has loaded, not the dashboard's
    fits_a_phone(proctor)
    shots.take(proctor, "appeal-queue")
    proctor.click("#appeal-queue >> text=Decide")
    expect(proctor.locator("#appeal-note")).to_have_text("I was there; the lamp went out and the camera saw nothing.")
    assert images_loaded(proctor, "img.evidence", 1) == 1
    fits_a_phone(proctor)
    shots.take(proctor, "appeal-detail")
    proctor.fill("#note", "The room went dark; nothing suggests you left.")
    proctor.click("#overturned")
    expect(proctor.locator("#appeal-queue")).to_have_count(0)  # the queue is empty again
    shots.take(proctor, "appeal-decided")

    student.reload()
    outcome = student.locator(f"#incident-{incident.pk} .appeal-outcome")
    expect(outcome.locator(".appeal-status")).to_contain_text("Overturned: the incident was dismissed")
    expect(outcome.locator(".appeal-decision-note")).to_have_text("The room went dark; nothing suggests you left.")
    expect(student.locator(f"#incident-{incident.pk} .decision")).to_have_text("Dismissed")
    fits_a_phone(student)
    shots.take(student, "student-outcome")

    with student.expect_download() as download:
        student.click("#download-my-data")
    archive = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read()))  # noqa: SIM115
    assert f"frames/session-{tenant_a.session.pk}/{tenant_a.frame.pk}.jpg" in archive.namelist()
    assert "findings.json" in archive.namelist()

    assert Appeal.unscoped.get().status == "overturned"
    assert Incident.unscoped.get(pk=incident.pk).review_status == "dismissed"
    assert errors == []
