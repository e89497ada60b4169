"""A student answers and submits through the dialog that lists what is unanswered; an admin opens the answers,
sees the multiple choice scored, grades the short answer, and the report and CSV carry the total."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import tenancy
from exams import services as exam_services
from exams.models import Answer, Exam, ExamSession, Question
from exams.statuses import SessionStatus
from tests.browser.conftest import Shots, sign_in
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]
TIMEOUT = 30_000  # ms


def running_exam(tenant: Tenant, *, duration_minutes: int = 30, started_minutes_ago: float = 0) -> ExamSession:
    """A published exam of three questions (multiple choice worth 2, a short text worth 3, multiple choice
    worth 1), the student's session already running (consent and the camera check are not under test).
    Frames are taken rarely: nothing here waits on their analysis."""
    now = timezone.now()
    with tenancy.tenant_scope(tenant.institution):
        exam = Exam.objects.create(institution=tenant.institution, title="Statistics quiz", status="published",
                                   duration_minutes=duration_minutes, capture_interval_seconds=300)
        Question.objects.create(institution=tenant.institution, exam=exam, position=1, kind="choice", points=2,
                                prompt="What is the median of 1, 3, 9?", choices=["1", "3", "9"], correct_choice=1)
        Question.objects.create(institution=tenant.institution, exam=exam, position=2, kind="text", points=3,
                                prompt="Define variance in one sentence.")
        Question.objects.create(institution=tenant.institution, exam=exam, position=3, kind="choice", points=1,
                                prompt="Is the mean always one of the values?", choices=["Yes", "No"],
                                correct_choice=1)
        session = exam_services.session_create(exam=exam, student=tenant.student)
        ExamSession.objects.filter(pk=session.pk).update(
            status=SessionStatus.IN_PROGRESS, started_at=now - timezone.timedelta(minutes=started_minutes_ago),
            consent_at=now, consent_version=1, identity_verified_at=now)
        session.refresh_from_db()
    return session


def test_it_submits_through_the_dialog_and_lets_an_admin_grade_the_short_answer(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    session = running_exam(tenant_a)
    base = live_server.url
    browser = camera_browser("signer1_b.jpg")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    sign_in(page, base, tenant_a.student.email, PASSWORD)
    page.goto(f"{base}/sessions/{session.pk}/exam")

    counter = page.locator("#answered-count")
    expect(counter).to_have_text("0 of 3 answered")
    first, second = page.locator("#question-nav a").nth(0), page.locator("#question-nav a").nth(1)
    page.locator("fieldset.exam-question").nth(0).locator('input[value="1"]').check()
    expect(counter).to_have_text("1 of 3 answered")
    expect(first).to_have_class("qlink answered")
    expect(second).to_have_class("qlink")
    page.fill("textarea", "The mean of the squared deviations from the mean.")
    expect(counter).to_have_text("2 of 3 answered")
    expect(second).to_have_class("qlink answered")
    expect(page.locator("#save-state")).to_have_text("All answers saved.")
    shots.take(page, "exam-with-navigator")

    page.click("#submit-exam")
    dialog = page.locator("#submit-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#unanswered-summary")).to_have_text("You have not answered 1 question:")
    expect(page.locator("#unanswered-list li")).to_have_text(["Question 3: Is the mean always one of the values?"])
    assert page.evaluate("document.activeElement.id") == "submit-cancel"  # the safe choice has the focus
    shots.take(page, "submit-dialog")

    # The dialog's link takes the student to the unanswered question, focus in it; they still leave it blank.
    page.click("#unanswered-list a")
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.closest('fieldset').dataset.number") == "3"
    page.click("#submit-exam")
    page.click("#submit-confirm")
    expect(page.locator(".big")).to_have_text("Your exam has been submitted.")
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        assert session.status == SessionStatus.SUBMITTED
        assert Answer.objects.filter(session=session).count() == 2

    # The admin reads the report, opens the answers and grades the short one.
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    admin.set_default_timeout(TIMEOUT)
    sign_in(admin, base, tenant_a.admin.email, PASSWORD)
    admin.goto(f"{base}/exams/{session.exam_id}/enrolments")
    expect(admin.locator(".answers-link")).to_have_text("Answers · 2/6 (to grade: 1)")
    shots.take(admin, "students-tab")
    admin.goto(f"{base}/exams/{session.exam_id}/report")
    expect(admin.locator("#sessions td[data-label=Score]")).to_contain_text("2/6")
    expect(admin.locator("#sessions td[data-label=Score]")).to_contain_text("pending")
    admin.click("#sessions .score-link")
    cards = admin.locator(".answer-card")
    expect(cards.nth(0).locator(".answer-state")).to_have_text("Correct · 2 / 2")
    expect(cards.nth(1).locator(".answer-state")).to_have_text("To grade")
    expect(cards.nth(2).locator(".answer-state")).to_have_text("No answer · 0 / 1")
    expect(admin.locator("#score-state")).to_have_text("Pending: 1 to grade")
    shots.take(admin, "answers-to-grade")
    cards.nth(1).locator("input[name=points]").fill("3")
    cards.nth(1).locator("input[name=comment]").fill("Exactly.")
    cards.nth(1).locator("button[type=submit]").click()
    expect(admin.locator(".msg.success")).to_contain_text("Question 2: 3 of 3 points.")
    expect(cards.nth(1).locator(".answer-state")).to_have_text("Graded · 3 / 3")
    expect(admin.locator("#score-total")).to_have_text("5 / 6")
    expect(admin.locator("#score-state")).to_have_text("Graded")
    shots.take(admin, "answers-graded")
    admin.click("text=Session report")
    expect(admin.locator("#session-score")).to_have_text("5 / 6")
    expect(admin.locator("#answers-link")).to_have_text("Answers")
    shots.take(admin, "session-report")

    admin.goto(f"{base}/exams/{session.exam_id}/report")
    expect(admin.locator("#sessions td[data-label=Score]")).to_have_text("5/6")
    report = admin.request.get(f"{base}/exams/{session.exam_id}/report.csv")
    row = next(csv.DictReader(io.StringIO(report.text())))
    assert (row["score"], row["max_score"], row["graded"]) == ("5", "6", "graded")
