"""An institution admin's pages in a real browser: each renders, with screenshots at both widths."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from tests.browser.conftest import Shots, sign_in
from tests.conftest import PASSWORD, Tenant
from tests.proctoring.conftest import image

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_it_renders_every_admin_page_in_a_browser(live_server: Any, tenant_a: Tenant, camera_browser: Any,
                                                   shots: Shots) -> None:
    base, exam, student = live_server.url, tenant_a.exam.pk, tenant_a.student.pk
    tenant_a.face.image.save("reference.jpg", ContentFile(image("signer1_a.jpg")))  # a real photo to show
    page = camera_browser("signer1_a.jpg").new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, base, tenant_a.admin.email, PASSWORD)
    shots.take(page, "admin-dashboard")
    pages = [
        ("exams", "/exams/"), ("exam-new", "/exams/new"), ("exam-detail", f"/exams/{exam}/"),
        ("exam-edit", f"/exams/{exam}/edit"), ("questions", f"/exams/{exam}/questions"),
        ("enrolments", f"/exams/{exam}/enrolments"), ("students", "/students/"), ("student-new", "/students/new"),
        ("students-import", "/students/import"), ("student-face", f"/students/{student}/face"),
        ("student-accommodation", f"/students/{student}/accommodation"),
        ("settings", "/settings/"), ("review-queue", "/review/"), ("exam-report", f"/exams/{exam}/report"),
    ]
    for label, path in pages:
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        expect(page.locator("h1").first).to_be_visible()
        shots.take(page, label)
        if label == "student-face":  # the reference photo is streamed through the access-checked view
            loaded = page.eval_on_selector("img[alt^='Reference photo']", "img => img.complete && img.naturalWidth")
            assert loaded and loaded > 0
    assert errors == []
