"""The exam open in two windows (two browser profiles, or devices): of two answers to a question the one
given later is kept, whichever window sends last, and the older window shows it (an audit: the older window's submit
overwrote the newer window's answers)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Shots, sign_in
from tests.browser.test_exam_flow import TIMEOUT
from tests.browser.test_offline import open_exam, running_exam, stored
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_the_older_window_neither_sends_over_nor_submits_over_the_answer_given_later_in_the_newer(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    session = running_exam(tenant_a)
    first = open_exam(camera_browser, live_server.url, tenant_a, session)
    first.context.set_offline(True)
    first.check('input[name^="q"][value="0"]')  # given while the first window is offline

    # The second window: another browser profile (or device) of the same student, signed in on its own.
    second = first.context.browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    second.set_default_timeout(TIMEOUT)
    sign_in(second, live_server.url, tenant_a.student.email, PASSWORD)
    second.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    second.check('input[name^="q"][value="2"]')
    second.fill("textarea", "Typed later in the second window.")
    second.locator("textarea").blur()
    expect(second.locator("fieldset.exam-question .saved")).to_have_text(["Saved", "Saved"])

    # Back online, the first window's answer (given earlier) arrives last: the server keeps the later one, and the
    # first window shows it.
    first.context.set_offline(False)
    first.bring_to_front()
    expect(first.locator('input[name^="q"][value="2"]')).to_be_checked(timeout=TIMEOUT)
    expect(first.locator("fieldset.exam-question .saved").first).to_contain_text("Changed in another window")
    shots.take(first, "older-window")
    assert stored(tenant_a, session) == {"choice": (2, ""), "text": (None, "Typed later in the second window.")}

    # Its submit form still holds the text box as the page was sent (empty): submitting it keeps the second window's.
    expect(first.locator("textarea")).to_have_value("")
    first.click("#submit-exam")
    first.click("#submit-confirm")
    expect(first).to_have_url(f"{live_server.url}/sessions/{session.pk}/done")
    assert stored(tenant_a, session) == {"choice": (2, ""), "text": (None, "Typed later in the second window.")}
