"""Time zones: the institution's zone (or the user's own) on every page and export, and the exam
schedule typed in local time and stored in UTC."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts import tenancy
from accounts.errors import AppError
from accounts.models import Institution
from accounts.services import user_time_zone_set
from exams.models import Exam
from exams.statuses import SessionStatus
from tests.conftest import Tenant, api_client_for, page_client_for

SCHEDULE = {
    "title": "Local exam", "duration_minutes": "60", "checks_enabled": ["Face Detection"], "min_confidence": "80",
    "face_match_threshold": "90", "debounce_frames": "2", "debounce_seconds": "0", "capture_interval_seconds": "5",
}


@pytest.fixture
def new_york(tenant_a: Tenant) -> Tenant:
    Institution.objects.filter(pk=tenant_a.institution.pk).update(time_zone="America/New_York")
    tenant_a.institution.refresh_from_db()
    return tenant_a


def schedule(tenant: Tenant, client: Client, opens_at: str, closes_at: str) -> Any:
    return client.post("/exams/new", {**SCHEDULE, "title": f"Exam {opens_at}", "opens_at": opens_at,
                                      "closes_at": closes_at})


def stored(tenant: Tenant, title: str) -> Exam:
    with tenancy.tenant_scope(tenant.institution):
        return Exam.objects.get(title=title)


def test_a_new_institution_takes_the_deployments_zone_and_refuses_an_unknown_one(db: Any, settings: Any) -> None:
    institution = Institution.objects.create(slug="gamma", name="Gamma")
    assert institution.time_zone == "UTC"
    institution.time_zone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError):
        institution.full_clean()


def test_a_schedule_entered_in_local_time_is_stored_in_utc(new_york: Tenant) -> None:
    admin = page_client_for(new_york.admin)
    assert schedule(new_york, admin, "2030-01-15T09:00", "2030-01-15T11:00").status_code == 302  # EST, UTC-5
    assert schedule(new_york, admin, "2030-07-15T09:00", "2030-07-15T11:00").status_code == 302  # EDT, UTC-4
    assert stored(new_york, "Exam 2030-01-15T09:00").opens_at == datetime(2030, 1, 15, 14, 0, tzinfo=UTC)
    assert stored(new_york, "Exam 2030-07-15T09:00").opens_at == datetime(2030, 7, 15, 13, 0, tzinfo=UTC)

    form = admin.get(f"/exams/{stored(new_york, 'Exam 2030-07-15T09:00').pk}/edit").content.decode()
    assert 'value="2030-07-15T09:00"' in form and "Times are in America/New_York" in form  # shown back as typed


def test_the_schedule_form_refuses_a_local_time_the_clocks_skip(new_york: Tenant) -> None:
    response = schedule(new_york, page_client_for(new_york.admin), "2030-03-10T02:30", "2030-03-10T05:00")
    assert response.status_code == 200 and "opens_at" in response.context["form"].errors


def test_pages_show_times_in_the_institutions_zone(new_york: Tenant) -> None:
    with tenancy.tenant_scope(new_york.institution):
        Exam.objects.filter(pk=new_york.exam.pk).update(opens_at=datetime(2030, 1, 15, 14, 0, tzinfo=UTC))
    page = page_client_for(new_york.admin).get("/exams/").content.decode()
    assert "15 Jan 2030, 09:00" in page and "Times in America/New_York" in page
    assert "Times in America/New_York" in page_client_for(new_york.student).get("/").content.decode()


def test_the_users_own_zone_wins_over_the_institutions(new_york: Tenant) -> None:
    with tenancy.tenant_scope(new_york.institution):
        Exam.objects.filter(pk=new_york.exam.pk).update(opens_at=datetime(2030, 1, 15, 14, 0, tzinfo=UTC))
    admin = page_client_for(new_york.admin)
    response = admin.post("/accounts/time-zone/", {"time_zone": "Asia/Tokyo"}, follow=True)
    assert "Times are now shown in Asia/Tokyo." in response.content.decode()
    page = admin.get("/exams/").content.decode()
    assert "15 Jan 2030, 23:00" in page and "Times in Asia/Tokyo" in page
    assert "Times in America/New_York" in page_client_for(new_york.proctor).get("/").content.decode()  # only hers

    admin.post("/accounts/time-zone/", {"time_zone": ""})  # back to the institution's
    assert "15 Jan 2030, 09:00" in admin.get("/exams/").content.decode()
    with pytest.raises(AppError):
        user_time_zone_set(user=new_york.admin, time_zone="Nowhere/Else")


def test_the_admin_sets_the_institutions_zone_in_settings(tenant_a: Tenant) -> None:
    admin = page_client_for(tenant_a.admin)
    form = {"form": "settings", "frame_retention_days": "30", "consent_text": tenant_a.institution.consent_text}
    assert admin.post("/settings/", {**form, "time_zone": "Europe/Paris"}).status_code == 302
    assert Institution.objects.get(pk=tenant_a.institution.pk).time_zone == "Europe/Paris"
    response = admin.post("/settings/", {**form, "time_zone": "Europe/Atlantis"})
    assert "time_zone" in response.context["settings_form"].errors
    assert "Times in Europe/Paris" in page_client_for(tenant_a.student).get("/").content.decode()


def test_the_csv_export_shows_times_in_the_viewers_zone_with_its_offset(new_york: Tenant) -> None:
    with tenancy.tenant_scope(new_york.institution):
        new_york.session.__class__.objects.filter(pk=new_york.session.pk).update(
            status=SessionStatus.SUBMITTED, started_at=datetime(2030, 7, 15, 13, 5, tzinfo=UTC),
            ended_at=datetime(2030, 7, 15, 14, 0, tzinfo=UTC))
    response = page_client_for(new_york.proctor).get(f"/exams/{new_york.exam.pk}/report.csv")
    row = next(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["started_at"], row["ended_at"]) == ("2030-07-15T09:05:00-04:00", "2030-07-15T10:00:00-04:00")


def test_the_session_report_shows_incident_times_in_the_viewers_zone(new_york: Tenant) -> None:
    from proctoring.models import Incident

    with tenancy.tenant_scope(new_york.institution):
        Incident.objects.filter(pk=new_york.incident.pk).update(started_at=datetime(2030, 7, 15, 13, 5, 7, tzinfo=UTC))
    page = page_client_for(new_york.proctor).get(f"/sessions/{new_york.session.pk}/report").content.decode()
    assert "09:05:07" in page and "13:05:07" not in page


def test_the_api_answers_times_in_the_token_users_zone_with_its_offset(new_york: Tenant) -> None:
    with tenancy.tenant_scope(new_york.institution):
        Exam.objects.filter(pk=new_york.exam.pk).update(opens_at=datetime(2030, 1, 15, 14, 0, tzinfo=UTC))
    body = api_client_for(new_york.admin).get(f"/api/v1/exams/{new_york.exam.pk}/").json()
    assert body["opens_at"] == "2030-01-15T09:00:00-05:00"
