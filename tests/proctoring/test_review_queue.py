"""The review queue at scale: filters, sessions by risk, evidence thumbnails, and bulk decisions that
go through the one review service for each incident, all or nothing, tenant-checked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import tenancy
from accounts.audit import AuditEvent
from exams.models import ExamSession
from exams.services import session_create
from proctoring import review
from proctoring.models import Incident, ReviewStatus
from tests.accounts.test_tenancy import without_csrf
from tests.conftest import PASSWORD, Tenant, page_client_for

pytestmark = pytest.mark.django_db


def incidents(tenant: Tenant, *specs: tuple[str, str], session: ExamSession | None = None) -> list[Incident]:
    now = timezone.now()
    with tenancy.tenant_scope(tenant.institution):
        return [Incident.objects.create(institution=tenant.institution, session=session or tenant.session, kind=kind,
                                        severity=severity, is_open=False, started_at=now - timedelta(minutes=n),
                                        ended_at=now - timedelta(minutes=n))
                for n, (kind, severity) in enumerate(specs, start=1)]


def second_session(tenant: Tenant) -> ExamSession:
    from accounts import services

    other = services.user_create(institution=tenant.institution, email=f"other@{tenant.institution.slug}.test",
                                 role="student", password=PASSWORD, full_name="Other Student")
    with tenancy.tenant_scope(tenant.institution):
        return session_create(exam=tenant.exam, student=other)


def statuses(tenant: Tenant, rows: list[Incident]) -> list[str]:
    with tenancy.tenant_scope(tenant.institution):
        return [Incident.objects.get(pk=i.pk).review_status for i in rows]


def test_it_groups_by_session_with_the_riskiest_session_first(tenant_a: Tenant) -> None:
    other = second_session(tenant_a)
    incidents(tenant_a, ("wrong_person", "high"), ("multiple_people", "high"), session=other)
    page = page_client_for(tenant_a.proctor).get("/review/")
    groups = [g.session.pk for g in page.context["page"].object_list]
    assert groups == [other.pk, tenant_a.session.pk]  # 60 points before the fixture's one low incident
    assert [g.risk for g in page.context["page"].object_list] == [60, 5]
    assert b'id="bulk-confirm"' in page.content and b"Confirm selected" in page.content
    # The evidence thumbnail is the access-checked frame image.
    assert f'src="/api/v1/frames/{tenant_a.frame.pk}/image"'.encode() in page.content


@pytest.mark.parametrize(("query", "expected"), [
    ("kind=wrong_person", ["wrong_person"]),
    ("severity=medium", ["object_of_interest"]),
    ("status=confirmed", ["multiple_faces"]),
    ("status=all&severity=low", ["no_face"]),
    ("", ["wrong_person", "object_of_interest", "no_face"]),
])
def test_it_filters_by_kind_severity_and_status(tenant_a: Tenant, query: str, expected: list[str]) -> None:
    _, _, confirmed = incidents(tenant_a, ("wrong_person", "high"), ("object_of_interest", "medium"),
                                ("multiple_faces", "medium"))
    with tenancy.tenant_scope(tenant_a.institution):
        review.incident_review(incident_id=confirmed.pk, reviewer=tenant_a.proctor, decision="confirmed")
    page = page_client_for(tenant_a.proctor).get(f"/review/?{query}")
    assert page.status_code == 200
    kinds = [i.kind for g in page.context["page"].object_list for i in g.incidents]
    assert sorted(kinds) == sorted(expected)


def test_it_answers_a_bad_filter_with_400_and_says_why(tenant_a: Tenant) -> None:
    page = page_client_for(tenant_a.proctor).get("/review/?kind=phone&exam=abc")
    assert page.status_code == 400
    assert b"Select a valid choice" in page.content and b"Enter a whole number" in page.content


def test_it_confirms_the_selected_incidents_each_through_the_review_service(tenant_a: Tenant) -> None:
    rows = incidents(tenant_a, ("wrong_person", "high"), ("no_face", "low"), ("object_of_interest", "medium"))
    client = page_client_for(tenant_a.proctor)
    response = client.post("/review/bulk", {"ids": [rows[0].pk, rows[2].pk], "decision": "confirmed",
                                            "note": "Both on camera", "back": "kind=&status=pending&evil=1"})
    assert response.status_code == 302 and response["Location"] == "/review/?kind=&status=pending"
    assert statuses(tenant_a, rows) == ["confirmed", "pending", "confirmed"]
    with tenancy.tenant_scope(tenant_a.institution):
        events = AuditEvent.objects.filter(action="incident.confirmed").order_by("target_id")
        decided = [(e.target_id, e.actor, e.data["note"]) for e in events]
    note = "Both on camera"
    assert decided == [(str(rows[0].pk), tenant_a.proctor, note), (str(rows[2].pk), tenant_a.proctor, note)]


def test_it_decides_none_when_one_incident_fails(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = incidents(tenant_a, ("wrong_person", "high"), ("no_face", "low"))
    original = review.incident_review

    def failing(**kwargs: object) -> Incident:
        if kwargs["incident_id"] == rows[1].pk:
            raise RuntimeError("the database went away")
        return original(**kwargs)

    monkeypatch.setattr(review, "incident_review", failing)
    with tenancy.tenant_scope(tenant_a.institution), pytest.raises(RuntimeError):
        review.incidents_review_bulk(incident_ids=[rows[0].pk, rows[1].pk], reviewer=tenant_a.proctor,
                                     decision="dismissed")
    assert statuses(tenant_a, rows) == ["pending", "pending"]
    with tenancy.tenant_scope(tenant_a.institution):
        assert not AuditEvent.objects.filter(action="incident.dismissed").exists()


def test_it_answers_404_for_the_whole_request_when_one_id_is_another_institutions(
    tenant_a: Tenant, tenant_b: Tenant,
) -> None:
    mine = incidents(tenant_b, ("wrong_person", "high"))
    client = page_client_for(tenant_b.proctor)
    foreign = client.post("/review/bulk", {"ids": [mine[0].pk, tenant_a.incident.pk], "decision": "dismissed"})
    missing = client.post("/review/bulk", {"ids": [mine[0].pk, 987654321], "decision": "dismissed"})
    assert foreign.status_code == missing.status_code == 404
    assert without_csrf(foreign.content) == without_csrf(missing.content)
    assert statuses(tenant_b, mine) == ["pending"]
    assert statuses(tenant_a, [tenant_a.incident]) == ["pending"]


def test_it_refuses_a_bad_bulk_request_with_a_message_and_decides_nothing(tenant_a: Tenant) -> None:
    rows = incidents(tenant_a, ("wrong_person", "high"))
    client = page_client_for(tenant_a.proctor)
    for body, message in (({"ids": [rows[0].pk], "decision": "maybe"}, b"Decide"),
                          ({"decision": "confirmed"}, b"Select at least one incident"),
                          ({"ids": list(range(1, review.BULK_MAX + 2)), "decision": "confirmed"}, b"at most")):
        response = client.post("/review/bulk", body, follow=True)
        assert response.status_code == 200 and message in response.content, body
    assert client.post("/review/bulk", {"ids": ["1; drop"], "decision": "confirmed"}).status_code == 400
    assert statuses(tenant_a, rows) == [ReviewStatus.PENDING]


def test_it_lets_only_staff_decide_in_bulk(tenant_a: Tenant) -> None:
    response = page_client_for(tenant_a.student).post("/review/bulk", {"ids": [tenant_a.incident.pk],
                                                                       "decision": "dismissed"})
    assert response.status_code == 403
    assert statuses(tenant_a, [tenant_a.incident]) == ["pending"]


def test_it_links_each_timeline_bar_to_the_frames_of_its_moment(tenant_a: Tenant) -> None:
    from proctoring.models import Frame

    with tenancy.tenant_scope(tenant_a.institution):
        Frame.objects.filter(pk=tenant_a.frame.pk).update(status="done", checks=[])
    page = page_client_for(tenant_a.proctor).get(f"/sessions/{tenant_a.session.pk}/report")
    body = page.content.decode()
    pk = tenant_a.incident.pk
    assert f'<a class="tl-link" href="#moment-{pk}"' in body
    moment = body[body.index(f'id="moment-{pk}"'):]
    moment = moment[:moment.index("</details>")]
    assert f'src="/api/v1/frames/{tenant_a.frame.pk}/image"' in moment


def test_it_decides_in_bulk_through_the_api_too(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from tests.conftest import api_client_for

    rows = incidents(tenant_a, ("wrong_person", "high"), ("no_face", "low"))
    client = api_client_for(tenant_a.proctor)
    response = client.post("/api/v1/incidents/review", {"ids": [r.pk for r in rows], "decision": "confirmed"},
                           format="json")
    assert response.status_code == 200, response.content
    assert sorted(i["id"] for i in response.json()) == sorted(r.pk for r in rows)
    assert statuses(tenant_a, rows) == ["confirmed", "confirmed"]
    too_many = client.post("/api/v1/incidents/review", {"ids": list(range(1, review.BULK_MAX + 2)),
                                                        "decision": "confirmed"}, format="json")
    assert too_many.status_code == 400
    foreign = api_client_for(tenant_b.proctor).post("/api/v1/incidents/review",
                                                    {"ids": [rows[0].pk], "decision": "dismissed"}, format="json")
    assert foreign.status_code == 404 and statuses(tenant_a, rows) == ["confirmed", "confirmed"]
    assert api_client_for(tenant_a.student).post("/api/v1/incidents/review", {"ids": [rows[0].pk],
                                                 "decision": "dismissed"}, format="json").status_code == 403


def test_it_reads_the_queue_and_the_live_view_in_the_same_number_of_queries_whatever_the_sessions(
    tenant_a: Tenant,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts import services
    from tests.conftest import api_client_for

    client, api = page_client_for(tenant_a.proctor), api_client_for(tenant_a.proctor)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queue:
            assert client.get("/review/").status_code == 200
        with CaptureQueriesContext(connection) as live:
            assert len(api.get(f"/api/v1/exams/{tenant_a.exam.pk}/live").json()["sessions"]) in (1, 13)
        return len(queue.captured_queries), len(live.captured_queries)

    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(status="in_progress", started_at=timezone.now())

    few = queries()
    for n in range(12):
        student = services.user_create(institution=tenant_a.institution, email=f"s{n}@alpha.test", role="student",
                                       password=PASSWORD, full_name=f"Student {n}")
        with tenancy.tenant_scope(tenant_a.institution):
            session = session_create(exam=tenant_a.exam, student=student)
            ExamSession.objects.filter(pk=session.pk).update(status="in_progress", started_at=timezone.now())
        incidents(tenant_a, ("no_face", "low"), ("tab_hidden", "medium"), session=session)
    assert queries() == few
