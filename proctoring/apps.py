from __future__ import annotations

from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    name = "proctoring"

    def ready(self) -> None:
        from proctoring.analysis import set_face_store_factory
        from proctoring.face_store import DatabaseFaceStore

        # Face collections live in the database, so every web and worker process sees the same ones.
        set_face_store_factory(DatabaseFaceStore)
