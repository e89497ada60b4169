from __future__ import annotations

from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    name = "proctoring"

    def ready(self) -> None:
        from exams.identity import register_identity_source
        from proctoring.analysis import set_face_store_factory
        from proctoring.face_store import DatabaseFaceStore
        from proctoring.selectors import latest_identity_check

        # Face collections live in the database, so every web and worker process sees the same ones.
        set_face_store_factory(DatabaseFaceStore)
        # The exam's start check reads identity checks through this, so exams never imports proctoring.
        register_identity_source(latest_identity_check)
