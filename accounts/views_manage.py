"""Institution-admin pages for people: students, CSV import, invite links, reference faces, settings.

Also the public page where an invited person chooses a password.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.http import require_http_methods

from accounts import roster
from accounts.errors import AppError
from accounts.forms import ImportForm, PersonForm, SettingsForm, StudentForm
from accounts.mail import site_url
from accounts.models import Institution, Role, User
from accounts.pages import admin_page, form_data, form_files, show_error

STUDENTS_PER_PAGE = 50


def _invite_url(request: HttpRequest, user: User) -> str:
    return request.build_absolute_uri(roster.invite_path(user=user))


def _add_person(request: HttpRequest, form: PersonForm, role: str) -> User | None:
    """Create the person from a valid form, or put the service's refusal on the form."""
    data = form.cleaned_data
    try:
        return roster.person_add(
            institution=request.user.institution, role=role, email=data["email"], full_name=data["full_name"],
            student_number=data.get("student_number", ""), password=data["password"] or None,
            invite_base_url=site_url(request), actor=request.user,
        )
    except AppError as error:
        if error.code == "email_taken":
            form.add_error("email", error.message)
        elif error.code == "weak_password":
            form.add_error("password", list(error.details) or error.message)
        else:
            show_error(form, error)
        return None


@admin_page
def student_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    missing_face = request.GET.get("missing") == "1"
    page = Paginator(roster.student_list(search=search, missing_face=missing_face), STUDENTS_PER_PAGE)
    context = {
        "page": page.get_page(request.GET.get("page")), "search": search, "missing_face": missing_face,
        "total": roster.student_list().count(), "without_face": roster.student_list(missing_face=True).count(),
        "section": "students",
    }
    return render(request, "manage/student_list.html", context)


@admin_page
@require_http_methods(["GET", "POST"])
def student_new(request: HttpRequest) -> HttpResponse:
    form = StudentForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        student = _add_person(request, form, Role.STUDENT)
        if student is not None:
            emailed = "" if student.has_usable_password() else f" An invite was emailed to {student.email}."
            messages.success(request, f"{student.full_name} added.{emailed} Register their reference face next.")
            if not student.has_usable_password():
                return redirect("manage-person-invite", pk=student.pk)
            return redirect("manage-student-face", pk=student.pk)
    return render(request, "manage/student_form.html", {"form": form, "section": "students"})


@admin_page
@require_http_methods(["GET", "POST"])
def students_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(form_data(request), form_files(request))
    result = None
    if request.method == "POST" and form.is_valid():
        result = roster.students_import(institution=request.user.institution, data=form.cleaned_data["file"].read(),
                                        invite_base_url=site_url(request), actor=request.user,
                                        skip_existing=form.cleaned_data["skip_existing"])
        if result.ok:
            count, left = len(result.created), len(result.skipped)
            kept = f" {left} already had an account and {'was' if left == 1 else 'were'} left as they are." if left \
                else ""
            ignored = f" Not read: the column{'s' if len(result.ignored_columns) > 1 else ''} " + \
                ", ".join(f"“{c}”" for c in result.ignored_columns) + " (the import reads email, name and " \
                "student_number)." if result.ignored_columns else ""
            done = (f"Imported {count} student{'s' if count != 1 else ''}; each was emailed an invite." if count
                    else "No new student to import.")
            messages.success(request, f"{done}{kept}{ignored}")
            invites = [(student, _invite_url(request, student)) for student in result.created]
            return render(request, "manage/student_import_done.html",
                          {"invites": invites, "section": "students"})
    return render(request, "manage/student_import.html", {"form": form, "result": result, "section": "students"})


