"""A student with extra time (exams.accommodations) sees the longer countdown, and still answers and submits
after the exam's normal duration has passed; a classmate without it, started at the same moment, is out of time."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts import services as account_services
from accounts import tenancy
from accounts.models import Role
from exams import services as exam_services
from exams.accommodations import accommodation_set
from exams.models import Answer, ExamSession
from exams.statuses import SessionStatus
from tests.browser.conftest import Shots, sign_in
from tests.browser.test_grading import TIMEOUT, running_exam
from tests.conftest import PASSWORD, Tenant, page_client_for

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_it_gives_a_student_with_extra_time_the_longer_countdown_past_the_normal_end(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    # A 5-minute exam, started 7 minutes ago: over for everyone but a student with 20 extra minutes.
    session = running_exam(tenant_a, duration_minutes=5, started_minutes_ago=7)
    with tenancy.tenant_scope(tenant_a.institution):
        accommodation_set(actor=tenant_a.admin, student=tenant_a.student, reason="Extended time (dyslexia)",
                          extra_minutes=20)
        classmate = account_services.user_create(institution=tenant_a.institution, email="classmate@alpha.test",
                                                 role=Role.STUDENT, password=PASSWORD, full_name="Classmate")
        other = exam_services.session_create(exam=session.exam, student=classmate)
        ExamSession.objects.filter(pk=other.pk).update(
            status=SessionStatus.IN_PROGRESS, started_at=session.started_at, consent_at=session.consent_at,
            consent_version=1, identity_verified_at=session.identity_verified_at)

    # The classmate, without extra time: the exam page sends them to its end, time ran out.
    ended = page_client_for(classmate).get(f"/sessions/{other.pk}/exam", follow=True)
    assert "Time ran out." in ended.content.decode()
    with tenancy.tenant_scope(tenant_a.institution):
        assert ExamSession.objects.get(pk=other.pk).status == SessionStatus.EXPIRED

    page = camera_browser("signer1_b.jpg").new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    sign_in(page, live_server.url, tenant_a.student.email, PASSWORD)
    page.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    # 5 + 20 minutes from a start 7 minutes ago: about 18 minutes left, never the 5-minute exam's 00:00.
    expect(page.locator("#timer")).to_have_text(re.compile(r"^1[78]:\d\d$"))
    shots.take(page, "extra-time-countdown")
    # The admin gives more time while the page is open: its countdown follows (it kept the time it opened with).
    with tenancy.tenant_scope(tenant_a.institution):
        accommodation_set(actor=tenant_a.admin, student=tenant_a.student, reason="Extended time (dyslexia)",
                          extra_minutes=40)
    expect(page.locator("#timer")).to_have_text(re.compile(r"^3[78]:\d\d$"), timeout=TIMEOUT)

    page.locator("fieldset.exam-question").nth(0).locator('input[value="1"]').check()
    expect(page.locator("fieldset.exam-question .saved").first).to_have_text("Saved")
    expect(page.locator("#answered-count")).to_have_text("1 of 3 answered")
    page.click("#submit-exam")
    expect(page.locator("#unanswered-list li")).to_have_count(2)
    page.click("#submit-confirm")
    expect(page.locator(".big")).to_have_text("Your exam has been submitted.")
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        assert session.status == SessionStatus.SUBMITTED
        assert list(Answer.objects.filter(session=session).values_list("choice", flat=True)) == [1]
