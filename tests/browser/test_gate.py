"""The gate in a browser: a still photo held up never passes the liveness challenge (after a while the page offers
a proctor instead, as it does to an honest student whose turns stall); a student whose face
does not match reads why, sends their photo ID, a proctor approves it and the exam starts."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts import tenancy
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring.gate import challenge_order
from proctoring.models import FaceRegistration, Frame, FrameStatus, IdentityApproval, Incident
from tests.browser.conftest import PuppetCamera, Shots, sign_in, turn_head_as_asked
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on PostgreSQL.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("postgresql")]


# Each identity verdict the check page shows, in order (its reason and style), as a student would see them change.
REASONS_SEEN = """
window.reasonsSeen = [];
document.addEventListener("DOMContentLoaded", () => {
  const reason = document.getElementById("identity-reason");
  if (!reason) { return; }
  new MutationObserver(() => {
    const shown = reason.getAttribute("data-reason") + " " + reason.className;
    if (window.reasonsSeen[window.reasonsSeen.length - 1] !== shown) { window.reasonsSeen.push(shown); }
  }).observe(reason, {attributes: true, childList: true, characterData: true, subtree: true});
});
"""


def to_the_gate(page: Any, base: str, tenant: Tenant, session: ExamSession) -> None:
    sign_in(page, base, tenant.student.email, PASSWORD)
    page.goto(f"{base}/sessions/{session.pk}/start")
    page.check("#agree")
    page.click("#consent-continue")


def analysed_frames(tenant: Tenant, session: ExamSession) -> int:
    with tenancy.tenant_scope(tenant.institution):
        return Frame.objects.filter(session=session, status=FrameStatus.DONE).count()


@pytest.mark.one_database("sqlite")  # the liveness judgement races no write: the SQLite half (balance, Makefile)
def test_a_still_photo_held_up_never_passes_the_liveness_challenge(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots, settings: Any
) -> None:
    settings.LIVENESS_FALLBACK_AFTER = 4  # (30 by default: a minute of frames)
    session = proctored_exam(tenant_a, reference="headpose_woman_front2.jpg")
    page = camera_browser("headpose_woman_front.jpg").new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    page.add_init_script(REASONS_SEEN)
    to_the_gate(page, live_server.url, tenant_a, session)

    # The right face: identity matches, and the page asks for the head turn. Its first matching frame is not enough
    # alone (settings.IDENTITY_PASS_FRAMES): the page says it is confirming, in its waiting colour, then it matches.
    expect(page.locator("#identity-reason")).to_have_text("Matches your registered photo.", timeout=TIMEOUT)
    seen = page.evaluate("window.reasonsSeen")
    assert "confirming state wait" in seen and seen.index("confirming state wait") < seen.index("match state ok"), seen
    first = challenge_order(session)[0]  # the order the server asks this session for
    expect(page.locator("#liveness-instruction")).to_have_text(
        f"Turn 1 of 3: slowly turn your head to your {first}…", timeout=TIMEOUT)
    for _ in range(600):  # a photo cannot turn: after several more frames, still no pass
        if analysed_frames(tenant_a, session) >= 6:
            break
        page.wait_for_timeout(100)
    assert analysed_frames(tenant_a, session) >= 6
    expect(page.locator("#liveness")).to_have_attribute("data-step", first)
    steps = page.locator("#liveness-steps li")  # the session's turns, in the server's order
    expect(steps).to_have_count(4)
    for index, step in enumerate(challenge_order(session)):
        expect(steps.nth(1 + index)).to_have_attribute("data-step", step)
    expect(steps.nth(1)).to_have_class("current")
    expect(page.locator("#begin")).to_be_disabled()
    # The turns stalled: the page offers a proctor instead (who sees the camera's frames); never a pass by itself.
    expect(page.locator("#fallback-turns")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#fallback-turns")).to_contain_text("Can't get past the head turns?")
    expect(page.locator("#fallback-identity")).to_be_hidden()
    expect(page.locator("#begin")).to_be_disabled()
    shots.take(page, "still-photo")
    with tenancy.tenant_scope(tenant_a.institution):
        assert ExamSession.objects.get(pk=session.pk).status == SessionStatus.CHECKING


def test_a_student_who_does_not_match_sends_their_photo_id_and_a_proctor_lets_them_in(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, student_camera: PuppetCamera, shots: Shots,
    settings: Any,
) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 2
    session = proctored_exam(tenant_a, reference="signer1_a.jpg")  # registered: someone else's photo
    base = live_server.url
    student = camera_browser(student_camera).new_page(viewport={"width": 1280, "height": 900})
    student.set_default_timeout(TIMEOUT)
    to_the_gate(student, base, tenant_a, session)

    expect(student.locator("#identity-reason")).to_have_text("This doesn't match your registered photo.",
                                                             timeout=TIMEOUT)
    expect(student.locator("#fallback")).to_be_visible(timeout=TIMEOUT)
    shots.take(student, "not-matching")
    student.click("#capture-id")  # (the student holds their ID card up to the camera)
    student.click("#capture-live")
    student.click("#send-id")
    expect(student.locator("#waiting")).to_be_visible(timeout=TIMEOUT)
    expect(student.locator("#camera-state")).to_have_text("Waiting for a proctor…")
    shots.take(student, "waiting")
    # The exam closes while they wait: the page says so instead of waiting on (then it opens again for the test).
    from datetime import timedelta

    from django.utils import timezone

    from exams.models import Exam

    Exam.unscoped.filter(pk=session.exam_id).update(closes_at=timezone.now() - timedelta(minutes=1))
    expect(student.locator("#camera-state")).to_have_text("The exam has closed: it can no longer be started.",
                                                          timeout=TIMEOUT)
    expect(student.locator("#waiting")).to_be_hidden()
    Exam.unscoped.filter(pk=session.exam_id).update(closes_at=None)
    expect(student.locator("#camera-state")).to_have_text("Waiting for a proctor…", timeout=TIMEOUT)

    proctor = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    proctor.set_default_timeout(TIMEOUT)
    sign_in(proctor, base, tenant_a.proctor.email, PASSWORD)
    proctor.goto(f"{base}/identity/")
    proctor.locator("#identity-queue tr", has_text=str(tenant_a.student)).locator("text=Check").click()
    for photo in ("img.reference", "img.id-photo", "img.live-photo"):
        expect(proctor.locator(photo).last).to_be_visible()
    expect(proctor.locator("#similarity")).to_contain_text("/ 100")
    expect(proctor.locator("#camera-frames img").first).to_be_visible()  # what the camera sent, beside the live photo
    shots.take(proctor, "identity-request")
    proctor.fill("#note", "Student card checked against the live frame.")
    expect(proctor.locator("#keep-reference")).not_to_be_checked()  # not kept unless the proctor is sure
    proctor.click("#approve")
    expect(proctor.locator("body")).to_contain_text("approved")

    # The student's page updates by itself, the head turn passes, and the exam starts.
    expect(student.locator("#approval-state")).to_have_text(
        "A proctor confirmed your identity from your photo ID. The head turns are still asked for.", timeout=TIMEOUT)
    turn_head_as_asked(student, student_camera)
    expect(student.locator("#begin")).to_be_enabled()
    shots.take(student, "approved")
    student.click("#begin")
    expect(student.locator("#checks .check")).to_have_count(5)
    # Person Recognition fails (not the registered photo's face) with no "face the camera" hint: a proctor checked
    # who they are; and the approved face is not "someone else".
    expect(student.locator('#checks .check[data-test="Person Recognition"]')).to_have_class("check fail")
    expect(student.locator('#checks .check[data-test="Person Recognition"] .hint')).to_have_count(0)
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        approval = IdentityApproval.objects.get(session=session)
    assert session.status == SessionStatus.IN_PROGRESS and session.identity_approved_at is not None
    assert approval.status == "approved" and approval.decided_by == tenant_a.proctor
    assert approval.similarity is not None and approval.similarity < 90  # the live face is not the reference
    for _ in range(60):  # three frames of the exam at least: a "someone else" incident would have opened
        with tenancy.tenant_scope(tenant_a.institution):
            exam_frames = Frame.objects.filter(session=session, status=FrameStatus.DONE,
                                               captured_at__gte=session.started_at).count()
        if exam_frames >= 3:
            break
        time.sleep(0.5)
    with tenancy.tenant_scope(tenant_a.institution):
        assert exam_frames >= 3
        assert not Incident.objects.filter(session=session, kind="wrong_person", during_check=False).exists()


def test_a_student_without_a_reference_photo_is_told_why_and_offered_the_photo_id_check(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    session = proctored_exam(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        FaceRegistration.objects.filter(student=tenant_a.student).delete()  # never registered
    page = camera_browser("headpose_woman_front.jpg").new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(TIMEOUT)
    to_the_gate(page, live_server.url, tenant_a, session)
    expect(page.locator("#identity-reason")).to_have_text(
        "You have no registered photo yet: ask your institution to register one.", timeout=TIMEOUT)
    expect(page.locator("#fallback")).to_be_visible(timeout=TIMEOUT)  # at once: no tries to wait for
    expect(page.locator("#begin")).to_be_disabled()
    shots.take(page, "no-reference")