@admin_page
@require_http_methods(["GET", "POST"])
def person_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """A one-time password link for a student or proctor who has none (tokens are stateless: GET is safe);
    POST mails it to them again."""
    person = get_object_or_404(User.objects.in_scope().filter(role__in=[Role.STUDENT, Role.PROCTOR]), pk=pk)
    if request.method == "POST":
        roster.invite_resend(user=person, actor=request.user, base_url=site_url(request))
        messages.success(request, f"The invite was emailed to {person.email} again.")
        return redirect("manage-person-invite", pk=person.pk)
    link = None if person.has_usable_password() else _invite_url(request, person)
    section = "students" if person.role == Role.STUDENT else "settings"
    return render(request, "manage/invite.html", {"person": person, "link": link, "section": section})


@admin_page
@require_http_methods(["GET", "POST"])
def student_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the student and erases their biometric data everywhere."""
    student = get_object_or_404(User.objects.in_scope().filter(role=Role.STUDENT), pk=pk)
    if request.method == "POST":
        roster.user_delete(user=student, actor=request.user)
        messages.success(request, f"{student.full_name or student.email} deleted, with their faces and frames.")
        return redirect("manage-students")
    context = {
        "student": student, "section": "students",
        "faces": student.face_registrations.count(),
        "sessions": student.exam_sessions.count(),
    }
    return render(request, "manage/student_delete.html", context)


@admin_page
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    institution = Institution.objects.get(pk=request.user.institution_id)
    which = request.POST.get("form") if request.method == "POST" else None
    settings_form = SettingsForm(request.POST if which == "settings" else None,
                                 initial=SettingsForm.initial_for(institution))
    proctor_form = PersonForm(request.POST if which == "proctor" else None, prefix="proctor")
    if which == "settings" and settings_form.is_valid():
        updated = roster.institution_settings_update(institution_id=institution.pk, actor=request.user,
                                                     **settings_form.cleaned_data)
        note = f" Consent text is now version {updated.consent_version}." \
            if updated.consent_version != institution.consent_version else ""
        messages.success(request, f"Settings saved.{note}")
        return redirect("manage-settings")
    if which == "proctor" and proctor_form.is_valid():
        proctor = _add_person(request, proctor_form, Role.PROCTOR)
        if proctor is not None:
            emailed = "" if proctor.has_usable_password() else f" An invite was emailed to {proctor.email}."
            messages.success(request, f"{proctor} added as a proctor.{emailed}")
            if not proctor.has_usable_password():
                return redirect("manage-person-invite", pk=proctor.pk)
            return redirect("manage-settings")
    context: dict[str, Any] = {
        "institution": institution, "settings_form": settings_form, "proctor_form": proctor_form,
        "proctors": User.objects.in_scope().filter(role=Role.PROCTOR).order_by("full_name", "email"),
        "section": "settings",
    }
    return render(request, "manage/settings.html", context)


# --- the invitee's page (no sign-in) ---------------------------------------------------------------

INVITE_SESSION_KEY = "_password_set"


@require_http_methods(["GET", "POST"])
def password_set(request: HttpRequest) -> HttpResponse:
    """Choose a password from an invite link (?uid=…&token=…).

    As Django's reset view does, the token moves from the URL into the session at once, so that it
    does not linger in the address bar or the history.
    """
    if "token" in request.GET:
        request.session[INVITE_SESSION_KEY] = {"uid": request.GET.get("uid", ""), "token": request.GET["token"]}
        return redirect("password-set")
    user = _invited_user(request.session.get(INVITE_SESSION_KEY) or {})
    if user is None:
        return render(request, "manage/password_set.html", {"invalid": True}, status=400)
    form = SetPasswordForm(user, form_data(request))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
        del request.session[INVITE_SESSION_KEY]
        messages.success(request, "Your password is set. Sign in with your email address and the new password.")
        return redirect("login")
    return render(request, "manage/password_set.html", {"form": form, "person": user})


def _invited_user(invite: dict[str, str]) -> User | None:
    try:
        pk = int(urlsafe_base64_decode(invite.get("uid", "")).decode())
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True, is_superuser=False).first()
    if user is None or not default_token_generator.check_token(user, invite.get("token", "")):
        return None
    return user
