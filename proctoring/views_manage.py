"""Institution-admin pages of proctoring: a student's reference face."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import AppError
from accounts.models import Role, User
from accounts.pages import admin_page, form_data, form_files
from proctoring import services as proctoring_services
from proctoring.forms import FaceForm
from proctoring.models import FaceRegistration


@admin_page
@require_http_methods(["GET", "POST"])
def student_face(request: HttpRequest, pk: int) -> HttpResponse:
    """Register a reference face, or replace the current one once the new one is accepted."""
    student = get_object_or_404(User.objects.in_scope().filter(role=Role.STUDENT), pk=pk)
    current = list(FaceRegistration.objects.filter(student=student).order_by("-created_at"))
    form = FaceForm(form_data(request), form_files(request))
    if request.method == "POST" and form.is_valid():
        try:
            proctoring_services.face_register(
                institution=request.user.institution, actor=request.user, image=form.cleaned_data["image"],
                full_name=student.full_name or student.email, student=student,
            )
        except AppError as error:
            form.add_error(None, error.message)
        else:
            for old in current:
                proctoring_services.face_delete(registration=old)
            messages.success(request, f"Reference face {'replaced' if current else 'registered'} for {student}.")
            return redirect("manage-student-face", pk=student.pk)
    return render(request, "manage/student_face.html",
                  {"student": student, "current": current[0] if current else None, "form": form,
                   "section": "students"})
