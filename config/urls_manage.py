"""Institution-admin pages (exams, questions, students, faces, settings)."""

from __future__ import annotations

urlpatterns: list = []
