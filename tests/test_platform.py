"""Health endpoint, API schema, management commands and production settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from accounts import tenancy
from accounts.models import Institution, User
from exams.models import Exam

ROOT = Path(__file__).resolve().parent.parent


def test_it_reports_healthy_with_only_the_database_configured(db: Any) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database"}


def test_it_checks_redis_when_configured(db: Any, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["status"] == "ok"


@pytest.mark.parametrize("setting, value, check", [
    ("REDIS_URL", "redis://127.0.0.1:1/0", "redis"),
    ("DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:1", "dynamodb"),
])
def test_it_answers_503_when_a_configured_service_is_down(
    db: Any, settings: Any, monkeypatch: Any, setting: str, value: str, check: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    setattr(settings, setting, value)
    settings.DYNAMODB_ENABLED = check == "dynamodb"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"][check]["status"] == "down"
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_it_serves_the_openapi_schema_and_docs(db: Any) -> None:
    schema = Client().get("/api/v1/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/auth/token", "/api/v1/exams/{id}/", "/api/v1/users/"):
        assert path in text
    assert Client().get("/api/v1/docs/").status_code == 200


def test_it_creates_an_institution_and_prints_the_admins_token(db: Any) -> None:
    out = StringIO()
    call_command("createinstitution", "acme", "--name", "Acme University", "--admin-email", "Boss@Acme.test",
                 "--admin-password", "a-long-enough-passphrase-1", stdout=out, stderr=StringIO())
    lines = out.getvalue().splitlines()
    assert any(re.fullmatch(r"[0-9a-f]{64}", line) for line in lines)
    admin = User.objects.get(email="boss@acme.test")
    assert admin.institution.slug == "acme" and admin.role == "admin"


def test_it_refuses_a_second_institution_with_the_same_slug(db: Any) -> None:
    args = ["createinstitution", "acme", "--name", "A", "--admin-email", "a@a.test",
            "--admin-password", "a-long-enough-passphrase-1"]
    call_command(*args, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command(*args[:4], "--admin-email", "b@a.test", *args[6:], stdout=StringIO(), stderr=StringIO())


def test_it_loads_the_demo_idempotently_and_prints_working_passwords(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path
    first, second = StringIO(), StringIO()
    call_command("loaddemo", stdout=first)
    call_command("loaddemo", stdout=second)
    assert Institution.objects.filter(slug="demo").count() == 1
    assert User.objects.filter(institution__slug="demo").count() == 4
    with tenancy.tenant_scope(Institution.objects.get(slug="demo")):
        assert Exam.objects.count() == 2
    assert first.getvalue() == second.getvalue()
    match = re.search(r"admin\s+(\S+)\s+(\S+)", first.getvalue())
    assert match and User.objects.get(email=match.group(1)).check_password(match.group(2))


def test_it_raises_when_a_tenant_owned_model_is_queried_without_a_scope(db: Any) -> None:
    with pytest.raises(tenancy.ScopeError):
        list(Exam.objects.all())
    with pytest.raises(tenancy.ScopeError):
        User.objects.in_scope().count()


def _settings_with(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import django, os; django.setup(); from django.conf import settings as s; " \
           "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.ALLOWED_HOSTS)"
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env}, timeout=60)


def test_it_refuses_to_start_in_production_without_a_secret_key() -> None:
    result = _settings_with({"DEBUG": "0", "ALLOWED_HOSTS": "exams.example.org"})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_it_uses_secure_cookies_in_production() -> None:
    result = _settings_with({"DEBUG": "0", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "exams.example.org"})
    assert result.stdout.strip() == "False True True ['exams.example.org']"


def test_it_loads_a_demo_that_can_be_sat_at_once(db: Any, settings: Any, tmp_path: Path) -> None:
    """Questions, enrolled students with indexed reference photos, an open exam each may start now, and a
    finished sitting with incidents in the proctor's review queue."""
    from exams.taking import session_consent
    from proctoring.models import FaceRegistration, Incident

    settings.VAR_DIR = tmp_path
    call_command("loaddemo", stdout=StringIO())
    call_command("loaddemo", stdout=StringIO())  # a second run adds nothing
    demo = Institution.objects.get(slug="demo")
    with tenancy.tenant_scope(demo):
        midterm = Exam.objects.get(title__endswith="Midterm")
        assert midterm.status == "published" and midterm.questions.count() == 3
        sessions = list(midterm.sessions.select_related("student").order_by("student__email"))
        assert [s.student.email for s in sessions] == ["student1@demo.openproctor.test",
                                                        "student2@demo.openproctor.test"]
        for session in sessions:
            assert session.status == "scheduled"
            # Open now: consent moves the sitting on to the camera check (it raises when the exam is not open).
            assert session_consent(session=session, student=session.student).status == "checking"
            assert FaceRegistration.objects.filter(student=session.student).count() == 1
            assert FaceRegistration.objects.get(student=session.student).face_id
        incidents = Incident.objects.filter(review_status="pending")
        assert incidents.count() == 2
        assert {i.session.status for i in incidents} == {"submitted"}
        # Pending review, but over: a submitted session's incidents are closed, not "ongoing".
        assert not incidents.filter(is_open=True).exists() and all(i.ended_at for i in incidents)
        assert incidents.get(kind="multiple_faces").evidence_frame.image
