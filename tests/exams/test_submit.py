"""Submitting the exam page's form saves the answers it carries, then submits, in one transaction."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts import tenancy
from accounts.errors import Conflict
from exams import services, taking
from exams.models import Answer, ExamSession
from exams.statuses import SessionStatus
from proctoring.models import Frame
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.exams.test_taking import questions, running

pytestmark = pytest.mark.django_db


def answers_of(tenant: Tenant, session: ExamSession) -> dict[int, tuple[int | None, str]]:
    with tenancy.tenant_scope(tenant.institution):
        session.refresh_from_db()
        return {a.question_id: (a.choice, a.text) for a in Answer.objects.filter(session=session)}


def test_it_saves_the_values_the_submit_form_carries(tenant_a: Tenant) -> None:
    session = running(tenant_a)
    choice, text = questions(tenant_a)
    # An autosave that arrived earlier holds an older value: the form's current value wins.
    api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/answers",
                                          {"question": text.pk, "value": "First draft."}, format="json")
    response = page_client_for(tenant_a.student).post(
        f"/sessions/{session.pk}/submit", {f"q{choice.pk}": "1", f"q{text.pk}": "Final answer.", "other": "x"})
    assert response.status_code == 302
    assert answers_of(tenant_a, session) == {choice.pk: (1, ""), text.pk: (None, "Final answer.")}
    assert session.status == SessionStatus.SUBMITTED


def test_of_two_answers_to_a_question_the_one_given_later_is_kept_whichever_arrives_last(tenant_a: Tenant) -> None:
    # An audit: the exam open in two windows, the older window's answers overwrote those given since in the newer.
    session = running(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):  # begun a few minutes ago
        ExamSession.objects.filter(pk=session.pk).update(started_at=session.started_at - timedelta(minutes=5))
    choice, text = questions(tenant_a)
    client, now = api_client_for(tenant_a.student), timezone.now()

    def save(value: object, at: datetime | None = None) -> Any:
        body = {"question": text.pk, "value": value} | ({"answered_at": at.isoformat()} if at else {})
        return client.post(f"/api/v1/sessions/{session.pk}/answers", body, format="json").json()

    assert save("Newer.", now - timedelta(seconds=1))["kept_newer"] is False
    older = save("Older.", now - timedelta(seconds=10))
    assert older["kept_newer"] is True and older["value"] == "Newer."
    assert older["answered_at"] == (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert answers_of(tenant_a, session) == {text.pk: (None, "Newer.")}
    assert save("No time given: now.")["kept_newer"] is False
    assert answers_of(tenant_a, session) == {text.pk: (None, "No time given: now.")}
    # Before the exam started: never a time the page sends (year 1 in one time zone is out of range in another).
    before = client.post(f"/api/v1/sessions/{session.pk}/answers",
                         {"question": text.pk, "value": "Year 1.", "answered_at": "0001-01-01T00:00:00Z"},
                         format="json")
    assert before.status_code == 400 and before.json()["error"]["details"] == {
        "answered_at": ["Earlier than the exam's start."]}

    # The submit form says when each answer was given (the exam page: as it was sent, or when changed there): an
    # older window's form keeps what was answered since; a time it cannot read counts as now.
    with tenancy.tenant_scope(tenant_a.institution):
        given = Answer.objects.get(session=session, question=text).given_at
    response = page_client_for(tenant_a.student).post(f"/sessions/{session.pk}/submit", {
        f"q{text.pk}": "", f"t{text.pk}": (given - timedelta(seconds=30)).isoformat(),
        f"q{choice.pk}": "1", f"t{choice.pk}": "0001-01-01T00:00:00+01:00",  # (it was a 500: out of range)
        "t999999": "2026-13-45T00:00:00+00:00"})  # a 13th month
    assert response.status_code == 302
    assert answers_of(tenant_a, session) == {text.pk: (None, "No time given: now."), choice.pk: (1, "")}
    assert session.status == SessionStatus.SUBMITTED


def test_it_records_no_answer_for_an_untouched_text_question(tenant_a: Tenant) -> None:
    session = running(tenant_a)
    choice, text = questions(tenant_a)
    page_client_for(tenant_a.student).post(f"/sessions/{session.pk}/submit", {f"q{text.pk}": ""})
    assert answers_of(tenant_a, session) == {}
    assert session.status == SessionStatus.SUBMITTED


def test_it_saves_nothing_and_stays_in_progress_when_a_sent_answer_is_invalid(tenant_a: Tenant) -> None:
    session = running(tenant_a)
    choice, text = questions(tenant_a)
    client = page_client_for(tenant_a.student)
    response = client.post(f"/sessions/{session.pk}/submit", {f"q{text.pk}": "Kept?", f"q{choice.pk}": "7"},
                           follow=True)
    assert response.status_code == 200 and b"Pick one of the options." in response.content
    assert answers_of(tenant_a, session) == {}
    assert session.status == SessionStatus.IN_PROGRESS
    response = client.post(f"/sessions/{session.pk}/submit", {f"q{choice.pk}": "one"}, follow=True)
    assert response.status_code == 200 and session.status == SessionStatus.IN_PROGRESS


def test_it_refuses_answers_for_another_exams_question(tenant_a: Tenant, tenant_b: Tenant) -> None:
    session = running(tenant_a)
    others = running(tenant_b)
    foreign = questions(tenant_b)[1]
    page_client_for(tenant_a.student).post(f"/sessions/{session.pk}/submit", {f"q{foreign.pk}": "Mine now"})
    assert answers_of(tenant_b, others) == {}
    assert answers_of(tenant_a, session) == {} and session.status == SessionStatus.IN_PROGRESS


def test_it_ignores_form_values_after_time_ran_out(tenant_a: Tenant) -> None:
    from datetime import timedelta

    session = running(tenant_a)
    choice, _ = questions(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=session.pk).update(started_at=session.started_at - timedelta(hours=5))
    response = page_client_for(tenant_a.student).post(f"/sessions/{session.pk}/submit", {f"q{choice.pk}": "1"},
                                                      follow=True)
    assert b"Time ran out" in response.content
    assert answers_of(tenant_a, session) == {} and session.status == SessionStatus.EXPIRED


def test_it_refuses_a_nul_byte_in_a_submitted_answer(tenant_a: Tenant) -> None:
    session = running(tenant_a)
    _, text = questions(tenant_a)
    response = page_client_for(tenant_a.student).post(f"/sessions/{session.pk}/submit",
                                                      {f"q{text.pk}": "bad\x00text"}, follow=True)
    # RejectUnstorableTextMiddleware refuses the form before the view: a page with the reason, nothing saved.
    assert response.status_code == 400 and b"NUL" in response.content
    assert answers_of(tenant_a, session) == {} and session.status == SessionStatus.IN_PROGRESS


@pytest.mark.django_db(transaction=True)  # two connections: each thread its own
def test_it_submits_while_a_frame_analysis_writes(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame's results are written while the student's submit is under way: each waits its turn. On
    SQLite a transaction that has read and then writes (the submit's answers) while another connection
    holds the write lock failed at once with "database is locked" — a 500 where the student submits,
    seen in CI — unless transactions take the write lock as they begin (``transaction_mode``)."""
    session = running(tenant_a)
    choice, text = questions(tenant_a)
    submitting, wrote, failures = threading.Event(), threading.Event(), []

    def analyse_a_frame() -> None:
        try:
            assert submitting.wait(10)
            with tenancy.tenant_scope(tenant_a.institution), transaction.atomic():
                Frame.objects.filter(pk=tenant_a.frame.pk).update(status=tenant_a.frame.status)
                wrote.set()
                time.sleep(0.3)  # the engine's results, stage by stage
        except Exception as error:  # noqa: BLE001 - the test reports it
            failures.append(error)
        finally:
            connection.close()

    real_answer_save = taking.answer_save

    def answer_save_once_the_frame_is_written(**kwargs: object) -> object:
        # Inside the submit's transaction, after its first reads: the worker writes now. Where the
        # submit holds the write lock already, the worker waits for it and this wait times out.
        if not submitting.is_set():
            submitting.set()
            wrote.wait(1)
        return real_answer_save(**kwargs)

    monkeypatch.setattr(taking, "answer_save", answer_save_once_the_frame_is_written)
    writer = threading.Thread(target=analyse_a_frame)
    writer.start()
    response = page_client_for(tenant_a.student).post(
        f"/sessions/{session.pk}/submit", {f"q{choice.pk}": "1", f"q{text.pk}": "Kept."})
    writer.join(10)
    assert failures == []
    assert response.status_code == 302
    assert answers_of(tenant_a, session) == {choice.pk: (1, ""), text.pk: (None, "Kept.")}
    assert session.status == SessionStatus.SUBMITTED


