"""The live view keeps a keyboard user's place while it refreshes (a re-audit as a screen-reader user: the incident
list was rebuilt at every poll and the link the proctor had reached lost the focus every 3 s)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam, sitting
from tests.conftest import PASSWORD, Tenant, api_client_for

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_the_live_view_keeps_the_focus_on_an_incident_link_across_refreshes(
    live_server: Any, tenant_a: Tenant, camera_browser: Any
) -> None:
    session = sitting(tenant_a, proctored_exam(tenant_a))
    events = f"/api/v1/sessions/{session.pk}/events"
    student = api_client_for(tenant_a.student)
    student.post(events, {"kind": "tab_hidden"}, format="json")  # away from the exam tab, right now

    proctor = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    proctor.set_default_timeout(TIMEOUT)
    sign_in(proctor, live_server.url, tenant_a.proctor.email, PASSWORD)
    proctor.goto(f"{live_server.url}/exams/{session.exam_id}/live")
    card = proctor.locator(f'.live-card[data-session="{session.pk}"]')
    link = card.locator(".incidents a")
    expect(link).to_have_count(1)
    proctor.check("#live-only-incidents")
    link.focus()
    proctor.wait_for_timeout(7000)  # two refreshes
    expect(link).to_be_focused()
    # The student comes back: the incident ends, and the filter would hide the card; it stays while the focus is in
    # it (hidden, it took the focus with it), and the focus goes to the student's name.
    student.post(events, {"kind": "tab_hidden", "back": True}, format="json")
    expect(link).to_have_count(0)
    expect(card.locator(".student")).to_be_focused()
    expect(card).to_be_visible()
    proctor.keyboard.press("Shift+Tab")  # the focus leaves the card: the filter hides it
    expect(card).to_be_hidden(timeout=TIMEOUT)
