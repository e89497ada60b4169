"""The exam open in two windows (two browser profiles, or devices): of two answers to a question the one
given later is kept, whichever window sends last, and the older window shows it (an audit: the older window's submit
overwrote the newer window's answers)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts import services as account_services
from accounts import tenancy
from accounts.models import Role
from proctoring.models import Frame, Incident
from tests.browser.conftest import Shots, sign_in
from tests.browser.test_exam_flow import TIMEOUT
from tests.browser.test_offline import ANSWERS_API, answer, open_exam, running_exam, stored
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


def test_two_windows_of_one_browser_show_each_others_answers_at_once_and_staff_see_it_once(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    # The older window showed its own answer marked "Saved" until it sent it (and was told the newer one was kept).
    session = running_exam(tenant_a)
    browser = camera_browser("signer1_b.jpg").new_context(viewport={"width": 1280, "height": 900})
    first = open_exam(camera_browser, live_server.url, tenant_a, session, device=browser)
    expect(first.locator("#other-window")).to_be_hidden()
    second = browser.new_page()  # another tab of the same browser, signed in already
    second.set_default_timeout(TIMEOUT)
    second.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    for page in (first, second):
        expect(page.locator("#other-window")).to_be_visible()
        expect(page.locator("#other-window")).to_contain_text("open in another window")
        expect(page.locator("#other-window-badge")).to_be_visible()  # in the exam bar, which stays in view

    first.click("#submit-exam")  # the submit dialog, open in the first tab while the second answers
    expect(first.locator("#unanswered-summary")).to_have_text("You have not answered 2 questions:")
    second.check('input[name^="q"][value="2"]')
    expect(first.locator("#unanswered-summary")).to_have_text("You have not answered 1 question:")
    first.click("#submit-cancel")
    second.fill("textarea", "Typed in the second window.")
    expect(first.locator('input[name^="q"][value="2"]')).to_be_checked()
    expect(first.locator("textarea")).to_have_value("Typed in the second window.")
    expect(first.locator("fieldset.exam-question .saved")).to_have_text(["Changed in another window — saved."] * 2)
    first.check('input[name^="q"][value="0"]')  # and back: the first window's later answer shows in the second
    expect(second.locator('input[name^="q"][value="0"]')).to_be_checked()
    shots.take(first, "two-tabs")
    expect(second.locator("#save-state")).to_have_text("All answers saved.")
    expect(first.locator("#save-state")).to_have_text("All answers saved.")
    assert stored(tenant_a, session) == {"choice": (0, ""), "text": (None, "Typed in the second window.")}

    with tenancy.tenant_scope(tenant_a.institution):
        reported = list(Incident.objects.filter(session=session, kind="second_window"))
    assert [(i.severity, i.details["source"]) for i in reported] == [("low", "browser")]  # both windows: one incident

    # Offline, an answer given in one tab that is closed before it could send it is not lost: the other tab kept it.
    browser.set_offline(True)
    second.fill("textarea", "Written offline in the second tab, which was then closed.")
    expect(first.locator("textarea")).to_have_value("Written offline in the second tab, which was then closed.")
    expect(first.locator("fieldset.exam-question .saved").last).to_have_text("Not saved — reconnecting…")
    second.close()
    browser.set_offline(False)
    expect(first.locator("fieldset.exam-question .saved").last).to_have_text("Changed in another window — saved.")
    assert stored(tenant_a, session)["text"] == (None, "Written offline in the second tab, which was then closed.")
    expect(first.locator("#other-window")).to_be_hidden()  # the other tab said goodbye
    expect(first.locator("#other-window-badge")).to_be_hidden()

    # A tab opened while another holds an answer the server does not have yet is built without it: the open tabs
    # tell it theirs, and it takes those given later than its own (it showed the older text, and a student who
    # went on typing in it lost the newer: a re-audit).
    first.route(ANSWERS_API, lambda route: route.abort())  # the first tab cannot save for now
    first.fill("textarea", "Typed in the first tab just before the third opened.")
    expect(first.locator("fieldset.exam-question .saved").last).to_have_text("Not saved — reconnecting…")
    # Nor does the device's list (in the race, the first tab's save landed after the third's page was built, and
    # the first tab then cleared the list): only the first tab holds the answer.
    first.evaluate(f"localStorage.removeItem('openproctor:answers:{session.pk}')")
    third = browser.new_page()
    third.set_default_timeout(TIMEOUT)
    third.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    expect(third.locator("textarea")).to_have_value("Typed in the first tab just before the third opened.")
    expect(third.locator("fieldset.exam-question .saved").last).to_have_text("Changed in another window — saved.")
    assert stored(tenant_a, session)["text"] == (None, "Typed in the first tab just before the third opened.")
    first.unroute(ANSWERS_API)

    # Either window's submit carries both windows' latest answers, and the other leaves for the done page too (told
    # by the first: it kept taking typing until its next frame or answer was refused; here its frames go nowhere).
    third.route(re.compile(r".*/process$"), lambda route: route.abort())
    first.click("#submit-exam")
    first.click("#submit-confirm")
    expect(first).to_have_url(f"{live_server.url}/sessions/{session.pk}/done")
    expect(third).to_have_url(f"{live_server.url}/sessions/{session.pk}/done")
    assert stored(tenant_a, session) == {"choice": (0, ""),
                                         "text": (None, "Typed in the first tab just before the third opened.")}
    with tenancy.tenant_scope(tenant_a.institution):
        reported = list(Incident.objects.filter(session=session, kind="second_window"))
    assert [i.details["count"] for i in reported] == [2]  # the second tab, then the third: once each


def test_what_the_exam_takes_while_someone_else_is_signed_in_in_another_tab_waits_for_the_student(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    # An audit: after another student signed in in another tab, every later answer was refused and marked "Not saved"
    # with no reason, and dropped; the frames were dropped too.
    session = running_exam(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        other = account_services.user_create(institution=tenant_a.institution, email="other@a.test", role=Role.STUDENT,
                                             password=PASSWORD, full_name="Other Student")
    browser = camera_browser("signer1_b.jpg").new_context(viewport={"width": 1280, "height": 900})
    exam = open_exam(camera_browser, live_server.url, tenant_a, session, device=browser)
    expect(exam.locator("#signed-out")).to_be_hidden()

    elsewhere = browser.new_page()
    elsewhere.set_default_timeout(TIMEOUT)

    def sign_out_there() -> None:
        elsewhere.bring_to_front()
        elsewhere.goto(f"{live_server.url}/")
        elsewhere.click("form[action$='/accounts/logout/'] button")

    sign_out_there()
    sign_in(elsewhere, live_server.url, other.email, PASSWORD)
    exam.bring_to_front()
    answer(exam, "Written while someone else was signed in.")
    expect(exam.locator("#signed-out")).to_be_visible()
    expect(exam.locator("fieldset.exam-question .saved").last).to_have_text("Not saved — sign in again")
    expect(exam.locator("#frame-state")).to_contain_text("sent when you sign in again")
    shots.take(exam, "signed-out")
    assert stored(tenant_a, session) == {}

    sign_out_there()
    sign_in(elsewhere, live_server.url, tenant_a.student.email, PASSWORD)
    exam.bring_to_front()
    expect(exam.locator("#signed-out")).to_be_hidden()
    expect(exam.locator("fieldset.exam-question .saved")).to_have_text(["Saved", "Saved"])
    expect(exam.locator("#save-state")).to_have_text("All answers saved.")
    assert stored(tenant_a, session) == {"choice": (1, ""), "text": (None, "Written while someone else was signed in.")}
    expect(exam.locator("#frame-state")).to_have_text("")  # the frames kept meanwhile went
    with tenancy.tenant_scope(tenant_a.institution):
        waits = [(f.received_at - f.captured_at).total_seconds() for f in Frame.objects.filter(session=session)]
    assert max(waits) > 1  # a frame kept while the other person was signed in, sent once the student was back

    # Submitted while signed out, the submit went to the sign-in page and the page left as if the exam were submitted;
    # while a proctor was signed in (who may read the session), to a "Not allowed" page (a re-audit). It waits for the
    # student, and submits once they are back.
    sign_out_there()
    sign_in(elsewhere, live_server.url, tenant_a.proctor.email, PASSWORD)
    exam.bring_to_front()
    exam.click("#submit-exam")
    exam.click("#submit-confirm")
    expect(exam.locator("#save-state")).to_contain_text("Not submitted — this browser is no longer signed in as you")
    assert exam.url == f"{live_server.url}/sessions/{session.pk}/exam"
    sign_out_there()
    sign_in(elsewhere, live_server.url, tenant_a.student.email, PASSWORD)
    exam.bring_to_front()
    expect(exam).to_have_url(f"{live_server.url}/sessions/{session.pk}/done")
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
    assert session.status == "submitted"
