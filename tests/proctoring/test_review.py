"""Review decisions, the risk score and the reports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import tenancy
from exams.models import AuditEvent, ExamSession
from proctoring.models import Incident
from proctoring.review import incident_review, risk
from tests.conftest import Tenant, api_client_for, page_client_for

pytestmark = pytest.mark.django_db


def test_it_audits_every_review_decision(tenant_a: Tenant) -> None:
    response = page_client_for(tenant_a.proctor).post(f"/incidents/{tenant_a.incident.pk}/",
                                                      {"decision": "confirmed", "note": "Seen twice."})
    assert response.status_code == 302
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(pk=tenant_a.incident.pk)
        event = AuditEvent.objects.get(action="incident.confirmed")
    assert (incident.review_status, incident.reviewed_by, incident.review_note) == (
        "confirmed", tenant_a.proctor, "Seen twice.")
    assert event.actor == tenant_a.proctor and event.data == {"from": "pending", "note": "Seen twice."}


def test_it_refuses_an_unknown_decision(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution), pytest.raises(Exception, match="confirmed"):
        incident_review(incident_id=tenant_a.incident.pk, reviewer=tenant_a.proctor, decision="maybe")


def test_it_explains_the_risk_score(tenant_a: Tenant) -> None:
    now = timezone.now()
    high = Incident(kind="wrong_person", severity="high", started_at=now - timedelta(minutes=5), ended_at=now)
    low = Incident(kind="no_face", severity="low", started_at=now, ended_at=now, review_status="confirmed")
    dismissed = Incident(kind="multiple_faces", severity="medium", started_at=now, review_status="dismissed")
    score, items = risk([high, low, dismissed], now=now)
    assert [item.points for item in items] == [34, 10, 0]
    assert score == 44
    assert items[0].reason == "high severity, lasted 5 min"
    assert items[1].reason == "low severity, confirmed by a reviewer"


def test_lasting_at_most_doubles_an_events_points() -> None:
    # An hour of a low event (a webcam off to the side read as looking away) scored 65, above a second person (30).
    now = timezone.now()
    hour = Incident(kind="looking_away", severity="low", started_at=now - timedelta(minutes=60), ended_at=now)
    minute = Incident(kind="multiple_people", severity="high", started_at=now - timedelta(minutes=1), ended_at=now)
    score, items = risk([hour, minute], now=now)
    assert [item.points for item in items] == [10, 30] and score == 40
    assert items[0].reason == "low severity, lasted 60 min (+5, the most for lasting)"


def test_it_reports_an_exam_as_a_page_and_as_csv(tenant_a: Tenant) -> None:
    page = page_client_for(tenant_a.proctor).get(f"/exams/{tenant_a.exam.pk}/report")
    assert page.status_code == 200 and b"No face" in page.content
    response = page_client_for(tenant_a.admin).get(f"/exams/{tenant_a.exam.pk}/report.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert [(r["email"], r["risk"], r["no_face"], r["unreviewed"], r["check_incidents"]) for r in rows] == [
        ("student@alpha.test", "5", "1", "1", "0")]


def test_the_exam_report_counts_the_exams_incidents_apart_from_the_checks(tenant_a: Tenant) -> None:
    # A clean student's report showed "someone else 2", to review, from the camera check before the exam.
    with tenancy.tenant_scope(tenant_a.institution):
        now = timezone.now()
        for _ in range(2):
            Incident.objects.create(institution=tenant_a.institution, session=tenant_a.session, kind="wrong_person",
                                    severity="high", is_open=False, started_at=now, ended_at=now, during_check=True)
    rows = list(csv.DictReader(io.StringIO(
        page_client_for(tenant_a.admin).get(f"/exams/{tenant_a.exam.pk}/report.csv").content.decode())))
    assert [(r["incidents"], r["unreviewed"], r["wrong_person"], r["check_incidents"]) for r in rows] == [
        ("1", "1", "0", "2")]
    page = page_client_for(tenant_a.admin).get(f"/exams/{tenant_a.exam.pk}/report").content.decode()
    assert "Someone else" not in page and "and 2 from camera checks before the exam" in page
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status="in_progress", started_at=timezone.now())
    live = api_client_for(tenant_a.proctor).get(f"/api/v1/exams/{tenant_a.exam.pk}/live").json()
    assert [s["incident_count"] for s in live["sessions"]] == [1]


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_the_csv_keeps_a_cell_a_spreadsheet_would_run_as_text(tenant_a: Tenant, name: str) -> None:
    name = name.replace("\\t", "\t")
    tenant_a.student.full_name = name
    tenant_a.student.save(update_fields=["full_name"])
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(end_reason="=cmd|' /C calc'!A0")
    rows = list(csv.DictReader(io.StringIO(
        page_client_for(tenant_a.admin).get(f"/exams/{tenant_a.exam.pk}/report.csv").content.decode())))
    assert [(r["student"], r["end_reason"]) for r in rows] == [("'" + name, "'=cmd|' /C calc'!A0")]


def test_a_session_that_never_began_has_no_score_in_the_report(tenant_a: Tenant) -> None:
    # Not 0 points and "graded": the student has not sat the exam.
    assert tenant_a.session.started_at is None
    rows = list(csv.DictReader(io.StringIO(
        page_client_for(tenant_a.admin).get(f"/exams/{tenant_a.exam.pk}/report.csv").content.decode())))
    assert [(r["score"], r["graded"]) for r in rows] == [("", "not sat")]
    page = page_client_for(tenant_a.admin).get(f"/exams/{tenant_a.exam.pk}/report").content.decode()
    assert "not sat" in page and "score-link" not in page
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(started_at=timezone.now())
    rows = list(csv.DictReader(io.StringIO(
        page_client_for(tenant_a.admin).get(f"/exams/{tenant_a.exam.pk}/report.csv").content.decode())))
    assert [(r["score"], r["graded"]) for r in rows] == [("0", "graded")]


def test_it_lists_live_sessions_for_proctors(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        from exams.services import session_transition

        session_transition(session_id=tenant_a.session.pk, to="checking", actor=tenant_a.student)
    data = api_client_for(tenant_a.proctor).get(f"/api/v1/exams/{tenant_a.exam.pk}/live").json()
    assert [(s["session"], s["status"]) for s in data["sessions"]] == [(tenant_a.session.pk, "checking")]
    assert [i["kind"] for i in data["sessions"][0]["incidents"]] == ["no_face"]


def test_the_incident_page_shows_how_long_it_lasted_and_every_decision_with_its_note(tenant_a: Tenant) -> None:
    # An audit: confirmed, then dismissed, then overturned on appeal, the page kept the last note only, and no page
    # showed the audit log; nor did any say how long an incident lasted.
    from tests.proctoring.conftest import appealed

    Incident.unscoped.filter(pk=tenant_a.incident.pk).update(
        started_at=timezone.now() - timedelta(seconds=134), ended_at=timezone.now(), is_open=False)
    appeal = appealed(tenant_a, note="The second face was a poster.")  # confirmed, "A second face beside yours."
    proctor = page_client_for(tenant_a.proctor)
    proctor.post(f"/appeals/{appeal.pk}/", {"decision": "overturned", "note": "A poster, as the student says."})
    page = proctor.get(f"/incidents/{tenant_a.incident.pk}/").content.decode()
    assert 'id="lasted">2 min 14 s' in page
    history = page[page.index('id="history"'):]
    history = history[:history.index("</ol>")]
    steps = ["confirmed it: “A second face beside yours.”", "appealed: “The second face was a poster.”",
             "overturned it on appeal: “A poster, as the student says.”",
             f"dismissed it: “Overturned on appeal #{appeal.pk}: A poster, as the student says.”"]
    assert all(step in history for step in steps), history
    assert [history.index(step) for step in steps] == sorted(history.index(step) for step in steps)


def test_after_a_decision_the_same_students_next_incident_comes_first(tenant_a: Tenant) -> None:
    # An audit: "next" went to the newest pending incident anywhere, another student's.
    from tests.proctoring.conftest import start_session

    with tenancy.tenant_scope(tenant_a.institution):
        same = Incident.objects.create(institution=tenant_a.institution, session=tenant_a.session, kind="looking_away",
                                       severity="low", started_at=timezone.now() - timedelta(hours=1))
        other_session = start_session(tenant_a)
        Incident.objects.create(institution=tenant_a.institution, session=other_session, kind="tab_hidden",
                                severity="low", started_at=timezone.now())  # newer: first in the queue
    response = page_client_for(tenant_a.proctor).post(f"/incidents/{tenant_a.incident.pk}/",
                                                      {"decision": "dismissed", "note": ""})
    assert response.url == f"/incidents/{same.pk}/"


def test_a_long_incident_kind_is_cut_to_the_timelines_label_column_with_its_whole_name_as_tooltip(
        tenant_a: Tenant) -> None:
    # An audit: "Face not clear enough to verify" ran under the timeline's first bar.
    Incident.unscoped.filter(pk=tenant_a.incident.pk).update(kind="face_not_verifiable")
    page = page_client_for(tenant_a.proctor).get(f"/sessions/{tenant_a.session.pk}/report").content.decode()
    assert 'class="tl-label"><title>Face not clear enough to verify</title>Face not clear enough…</text>' in page


def test_the_session_report_names_the_student_and_each_decision_with_its_reviewer_and_note(tenant_a: Tenant) -> None:
    # An audit: the printed report had no student number or email, nor who decided an incident and why.
    from accounts.models import User

    User.objects.filter(pk=tenant_a.student.pk).update(student_number="S-2041")
    with tenancy.tenant_scope(tenant_a.institution):
        incident_review(incident_id=tenant_a.incident.pk, reviewer=tenant_a.proctor, decision="confirmed",
                        note="Looked down at a phone for a minute.")
    page = page_client_for(tenant_a.proctor).get(f"/sessions/{tenant_a.session.pk}/report").content.decode()
    facts = page[page.index('id="student-facts"'):]
    assert facts.index(tenant_a.student.email) < facts.index("S-2041") < facts.index("</p>")
    items = page[page.index('id="risk-items"'):]
    assert f"Confirmed by {tenant_a.proctor}" in items and "“Looked down at a phone for a minute.”" in items
