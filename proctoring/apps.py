from __future__ import annotations

from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    name = "proctoring"

    def ready(self) -> None:
        from accounts.deletion import register_eraser
        from exams.identity import register_identity_source
        from exams.liveness import register_liveness_source
        from exams.services import register_transition_hook
        from proctoring.analysis import set_face_store_factory
        from proctoring.erasure import erase_biometrics
        from proctoring.face_store import DatabaseFaceStore
        from proctoring.gate import latest_liveness_pass
        from proctoring.incidents import session_changed
        from proctoring.selectors import latest_identity_check

        # Face collections live in the database, so every web and worker process sees the same ones.
        set_face_store_factory(DatabaseFaceStore)
        # Deleting a student, exam, session or institution erases their biometric data everywhere.
        register_eraser(erase_biometrics)
        # The exam's start check reads identity checks through this, so exams never imports proctoring.
        register_identity_source(latest_identity_check)
        register_liveness_source(latest_liveness_pass)
        # Each change of a session's status (check over, exam begun, session ended) closes its incidents.
        register_transition_hook(session_changed)