@pytest.mark.parametrize("end", ["submit", "terminate"])
def test_an_answer_read_before_the_exam_ended_is_refused_after_it(tenant_a: Tenant, end: str) -> None:
    # A save whose request read the session while it ran, and reaches the database after a submit or a proctor's
    # end (the body held back, or merely slow), must not change the answers of an exam that is over.
    session = running(tenant_a)
    _, text = questions(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        stale = ExamSession.objects.get(pk=session.pk)
        if end == "submit":
            taking.session_submit(session=ExamSession.objects.get(pk=session.pk), student=tenant_a.student)
        else:
            services.session_end(session_id=session.pk, actor=tenant_a.proctor, reason="Ended by the proctor.")
        with pytest.raises(Conflict):
            taking.answer_save(session=stale, question_id=text.pk, value="Changed after the end.")
        assert not Answer.objects.filter(session=session, text="Changed after the end.").exists()


def _past_deadline(tenant: Tenant, session: ExamSession, *, by: timedelta) -> datetime:
    """Move the session's start back so that its deadline was ``by`` ago; answers the deadline."""
    with tenancy.tenant_scope(tenant.institution):
        session.refresh_from_db()
        ExamSession.objects.filter(pk=session.pk).update(
            started_at=session.started_at - (session.deadline - timezone.now()) - by)
        session.refresh_from_db()
        return session.deadline


def test_an_answer_given_offline_before_the_deadline_is_taken_for_a_few_minutes_after_it(tenant_a: Tenant) -> None:
    # An audit: offline for the last minute, the answers typed then were refused (409) once the connection came back.
    session = running(tenant_a)
    choice, text = questions(tenant_a)
    client = api_client_for(tenant_a.student)
    client.post(f"/api/v1/sessions/{session.pk}/answers", {"question": text.pk, "value": "Online."}, format="json")
    deadline = _past_deadline(tenant_a, session, by=timedelta(seconds=20))

    def save(question: int, value: object, at: datetime) -> Any:
        return client.post(f"/api/v1/sessions/{session.pk}/answers",
                           {"question": question, "value": value, "answered_at": at.isoformat()}, format="json")

    given = save(choice.pk, 1, deadline - timedelta(seconds=30))
    assert given.status_code == 200 and given.json()["sent_late"] is True
    assert save(text.pk, "Typed after the deadline.", deadline + timedelta(seconds=1)).status_code == 409
    assert client.post(f"/api/v1/sessions/{session.pk}/answers", {"question": text.pk, "value": "No time given."},
                       format="json").status_code == 409
    assert save(text.pk, "From the future.", timezone.now() + timedelta(minutes=1)).status_code == 400
    assert save(text.pk, "Older than the saved one.", deadline - timedelta(minutes=29)).status_code == 200
    assert answers_of(tenant_a, session) == {choice.pk: (1, ""), text.pk: (None, "Online.")}  # the later one kept
    assert session.status == SessionStatus.EXPIRED
    staff = api_client_for(tenant_a.proctor).get(f"/api/v1/sessions/{session.pk}/answers").json()["answers"]
    assert {row["question"]: row["sent_late"] for row in staff} == {choice.pk: True, text.pk: False}
    page = page_client_for(tenant_a.admin).get(f"/sessions/{session.pk}/answers").content.decode()
    assert page.count("Saved after the deadline") == 1

    # A time the server's evidence contradicts: a frame arrived before the deadline well after it (the browser was
    # online then, and an answer given then would have come then).
    with tenancy.tenant_scope(tenant_a.institution):
        Frame.objects.create(institution=tenant_a.institution, session=session, received_at=deadline - timedelta(
            seconds=5), captured_at=deadline - timedelta(seconds=5))
    refused = save(text.pk, "Claimed a minute early.", deadline - timedelta(seconds=60))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "online_after_answer"
    assert save(text.pk, "Just before that frame.", deadline - timedelta(seconds=12)).status_code == 200
    deadline = _past_deadline(tenant_a, session, by=taking.LATE_ANSWERS + timedelta(seconds=5))
    assert save(choice.pk, 0, deadline - timedelta(seconds=5)).status_code == 409  # too late even for that
