from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import DeletesThroughService, ScopedAdmin, institution_admin_site
from exams import services
from exams.models import Exam


class ExamDeletes(DeletesThroughService):
    def delete_through_service(self, request: HttpRequest, obj: Any) -> None:
        services.exam_delete(exam=obj, actor=request.user)


class ExamAdmin(ExamDeletes, ScopedAdmin):
    list_display = ["title", "status", "opens_at", "closes_at", "duration_minutes"]
    list_filter = ["status"]
    search_fields = ["title"]
    exclude = ["institution", "created_by"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


institution_admin_site.register(Exam, ExamAdmin)


@admin.register(Exam)
class PlatformExamAdmin(ExamDeletes):
    list_display = ["title", "institution", "status"]
    list_filter = ["institution", "status"]
