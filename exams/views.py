from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.decorators import role_required
from accounts.models import Role
from exams.models import Exam


@login_required
@role_required(Role.ADMIN, Role.PROCTOR)
def exam_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exam = get_object_or_404(Exam.objects.all(), pk=pk)
    return render(request, "exams/exam_detail.html", {"exam": exam})
