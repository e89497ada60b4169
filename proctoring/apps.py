from __future__ import annotations

from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    name = "proctoring"
