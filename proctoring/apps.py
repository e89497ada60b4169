from __future__ import annotations

from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    name = "proctoring"

    def ready(self) -> None:
        from accounts.deletion import register_eraser
        from proctoring.analysis import set_face_store_factory
        from proctoring.erasure import erase_biometrics
        from proctoring.face_store import DatabaseFaceStore

        # Face collections live in the database, so every web and worker process sees the same ones.
        set_face_store_factory(DatabaseFaceStore)
        # Deleting a student, exam, session or institution erases their biometric data everywhere.
        register_eraser(erase_biometrics)
