"""Staff pages: a session's answers, scored; admins grade the short-text ones (exams.grading)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.decorators import role_required
from accounts.errors import AppError, NotFound
from accounts.models import Role
from exams import grading
from exams.access import access_session_by_id


@login_required
@role_required(Role.ADMIN, Role.PROCTOR)
@require_http_methods(["GET", "POST"])
def session_answers(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: every question with the student's answer and its state; POST (admins): grade one answer."""
    session = access_session_by_id(actor=request.user, session_id=pk)
    if request.method == "POST":
        return _grade(request, session.pk)
    rows = grading.session_answers(session)
    return render(request, "reports/session_answers.html", {
        "session": session, "rows": rows, "score": grading.score_of(rows), "may_grade": grading.may_grade(request.user),
        "finished": session.status in grading.FINISHED, "comment_max": grading.COMMENT_MAX,
    })


def _grade(request: HttpRequest, session_id: int) -> HttpResponse:
    answer_id, points = request.POST.get("answer", ""), request.POST.get("points", "").strip()
    if not answer_id.isascii() or not answer_id.isdigit() or len(answer_id) > 18:
        messages.error(request, "Pick an answer to grade.")
        return redirect("session-answers", pk=session_id)
    answer = grading.access_answer_by_id(actor=request.user, answer_id=int(answer_id))
    if answer.session_id != session_id:
        raise NotFound("Not found.")
    back = reverse("session-answers", args=[session_id]) + f"#q{answer.question_id}"
    if not points.isascii() or not points.isdigit() or len(points) > 9:
        messages.error(request, f"Give a whole number of points, 0 to {answer.question.points}.")
        return redirect(back)
    try:
        grading.answer_grade(actor=request.user, answer=answer, points=int(points),
                             comment=request.POST.get("comment", ""))
    except AppError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Question {answer.question.position}: {points} of {answer.question.points} "
                                  f"point{'s' if answer.question.points != 1 else ''}.")
    return redirect(back)
