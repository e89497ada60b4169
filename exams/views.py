from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import role_required
from accounts.models import Role
from exams.access import access_exam_by_id


@login_required
@role_required(Role.ADMIN, Role.PROCTOR)
def exam_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exam = access_exam_by_id(actor=request.user, exam_id=pk)
    return render(request, "exams/exam_detail.html", {"exam": exam})
