"""The student's pages run no inline script (so a Content-Security-Policy can forbid them) and pass
their data in data-* attributes to static scripts."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from accounts import tenancy
from exams.models import ExamSession
from exams.statuses import SessionStatus
from tests.conftest import Tenant, page_client_for
from tests.exams.test_taking import running

pytestmark = pytest.mark.django_db

SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script>", re.S)


def scripts_of(content: bytes) -> list[tuple[bytes, bytes]]:
    return SCRIPT.findall(content)


def test_it_runs_the_exam_page_from_static_scripts_only(tenant_a: Tenant) -> None:
    session = running(tenant_a)
    page = page_client_for(tenant_a.student).get(f"/sessions/{session.pk}/exam")
    assert page.status_code == 200
    scripts = scripts_of(page.content)
    assert all(b"src=" in attrs and body.strip() == b"" for attrs, body in scripts), scripts
    sources = [re.search(rb'src="([^"]+)"', attrs).group(1) for attrs, _ in scripts]
    assert sources[-3:] == [b"/static/js/camera.js", b"/static/js/say_once.js", b"/static/js/exam.js"]
    assert f'data-session="{session.pk}"'.encode() in page.content
    assert f'data-done-url="/sessions/{session.pk}/done"'.encode() in page.content


def test_the_exam_page_is_never_cached_nor_its_form_restored(tenant_a: Tenant) -> None:
    # Back to it showed the answers as the page was first sent, not those saved since in another tab (a re-audit).
    session = running(tenant_a)
    page = page_client_for(tenant_a.student).get(f"/sessions/{session.pk}/exam")
    assert "no-store" in page["Cache-Control"]
    assert re.search(rb'<form id="exam-form"[^>]* autocomplete="off"', page.content)


def test_it_runs_the_camera_check_from_static_scripts_only(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        # In the checks with consent to the current text (else the page sends the student back to consent).
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(
            status=SessionStatus.CHECKING, consent_at=timezone.now(),
            consent_version=tenant_a.institution.consent_version)
    page = page_client_for(tenant_a.student).get(f"/sessions/{tenant_a.session.pk}/check")
    assert page.status_code == 200
    scripts = scripts_of(page.content)
    assert all(b"src=" in attrs and body.strip() == b"" for attrs, body in scripts), scripts
    sources = [re.search(rb'src="([^"]+)"', attrs).group(1) for attrs, _ in scripts]
    assert sources[-3:] == [b"/static/js/camera.js", b"/static/js/say_once.js", b"/static/js/check.js"]
    assert b'data-needs-identity="' in page.content


def test_it_clears_the_kept_answers_from_a_static_script_on_the_done_page(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(status=SessionStatus.SUBMITTED)
    page = page_client_for(tenant_a.student).get(f"/sessions/{tenant_a.session.pk}/done")
    assert page.status_code == 200
    scripts = scripts_of(page.content)
    assert all(b"src=" in attrs and body.strip() == b"" for attrs, body in scripts), scripts
    assert b'src="/static/js/done.js"' in page.content
    assert f'id="session-done" data-session="{tenant_a.session.pk}"'.encode() in page.content
