"""Institution-admin pages of proctoring: a student's reference faces."""

from __future__ import annotations

import base64
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import AppError
from accounts.models import Role, User
from accounts.pages import admin_page, form_data, form_files
from proctoring import services as proctoring_services
from proctoring.access import access_face_by_id
from proctoring.forms import FaceForm
from proctoring.models import FaceRegistration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@admin_page
@require_http_methods(["GET", "POST"])
def student_face(request: HttpRequest, pk: int) -> HttpResponse:
    """A student's reference faces: add one (upload or webcam), after a confirmation when it matches another
    person's face; each listed with its photo and a link to delete it."""
    student = get_object_or_404(User.objects.in_scope().filter(role=Role.STUDENT), pk=pk)
    form = FaceForm(form_data(request), form_files(request))
    duplicate: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        image = form.cleaned_data["image"]
        try:
            proctoring_services.face_register(
                institution=request.user.institution, actor=request.user, image=image,
                full_name=student.full_name or student.email, student=student,
                confirm_duplicate=form.cleaned_data["confirm_duplicate"],
            )
        except AppError as error:
            if error.code == "duplicate_face":
                duplicate = _duplicate_warning(error, image)
            else:
                form.add_error(None, error.message)
        else:
            count = FaceRegistration.objects.filter(student=student).count()
            messages.success(request, f"Reference face registered for {student} ({count} in all).")
            return redirect("manage-student-face", pk=student.pk)
    faces = list(FaceRegistration.objects.filter(student=student).select_related("created_by")
                 .order_by("created_at"))
    # Registering a term's photos is one student after another: the next one still without a photo (an audit: after
    # saving, the page offered no way on but back to the list).
    next_missing = (User.objects.in_scope().filter(role=Role.STUDENT, face_registrations__isnull=True)
                    .exclude(pk=student.pk).order_by("full_name", "email").first())
    return render(request, "manage/student_face.html", {
        "student": student, "faces": faces, "form": form, "duplicate": duplicate, "section": "students",
        "next_missing": next_missing,
        "max_faces": proctoring_services.MAX_REFERENCES, "full": len(faces) >= proctoring_services.MAX_REFERENCES,
    })


@admin_page
@require_http_methods(["GET"])
def student_photos(request: HttpRequest) -> HttpResponse:
    """A term's reference photos at once: the admin chooses many files, each named after its student's email or
    student number; the page (bulk_faces.js) sends them one by one to the registration endpoint (/faces/index, with
    its checks: one clear face, a duplicate of another person's face refused until confirmed on the student's own
    page) and lists what became of each. An audit of an admin's term set-up: 300 photos meant 300 visits to 300
    pages. One request a photo, not one upload of them all: a term's photos are far over any request's size limit,
    each shows its own progress and result, and the engine's rate limit paces them (the page waits when told to)."""
    students = [{"id": pk, "email": email, "number": number, "name": name, "faces": faces}
                for pk, email, number, name, faces in User.objects.in_scope().filter(role=Role.STUDENT)
                .annotate(faces=Count("face_registrations")).order_by("full_name", "email")
                .values_list("pk", "email", "student_number", "full_name", "faces")]
    return render(request, "manage/student_photos.html", {"students": students, "section": "students",
                                                          "max_faces": proctoring_services.MAX_REFERENCES})


def _duplicate_warning(error: AppError, image: bytes) -> dict[str, Any]:
    """What the admin confirms: the photo (sent again with the confirmation) and the faces it matches."""
    matches = error.details["matches"]
    registrations = {str(r.external_image_id): r for r in FaceRegistration.objects.filter(
        external_image_id__in=[m["ExternalImageId"] for m in matches]).select_related("student")}
    # One tile a person, their closest face (an audit: a person with five registered faces was listed five times).
    people: dict[Any, dict[str, Any]] = {}
    for m in matches:  # most similar first
        registration = registrations.get(m["ExternalImageId"])
        if registration is None:
            continue
        person = people.setdefault(registration.student_id or f"name:{registration.full_name}",
                                   {"registration": registration, "similarity": m["Similarity"], "faces": 0})
        person["faces"] += 1
    return {
        "photo": f"data:image/{'png' if image.startswith(PNG_SIGNATURE) else 'jpeg'};base64,"
                 + base64.b64encode(image).decode(),
        "threshold": error.details["threshold"],
        "matches": list(people.values()),
    }


@admin_page
@require_http_methods(["GET", "POST"])
def face_delete(request: HttpRequest, external_image_id: Any) -> HttpResponse:
    """GET asks for confirmation; POST erases the reference face from every store."""
    face = access_face_by_id(actor=request.user, external_image_id=external_image_id)
    back = ("manage-student-face", face.student_id) if face.student_id else ("manage-students", None)
    if request.method == "POST":
        try:
            proctoring_services.face_delete(registration=face, actor=request.user)
        except (BotoCoreError, ClientError):
            messages.error(request, "The face engine is unavailable, so nothing was deleted. Try again shortly.")
        else:
            messages.success(request, "Reference face deleted everywhere it was stored.")
        return redirect(back[0], pk=back[1]) if back[1] else redirect(back[0])
    return render(request, "manage/face_delete.html", {"face": face, "section": "students"})
