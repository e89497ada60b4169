"""Institution-admin pages for exams: list, create, edit (schedule, policy), questions, publishing, enrolment."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import AppError
from accounts.models import Role, User
from accounts.pages import admin_page, form_data, show_error
from accounts.selectors import has_reference_face
from exams import accommodations, authoring, services
from exams.forms import AccommodationForm, EnrolForm, ExamForm, QuestionForm
from exams.grading import exam_scores
from exams.models import Exam, ExamSession, ExamStatus, Question
from exams.selectors import students_without_reference


def _exam(pk: int) -> Exam:
    return get_object_or_404(Exam.objects.all(), pk=pk)


@admin_page
def exam_list(request: HttpRequest) -> HttpResponse:
    exams = Exam.objects.annotate(
        question_count=Count("questions", distinct=True), enrolled_count=Count("sessions", distinct=True)
    )
    return render(request, "manage/exam_list.html", {"exams": exams, "section": "exams"})


@admin_page
@require_http_methods(["GET", "POST"])
def exam_new(request: HttpRequest) -> HttpResponse:
    form = ExamForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            exam = services.exam_create(actor=request.user, **form.cleaned_data)
        except AppError as error:
            show_error(form, error)
        else:
            messages.success(request, f"Exam “{exam.title}” created. Now add its questions.")
            return redirect("manage-exam-questions", pk=exam.pk)
    return render(request, "manage/exam_form.html", {"form": form, "section": "exams"})


@admin_page
@require_http_methods(["GET", "POST"])
def exam_edit(request: HttpRequest, pk: int) -> HttpResponse:
    exam = _exam(pk)
    form = ExamForm(form_data(request), initial=ExamForm.initial_for(exam))
    if request.method == "POST" and form.is_valid():
        try:
            services.exam_update(exam=exam, **form.cleaned_data)
        except AppError as error:
            show_error(form, error)
        else:
            messages.success(request, "Exam saved.")
            return redirect("manage-exam-edit", pk=exam.pk)
    return render(request, "manage/exam_form.html", {"form": form, "exam": exam, "section": "exams"})


@admin_page
@require_http_methods(["GET", "POST"])
def exam_questions(request: HttpRequest, pk: int) -> HttpResponse:
    """The exam's questions in order, with an add form; POST ``move`` reorders one question."""
    exam = _exam(pk)
    if request.method == "POST" and "move" in request.POST:
        return _move_question(request, exam)
    form = QuestionForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            authoring.question_create(exam=exam, **form.service_arguments())
        except AppError as error:
            show_error(form, error)
        else:
            messages.success(request, "Question added.")
            return redirect("manage-exam-questions", pk=exam.pk)
    questions = Question.objects.filter(exam=exam)
    return render(request, "manage/exam_questions.html",
                  {"exam": exam, "questions": questions, "form": form, "section": "exams"})


def _move_question(request: HttpRequest, exam: Exam) -> HttpResponse:
    question_id, _, direction = request.POST["move"].partition(":")
    if not question_id.isdigit() or direction not in ("up", "down"):
        messages.error(request, "That move was not understood.")
        return redirect("manage-exam-questions", pk=exam.pk)
    question = get_object_or_404(Question.objects.filter(exam=exam), pk=int(question_id))
    authoring.question_move(question=question, offset=-1 if direction == "up" else 1)
    return redirect("manage-exam-questions", pk=exam.pk)


def _question(exam_pk: int, pk: int) -> tuple[Exam, Question]:
    exam = _exam(exam_pk)
    return exam, get_object_or_404(Question.objects.filter(exam=exam), pk=pk)


