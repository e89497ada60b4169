from __future__ import annotations

from django.contrib import admin

from accounts.admin import ScopedAdmin, institution_admin_site
from exams.models import Exam


class ExamAdmin(ScopedAdmin):
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
class PlatformExamAdmin(admin.ModelAdmin):
    list_display = ["title", "institution", "status"]
    list_filter = ["institution", "status"]
