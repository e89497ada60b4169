"""A student sits a proctored exam; a proctor watches live, reviews the incident and reads the report."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from accounts import tenancy
from exams import services as exam_services
from exams.accommodations import accommodation_set
from exams.models import Answer, Exam, ExamSession, Question
from exams.statuses import SessionStatus
from proctoring import services as proctoring_services
from proctoring.models import Frame, FrameStatus, Incident
from tests.browser.conftest import PuppetCamera, Shots, sign_in, turn_head_as_asked, wait_until_true
from tests.conftest import PASSWORD, Tenant
from tests.proctoring.conftest import image

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]
TIMEOUT = 45_000  # ms: the first frame also loads the analysis models


def proctored_exam(tenant: Tenant, reference: str = "signer1_a.jpg", **policy: Any) -> ExamSession:
    """A published exam with two questions, the student enrolled and their face (``reference``) registered."""
    with tenancy.tenant_scope(tenant.institution):
        exam = Exam.objects.create(institution=tenant.institution, title="Statistics midterm", status="published",
                                   duration_minutes=30, capture_interval_seconds=2, **policy)
        Question.objects.create(institution=tenant.institution, exam=exam, position=1, kind="choice",
                                prompt="What is the median of 1, 3, 9?", choices=["1", "3", "9"], correct_choice=1)
        Question.objects.create(institution=tenant.institution, exam=exam, position=2, kind="text",
                                prompt="Define variance in one sentence.")
        session = exam_services.session_create(exam=exam, student=tenant.student)
        proctoring_services.face_register(institution=tenant.institution, actor=tenant.admin,
                                          image=image(reference), full_name="Alpha Student",
                                          student=tenant.student)
    return session


def sitting(tenant: Tenant, session: ExamSession) -> ExamSession:
    """``session``'s student has passed the camera check: the exam is in progress."""
    with tenancy.tenant_scope(tenant.institution):
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=session.pk, to=to, actor=tenant.student)
    return session


def test_it_walks_a_student_through_consent_camera_check_and_the_exam(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, student_camera: PuppetCamera, shots: Shots
) -> None:
    session = proctored_exam(tenant_a, reference="headpose_woman_front2.jpg")
    base = live_server.url
    page = camera_browser(student_camera).new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    frame_posts: list[str] = []
    page.on("request", lambda request: frame_posts.append(request.url) if "/process" in request.url else None)

    page.goto(f"{base}/accounts/login/")
    shots.take(page, "login")
    sign_in(page, base, tenant_a.student.email, PASSWORD)
    expect(page.locator("#my-exams")).to_contain_text("Statistics midterm")
    shots.take(page, "student-dashboard")
    page.click("text=Start")

    expect(page.locator("#consent-text")).to_contain_text("webcam images are analysed")
    shots.take(page, "consent")
    page.check("#agree")
    page.click("#consent-continue")

    expect(page.locator("#identity-reason")).to_have_text("Matches your registered photo.", timeout=TIMEOUT)
    turn_head_as_asked(page, student_camera)  # as the page asks, turn by turn
    expect(page.locator("#begin")).to_be_enabled()
    expect(page.locator("#camera-state")).to_have_text("All checks passed: you can start the exam.")
    shots.take(page, "camera-check")
    # Nothing is left to try: the check's frames, each analysed in full, slow from one every 2 s to one every 5 s.
    settled = len(frame_posts)
    page.wait_for_timeout(10_000)
    assert len(frame_posts) - settled <= 3, frame_posts[settled:]
    page.click("#begin")

    expect(page.locator("#checks .check")).to_have_count(5)
    expect(page.locator('#checks .check[data-test="Person Recognition"]')).to_have_class("check pass")
    page.check('input[name^="q"][value="1"]')
    page.fill("textarea", "The mean squared deviation from the mean.")
    page.locator("textarea").blur()
    expect(page.locator("fieldset.exam-question .saved").first).to_have_text("Saved")
    expect(page.locator("fieldset.exam-question .saved").last).to_have_text("Saved")
    shots.take(page, "exam")
    page.click("#submit-exam")
    page.click("#submit-confirm")  # the submit dialog (every question answered)
    expect(page.locator(".big")).to_have_text("Your exam has been submitted.")
    shots.take(page, "done")

    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        frames = list(Frame.objects.filter(session=session, status=FrameStatus.DONE))
        answers = {a.question.prompt[:4]: (a.choice, a.text) for a in Answer.objects.filter(session=session)}
    assert session.status == SessionStatus.SUBMITTED and session.consent_version == 1
    assert len(frames) >= 2 and all(len(f.checks) == 5 for f in frames)
    assert answers == {"What": (1, ""), "Defi": (None, "The mean squared deviation from the mean.")}
    # Neither the camera check nor the exam page waits on analysis: they follow the 202's status URL.
    assert frame_posts and all(url == f"{base}/process" for url in frame_posts), frame_posts


