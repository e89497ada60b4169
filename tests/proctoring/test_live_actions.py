"""The live view's actions: a proctor's message to a student (shown on the exam page until acknowledged)
and ending a session with a reason the student sees; both audited, both tenant- and role-checked."""

from __future__ import annotations

import base64

import pytest

from accounts import services as account_services
from accounts import tenancy
from accounts.audit import AuditEvent
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring.messages import PENDING_MAX
from proctoring.models import ProctorMessage
from tests.conftest import PASSWORD, Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import image, start_session

pytestmark = pytest.mark.django_db


def audited(tenant: Tenant, action: str) -> list[AuditEvent]:
    with tenancy.tenant_scope(tenant.institution):
        return list(AuditEvent.objects.filter(action=action))


def test_it_sends_a_message_the_student_sees_until_acknowledging_it(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    sent = api_client_for(tenant_a.proctor).post(f"/api/v1/sessions/{session.pk}/messages",
                                                 {"text": "  Please face the camera.  "}, format="json")
    assert sent.status_code == 201, sent.content
    message_id = sent.json()["id"]
    student = api_client_for(tenant_a.student)
    inbox = student.get(f"/api/v1/sessions/{session.pk}/messages").json()
    assert inbox["status"] == "in_progress" and inbox["end_reason"] == ""
    assert [(m["id"], m["text"]) for m in inbox["messages"]] == [(message_id, "Please face the camera.")]
    [event] = audited(tenant_a, "session.message")
    assert event.actor == tenant_a.proctor and event.data == {"message": message_id, "text": "Please face the camera."}
    assert student.post(f"/api/v1/messages/{message_id}/ack").status_code == 200
    assert student.post(f"/api/v1/messages/{message_id}/ack").status_code == 200  # again: nothing changes
    assert student.get(f"/api/v1/sessions/{session.pk}/messages").json()["messages"] == []
    assert len(audited(tenant_a, "session.message_acknowledged")) == 1
    # Staff still see it, acknowledged.
    [seen] = api_client_for(tenant_a.proctor).get(f"/api/v1/sessions/{session.pk}/messages").json()["messages"]
    assert seen["acknowledged_at"] is not None


def test_each_frame_the_student_sends_brings_their_inbox_so_the_exam_page_need_not_poll(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The frame's 202 answers what the message poll does (static/js/exam.js readInbox): the student's own
    unacknowledged messages, the session's status and its deadline with the student's extra time."""
    from exams.models import Accommodation

    monkeypatch.setattr("proctoring.services.enqueue_analysis", lambda frame_id: True)
    session = start_session(tenant_a)
    Accommodation.unscoped.create(institution=tenant_a.institution, student=tenant_a.student, extra_minutes=15,
                                  reason="test")
    sent = api_client_for(tenant_a.proctor).post(f"/api/v1/sessions/{session.pk}/messages",
                                                 {"text": "Please face the camera."}, format="json").json()
    student = api_client_for(tenant_a.student)
    payload = {"image": base64.b64encode(image("signer1_b.jpg")).decode(), "session": session.pk}

    queued = student.post("/process", payload, format="json")

    assert queued.status_code == 202, queued.content
    polled = student.get(f"/api/v1/sessions/{session.pk}/messages").json()
    inbox = queued.json()["inbox"]
    assert inbox == polled
    assert [m["id"] for m in inbox["messages"]] == [sent["id"]] and inbox["status"] == "in_progress"
    session.refresh_from_db()
    assert inbox["deadline"] == session.deadline.isoformat().replace("+00:00", "Z")
    assert session.extra_time.total_seconds() == 15 * 60  # the deadline counts the accommodation
    assert student.post(f"/api/v1/messages/{sent['id']}/ack").status_code == 200
    payload["captured_at"] = session.started_at.isoformat()  # another frame (one per capture time)
    again = student.post("/process", payload, format="json")
    assert again.status_code == 202 and again.json()["inbox"]["messages"] == []
    # At the camera check nothing reads it: its frames go without (and without the query).
    checking = start_session(tenant_a, until=SessionStatus.CHECKING)
    at_check = student.post("/process", {**payload, "session": checking.pk, "captured_at": None}, format="json")
    assert at_check.status_code == 202 and "inbox" not in at_check.json()


def test_it_refuses_an_empty_or_long_message_and_one_to_a_session_that_is_not_running(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    proctor = api_client_for(tenant_a.proctor)
    for body in ({"text": "   "}, {"text": "x" * 501}, {}, {"text": "hi", "extra": 1}):
        response = proctor.post(f"/api/v1/sessions/{session.pk}/messages", body, format="json")
        assert response.status_code == 400, body
    scheduled = proctor.post(f"/api/v1/sessions/{tenant_a.session.pk}/messages", {"text": "hi"}, format="json")
    assert scheduled.status_code == 409 and scheduled.json()["error"]["code"] == "session_not_running"
    with tenancy.tenant_scope(tenant_a.institution):
        assert ProctorMessage.objects.count() == 0


def test_it_caps_the_messages_waiting_for_the_student(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    proctor = api_client_for(tenant_a.proctor)
    for n in range(PENDING_MAX):
        assert proctor.post(f"/api/v1/sessions/{session.pk}/messages", {"text": f"m{n}"},
                            format="json").status_code == 201
    over = proctor.post(f"/api/v1/sessions/{session.pk}/messages", {"text": "one more"}, format="json")
    assert over.status_code == 409 and over.json()["error"]["code"] == "too_many_messages"


def test_it_lets_only_staff_send_and_only_the_sessions_student_acknowledge(
    tenant_a: Tenant, tenant_b: Tenant,
) -> None:
    session = start_session(tenant_a)
    student = api_client_for(tenant_a.student)
    assert student.post(f"/api/v1/sessions/{session.pk}/messages", {"text": "hi"}, format="json").status_code == 403
    message_id = api_client_for(tenant_a.admin).post(f"/api/v1/sessions/{session.pk}/messages", {"text": "hi"},
                                                     format="json").json()["id"]
    assert api_client_for(tenant_a.proctor).post(f"/api/v1/messages/{message_id}/ack").status_code == 403
    classmate = account_services.user_create(institution=tenant_a.institution, email="classmate@alpha.test",
                                             role="student", password=PASSWORD, full_name="Classmate")
    assert api_client_for(classmate).post(f"/api/v1/messages/{message_id}/ack").status_code == 404
    assert api_client_for(classmate).get(f"/api/v1/sessions/{session.pk}/messages").status_code == 404
    assert api_client_for(tenant_b.student).post(f"/api/v1/messages/{message_id}/ack").status_code == 404
    assert api_client_for(tenant_b.proctor).post(f"/api/v1/sessions/{session.pk}/messages", {"text": "hi"},
                                                 format="json").status_code == 404
    assert api_client_for(tenant_b.student).get(f"/api/v1/sessions/{session.pk}/messages").status_code == 404


def test_it_ends_a_session_with_a_reason_the_student_sees_and_audits_it(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    proctor = api_client_for(tenant_a.proctor)
    refused = proctor.post(f"/api/v1/sessions/{session.pk}/end", {"reason": "  "}, format="json")
    assert refused.status_code == 400
    ended = proctor.post(f"/api/v1/sessions/{session.pk}/end", {"reason": "A phone in view twice."}, format="json")
    assert ended.status_code == 200, ended.content
    assert (ended.json()["status"], ended.json()["end_reason"]) == ("terminated", "A phone in view twice.")
    [transition] = [e for e in audited(tenant_a, "session.transition") if e.data["to"] == "terminated"]
    [end] = audited(tenant_a, "session.end")
    assert transition.actor == end.actor == tenant_a.proctor and end.data == {"reason": "A phone in view twice."}
    inbox = api_client_for(tenant_a.student).get(f"/api/v1/sessions/{session.pk}/messages").json()
    assert (inbox["status"], inbox["end_reason"]) == ("terminated", "A phone in view twice.")
    done = page_client_for(tenant_a.student).get(f"/sessions/{session.pk}/done")
    assert b"Your session was ended by a proctor: A phone in view twice." in done.content
    # Staff read the reason in the session's report and the exam's CSV, not only the student.
    report = page_client_for(tenant_a.admin).get(f"/sessions/{session.pk}/report").content.decode()
    assert "ended by a proctor: A phone in view twice." in report
    exported = page_client_for(tenant_a.admin).get(f"/exams/{session.exam_id}/report.csv").content.decode()
    assert "A phone in view twice." in exported
    again = proctor.post(f"/api/v1/sessions/{session.pk}/end", {"reason": "again"}, format="json")
    assert again.status_code == 409  # through the transition table: terminated is final


def test_it_lets_only_staff_of_the_institution_end_a_session(tenant_a: Tenant, tenant_b: Tenant) -> None:
    session = start_session(tenant_a)
    body = {"reason": "x"}
    assert api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/end", body,
                                                 format="json").status_code == 403
    assert api_client_for(tenant_b.proctor).post(f"/api/v1/sessions/{session.pk}/end", body,
                                                 format="json").status_code == 404
    with tenancy.tenant_scope(tenant_a.institution):
        assert ExamSession.objects.get(pk=session.pk).status == SessionStatus.IN_PROGRESS


def test_it_forgets_the_end_reason_when_an_admin_unlocks_the_session(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    api_client_for(tenant_a.proctor).post(f"/api/v1/sessions/{session.pk}/end", {"reason": "Gone"}, format="json")
    unlocked = api_client_for(tenant_a.admin).post(f"/api/v1/sessions/{session.pk}/unlock",
                                                   {"minutes": 5, "reason": "Wrong student"}, format="json")
    assert unlocked.status_code == 200 and unlocked.json()["end_reason"] == ""


def test_it_shows_time_left_frame_age_and_incident_counts_on_the_live_tiles(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    [tile] = api_client_for(tenant_a.proctor).get(f"/api/v1/exams/{session.exam_id}/live").json()["sessions"]
    assert 59 * 60 <= tile["seconds_left"] <= 60 * 60  # the exam's 60 minutes
    assert (tile["frame_age_seconds"], tile["incident_count"], tile["risk"]) == (None, 0, 0)


def test_it_checks_the_reason_and_the_role_in_the_services_themselves(tenant_a: Tenant) -> None:
    from accounts.errors import AppError
    from exams.services import session_end
    from proctoring.messages import message_send

    session = start_session(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        with pytest.raises(AppError, match="Say why"):
            session_end(session_id=session.pk, actor=tenant_a.proctor, reason="   ")
        with pytest.raises(AppError, match="Only staff end"):
            session_end(session_id=session.pk, actor=tenant_a.student, reason="I give up")
        with pytest.raises(AppError, match="Only staff send"):
            message_send(session=session, actor=tenant_a.student, text="hello")
        assert ExamSession.objects.get(pk=session.pk).status == SessionStatus.IN_PROGRESS
        assert ProctorMessage.objects.count() == 0
