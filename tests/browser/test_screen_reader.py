"""What a keyboard and screen-reader user meets, beyond what axe-core judges (an accessibility audit found all of
this with axe at zero violations): live regions that say each thing once, not on every frame or keystroke; a focused
answer not hidden under the exam's bar on a zoomed screen; focus kept where the work is after a form closes."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts import tenancy
from exams import services as exam_services
from exams.models import Exam
from exams.statuses import SessionStatus
from tests.browser.conftest import sign_in
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam
from tests.conftest import PASSWORD, Tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]

# Counts every change a screen reader would be told of: text or nodes changing inside a live region.
COUNT_LIVE_CHANGES = """() => {
  window.liveChanges = [];
  const live = '[aria-live]:not([aria-live="off"]), [role=status], [role=alert], [role=log], [role=timer]';
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      const region = node && node.closest(live);
      if (region && region.getAttribute('role') !== 'timer' && !region.closest('[hidden]')) {
        window.liveChanges.push((region.id || region.className) + ': ' + region.textContent.trim().slice(0, 60));
      }
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _signed_in(tenant: Tenant, browser: Any, base: str, viewport: dict[str, int] | None = None) -> Page:
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, tenant.student.email, PASSWORD)
    return page


def _session(tenant: Tenant, *to: str) -> Any:
    session = proctored_exam(tenant, reference="signer1_a.jpg")
    with tenancy.tenant_scope(tenant.institution):
        Exam.objects.filter(pk=session.exam_id).update(capture_interval_seconds=1)
        for status in to:
            exam_services.session_transition(session_id=session.pk, to=status, actor=tenant.student)
    return session


def test_the_camera_check_says_each_thing_once_not_on_every_frame(live_server: Any, tenant_a: Tenant,
                                                                  camera_browser: Any) -> None:
    # The audit: 261 announcements in 70 s ("Objects of Interest, Person Detection…", "Look at the camera, Turn 1
    # of 3…" again and again), and never "you can start".
    session = _session(tenant_a)
    page = _signed_in(tenant_a, camera_browser("signer1_a.jpg"), live_server.url)
    page.goto(f"{live_server.url}/sessions/{session.pk}/start")
    page.check("#agree")
    page.click("#consent-continue")
    expect(page.locator("#identity-reason")).to_have_text("Matches your registered photo.", timeout=TIMEOUT)
    page.evaluate(COUNT_LIVE_CHANGES)
    page.wait_for_timeout(8000)  # four frames, four gate polls
    changes = page.evaluate("window.liveChanges")
    assert len(changes) <= 2, changes
    expect(page.locator("#gate-announce")).to_have_text(page.inner_text("#liveness-instruction"))
    # Pass or fail, and where the student is, are said in words, not only by colour.
    expect(page.locator('ol[aria-label="Progress"] li[aria-current="step"]')).to_have_text("Camera & identity")
    expect(page.locator('#checks .check[data-test="Face Detection"] .sr-only')).to_have_text(": passed")


def test_typing_an_answer_is_not_read_out_keystroke_by_keystroke(live_server: Any, tenant_a: Tenant,
                                                                 camera_browser: Any) -> None:
    # The audit: 146 announcements in 4 s of typing ("Saved", "All answers saved." and the count, each time).
    session = _session(tenant_a, SessionStatus.CHECKING, SessionStatus.IN_PROGRESS)
    page = _signed_in(tenant_a, camera_browser("signer1_a.jpg"), live_server.url)
    page.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    expect(page.locator("#checks .check").first).to_be_visible(timeout=TIMEOUT)
    page.evaluate(COUNT_LIVE_CHANGES)
    page.locator("textarea").first.press_sequentially("The mean squared distance from the mean.", delay=60)
    page.locator("input[type=radio]").nth(1).check()
    expect(page.locator("#save-state")).to_have_text("All answers saved.", timeout=TIMEOUT)
    page.wait_for_timeout(1500)
    changes = [change for change in page.evaluate("window.liveChanges") if not change.startswith("strip-announce")]
    assert len(changes) <= 6, changes


def test_a_focused_answer_is_not_hidden_under_the_exam_bar_on_a_zoomed_screen(live_server: Any, tenant_a: Tenant,
                                                                               camera_browser: Any) -> None:
    # The audit: a 1280x720 laptop at 200% zoom is 640x360; the sticky bar covered every focused answer.
    session = _session(tenant_a, SessionStatus.CHECKING, SessionStatus.IN_PROGRESS)
    page = _signed_in(tenant_a, camera_browser("signer1_a.jpg"), live_server.url, {"width": 640, "height": 360})
    page.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    expect(page.locator("#checks .check").first).to_be_visible(timeout=TIMEOUT)
    page.focus("#submit-exam")
    for selector in ("textarea", "input[type=radio]:checked, input[type=radio]"):
        page.keyboard.press("Shift+Tab")
        seen = page.evaluate("""() => { const el = document.activeElement, box = el.getBoundingClientRect();
            const top = document.elementFromPoint(box.left + box.width / 2, box.top + Math.min(box.height / 2, 8));
            return {tag: el.tagName, covered: !(top === el || el.contains(top) || (top && top.contains(el)))}; }""")
        assert seen["covered"] is False, (selector, seen)


def test_the_proctors_message_form_gives_focus_back_when_it_closes(live_server: Any, tenant_a: Tenant,
                                                                   camera_browser: Any) -> None:
    session = _session(tenant_a, SessionStatus.CHECKING, SessionStatus.IN_PROGRESS)
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    sign_in(page, live_server.url, tenant_a.proctor.email, PASSWORD)
    page.goto(f"{live_server.url}/exams/{session.exam_id}/live")
    card = page.locator(f'.live-card[data-session="{session.pk}"]')
    name = card.get_by_role("heading", level=2)  # each student a heading, to move between them
    expect(name).not_to_have_text("")
    assert card.locator(".thumb img").get_attribute("alt") == f"Latest webcam frame of {name.inner_text()}"
    card.locator(".message-open").click()
    page.keyboard.press("Escape")  # Escape cancels, as Cancel does
    expect(card.locator(".message-form")).to_be_hidden()
    expect(card.locator(".message-open")).to_be_focused()
    card.locator(".message-open").click()
    card.locator("textarea[name=text]").fill("Please keep your face in view.")
    card.locator(".message-form [type=submit]").click()
    expect(card.locator(".action-state")).to_contain_text("Message sent")
    expect(card.locator(".message-open")).to_be_focused()  # not the page: the form that had it is gone
    assert page.get_attribute("#live-state", "aria-live") is None  # its clock changes every poll