def test_it_shows_a_two_person_incident_live_then_in_review_and_the_report(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    session = proctored_exam(tenant_a, debounce_frames=1)
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.CHECKING, actor=tenant_a.student)
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.IN_PROGRESS, actor=tenant_a.student)
        # Extra time only: an accommodation shows on the tile and exempts nothing here.
        accommodation_set(actor=tenant_a.admin, student=tenant_a.student, reason="Extra time (dyslexia)",
                          extra_percent=25)
    base = live_server.url
    student = camera_browser("two_signers.jpg").new_page(viewport={"width": 1280, "height": 900})
    student.set_default_timeout(TIMEOUT)
    sign_in(student, base, tenant_a.student.email, PASSWORD)
    student.goto(f"{base}/sessions/{session.pk}/exam")
    expect(student.locator('#checks .check[data-test="Face Detection"]')).to_have_class("check fail")
    # The student reads what to do, not only a red chip.
    expect(student.locator('#checks .check[data-test="Person Detection"] .hint')).to_have_text(
        "Only you should be in view.")
    shots.take(student, "exam-two-people")

    proctor = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    proctor.set_default_timeout(TIMEOUT)
    sign_in(proctor, base, tenant_a.proctor.email, PASSWORD)
    shots.take(proctor, "proctor-dashboard")
    proctor.goto(f"{base}/exams/{session.exam_id}/live")
    card = proctor.locator(f'.live-card[data-session="{session.pk}"]')
    expect(card.locator(".incidents")).to_contain_text("Several people")
    expect(card.locator(".accommodation-note")).to_contain_text("Extra time (dyslexia) · extra time +25%")
    expect(card.locator("img")).to_be_visible()
    shots.take(proctor, "live")

    proctor.goto(f"{base}/review/")
    expect(proctor.locator("#queue")).to_contain_text("Several people")
    shots.take(proctor, "review-queue")
    proctor.locator("#queue tr", has_text="Several people").locator("text=Review").click()
    expect(proctor.locator("img.evidence")).to_be_visible()
    shots.take(proctor, "incident")
    proctor.fill("#note", "Two people at the desk.")
    proctor.click("#confirm")

    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="multiple_people")
    assert incident.review_status == "confirmed" and incident.reviewed_by == tenant_a.proctor
    assert incident.review_note == "Two people at the desk."

    proctor.goto(f"{base}/sessions/{session.pk}/report")
    expect(proctor.locator("#risk-items")).to_contain_text("Several people")
    expect(proctor.locator("#risk-items")).to_contain_text("confirmed by a reviewer")
    assert int(proctor.inner_text("#risk-score")) > 0
    shots.take(proctor, "session-report")
    proctor.emulate_media(media="print")  # on paper the times keep their zone (an audit: the footer was not printed)
    expect(proctor.locator("footer .time-zone")).to_be_visible()
    expect(proctor.locator("footer a")).to_be_hidden()
    proctor.emulate_media(media="screen")
    # Printed, the moments open so that their frames are on paper (a closed one printed its title only: an audit).
    expect(proctor.locator("details.moment").first).not_to_have_attribute("open", "")
    proctor.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    expect(proctor.locator("details.moment").first).to_have_attribute("open", "")
    proctor.evaluate("window.dispatchEvent(new Event('afterprint'))")
    expect(proctor.locator("details.moment").first).not_to_have_attribute("open", "")
    proctor.goto(f"{base}/exams/{session.exam_id}/report")
    expect(proctor.locator("#sessions")).to_contain_text(str(tenant_a.student))
    shots.take(proctor, "exam-report")


def test_a_reload_of_the_exam_page_is_not_leaving_the_tab(
    live_server: Any, tenant_a: Tenant, camera_browser: Any
) -> None:
    session = sitting(tenant_a, proctored_exam(tenant_a))
    base = live_server.url
    page = camera_browser("signer1_b.jpg").new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, tenant_a.student.email, PASSWORD)
    page.goto(f"{base}/sessions/{session.pk}/exam")
    expect(page.locator("#checks .check")).to_have_count(5)
    events: list[str] = []
    page.on("request", lambda request: events.append(request.url) if request.url.endswith("/events") else None)

    for _ in range(2):
        page.reload()
        expect(page.locator("#checks .check")).to_have_count(5)
    page.wait_for_timeout(1000)  # longer than the page waits before it reports leaving
    with tenancy.tenant_scope(tenant_a.institution):
        assert not Incident.objects.filter(session=session, kind="tab_hidden").exists() and not events

    # Leaving the tab for real is still reported (headless Chromium never hides a page: say it is hidden).
    page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
                  "document.dispatchEvent(new Event('visibilitychange'))")
    wait_until_true(page, "performance.getEntriesByType('resource').some(e => e.name.endsWith('/events'))")
    with tenancy.tenant_scope(tenant_a.institution):
        for _ in range(50):
            if Incident.objects.filter(session=session, kind="tab_hidden").exists():
                break
            page.wait_for_timeout(100)
        assert Incident.objects.get(session=session, kind="tab_hidden").details["detail"] == "tab hidden"

    # Back in the tab: the incident says for how long the student was away (an audit: it said only when they left).
    page.wait_for_timeout(1500)
    page.evaluate("Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
                  "document.dispatchEvent(new Event('visibilitychange'))")
    with tenancy.tenant_scope(tenant_a.institution):
        for _ in range(50):
            if "away_seconds" in Incident.objects.get(session=session, kind="tab_hidden").details:
                break
            page.wait_for_timeout(100)
        incident = Incident.objects.get(session=session, kind="tab_hidden")
        assert incident.details["away_seconds"] >= 1 and incident.ended_at > incident.started_at
