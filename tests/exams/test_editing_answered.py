"""Editing an exam that students have answered or are sitting (an audit of an admin's authoring): what they
answered keeps its meaning and its grade, and nobody's time ends under them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import tenancy
from accounts.errors import AppError, Conflict
from exams import authoring, grading, services
from exams.models import Answer, Exam, ExamSession, Question
from exams.statuses import SessionStatus
from tests.conftest import PASSWORD, Tenant, api_client_for, page_client_for
from tests.exams.test_grading import sat

pytestmark = pytest.mark.django_db


def _edit(tenant: Tenant, question: Question, **change: object) -> Question:
    current = {"kind": question.kind, "prompt": question.prompt, "choices": question.choices,
               "correct_choice": question.correct_choice, "points": question.points}
    with tenancy.tenant_scope(tenant.institution):
        return authoring.question_update(question=question, **{**current, **change})


def _score(tenant: Tenant) -> grading.Score:
    with tenancy.tenant_scope(tenant.institution):
        return grading.session_score(ExamSession.objects.get(pk=tenant.session.pk))


def _choice(tenant: Tenant, question: Question) -> int | None:
    with tenancy.tenant_scope(tenant.institution):
        return Answer.objects.get(session=tenant.session, question=question).choice


def test_reordered_options_take_the_answers_with_them(tenant_a: Tenant) -> None:
    _, mc, _ = sat(tenant_a)  # chose "4", the key
    assert _score(tenant_a).earned == 2
    mc = _edit(tenant_a, mc, choices=["5", "4", "3", "6"], correct_choice=1)  # "4" stays the key, moved
    assert _choice(tenant_a, mc) == 1 and _score(tenant_a).earned == 2
    mc = _edit(tenant_a, mc, choices=["4", "5"], correct_choice=0)  # unchosen options removed
    assert _choice(tenant_a, mc) == 0 and _score(tenant_a).earned == 2
    mc = _edit(tenant_a, mc, choices=["four", "5"], correct_choice=0)  # corrected in place: still option 1
    assert _choice(tenant_a, mc) == 0 and _score(tenant_a).earned == 2
    with pytest.raises(Conflict, match="Students chose what this edit removes: option 1"):
        _edit(tenant_a, mc, choices=["5", "6"], correct_choice=0)


def test_an_answer_left_pointing_at_no_option_does_not_block_an_edit(tenant_a: Tenant) -> None:
    _, mc, _ = sat(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):  # (an edit before answers were kept dropped its option)
        Answer.objects.filter(session=tenant_a.session, question=mc).update(choice=7)
    mc = _edit(tenant_a, mc, choices=["5", "4", "3"], correct_choice=1)
    assert _choice(tenant_a, mc) == 7


def test_a_question_answered_keeps_its_type(tenant_a: Tenant) -> None:
    _, mc, short = sat(tenant_a)
    with pytest.raises(Conflict, match="its type cannot change"):
        _edit(tenant_a, short, kind="choice", choices=["a", "b"], correct_choice=0)
    with pytest.raises(Conflict, match="its type cannot change"):
        _edit(tenant_a, mc, kind="text", choices=[], correct_choice=None)


def test_while_students_sit_options_are_only_corrected_in_place_or_added(tenant_a: Tenant) -> None:
    _, mc, _ = sat(tenant_a, submit=False)  # their page shows the options as they were
    with pytest.raises(Conflict, match="sitting this exam right now"):
        _edit(tenant_a, mc, choices=["4", "3", "5"], correct_choice=0)
    mc = _edit(tenant_a, mc, choices=["three", "4", "5", "6"], correct_choice=1)
    assert _choice(tenant_a, mc) == 1 and _score(tenant_a).earned == 2


@pytest.mark.parametrize("choices", [["x", "x"], ["Paris", " paris ", "Lyon"], ["Café", "Cafe\u0301"],
                                     ["Par\u200bis", "Paris"], ["Ⅳ", "IV"]])
def test_two_options_the_same_are_refused(tenant_a: Tenant, choices: list[str]) -> None:
    with tenancy.tenant_scope(tenant_a.institution), pytest.raises(AppError, match="are the same"):
        authoring.question_create(exam=tenant_a.exam, kind="choice", prompt="Capital?", choices=choices,
                                  correct_choice=0)


def test_the_apis_key_error_counts_as_the_api_does(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post(
        f"/api/v1/exams/{tenant_a.exam.pk}/questions",
        {"kind": "choice", "prompt": "?", "choices": ["a", "b"], "correct_choice": 2}, format="json")
    assert response.status_code == 400 and "from 0 (the first option) to 1" in str(response.json())


def test_a_cut_in_time_that_would_end_a_sitting_at_once_is_refused(tenant_a: Tenant) -> None:
    sat(tenant_a, submit=False)
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(started_at=timezone.now() - timedelta(minutes=2))
        exam = Exam.objects.get(pk=tenant_a.exam.pk)
        with pytest.raises(Conflict, match="within a minute for 1 student"):
            services.exam_update(exam=exam, duration_minutes=2)
        with pytest.raises(Conflict, match="within a minute"):
            services.exam_update(exam=exam, closes_at=timezone.now() + timedelta(seconds=30))
        services.exam_update(exam=exam, duration_minutes=5)  # three minutes left: their countdown follows
        assert ExamSession.objects.get(pk=tenant_a.session.pk).status == SessionStatus.IN_PROGRESS


def test_an_earlier_closing_leaves_a_student_at_the_camera_check_a_minute_to_sit_the_exam(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(status=SessionStatus.CHECKING, started_at=None)
        exam = Exam.objects.get(pk=tenant_a.exam.pk)
        with pytest.raises(Conflict, match="within a minute for 1 student") as refused:
            services.exam_update(exam=exam, closes_at=timezone.now() + timedelta(seconds=30))
        assert refused.value.details == {"students": [f"{tenant_a.student.full_name} (at the camera check)"]}
        services.exam_update(exam=exam, duration_minutes=1)  # their time starts when they start: not cut
        services.exam_update(exam=exam, closes_at=timezone.now() + timedelta(minutes=3))
        assert Exam.objects.get(pk=exam.pk).closes_at is not None


@pytest.mark.parametrize("local", ["2027-03-14T02:30:00", "2026-11-01T01:30:00"])
def test_the_api_refuses_a_local_time_the_clocks_skip_or_show_twice(tenant_a: Tenant, local: str) -> None:
    # An audit: the page's form refused both; the API stored the first an hour off and took one of the second's two.
    with tenancy.tenant_scope(tenant_a.institution):
        type(tenant_a.admin).objects.filter(pk=tenant_a.admin.pk).update(time_zone="America/New_York")
    client = api_client_for(tenant_a.admin)
    response = client.post("/api/v1/exams/", {"title": "Finals", "opens_at": local}, format="json")
    assert response.status_code == 400 and "happens twice in America/New_York" in str(response.json())
    with_offset = client.post("/api/v1/exams/", {"title": "Finals", "opens_at": local + "-04:00"}, format="json")
    assert with_offset.status_code == 201


def test_the_right_option_moves_with_its_text_unless_the_edit_says_which(tenant_a: Tenant) -> None:
    # An audit: options reordered took the answers with their text, but the key stayed on its number (the API's
    # PATCH without correct_choice, the page's form with its number as it was): the right answer was marked wrong.
    _, mc, _ = sat(tenant_a)  # chose "4", the key
    url = f"/api/v1/exams/{tenant_a.exam.pk}/questions/{mc.pk}"
    client = api_client_for(tenant_a.admin)
    response = client.patch(url, {"choices": ["5", "3", "4"]}, format="json")
    assert response.status_code == 200 and response.json()["correct_choice"] == 2
    assert _choice(tenant_a, mc) == 2 and _score(tenant_a).earned == 2
    page = page_client_for(tenant_a.admin).post(
        f"/exams/{tenant_a.exam.pk}/questions/{mc.pk}/edit",
        {"kind": "choice", "prompt": "2+2?", "choices": "4\n5\n3", "correct_choice": "3", "points": "2"}, follow=True)
    assert "The right option, “4”, moved with its text: it is now number 1." in page.content.decode()
    assert _score(tenant_a).earned == 2
    response = client.patch(url, {"choices": ["4", "5", "3"], "correct_choice": 1}, format="json")  # said: "5"
    assert response.status_code == 200 and _score(tenant_a).earned == 0
    response = client.patch(url, {"choices": ["4", "3"]}, format="json")  # the key "5" removed, nobody chose it
    assert response.status_code == 400 and "removes the right option (“5”)" in str(response.json())


def test_an_edit_of_some_fields_keeps_the_others_as_stored_now(tenant_a: Tenant) -> None:
    _, mc, _ = sat(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        stale = Question.objects.get(pk=mc.pk)  # read before another admin's edit
    _edit(tenant_a, mc, choices=["3", "4", "5", "6"], correct_choice=1)
    with tenancy.tenant_scope(tenant_a.institution):
        authoring.question_update(question=stale, prompt="What is 2+2?")
        assert Question.objects.get(pk=mc.pk).choices == ["3", "4", "5", "6"]


def _admin_form(exam: Exam, **change: object) -> dict[str, object]:
    form: dict[str, object] = {
        "title": exam.title, "description": exam.description, "duration_minutes": exam.duration_minutes,
        "checks_enabled": json.dumps(exam.checks_enabled), "min_confidence": exam.min_confidence,
        "face_match_threshold": exam.face_match_threshold, "objects_of_interest": json.dumps(exam.objects_of_interest),
        "debounce_frames": exam.debounce_frames, "debounce_seconds": exam.debounce_seconds,
        "capture_interval_seconds": exam.capture_interval_seconds, "speech_window_seconds": exam.speech_window_seconds,
        "speech_max_seconds": exam.speech_max_seconds}
    for name in ("opens_at", "closes_at"):
        when = change.pop(name, getattr(exam, name))
        form[f"{name}_0"] = when.strftime("%Y-%m-%d") if when else ""
        form[f"{name}_1"] = when.strftime("%H:%M:%S") if when else ""
    return {**form, **change}


def test_the_admin_sites_exam_form_makes_the_checks_the_exams_page_makes(tenant_a: Tenant) -> None:
    # An audit: /manage/'s change form saved the model directly: a time limit cut there ended a sitting at once.
    sat(tenant_a, submit=False)
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=tenant_a.session.pk).update(started_at=timezone.now() - timedelta(minutes=2),
                                                                  reminder_sent_at=timezone.now())
        exam = Exam.objects.get(pk=tenant_a.exam.pk)
    client, url = page_client_for(tenant_a.admin), f"/manage/exams/exam/{exam.pk}/change/"
    page = client.post(url, _admin_form(exam, duration_minutes=2))
    assert page.status_code == 200 and "within a minute for 1 student" in page.content.decode()
    with tenancy.tenant_scope(tenant_a.institution):
        assert Exam.objects.get(pk=exam.pk).duration_minutes == exam.duration_minutes
    later = (exam.opens_at or timezone.now()) + timedelta(hours=1)
    page = client.post(url, _admin_form(exam, duration_minutes=30, opens_at=later - timedelta(hours=3)))
    assert page.status_code == 302, page.content.decode()[:3000]
    with tenancy.tenant_scope(tenant_a.institution):
        assert Exam.objects.get(pk=exam.pk).duration_minutes == 30
        assert ExamSession.objects.get(pk=tenant_a.session.pk).reminder_sent_at is None  # rescheduled: reminded again


def test_a_correction_that_reads_as_another_option_is_refused_once_students_answered(tenant_a: Tenant) -> None:
    # A re-audit: ["3", "4", "5"] "corrected" in place to read as each other's options swapped what the answers meant.
    _, mc, _ = sat(tenant_a)  # chose "4"
    with pytest.raises(Conflict, match="Option 1's new text .*reads like option 2"):
        _edit(tenant_a, mc, choices=["4 (four)", "3 (three)", "5"], correct_choice=0)
    mc = _edit(tenant_a, mc, choices=["3", "4 (four)", "5"], correct_choice=1)  # its own text, corrected: fine
    assert _choice(tenant_a, mc) == 1 and _score(tenant_a).earned == 2


def test_the_platform_admins_exam_form_saves_its_own_fields_too(tenant_a: Tenant, tenant_b: Tenant) -> None:
    # Its form has fields the institution's has not (the exam's creator): they were passed to exam_update (a 500).
    # The exam stays in its institution (its sessions and evidence are that institution's).
    root = type(tenant_a.admin).objects.create_superuser("root@platform.test", PASSWORD)
    with tenancy.tenant_scope(tenant_a.institution):
        exam = Exam.objects.get(pk=tenant_a.exam.pk)
    form = {**_admin_form(exam, title="Renamed"), "institution": tenant_b.institution.pk,
            "created_by": tenant_a.proctor.pk}
    page = page_client_for(root).post(f"/platform/exams/exam/{exam.pk}/change/", form)
    assert page.status_code == 302, page.content.decode()[:3000]
    with tenancy.tenant_scope(tenant_a.institution):
        saved = Exam.objects.get(pk=exam.pk)
    assert (saved.title, saved.created_by_id, saved.institution_id) == ("Renamed", tenant_a.proctor.pk,
                                                                         tenant_a.institution.pk)


@pytest.mark.parametrize("choices", [["2³", "23", "3²", "32"], ["H₂O", "H2O"], ["½", "1/2"]])
def test_superscripts_subscripts_and_fractions_are_not_folded_into_other_options(tenant_a: Tenant,
                                                                                 choices: list[str]) -> None:
    # A second re-audit: NFKC made "2³" and "23" the same, and the question was refused.
    with tenancy.tenant_scope(tenant_a.institution):
        authoring.question_create(exam=tenant_a.exam, kind="choice", prompt="?", choices=choices, correct_choice=0)


@pytest.mark.parametrize("choices", [["3", "4", "4.5"], ["3", "4", "four (4)"], ["3", "5.5", "4.5"]])
def test_an_honest_correction_beside_an_option_it_mentions_is_taken(tenant_a: Tenant, choices: list[str]) -> None:
    # A second re-audit: "15 m/s" corrected to "12.5 m/s" beside "5 m/s" was refused as reading like it.
    _, mc, _ = sat(tenant_a)  # ["3", "4", "5"], chose "4"
    mc = _edit(tenant_a, mc, choices=choices, correct_choice=1)
    assert _choice(tenant_a, mc) == 1 and _score(tenant_a).earned == 2


def test_the_form_names_the_right_option_by_its_number_where_its_text_went(tenant_a: Tenant) -> None:
    # A second re-audit: with the right option's text removed and its number left, the form refused, and sending
    # the same number again could never say "number 2, as it is now".
    with tenancy.tenant_scope(tenant_a.institution):
        question = authoring.question_create(exam=tenant_a.exam, kind="choice", prompt="2+2?",
                                             choices=["3", "4-ish", "4"], correct_choice=1)
    page = page_client_for(tenant_a.admin).post(
        f"/exams/{tenant_a.exam.pk}/questions/{question.pk}/edit",
        {"kind": "choice", "prompt": "2+2?", "choices": "3\n4", "correct_choice": "2", "points": "1"}, follow=True)
    assert "number 2, “4”, is now the right option. Check it." in page.content.decode()
    with tenancy.tenant_scope(tenant_a.institution):
        assert Question.objects.get(pk=question.pk).correct_choice == 1
