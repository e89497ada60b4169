"""A proctor watches a running exam live, sends the student a message the exam page shows until it is
acknowledged, then ends the session with a reason the student's page shows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services as account_services
from accounts import tenancy
from accounts.audit import AuditEvent
from accounts.models import Role
from exams import services as exam_services
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring.models import ProctorMessage
from tests.browser.conftest import Shots, sign_in
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam, sitting
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_a_message_from_the_live_view_reaches_the_students_exam_page_and_ending_the_session_shows_why(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    session = sitting(tenant_a, proctored_exam(tenant_a))
    base = live_server.url
    student = camera_browser("signer1_b.jpg").new_page(viewport={"width": 1280, "height": 900})
    student.set_default_timeout(TIMEOUT)
    sign_in(student, base, tenant_a.student.email, PASSWORD)
    student.goto(f"{base}/sessions/{session.pk}/exam")
    expect(student.locator("#checks .check")).to_have_count(5)

    # While its frames flow, the page hears of messages from their answers (the 202's inbox), not by polling: the
    # poll is refused from here until the session is ended (static/js/exam.js readInbox).
    student.route("**/api/v1/sessions/*/messages", lambda route: route.abort())
    proctor = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    proctor.set_default_timeout(TIMEOUT)
    sign_in(proctor, base, tenant_a.proctor.email, PASSWORD)
    proctor.goto(f"{base}/exams/{session.exam_id}/live")
    card = proctor.locator(f'.live-card[data-session="{session.pk}"]')
    expect(card.locator(".time-left")).to_have_text(re.compile(r"^(29|30):\d\d$"))
    expect(card.locator(".frame-age")).to_contain_text("ago")
    expect(card.locator(".incident-count")).to_have_text("0")
    shots.take(proctor, "live")
    # Filters run in the page: the camera is fresh and nothing is open, so each filter hides the tile.
    for box in ("#live-only-stale", "#live-only-incidents"):
        proctor.check(box)
        expect(card).to_be_hidden()
        expect(proctor.locator("#live-empty")).to_be_visible()
        proctor.uncheck(box)
        expect(card).to_be_visible()
    proctor.select_option("#live-sort", "left")
    expect(card).to_be_visible()
    with tenancy.tenant_scope(tenant_a.institution):
        # A second student sitting, who started a little later: their card comes after this one, sorted by time left.
        other = account_services.user_create(institution=tenant_a.institution, email="olga@alpha.test",
                                             role=Role.STUDENT, full_name="Olga Other")
        second = exam_services.session_create(exam=session.exam, student=other)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=second.pk, to=to, actor=other)
        ExamSession.objects.filter(pk=second.pk).update(started_at=timezone.now() + timedelta(seconds=30))
    expect(proctor.locator(".live-card")).to_have_count(2, timeout=TIMEOUT)
    expect(proctor.locator(".live-card").first).to_have_attribute("data-session", str(session.pk))

    # Keyboard only: the Message button opens a small form with the focus in its text box.
    card.locator(".message-open").focus()
    proctor.keyboard.press("Enter")
    expect(card.locator(".message-form textarea")).to_be_focused()
    # Typed at a person's pace while the cards tick: every letter lands (an audit: with two cards or more, the
    # cards were moved every second and the text box lost the focus after "Pleas").
    proctor.keyboard.type("Please keep your face in view of the camera.", delay=60)
    expect(card.locator(".message-form textarea")).to_have_value("Please keep your face in view of the camera.")
    card.locator(".message-form button[type=submit]").click()
    expect(card.locator(".action-state")).to_contain_text("Message sent")
    expect(card.locator(".message-state")).to_be_visible()
    expect(card.locator(".message-state")).to_contain_text("not acknowledged yet")
    shots.take(proctor, "live-message-sent")

    message = student.locator("#proctor-messages .proctor-message")
    expect(message).to_contain_text("Message from your proctor: Please keep your face in view of the camera.")
    expect(student.locator("#proctor-messages")).to_have_attribute("aria-live", "assertive")
    shots.take(student, "exam-with-message")
    message.locator("button.ack").click()
    expect(message).to_have_count(0)
    # The focus goes back to the exam, not to the page (an accessibility audit: it fell to the page's body).
    expect(student.locator("#exam-form input:not([type=hidden]), #exam-form textarea").first).to_be_focused()
    with tenancy.tenant_scope(tenant_a.institution):
        [stored] = ProctorMessage.objects.filter(session=session)
        for _ in range(50):  # the acknowledgement's request may still be on its way
            stored.refresh_from_db()
            if stored.acknowledged_at:
                break
            proctor.wait_for_timeout(100)
    assert stored.sender == tenant_a.proctor and stored.acknowledged_at is not None
    assert stored.text == "Please keep your face in view of the camera."
    expect(card.locator(".message-state")).to_contain_text("read by the student at", timeout=TIMEOUT)
    student.reload()  # acknowledged: it does not come back
    expect(student.locator("#checks .check")).to_have_count(5)
    student.wait_for_timeout(1500)
    expect(student.locator("#proctor-messages .proctor-message")).to_have_count(0)

    student.unroute("**/api/v1/sessions/*/messages")

    # End the session: a reason is required, the student's page says it.
    card.locator(".end-open").click()
    card.locator(".end-form textarea").fill("A second person was at the desk.")
    card.locator(".end-form button[type=submit]").click()
    expect(card).to_have_count(0)  # no longer running: the tile goes
    # The running exam page says it (an alert), then the page the student lands on says it again.
    expect(student.locator("#session-ended")).to_have_text(
        "Your session was ended by a proctor: A second person was at the desk.", timeout=TIMEOUT)
    expect(student.locator("#submit-exam")).to_be_disabled()
    shots.take(student, "exam-ended-by-proctor")
    expect(student).to_have_url(f"{base}/sessions/{session.pk}/done", timeout=TIMEOUT)
    expect(student.locator("#ended-by-proctor")).to_have_text(
        "Your session was ended by a proctor: A second person was at the desk.")
    shots.take(student, "ended-by-proctor")
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        end = AuditEvent.objects.get(action="session.end")
    assert (session.status, session.end_reason) == ("terminated", "A second person was at the desk.")
    assert end.actor == tenant_a.proctor
