"""From the LMS into the exam: Chromium follows a real LTI 1.3 launch (the loopback platform's login link,
the tool's OIDC redirect, the platform's auto-posting form with its signed id_token) and lands on the exam's
consent page, then walks the camera check into the exam."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts import tenancy
from accounts.models import User
from exams.lti.models import LtiPlatform, LtiResourceLink, LtiUserLink
from exams.lti.services import platform_register
from exams.statuses import SessionStatus
from tests.browser.conftest import PuppetCamera, Shots, sign_in, turn_head_as_asked
from tests.browser.test_exam_flow import TIMEOUT, proctored_exam
from tests.conftest import PASSWORD, Tenant
from tests.exams.lti_platform import INSTRUCTOR, LEARNER, LoopbackPlatform

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


@pytest.fixture
def lms(live_server: Any, tenant_a: Tenant) -> Iterator[LoopbackPlatform]:
    platform = LoopbackPlatform()
    platform.tool_login_url = f"{live_server.url}/lti/login"
    platform_register(institution=tenant_a.institution, name="Canvas", link_by_email=True, **platform.registration())
    yield platform
    platform.close()


def test_it_launches_from_the_lms_into_the_exam(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, student_camera: PuppetCamera, lms: LoopbackPlatform,
    shots: Shots,
) -> None:
    session = proctored_exam(tenant_a, reference="headpose_woman_front2.jpg")
    browser = camera_browser(student_camera)

    # The instructor's first launch of the course link: choose the exam it opens.
    lms.users["teacher"] = lms.claims(sub="teacher-1", roles=[INSTRUCTOR], name="Terry Teacher")
    teacher = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    teacher.set_default_timeout(TIMEOUT)
    teacher.goto(f"{lms.url}/start?hint=teacher")
    expect(teacher.locator("#lti-link")).to_contain_text("Statistics 101")
    shots.take(teacher, "instructor-picks-the-exam")
    teacher.select_option("#lti-exam", str(session.exam_id))
    teacher.click("#lti-link-save")
    expect(teacher.locator("h1")).to_have_text("Statistics midterm")

    # The student follows the same link: signed in by the launch, straight to the consent page.
    lms.users["student"] = lms.claims(sub="learner-1", roles=[LEARNER], email=tenant_a.student.email)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(TIMEOUT)
    launches: list[str] = []
    page.on("request", lambda r: launches.append(r.method) if r.url.endswith("/lti/launch") else None)
    page.goto(f"{lms.url}/start?hint=student")
    page.wait_for_url(f"{live_server.url}/sessions/{session.pk}/consent")
    assert launches == ["POST"]  # the platform's form carried the id_token
    expect(page.locator("#consent-text")).to_contain_text("webcam images are analysed")
    shots.take(page, "consent-after-launch")
    page.check("#agree")
    page.click("#consent-continue")
    expect(page.locator("#identity-reason")).to_have_text("Matches your registered photo.", timeout=TIMEOUT)
    turn_head_as_asked(page, student_camera)
    expect(page.locator("#begin")).to_be_enabled()
    page.click("#begin")
    expect(page.locator("fieldset.exam-question")).to_have_count(2)
    shots.take(page, "exam-after-launch")

    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        link = LtiResourceLink.objects.get()
        linked = {row.sub: row.user for row in LtiUserLink.objects.select_related("user")}
    assert session.status == SessionStatus.IN_PROGRESS
    assert link.exam_id == session.exam_id
    assert linked["learner-1"] == tenant_a.student
    assert linked["teacher-1"].role == "proctor" and linked["teacher-1"].institution == tenant_a.institution


def test_it_shows_a_clear_page_for_a_refused_launch(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, lms: LoopbackPlatform, shots: Shots
) -> None:
    lms.users["student"] = lms.claims(sub="learner-1", roles=[LEARNER], email="someone@lms.test")
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{lms.url}/start?hint=student")  # the course link has no exam yet
    expect(page.locator("#lti-refused")).to_contain_text("not set up yet")
    shots.take(page, "refused")
    assert not User.objects.filter(email="someone@lms.test").exists()  # the refused launch made nobody


def test_it_lets_an_admin_register_an_lms(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    base = live_server.url
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, tenant_a.admin.email, PASSWORD)
    page.goto(f"{base}/settings/")
    page.click("#lti-platforms a")
    page.click("text=Add LMS platform (LTI 1.3)")
    page.fill("#id_name", "Canvas")
    page.fill("#id_issuer", "https://canvas.instructure.com")
    page.fill("#id_client_id", "10000000000042")
    page.fill("#id_deployment_ids_text", "1:abcdef")
    page.fill("#id_auth_login_url", "https://sso.canvaslms.com/api/lti/authorize_redirect")
    page.fill("#id_keyset_url", "https://sso.canvaslms.com/api/lti/security/jwks")
    shots.take(page, "register-lms")
    page.click("input[name=_continue]")
    expect(page.locator("body")).to_contain_text("/lti/jwks.json")
    shots.take(page, "registered-lms")
    assert LtiPlatform.unscoped.get().institution == tenant_a.institution
