from __future__ import annotations

import inspect
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin import DeletesThroughService, ScopedAdmin, institution_admin_site
from accounts.audit import audit
from accounts.errors import AppError
from accounts.mail import site_url
from exams import policy, services
from exams.authoring import exam_set_status
from exams.lti.models import LtiPlatform
from exams.lti.services import platform_keys_ensure
from exams.models import Exam
from exams.statuses import ExamStatus


def _set_status(to: str, verb: str) -> Any:
    """An admin action that moves each selected exam through the one status service."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Exam]) -> None:
        for exam in queryset:
            try:
                exam_set_status(exam_id=exam.pk, to=to, actor=request.user)
            except AppError as error:
                modeladmin.message_user(request, f"“{exam}”: {error.message}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"“{exam}” is now {ExamStatus(to).label.lower()}.")

    action.__name__ = f"exam_{verb}"
    return admin.action(description=f"{verb.capitalize()} the selected exams")(action)


STATUS_ACTIONS = [_set_status(ExamStatus.PUBLISHED, "publish"), _set_status(ExamStatus.DRAFT, "unpublish"),
                  _set_status(ExamStatus.ARCHIVED, "archive")]


class ExamAdminForm(forms.ModelForm):
    """The speech limits fall back to their defaults when left empty (forms that predate them omit them)."""

    DEFAULTS = {"speech_window_seconds": policy.DEFAULT_SPEECH_WINDOW_SECONDS,
                "speech_max_seconds": policy.DEFAULT_SPEECH_MAX_SECONDS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.DEFAULTS:
            if name in self.fields:
                self.fields[name].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, default in self.DEFAULTS.items():
            if name in self.fields and data.get(name) is None:
                data[name] = default
        if self.instance.pk and not self.errors:  # the checks exam_update makes (ExamDeletes.save_model calls it)
            changes = {name: data[name] for name in self.changed_data if name in data}
            try:
                services.check_schedule(self.instance, changes)
            except AppError as error:
                raise forms.ValidationError(error.message) from None
        return data


class ExamSaves(DeletesThroughService):
    """A change saved on /manage/ goes through exams.services.exam_update, as on the exam's page and the API (an
    audit: a time limit cut here ended a student's sitting at once, and no reminder followed a new opening)."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        taken = set(inspect.signature(services.exam_update).parameters) - {"exam"}
        exam = services.exam_update(exam=Exam.objects.get(pk=obj.pk),
                                    **{name: value for name, value in changes.items() if name in taken})
        rest = {name: value for name, value in changes.items() if name not in taken}  # (the platform's form: more)
        if rest:
            for name, value in rest.items():
                setattr(exam, name, value)
            exam.save(update_fields=[*rest, "updated_at"])


class ExamDeletes(ExamSaves):
    form = ExamAdminForm

    def delete_through_service(self, request: HttpRequest, obj: Any) -> None:
        services.exam_delete(exam=obj, actor=request.user)


class ExamAdmin(ExamDeletes, ScopedAdmin):
    list_display = ["title", "status", "opens_at", "closes_at", "duration_minutes"]
    list_filter = ["status"]
    search_fields = ["title"]
    exclude = ["institution", "created_by"]
    # The status changes only through the publishing rules (the actions below), with an audit event.
    readonly_fields = ["status"]
    actions = STATUS_ACTIONS

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


institution_admin_site.register(Exam, ExamAdmin)


@admin.register(Exam)
class PlatformExamAdmin(ExamDeletes):
    list_display = ["title", "institution", "status"]
    list_filter = ["institution", "status"]
    readonly_fields = ["status"]
    actions = STATUS_ACTIONS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # An exam stays in its institution: its sessions, students and evidence are that institution's.
        return [*self.readonly_fields, "institution"] if obj is not None else list(self.readonly_fields)


def _https_by_default(field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class LtiPlatformForm(forms.ModelForm):
    """Deployment ids one per line; the tool's key pair is made on first save (never shown or edited)."""

    deployment_ids_text = forms.CharField(
        label="Deployment ids", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: the deployment ids this platform's launches carry.")

    class Meta:
        model = LtiPlatform
        fields = ["name", "issuer", "client_id", "auth_login_url", "auth_token_url", "keyset_url",
                  "instructor_role", "link_by_email", "is_active"]
        formfield_callback = _https_by_default

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["deployment_ids_text"].initial = "\n".join(self.instance.deployment_ids or [])

    def clean_keyset_url(self) -> str:
        from exams.lti.services import fetchable_url_error

        url = self.cleaned_data["keyset_url"]
        problem = fetchable_url_error(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        issuer, client_id = data.get("issuer"), data.get("client_id")
        if issuer and client_id and LtiPlatform.unscoped.filter(issuer=issuer, client_id=client_id).exclude(
                pk=self.instance.pk).exists():
            raise forms.ValidationError("This issuer and client id are already registered.")
        return data

    def save(self, commit: bool = True) -> LtiPlatform:
        platform = super().save(commit=False)
        platform.deployment_ids = [line.strip() for line in self.cleaned_data["deployment_ids_text"].splitlines()
                                   if line.strip()]
        platform_keys_ensure(platform)
        if commit:
            platform.save()
        return platform


class LtiPlatformAdmin(ScopedAdmin):
    form = LtiPlatformForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "issuer", "client_id", "instructor_role", "is_active"]
    readonly_fields = ["tool_settings"]
    fieldsets = [
        (None, {"fields": ["name", "issuer", "client_id", "deployment_ids_text", "instructor_role", "link_by_email",
                           "is_active"]}),
        ("The platform's endpoints", {"fields": ["auth_login_url", "auth_token_url", "keyset_url"]}),
        ("Enter these in the platform", {"fields": ["tool_settings"]}),
    ]

    @admin.display(description="This tool")
    def tool_settings(self, obj: LtiPlatform) -> str:
        from django.utils.html import format_html

        base = site_url().rstrip("/")
        return format_html("OIDC login URL: <code>{}</code><br>Redirect / launch URL: <code>{}</code><br>"
                           "Public keyset URL: <code>{}</code>{}", f"{base}/lti/login", f"{base}/lti/launch",
                           f"{base}/lti/jwks.json", format_html("<br>Key id: <code>{}</code>", obj.kid)
                           if obj.kid else "")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        audit(institution_id=obj.institution_id, actor=request.user,
              action="lti.platform.change" if change else "lti.platform.register", target=obj,
              data={"issuer": obj.issuer, "client_id": obj.client_id})


institution_admin_site.register(LtiPlatform, LtiPlatformAdmin)