@admin_page
@require_http_methods(["GET", "POST"])
def question_edit(request: HttpRequest, pk: int, qpk: int) -> HttpResponse:
    exam, question = _question(pk, qpk)
    form = QuestionForm(form_data(request), initial=QuestionForm.initial_for(question))
    if request.method == "POST" and form.is_valid():
        try:
            asked = form.service_arguments()
            try:
                question = authoring.question_update(question=question, **asked)
            except AppError as error:
                # The right option's text is gone and its number was left as it was: the number names it (a
                # re-audit: refused, the form could never say "number 2, as it is now").
                if asked["correct_choice"] is not services.KEEP or error.code != "key_removed":
                    raise
                asked["correct_choice"] = form.cleaned_data["correct_choice"] - 1
                question = authoring.question_update(question=question, **asked)
                messages.warning(request, f"The right option's text is gone: number {asked['correct_choice'] + 1}, "
                                          f"“{question.choices[asked['correct_choice']]}”, is now the right option. "
                                          "Check it.")
        except AppError as error:
            show_error(form, error)
        else:
            messages.success(request, f"Question {question.position} saved.")
            if asked["correct_choice"] is services.KEEP and question.correct_choice is not None and \
                    question.correct_choice + 1 != form.cleaned_data["correct_choice"]:
                messages.info(request, f"The right option, “{question.choices[question.correct_choice]}”, moved with "
                                       f"its text: it is now number {question.correct_choice + 1}.")
            return redirect("manage-exam-questions", pk=exam.pk)
    return render(request, "manage/question_form.html",
                  {"exam": exam, "question": question, "form": form, "section": "exams"})


