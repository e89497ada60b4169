"""A proctor filters the review queue, ticks the incidents of one session and dismisses them together."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services as account_services
from accounts import tenancy
from accounts.audit import AuditEvent
from exams.services import session_create
from proctoring.models import Incident
from tests.browser.conftest import Shots, sign_in
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_a_bulk_review_dismisses_the_ticked_incidents_of_a_session(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots
) -> None:
    other = account_services.user_create(institution=tenant_a.institution, email="bo@alpha.test", role="student",
                                         password=PASSWORD, full_name="Bo Risky")
    now = timezone.now()
    with tenancy.tenant_scope(tenant_a.institution):
        risky = session_create(exam=tenant_a.exam, student=other)
        made = [Incident.objects.create(institution=tenant_a.institution, session=risky, kind=kind, severity=severity,
                                        is_open=False, started_at=now - timedelta(minutes=n),
                                        ended_at=now - timedelta(minutes=n), evidence_frame=tenant_a.frame)
                for n, (kind, severity) in enumerate([("multiple_people", "high"), ("object_of_interest", "medium"),
                                                      ("tab_hidden", "medium")], start=1)]
    base = live_server.url
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, tenant_a.proctor.email, PASSWORD)
    page.goto(f"{base}/review/")
    groups = page.locator(".review-group")
    expect(groups).to_have_count(2)
    expect(groups.first).to_contain_text("Bo Risky")  # the riskier session first
    expect(groups.first.locator(".badge", has_text="Risk")).to_have_text("Risk 60")
    shots.take(page, "review-queue")

    page.select_option("select[name=severity]", "medium")
    page.click(".review-filters button[type=submit]")
    expect(page).to_have_url(f"{base}/review/?exam=&kind=&severity=medium&status=pending&sort=risk")
    expect(groups).to_have_count(1)
    group = groups.first
    expect(group.locator("tbody tr")).to_have_count(2)
    group.locator("[data-check-group]").check()  # select every incident of the session
    expect(group.locator("input[name=ids]:checked")).to_have_count(2)
    page.fill("input[name=note]", "Reading aid, agreed beforehand.")
    shots.take(page, "review-queue-selected")
    page.click("#bulk-dismiss")

    expect(page.locator(".messages")).to_contain_text("2 incident(s) dismissed.")
    expect(page).to_have_url(f"{base}/review/?exam=&kind=&severity=medium&status=pending&sort=risk")
    expect(page.locator(".review-group")).to_have_count(0)
    shots.take(page, "review-queue-after")
    with tenancy.tenant_scope(tenant_a.institution):
        decided = {i.kind: i.review_status for i in Incident.objects.filter(session=risky)}
        audited = sorted(int(e.target_id) for e in AuditEvent.objects.filter(action="incident.dismissed"))
    assert decided == {"multiple_people": "pending", "object_of_interest": "dismissed", "tab_hidden": "dismissed"}
    assert audited == sorted(i.pk for i in made[1:])
