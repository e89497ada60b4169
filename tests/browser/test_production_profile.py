"""The production profile (DEBUG=0) really works: gunicorn serving collected static files through
WhiteNoise, a student sits a proctored exam end to end, staff pages and the API docs load with no
Content-Security-Policy violation, and error pages leak nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect

from accounts import tenancy
from exams import services as exam_services
from exams.models import Answer, Exam, ExamSession, Question
from proctoring import services as proctoring_services
from proctoring.models import Frame, FrameStatus
from tests.browser.conftest import PuppetCamera, sign_in, turn_head_as_asked
from tests.celery_worker import database_url
from tests.conftest import PASSWORD, Tenant
from tests.dynalite import free_port
from tests.proctoring.conftest import image

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PORT = free_port()  # its own: the SQLite and PostgreSQL halves of make test run side by side
BASE = f"http://127.0.0.1:{PORT}"
TIMEOUT = 90_000  # ms: the first frame also loads the analysis models in the server process
SECRET_KEY = "test-only-secret-key-" + "y" * 40  # the server's: it chooses each session's liveness turns


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[str]:
    """collectstatic, then gunicorn with DEBUG=0 on the test database (tasks run in-process)."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"REDIS_URL", "DYNAMODB_ENDPOINT_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    # The production settings as the README documents them; plain http here, so no HTTPS redirect.
    # Cookies stay Secure (the default with DEBUG=0): Chromium keeps them on http://127.0.0.1.
    env.update(DEBUG="0", SECRET_KEY=SECRET_KEY, ALLOWED_HOSTS="127.0.0.1",
               SECURE_SSL_REDIRECT="0", DATABASE_URL=database_url(), STATIC_ROOT=str(tmp_path / "static"),
               PRIVATE_MEDIA_ROOT=str(django_settings.PRIVATE_MEDIA_ROOT))
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                   cwd=ROOT, env=env, check=True, timeout=120)
    log_path = ROOT / "var" / f"test-production-server-{os.getpid()}.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{PORT}",
         "--workers", "1", "--threads", "8", "--timeout", "120", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{BASE}/healthz", timeout=2)
                break
            except (OSError, urllib.error.URLError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start; see {log_path}") from None
                time.sleep(0.3)
        yield BASE
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(errors="replace"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), dict(error.headers)


def proctored_exam(tenant: Tenant, reference: str = "signer1_a.jpg") -> ExamSession:
    with tenancy.tenant_scope(tenant.institution):
        exam = Exam.objects.create(institution=tenant.institution, title="Production profile exam",
                                   status="published", duration_minutes=30, capture_interval_seconds=2)
        Question.objects.create(institution=tenant.institution, exam=exam, position=1, kind="text",
                                prompt="Define variance in one sentence.")
        session = exam_services.session_create(exam=exam, student=tenant.student)
        proctoring_services.face_register(institution=tenant.institution, actor=tenant.admin,
                                          image=image(reference), full_name="Alpha Student",
                                          student=tenant.student)
    return session


def server_passwords(settings: Any, *users: Any) -> None:
    """The tests hash passwords with MD5 for speed; the server knows only the real hashers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    for user in users:
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])


class Violations:
    """Console messages about the Content-Security-Policy, per page visited."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", lambda message: self.messages.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)


@pytest.mark.one_database("postgresql")  # a production server's database: the browser tests' half (Makefile)
def test_it_serves_static_files_and_leaks_nothing_with_debug_off(production_server: str) -> None:
    for asset in ("/static/js/camera.js", "/static/css/app.css", "/static/js/pages.js"):
        status, _, headers = _get(production_server + asset)
        assert status == 200, asset
    status, body, headers = _get(production_server + "/no/such/page")
    assert status == 404
    for leak in ("Traceback", "URLconf", "DEBUG", "settings.py", "SECRET_KEY", "Page not found (404)"):
        assert leak not in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]


