from __future__ import annotations

from accounts import tenancy
from accounts.models import User
from exams.models import Exam
from tests.conftest import Tenant, page_client_for


def test_it_lists_only_the_admins_own_institution_in_the_admin_site(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = page_client_for(tenant_a.admin)
    users = client.get("/manage/accounts/user/").content.decode()
    exams = client.get("/manage/exams/exam/").content.decode()
    assert "student@alpha.test" in users and "student@beta.test" not in users
    assert "alpha exam" in exams and "beta exam" not in exams


def test_it_files_rows_added_in_the_admin_site_under_the_admins_institution(tenant_a: Tenant) -> None:
    client = page_client_for(tenant_a.admin)
    response = client.post("/manage/exams/exam/add/", {
        "title": "Added in admin", "description": "", "status": "draft", "duration_minutes": 60,
        "checks_enabled": '["Face Detection"]', "min_confidence": 85, "face_match_threshold": 90,
        "objects_of_interest": '["Mobile Phone"]', "debounce_frames": 2, "debounce_seconds": 0,
        "capture_interval_seconds": 5,
    })
    assert response.status_code == 302, response.content[:2000]
    with tenancy.tenant_scope(None):
        exam = Exam.objects.get(title="Added in admin")
    assert exam.institution == tenant_a.institution and exam.created_by == tenant_a.admin
    form = {"email": "New@alpha.test", "full_name": "New", "role": "student", "student_number": "", "is_active": "on",
            "password": ""}
    response = client.post("/manage/accounts/user/add/", form)
    assert response.status_code == 302
    assert User.objects.get(email="new@alpha.test").institution == tenant_a.institution


def test_it_keeps_the_platform_admin_for_superusers(tenant_a: Tenant) -> None:
    assert page_client_for(tenant_a.admin).get("/platform/").status_code == 302  # to the platform login
