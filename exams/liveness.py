"""How the start check learns when a session last passed the liveness challenge, without exams
importing proctoring (as exams.identity does for identity checks). With no reader registered, no
pass is known and a session whose exam checks identity cannot start (fail closed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from exams.models import ExamSession

LivenessSource = Callable[[ExamSession], "datetime | None"]
_source: LivenessSource | None = None


def register_liveness_source(source: LivenessSource | None) -> None:
    global _source
    _source = source


def latest_liveness_pass(session: ExamSession) -> datetime | None:
    return _source(session) if _source is not None else None
