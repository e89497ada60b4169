"""The signed-in home page. It shows every app's rows, so it lives in the project package (config),
which may import all apps; accounts must not import exams or proctoring."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import selectors
from accounts.models import Role
from exams.access import sessions_for
from exams.models import Exam
from proctoring.selectors import review_queue
from proctoring.views_identity import pending_requests


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {"role": getattr(user, "role", "")}
    if user.is_superuser or user.role in (Role.ADMIN, Role.PROCTOR):
        context["exams"] = Exam.objects.all()[:50]
    if user.is_superuser or user.role == Role.ADMIN:
        context["people"] = selectors.user_list()[:50]
    if user.role in (Role.ADMIN, Role.PROCTOR):
        context["to_review"] = review_queue().count()
        context["to_approve"] = len(pending_requests())
    if user.role == Role.STUDENT:
        context["sessions"] = sessions_for(actor=user).select_related("exam")
    return render(request, "accounts/dashboard.html", context)
