from __future__ import annotations

from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "exams"
