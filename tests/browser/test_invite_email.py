"""An emailed invite followed in a real browser: the admin adds a student, the invite arrives at the
SMTP server on loopback, and the student follows its link, chooses a password and signs in."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Shots, sign_in
from tests.conftest import PASSWORD, Tenant
from tests.smtp import Mailbox, link_in

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]

CHOSEN = "violet-harbour-lantern-2031"


def test_an_emailed_invite_leads_to_a_chosen_password_and_a_sign_in(
        live_server: Any, tenant_a: Tenant, camera_browser: Any, smtp_server: Mailbox, shots: Shots) -> None:
    base = live_server.url
    browser = camera_browser()
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(admin, base, tenant_a.admin.email, PASSWORD)
    admin.goto(f"{base}/students/new")
    admin.fill("#id_email", "ines@alpha.test")
    admin.fill("#id_full_name", "Inès Invitee")
    admin.click("button[type=submit]")
    expect(admin.locator(".messages")).to_contain_text("An invite was emailed to ines@alpha.test")

    link = link_in(smtp_server.only("ines@alpha.test"))  # sent on commit, before the page answered
    student = browser.new_context().new_page()
    student.goto(link)
    expect(student.locator("h1")).to_have_text("Choose your password")
    assert "token" not in student.url  # moved into the session at once
    shots.take(student, "choose-password")
    student.fill("#id_new_password1", CHOSEN)
    student.fill("#id_new_password2", CHOSEN)
    student.click("button[type=submit]")
    expect(student.locator(".messages")).to_contain_text("Your password is set")
    sign_in(student, base, "ines@alpha.test", CHOSEN)
    expect(student.locator(".who")).to_contain_text("Inès Invitee")
