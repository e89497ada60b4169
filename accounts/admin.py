"""Two admin sites: ``/platform/`` for superusers (institutions), ``/manage/`` for institution admins.

The institution site shows only the admin's own institution: querysets go through the tenant scope
that the middleware activated, new rows get the admin's institution, and another institution's id
answers 404 exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from accounts import roster
from accounts.mail import queue_invite, site_url
from accounts.models import Institution, Role, User


class InstitutionAdminSite(admin.AdminSite):
    site_header = "OpenProctor — institution administration"
    site_title = "OpenProctor admin"
    index_title = "Manage your institution"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_authenticated and getattr(user, "role", "") == Role.ADMIN)

    def admin_view(self, view: Callable[..., HttpResponse], cacheable: bool = False) -> Callable[..., HttpResponse]:
        """Signed-in people of another role get a 403 rather than the admin's login page."""
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("Only your institution's admins can use these pages.")
            return inner(request, *args, **kwargs)

        return wrapper

    def get_urls(self) -> list[Any]:
        """Without Django's ``r/<content_type>/<id>/`` "view on site" shortcut: it looks objects up
        across institutions (and no model here has a public URL to redirect to)."""
        return [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]


institution_admin_site = InstitutionAdminSite(name="manage")


class DeletesThroughService(admin.ModelAdmin):
    """Deletes (one, or the "delete selected" action) go through the entity's delete service, which
    erases the biometric data that belongs to the row everywhere (see accounts.deletion)."""

    def delete_through_service(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_through_service(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():  # all of the selection, or nothing
            for obj in queryset:
                self.delete_through_service(request, obj)


class ScopedAdmin(admin.ModelAdmin):
    """Full rights for the institution's admins, on their own institution's rows only."""

    view_on_site = False  # the site has no r/ shortcut (InstitutionAdminSite.get_urls)

    def _allowed(self, request: HttpRequest) -> bool:
        return getattr(request.user, "role", "") == Role.ADMIN

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request)

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> Any:
        raise Http404("Not found.")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.institution = request.user.institution
        super().save_model(request, obj, form, change)


class InstitutionUserForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password (new users without one cannot sign in).",
    )

    class Meta:
        model = User
        fields = ["email", "full_name", "student_number", "role", "is_active", "time_zone"]

    def clean_email(self) -> str:
        # The constraint is per institution, which this form does not hold: check in the admin's scope.
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.in_scope().filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if password:
            validate_password(password, self.instance)
        return password

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.email = user.email.lower()
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        elif not user.pk:
            user.set_unusable_password()
        if commit:
            user.save()
        return user


class UserDeletes(DeletesThroughService):
    def delete_through_service(self, request: HttpRequest, obj: Any) -> None:
        roster.user_delete(user=obj, actor=request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and obj.pk == request.user.pk:
            return False  # roster.user_delete refuses it too
        return super().has_delete_permission(request, obj)


class InstitutionUserAdmin(UserDeletes, ScopedAdmin):
    form = InstitutionUserForm
    list_display = ["email", "full_name", "role", "student_number", "is_active", "last_login"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "full_name", "student_number"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return User.objects.in_scope().filter(is_superuser=False)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and not obj.has_usable_password():  # as on /students/: the person is emailed an invite
            queue_invite(user=obj, base_url=site_url(request))


institution_admin_site.register(User, InstitutionUserAdmin)


@admin.register(Institution)
class PlatformInstitutionAdmin(DeletesThroughService):
    list_display = ["name", "slug", "time_zone", "frame_retention_days", "face_retention_days", "appeal_window_days",
                    "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def delete_through_service(self, request: HttpRequest, obj: Any) -> None:
        roster.institution_delete(institution=obj)


@admin.register(User)
class PlatformUserAdmin(UserDeletes):
    list_display = ["email", "institution", "role", "is_superuser", "is_active"]
    list_filter = ["institution", "role", "is_superuser"]
    search_fields = ["email", "full_name"]
    exclude = ["password", "user_permissions", "groups"]
