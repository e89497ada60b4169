"""A camera whose picture never changes (a virtual camera showing a still picture): the student is told, and the
proctor sees a High "camera picture frozen" incident with what it means."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts import tenancy
from exams import services as exam_services
from exams.models import Exam
from exams.statuses import SessionStatus
from proctoring import camera
from proctoring.models import Frame, Incident
from tests.browser.conftest import Shots, sign_in, y4m_still
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam
from tests.browser.test_looking_away import incident_from_the_live_view
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def _in_the_exam(tenant: Tenant, browser: Any, base: str) -> tuple[Any, Any]:
    """An exam in progress (a frame a second) and its student signed in on ``browser``: (session, page)."""
    session = proctored_exam(tenant, reference="signer1_a.jpg", debounce_frames=1)
    with tenancy.tenant_scope(tenant.institution):
        Exam.objects.filter(pk=session.exam_id).update(capture_interval_seconds=1)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=session.pk, to=to, actor=tenant.student)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, tenant.student.email, PASSWORD)
    return session, page


def test_a_still_picture_for_a_camera_is_told_to_the_student_and_flagged_for_the_proctor(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots, tmp_path: Path
) -> None:
    base = live_server.url
    session, student = _in_the_exam(tenant_a, camera_browser(y4m_still("signer1_b.jpg", tmp_path)), base)
    student.goto(f"{base}/sessions/{session.pk}/exam")
    expect(student.locator('#checks .check[data-test="Camera frozen"]')).to_have_text(camera.STUDENT_MESSAGE,
                                                                                       timeout=TIMEOUT)
    shots.take(student, "exam-camera-frozen")

    proctor = incident_from_the_live_view(camera_browser(), base, tenant_a, session, "Camera picture frozen", shots)
    expect(proctor.locator("#incident-explanation")).to_have_text(camera.REVIEWER_MESSAGE)
    expect(proctor.locator(".badge.high")).to_contain_text("High severity")
    shots.take(proctor, "incident-camera-frozen")


def test_a_frame_whose_answer_was_lost_is_sent_again_as_the_same_capture_and_kept_once(
    live_server: Any, tenant_a: Tenant, camera_browser: Any
) -> None:
    base = live_server.url
    session, student = _in_the_exam(tenant_a, camera_browser("signer1_b.jpg"), base)
    lost: list[str] = []

    def lose_answers(route: Any) -> None:
        if route.request.method == "POST" and len(lost) < 2:
            route.fetch()  # the server stores the frame; its answer never reaches the page
            lost.append(route.request.post_data_json.get("captured_at") or "")
            route.abort("connectionreset")
        else:
            route.continue_()

    student.route("**/process", lose_answers)
    student.goto(f"{base}/sessions/{session.pk}/exam")
    expect(student.locator("#checks")).to_have_attribute("data-frames", re.compile(r"^[3-9]|\d\d"), timeout=TIMEOUT)
    with tenancy.tenant_scope(tenant_a.institution):
        frames = list(Frame.objects.filter(session=session).values_list("captured_at", "digest"))
    assert len(lost) == 2 and all(lost)
    assert len(frames) == len(set(frames)) == len({digest for _, digest in frames})  # each capture kept once


def test_a_camera_that_stops_sends_no_black_frames_and_can_be_turned_on_again(
    live_server: Any, tenant_a: Tenant, camera_browser: Any
) -> None:
    # A proctor's audit: a camera that stopped kept sending black frames, read as "Camera covered or dark" (it reads as
    # deliberate), and the page never offered to turn it on again.
    base = live_server.url
    session, student = _in_the_exam(tenant_a, camera_browser("signer1_b.jpg"), base)
    student.goto(f"{base}/sessions/{session.pk}/exam")
    expect(student.locator("#checks .check").first).to_be_visible(timeout=TIMEOUT)
    student.evaluate("""() => {  // unplugged: the track ends (stop() alone fires no "ended")
        const track = document.querySelector("video").srcObject.getVideoTracks()[0];
        track.stop(); track.dispatchEvent(new Event("ended"));
    }""")
    expect(student.locator("#camera-stopped")).to_contain_text("Your camera stopped")
    with tenancy.tenant_scope(tenant_a.institution):
        sent = Frame.objects.filter(session=session).count()
    student.wait_for_timeout(3000)  # three capture intervals
    with tenancy.tenant_scope(tenant_a.institution):
        assert Frame.objects.filter(session=session).count() <= sent + 1  # (one in flight at most)
        assert not Incident.objects.filter(session=session, kind="camera_covered").exists()
        assert Incident.objects.get(session=session, kind="camera_stopped").is_open  # off until it runs again
    student.click("#camera-restart")
    expect(student.locator("#camera-stopped")).to_have_count(0)
    for _ in range(50):
        with tenancy.tenant_scope(tenant_a.institution):
            if Frame.objects.filter(session=session).count() > sent + 1:
                break
        student.wait_for_timeout(200)
    with tenancy.tenant_scope(tenant_a.institution):
        assert Frame.objects.filter(session=session).count() > sent + 1  # frames again
        stopped = Incident.objects.get(session=session, kind="camera_stopped")
    assert not stopped.is_open and stopped.details["away_seconds"] >= 3  # the time it was off
