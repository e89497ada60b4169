"""The network drops mid-exam: answers wait on the device and arrive, submit waits for the network and
saves what the form holds, and frames taken offline arrive with the time they were taken."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from accounts import tenancy
from exams.models import Answer, ExamSession, Question
from exams.statuses import SessionStatus
from proctoring.models import Frame
from tests.browser.conftest import Shots, sign_in, wait_until_true
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on PostgreSQL.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("postgresql")]
ANSWERS_API = re.compile(r".*/api/v1/sessions/\d+/answers$")
NOT_SAVED = "Not saved — reconnecting…"


def running_exam(tenant: Tenant) -> ExamSession:
    """The proctored exam, already past consent and the identity check (those pages are not under test)."""
    session = proctored_exam(tenant)
    now = timezone.now()
    with tenancy.tenant_scope(tenant.institution):
        ExamSession.objects.filter(pk=session.pk).update(status=SessionStatus.IN_PROGRESS, started_at=now,
                                                          consent_at=now, consent_version=1,
                                                          identity_verified_at=now)
        session.refresh_from_db()
    return session


def open_exam(camera_browser: Any, base: str, tenant: Tenant, session: ExamSession, *,
              device: BrowserContext | None = None) -> Page:
    """The exam page, signed in, its frames flowing; ``device``: a page of that browser context (its tabs share
    storage), else a browser of its own."""
    page = (device.new_page() if device is not None else
            camera_browser("signer1_b.jpg").new_page(viewport={"width": 1280, "height": 900}))
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, tenant.student.email, PASSWORD)
    page.goto(f"{base}/sessions/{session.pk}/exam")
    expect(page.locator("#checks .check")).to_have_count(5)  # frames flow and their analysis is shown
    return page


def answer(page: Page, text: str) -> None:
    page.check('input[name^="q"][value="1"]')
    page.fill("textarea", text)
    page.locator("textarea").blur()


def stored(tenant: Tenant, session: ExamSession) -> dict[str, tuple[int | None, str]]:
    with tenancy.tenant_scope(tenant.institution):
        session.refresh_from_db()
        return {a.question.kind: (a.choice, a.text) for a in Answer.objects.filter(session=session)}


def test_it_keeps_answers_and_frames_while_offline_and_sends_them_when_back(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    session = running_exam(tenant_a)
    page = open_exam(camera_browser, live_server.url, tenant_a, session)

    went_offline = timezone.now()
    page.context.set_offline(True)
    answer(page, "Written without a network.")
    saved = page.locator("fieldset.exam-question .saved")
    expect(saved.first).to_have_text(NOT_SAVED)
    expect(saved.last).to_have_text(NOT_SAVED)
    expect(page.locator("#save-state")).to_contain_text(NOT_SAVED)
    kept_frames = re.compile(r"Offline — ([4-9]|\d\d) frames kept")
    expect(page.locator("#frame-state")).to_have_text(kept_frames, timeout=TIMEOUT)
    # A screen reader hears that it is offline once, not the count at every frame (a re-audit).
    expect(page.locator("#frame-announce")).to_have_text(re.compile(r"^Offline: the camera's pictures are kept"))
    assert page.locator("#frame-state").get_attribute("aria-live") is None
    shots.take(page, "offline")
    assert stored(tenant_a, session) == {}
    kept = json.loads(page.evaluate(f"localStorage.getItem('openproctor:answers:{session.pk}')"))
    assert sorted(kept.values(), key=str) == [1, "Written without a network."]

    # The network is back, but the answers endpoint still fails: the frames go, the answers wait.
    page.route(ANSWERS_API, lambda route: route.abort())
    came_back = timezone.now()
    page.context.set_offline(False)
    expect(page.locator("#frame-state")).to_have_text("", timeout=TIMEOUT)
    expect(page.locator("#frame-announce")).to_have_text("Connected again: the pictures kept are sent.")
    with tenancy.tenant_scope(tenant_a.institution):
        late = [f for f in Frame.objects.filter(session=session) if f.received_at >= came_back]
    # Four frames kept, taken at least two seconds apart: the two oldest arrive well after they were taken.
    taken_offline = [f for f in late if f.received_at - f.captured_at > timedelta(seconds=2.5)]
    assert len(taken_offline) >= 2, [(f.captured_at, f.received_at) for f in late]
    for frame in taken_offline:  # on the server's clock, as the page reads it from Date (whole seconds)
        assert went_offline - timedelta(seconds=2) <= frame.captured_at <= came_back + timedelta(seconds=2)

    # A reload loses nothing: the answers come back from the device and are sent once the server answers.
    page.reload()
    expect(page.locator("textarea")).to_have_value("Written without a network.")
    expect(page.locator('input[name^="q"][value="1"]')).to_be_checked()
    expect(page.locator("#save-state")).to_contain_text(NOT_SAVED)
    assert stored(tenant_a, session) == {}
    page.unroute(ANSWERS_API)
    expect(page.locator("#save-state")).to_have_text("All answers saved.", timeout=TIMEOUT)  # after a backoff
    expect(saved.first).to_have_text("Saved")
    shots.take(page, "back-online")
    assert stored(tenant_a, session) == {"choice": (1, ""), "text": (None, "Written without a network.")}
    assert page.evaluate(f"localStorage.getItem('openproctor:answers:{session.pk}')") is None


def test_frames_taken_offline_in_a_page_that_was_closed_are_sent_when_the_exam_is_opened_again(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    # They lived in the page's memory only: closed (or crashed) offline, the page took them with it.
    session = running_exam(tenant_a)
    device = camera_browser("signer1_b.jpg").new_context(viewport={"width": 1280, "height": 900})
    page = open_exam(camera_browser, live_server.url, tenant_a, session, device=device)
    went_offline = timezone.now()
    device.set_offline(True)
    expect(page.locator("#frame-state")).to_have_text(re.compile(r"Offline — ([3-9]|\d\d) frames kept"),
                                                      timeout=TIMEOUT)
    page.close()
    closed = timezone.now()

    device.set_offline(False)
    again = device.new_page()
    again.set_default_timeout(TIMEOUT)
    again.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    expect(again.locator("#checks .check")).to_have_count(5)

    def taken_offline() -> list[Frame]:
        with tenancy.tenant_scope(tenant_a.institution):
            return [f for f in Frame.objects.filter(session=session)
                    if went_offline - timedelta(seconds=2) <= f.captured_at <= closed + timedelta(seconds=2)
                    and f.received_at > closed]
    for _ in range(100):
        if len(taken_offline()) >= 3:
            break
        again.wait_for_timeout(100)
    assert len(taken_offline()) >= 3
    with tenancy.tenant_scope(tenant_a.institution):
        times = [f.captured_at for f in Frame.objects.filter(session=session)]
    assert len(times) == len(set(times))  # each kept once
    # Sent, they are no longer kept on the device.
    expect(again.locator("#frame-state")).to_have_text("")
    kept = """() => new Promise((resolve) => {
        const open = indexedDB.open("openproctor-frames");
        open.onsuccess = () => { const all = open.result.transaction("frames").objectStore("frames").getAll();
                                 all.onsuccess = () => resolve(all.result.length); };
    })"""
    for _ in range(50):
        if again.evaluate(kept) == 0:
            break
        again.wait_for_timeout(100)
    assert again.evaluate(kept) == 0
    device.close()


def test_an_answer_the_server_refuses_is_not_reported_as_saved(
    live_server: Any, tenant_a: Tenant, camera_browser: Any
) -> None:
    # The question says why; the page's line said "All answers saved." over it (a re-audit: signed in as another
    # student in another tab, every later answer was refused). A real refusal: the question is no longer there.
    session = running_exam(tenant_a)
    page = open_exam(camera_browser, live_server.url, tenant_a, session)
    with tenancy.tenant_scope(tenant_a.institution):
        Question.objects.filter(exam=session.exam, kind="text").delete()
    page.fill("textarea", "An answer to a question that is gone.")
    page.locator("textarea").blur()
    expect(page.locator("fieldset.exam-question .saved").last).to_have_text("Unknown question.")
    expect(page.locator("#save-state")).to_have_text("1 answer was not saved: the question says why.")
    page.check('input[name^="q"][value="1"]')
    expect(page.locator("fieldset.exam-question .saved").first).to_have_text("Saved")
    expect(page.locator("#save-state")).to_have_text("1 answer was not saved: the question says why.")


def test_it_submits_when_the_network_is_back_with_the_values_of_the_form(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    session = running_exam(tenant_a)
    page = open_exam(camera_browser, live_server.url, tenant_a, session)
    # Autosave never gets through: what arrives can only come from the submitted form.
    page.route(ANSWERS_API, lambda route: route.abort())
    page.context.set_offline(True)
    answer(page, "Sent with the submit form.")
    page.click("#submit-exam")
    page.click("#submit-confirm")  # the submit dialog (every question answered)
    expect(page.locator("#save-state")).to_contain_text("Not submitted — reconnecting…")
    shots.take(page, "submit-offline")
    assert stored(tenant_a, session) == {} and session.status == SessionStatus.IN_PROGRESS

    page.context.set_offline(False)
    expect(page.locator(".big")).to_have_text("Your exam has been submitted.", timeout=TIMEOUT)
    # The answers kept on the device (autosave never got through) are cleared once the exam is over.
    wait_until_true(page, f"localStorage.getItem('openproctor:answers:{session.pk}') === null")
    assert stored(tenant_a, session) == {"choice": (1, ""), "text": (None, "Sent with the submit form.")}
    assert session.status == SessionStatus.SUBMITTED
    with tenancy.tenant_scope(tenant_a.institution):
        assert Question.objects.filter(exam=session.exam).count() == 2


def test_it_retries_a_submit_the_server_failed_and_keeps_the_exam_on_screen(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    """A 5xx answer to the submit (nothing saved: the transaction rolled back) leaves the exam on the screen,
    says so and tries again; the try that goes through submits what the form holds. Posted natively, the form
    would have shown the error page instead."""
    session = running_exam(tenant_a)
    page = open_exam(camera_browser, live_server.url, tenant_a, session)
    page.route(ANSWERS_API, lambda route: route.abort())  # what arrives can only come from the submit
    # Every submit fails until the test has seen the page say so (the message shows between tries: one failure
    # alone would leave it on screen for about a second, a race for a loaded machine); then one goes through.
    seen: list[bool] = []
    posts: list[str] = []

    def fail_until_seen(route: Any) -> None:
        posts.append(route.request.method)
        if seen:
            route.continue_()
        else:
            route.fulfill(status=500, content_type="text/html", body="<h1>Server Error (500)</h1>")

    page.route(re.compile(rf".*/sessions/{session.pk}/submit$"), fail_until_seen)
    answer(page, "Sent once the server took it.")
    page.click("#submit-exam")
    page.click("#submit-confirm")
    expect(page.locator("#save-state")).to_contain_text("the server could not take it just now")
    expect(page.locator("#exam-form")).to_be_visible()  # still the exam, not an error page
    shots.take(page, "submit-server-error")
    seen.append(True)
    expect(page.locator(".big")).to_have_text("Your exam has been submitted.", timeout=TIMEOUT)
    assert len(posts) >= 2 and set(posts) == {"POST"}
    assert stored(tenant_a, session) == {"choice": (1, ""), "text": (None, "Sent once the server took it.")}
    assert session.status == SessionStatus.SUBMITTED


FAST_CLOCK = """
(() => {
  const shift = 90000, RealDate = Date, realNow = Date.now.bind(Date);
  class FastDate extends RealDate {
    constructor(...args) { if (args.length === 0) { super(realNow() + shift); } else { super(...args); } }
    static now() { return realNow() + shift; }
  }
  window.Date = FastDate;
})();
"""


def test_a_computer_clock_that_runs_fast_neither_takes_time_off_nor_bounces_the_page(
        live_server: Any, tenant_a: Tenant, camera_browser: Any) -> None:
    # An audit: 90 s fast, the timer showed 1:30 less than was left, and from its 00:00 the page bounced between
    # the exam and the done page (the server had not expired the session) over 600 times, unusable.
    session = running_exam(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=session.pk).update(started_at=timezone.now() - timedelta(minutes=29))
    context = camera_browser("signer1_b.jpg").new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(FAST_CLOCK)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    sign_in(page, live_server.url, tenant_a.student.email, PASSWORD)
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))
    page.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    page.wait_for_timeout(3000)
    minutes, seconds = (int(part) for part in page.locator("#timer").inner_text().split(":"))
    assert 50 <= minutes * 60 + seconds <= 60  # about a minute left, as the server counts
    assert loads == [f"{live_server.url}/sessions/{session.pk}/exam"] and page.url == loads[0]


def _deadline_in(tenant: Tenant, session: ExamSession, seconds: float) -> None:
    with tenancy.tenant_scope(tenant.institution):
        session.refresh_from_db()
        ExamSession.objects.filter(pk=session.pk).update(
            started_at=session.started_at - (session.deadline - timezone.now()) + timedelta(seconds=seconds))


def _sent_late(tenant: Tenant, session: ExamSession) -> dict[str, tuple[int | None, str, bool]]:
    with tenancy.tenant_scope(tenant.institution):
        return {a.question.kind: (a.choice, a.text, a.sent_late) for a in Answer.objects.filter(session=session)}


def _offline_at_the_deadline(base: str, tenant: Tenant, camera_browser: Any, text: str) -> tuple[ExamSession, Page]:
    """A student whose connection drops 20 s before the deadline answers both questions, and time runs out."""
    session = running_exam(tenant)
    _deadline_in(tenant, session, 20)
    page = open_exam(camera_browser, base, tenant, session)
    page.context.set_offline(True)
    answer(page, text)
    expect(page.locator("#save-state")).to_contain_text("Time is up. Reconnecting", timeout=TIMEOUT)
    return session, page


def test_answers_given_offline_before_the_deadline_are_saved_when_the_connection_is_back_after_it(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    # An audit: offline for the exam's last minute, the answers typed then were refused once the connection came back,
    # the page had gone to the browser's error page, and the done page deleted the device's copy.
    session, page = _offline_at_the_deadline(live_server.url, tenant_a, camera_browser,
                                             "Typed in the last seconds, offline.")
    shots.take(page, "time-up-offline")
    assert _sent_late(tenant_a, session) == {}
    page.context.set_offline(False)
    expect(page.locator("#session-done")).to_contain_text("2 of 2 questions", timeout=TIMEOUT)
    assert _sent_late(tenant_a, session) == {"choice": (1, "", True),
                                              "text": (None, "Typed in the last seconds, offline.", True)}


def test_the_done_page_sends_the_answers_the_device_kept_before_it_forgets_them(
    live_server: Any, tenant_a: Tenant, camera_browser: Any
) -> None:
    session, page = _offline_at_the_deadline(live_server.url, tenant_a, camera_browser, "Kept on the device.")
    page.route(ANSWERS_API, lambda route: route.abort())  # the exam page never gets them through
    page.context.set_offline(False)
    page.goto(f"{live_server.url}/sessions/{session.pk}/done")  # the student reloads: the session is over
    expect(page.locator("#late-answers")).to_contain_text("Reconnecting")
    page.unroute(ANSWERS_API)
    failed: list[int] = []

    def fail_once(route: Any) -> None:  # a server fault is tried again, not taken for a refusal
        if route.request.method == "POST" and not failed:
            failed.append(1)
            route.fulfill(status=500, body="{}", content_type="application/json")
        else:
            route.continue_()

    page.route(ANSWERS_API, fail_once)
    expect(page.locator("#session-done")).to_contain_text("2 of 2 questions", timeout=TIMEOUT)
    assert failed and _sent_late(tenant_a, session) == {"choice": (1, "", True),
                                                        "text": (None, "Kept on the device.", True)}
    assert page.evaluate(f"localStorage.getItem('openproctor:answers:{session.pk}')") is None


def test_a_key_typed_after_the_deadline_does_not_lose_the_answer_typed_before_it(
    live_server: Any, tenant_a: Tenant, camera_browser: Any
) -> None:
    # Online: the page leaves a moment after the deadline, and a key typed in that moment stamped the whole unsent
    # text with a time after the deadline, so all of it was refused (a re-audit). Timed inside the page (its clock
    # on the server's), not from here.
    session = running_exam(tenant_a)
    _deadline_in(tenant_a, session, 12)
    page = open_exam(camera_browser, live_server.url, tenant_a, session)
    page.evaluate("""async () => {
        const deadline = Date.parse(document.getElementById("timer").dataset.deadline);
        const box = document.querySelector("textarea");
        const until = (at) => new Promise((done) => {
            const wait = () => (OpenProctor.serverNow() >= at ? done() : setTimeout(wait, 10));
            wait();
        });
        await until(deadline - 400);
        box.value = "Typed before the deadline.";
        box.dispatchEvent(new Event("input", {bubbles: true}));
        await until(deadline + 100);
        box.value += " And a key after it.";
        box.dispatchEvent(new Event("input", {bubbles: true}));
    }""")
    expect(page).to_have_url(f"{live_server.url}/sessions/{session.pk}/done", timeout=TIMEOUT)
    expect(page.locator("#session-done")).to_be_visible()
    assert _sent_late(tenant_a, session)["text"][:2] == (None, "Typed before the deadline.")


def test_answers_the_server_refuses_after_the_deadline_are_said_to_be_lost_not_kept(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    # A re-audit: the exam open on two devices, the other device's camera sent frames until the deadline (so the
    # server refuses an answer given offline on this one: a frame cannot say which device sent it), and this page
    # dropped the refused answers and said "your saved answers were kept".
    session, page = _offline_at_the_deadline(live_server.url, tenant_a, camera_browser, "Typed offline.")
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        Frame.objects.create(institution=tenant_a.institution, session=session,  # the other device's
                             received_at=session.deadline - timedelta(seconds=2),
                             captured_at=session.deadline - timedelta(seconds=2))
    page.context.set_offline(False)
    note = page.locator("#late-answers")
    expect(note).to_contain_text("2 answers kept on this device could not be saved: Given before the deadline, but "
                                 "this exam's camera was online after that time", timeout=TIMEOUT)
    shots.take(page, "refused")
    assert _sent_late(tenant_a, session) == {}
