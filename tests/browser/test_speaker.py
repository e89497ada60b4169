"""A talking incident's page says whether the student's mouth moved on the frames taken while the
speech was heard (proctoring.speaker), at desktop and phone width."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import tenancy
from proctoring.models import Incident
from tests.browser.conftest import Shots, sign_in
from tests.conftest import PASSWORD, Tenant
from tests.proctoring.test_speech import frame_at, listening, send, spoken

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def test_it_shows_the_proctor_that_the_students_mouth_moved_while_speech_was_heard(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots,
) -> None:
    session = listening(tenant_a, limit=1)
    start = timezone.now() - timedelta(seconds=10)
    frame_at(tenant_a, session, "headpose_man.jpg", start + timedelta(seconds=1))
    frame_at(tenant_a, session, "signer1_a.jpg", start + timedelta(seconds=3))
    assert send(tenant_a, session, spoken(), start=start).status_code == 201  # committed: the judge ran
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="talking")
    assert incident.details["mouth"]["verdict"] == "moved"

    page = camera_browser().new_page()
    sign_in(page, live_server.url, tenant_a.proctor.email, PASSWORD)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.get_by_text("Who was talking: the student appears to be the one talking")).to_be_visible()
    shots.take(page, "incident-talking-mouth-moved")