@pytest.mark.one_database("sqlite")  # the browser tests' half with time to spare (Makefile)
def test_it_runs_the_student_flow_against_a_debug_off_server(
    production_server: str, tenant_a: Tenant, camera_browser: Any, student_camera: PuppetCamera, settings: Any
) -> None:
    session = proctored_exam(tenant_a, reference="headpose_woman_front2.jpg")
    server_passwords(settings, tenant_a.student)
    page = camera_browser(student_camera).new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT)
    static = []
    page.on("response", lambda response: static.append((response.url, response.status))
            if "/static/" in response.url else None)

    sign_in(page, production_server, tenant_a.student.email, PASSWORD)
    page.goto(f"{production_server}/sessions/{session.pk}/start")
    page.check("#agree")
    page.click("#consent-continue")
    turn_head_as_asked(page, student_camera)  # as the page asks, turn by turn
    expect(page.locator("#begin")).to_be_enabled()
    page.click("#begin")
    expect(page.locator("#checks .check")).to_have_count(5)
    page.fill("textarea", "The mean squared deviation from the mean.")
    page.locator("textarea").blur()

    deadline = time.monotonic() + TIMEOUT / 1000
    while time.monotonic() < deadline:
        with tenancy.tenant_scope(tenant_a.institution):
            answers = list(Answer.objects.filter(session=session).values_list("text", flat=True))
            frames = Frame.objects.filter(session=session, status=FrameStatus.DONE).count()
        if answers == ["The mean squared deviation from the mean."] and frames >= 2:
            break
        time.sleep(0.5)
    assert answers == ["The mean squared deviation from the mean."]
    assert frames >= 2  # the camera check's frame and at least one from the exam page
    assert (f"{production_server}/static/js/camera.js", 200) in static
    assert all(status in (200, 304) for _, status in static), static


@pytest.mark.one_database("sqlite")  # the browser judges the pages' markup and scripts, the same on either: Makefile
def test_it_loads_the_staff_pages_and_api_docs_without_csp_violations(
    production_server: str, tenant_a: Tenant, camera_browser: Any, settings: Any
) -> None:
    session = proctored_exam(tenant_a)
    server_passwords(settings, tenant_a.admin)
    exam_id, student_id = session.exam_id, tenant_a.student.pk
    browser = camera_browser()
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    admin.set_default_timeout(30_000)
    violations = Violations(admin)
    sign_in(admin, production_server, tenant_a.admin.email, PASSWORD)
    for path in ["/", "/exams/", f"/exams/{exam_id}/edit", f"/exams/{exam_id}/questions",
                 f"/exams/{exam_id}/enrolments", f"/exams/{exam_id}/publish", "/students/",
                 "/students/new", "/students/import", f"/students/{student_id}/face", f"/people/{student_id}/invite",
                 "/settings/", "/review/", "/identity/", f"/exams/{exam_id}/live", f"/exams/{exam_id}/report",
                 f"/sessions/{session.pk}/report", "/manage/", "/manage/exams/exam/",
                 f"/manage/exams/exam/{exam_id}/change/", "/accounts/password/"]:
        response = admin.goto(production_server + path)
        assert response is not None and response.status == 200, path
        admin.wait_for_load_state("networkidle")

    # The behaviours moved out of inline scripts still work.
    admin.goto(f"{production_server}/exams/{exam_id}/questions")
    admin.check('input[name="kind"][value="text"]')
    expect(admin.locator(".choice-only")).to_be_hidden()
    admin.check('input[name="kind"][value="choice"]')
    expect(admin.locator(".choice-only")).to_be_visible()
    admin.goto(f"{production_server}/exams/{exam_id}/live")
    expect(admin.locator("#live-state")).to_contain_text("session(s) in progress")
    admin.goto(f"{production_server}/students/{student_id}/face")
    admin.click("#webcam-start")
    admin.click("#webcam-take")
    expect(admin.locator("#webcam-shot")).to_be_visible()
    assert admin.input_value("#id_captured").startswith("data:image/jpeg;base64,")

    docs = browser.new_page()
    violations_docs = Violations(docs)
    docs.goto(f"{production_server}/api/v1/docs/")
    expect(docs.locator(".swagger-ui .info .title")).to_contain_text("OpenProctor API", timeout=30_000)
    assert violations.messages == [] and violations_docs.messages == []
