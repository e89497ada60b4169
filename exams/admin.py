from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin import DeletesThroughService, ScopedAdmin, institution_admin_site
from accounts.errors import AppError
from exams import policy, services
from exams.authoring import exam_set_status
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
        return data


class ExamDeletes(DeletesThroughService):
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
