"""A student turns away from the screen during the exam: they are told, and the proctor sees the incident."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from accounts import tenancy
from exams import policy
from exams import services as exam_services
from exams.models import Exam
from exams.statuses import SessionStatus
from proctoring import attention
from tests.browser.conftest import Shots, sign_in
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]
# Facing the screen long enough for the baseline, then turned to her left for good (the video loops late).
TURNS_AWAY = [("headpose_woman_front.jpg", 3), ("headpose_woman_her_left.jpg", 60)]


def incident_from_the_live_view(browser: Any, base: str, tenant: Tenant, session: Any, label: str,
                                shots: Shots) -> Any:
    """A proctor signed in on ``browser`` sees ``label`` on the session's live tile and opens that incident."""
    proctor = browser.new_page(viewport={"width": 1280, "height": 900})
    proctor.set_default_timeout(TIMEOUT)
    sign_in(proctor, base, tenant.proctor.email, PASSWORD)
    proctor.goto(f"{base}/exams/{session.exam_id}/live")
    card = proctor.locator(f'.live-card[data-session="{session.pk}"]')
    expect(card.locator(".incidents")).to_contain_text(label, timeout=TIMEOUT)
    shots.take(proctor, "live-" + label.lower().replace(" ", "-"))
    card.locator(".incidents a", has_text=label).click()
    return proctor


def test_it_tells_a_student_who_keeps_looking_away_and_shows_the_proctor_the_incident(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots, monkeypatch: Any
) -> None:
    monkeypatch.setattr(attention, "BASELINE_FRAMES", 1)  # one frontal frame: the same rule, a shorter test
    without_recognition = [c for c in policy.ALL_CHECKS if c != policy.CHECK_PERSON_RECOGNITION]
    session = proctored_exam(tenant_a, reference="headpose_woman_front2.jpg", debounce_frames=1,
                             checks_enabled=without_recognition)
    with tenancy.tenant_scope(tenant_a.institution):
        Exam.objects.filter(pk=session.exam_id).update(capture_interval_seconds=1)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=session.pk, to=to, actor=tenant_a.student)
    base = live_server.url
    student = camera_browser(TURNS_AWAY).new_page(viewport={"width": 1280, "height": 900})
    student.set_default_timeout(TIMEOUT)
    sign_in(student, base, tenant_a.student.email, PASSWORD)
    student.goto(f"{base}/sessions/{session.pk}/exam")
    # A baseline frame and 3 turned ones, each analysed as it comes (seconds each on a busy machine).
    expect(student.locator('#checks .check[data-test="Looking away"]')).to_have_text(attention.STUDENT_MESSAGE,
                                                                                      timeout=TIMEOUT)
    shots.take(student, "exam-looking-away")

    proctor = incident_from_the_live_view(camera_browser(), base, tenant_a, session, "Looking away", shots)
    expect(proctor.locator("#incident-explanation")).to_have_text(attention.REVIEWER_MESSAGE)
    expect(proctor.locator(".badge.low")).to_contain_text("Low severity")
    shots.take(proctor, "incident-looking-away")