@admin_page
@require_http_methods(["GET", "POST"])
def question_delete(request: HttpRequest, pk: int, qpk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    exam, question = _question(pk, qpk)
    if request.method == "POST":
        try:
            authoring.question_delete(question=question)
        except AppError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Question deleted.")
        return redirect("manage-exam-questions", pk=exam.pk)
    return render(request, "manage/question_delete.html", {"exam": exam, "question": question, "section": "exams"})


@admin_page
@require_http_methods(["GET", "POST"])
def exam_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the exam and erases its sessions' biometric data everywhere."""
    exam = _exam(pk)
    if request.method == "POST":
        services.exam_delete(exam=exam, actor=request.user)
        messages.success(request, f"“{exam.title}” deleted, with its sessions and their frames.")
        return redirect("manage-exams")
    return render(request, "manage/exam_delete.html", {
        "exam": exam, "section": "exams", "sessions": ExamSession.objects.filter(exam=exam).count(),
    })


@admin_page
@require_http_methods(["GET", "POST"])
def session_delete(request: HttpRequest, pk: int, spk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes one student's session (answers, frames, incidents)."""
    exam = _exam(pk)
    session = get_object_or_404(ExamSession.objects.filter(exam=exam).select_related("student"), pk=spk)
    if request.method == "POST":
        services.session_delete(session=session, actor=request.user)
        messages.success(request, f"The session of {session.student} was deleted, with its frames.")
        return redirect("manage-exam-enrolments", pk=exam.pk)
    return render(request, "manage/session_delete.html", {"exam": exam, "session": session, "section": "exams"})


PUBLISH_ACTIONS = {"publish": ExamStatus.PUBLISHED, "unpublish": ExamStatus.DRAFT, "archive": ExamStatus.ARCHIVED}


@admin_page
@require_http_methods(["GET", "POST"])
def exam_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """GET shows what publishing means for this exam; POST ``action`` publishes, unpublishes or archives."""
    exam = _exam(pk)
    if request.method == "POST":
        to = PUBLISH_ACTIONS.get(request.POST.get("action", ""))
        if to is None:
            messages.error(request, "Choose publish, unpublish or archive.")
        else:
            try:
                exam = authoring.exam_set_status(exam_id=exam.pk, to=to, actor=request.user)
            except AppError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, f"“{exam.title}” is now {exam.get_status_display().lower()}.")
                if to == ExamStatus.PUBLISHED:
                    _warn_without_face(request, exam, students_without_reference(exam=exam), just_enrolled=False)
        if request.POST.get("next") == "list":
            return redirect("manage-exams")
        return redirect("manage-exam-edit" if request.POST.get("next") == "edit" else "manage-exam-publish", pk=exam.pk)
    context = {
        "exam": exam, "section": "exams",
        "question_count": Question.objects.filter(exam=exam).count(),
        "enrolled_count": ExamSession.objects.filter(exam=exam).count(),
        "without_face": students_without_reference(exam=exam),
    }
    return render(request, "manage/exam_publish.html", context)


def _students_with_face() -> Any:
    return User.objects.in_scope().filter(role=Role.STUDENT).annotate(has_face=has_reference_face())


def _warn_without_face(request: HttpRequest, exam: Exam, students: list[User], *, just_enrolled: bool) -> None:
    """A warning, not a refusal: the admin may register the faces before the exam opens."""
    if not students:
        return
    one = len(students) == 1
    verb = ("was" if one else "were") if just_enrolled else ("is" if one else "are")
    shown = ", ".join(str(s) for s in students[:10]) + (f" and {len(students) - 10} more" if len(students) > 10 else "")
    messages.warning(request, f"{len(students)} student{'' if one else 's'} without a reference face {verb} enrolled: "
                              f"{shown}. “{exam.title}” checks identity, which cannot recognise them until their "
                              "face is registered.")


@admin_page
@require_http_methods(["GET", "POST"])
def exam_enrolments(request: HttpRequest, pk: int) -> HttpResponse:
    exam = _exam(pk)
    sessions = ExamSession.objects.filter(exam=exam).select_related("student").order_by("student__full_name")
    candidates = _students_with_face().filter(is_active=True).exclude(
        pk__in=ExamSession.objects.filter(exam=exam).values("student_id")
    ).order_by("full_name", "email")
    form = EnrolForm(form_data(request), candidates=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            added = authoring.enrolment_add(exam=exam, students=form.cleaned_data["students"], actor=request.user)
        except AppError as error:
            show_error(form, error)
        else:
            messages.success(request, f"Enrolled {len(added)} student{'s' if len(added) != 1 else ''}.")
            _warn_without_face(request, exam, students_without_reference(
                exam=exam, student_ids=[s.student_id for s in added]), just_enrolled=True)
            return redirect("manage-exam-enrolments", pk=exam.pk)
    faces = set(_students_with_face().filter(has_face=True, pk__in=[s.student_id for s in sessions])
                .values_list("pk", flat=True))
    scores = exam_scores(exam_id=exam.pk)
    rows = [(session, session.student_id in faces, scores.get(session.pk)) for session in sessions]
    return render(request, "manage/exam_enrolments.html",
                  {"exam": exam, "rows": rows, "form": form, "candidates": candidates, "section": "exams"})


@admin_page
@require_http_methods(["GET", "POST"])
def student_accommodation(request: HttpRequest, pk: int) -> HttpResponse:
    """Set, change or remove a student's accommodation (extra time, exempt checks); audited by the service."""
    student = accommodations.access_student_by_id(actor=request.user, student_id=pk)
    current = accommodations.accommodation_of(student=student)
    if request.method == "POST" and request.POST.get("remove"):
        accommodations.accommodation_remove(actor=request.user, student=student)
        messages.success(request, f"Accommodation of {student.full_name or student.email} removed.")
        return redirect("manage-students")
    initial = ({"reason": current.reason, "extra_minutes": current.extra_minutes,
                "extra_percent": current.extra_percent, "exempt_checks": current.exempt_checks} if current else None)
    form = AccommodationForm(form_data(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            accommodations.accommodation_set(actor=request.user, student=student, **form.cleaned_data)
        except AppError as error:
            show_error(form, error)
        else:
            messages.success(request, f"Accommodation of {student.full_name or student.email} saved.")
            return redirect("manage-students")
    return render(request, "manage/student_accommodation.html",
                  {"student": student, "form": form, "current": current, "section": "students"})


SESSION_ACTIONS = ("reset", "unlock")


@admin_page
@require_http_methods(["POST"])
def session_control(request: HttpRequest, pk: int, spk: int) -> HttpResponse:
    """POST ``action`` reset (start over) or unlock (``minutes`` more), with a ``reason``; from the enrolments page."""
    exam = _exam(pk)
    session = get_object_or_404(ExamSession.objects.filter(exam=exam).select_related("student"), pk=spk)
    action, reason = request.POST.get("action", ""), request.POST.get("reason", "").strip()
    try:
        if action not in SESSION_ACTIONS:
            raise AppError("Choose reset or unlock.", code="invalid")
        if not reason:
            raise AppError("Say why (it goes in the audit log).", code="invalid")
        if action == "reset":
            services.session_reset(session_id=session.pk, actor=request.user, reason=reason)
            messages.success(request, f"The session of {session.student} starts over.")
        else:
            try:
                minutes = int(request.POST.get("minutes", ""))
            except ValueError:
                raise AppError("Give the minutes as a number.", code="invalid") from None
            services.session_unlock(session_id=session.pk, actor=request.user, minutes=minutes, reason=reason)
            messages.success(request, f"The session of {session.student} is unlocked for {minutes} minutes.")
    except AppError as error:
        messages.error(request, error.message)
    return redirect("manage-exam-enrolments", pk=exam.pk)
