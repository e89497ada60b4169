"""How the start check learns a session's latest identity check, without exams importing proctoring.

Apps depend one way (accounts <- exams <- proctoring): the frames that carry identity checks live in
proctoring, so proctoring registers a reader here when it is ready (``ProctoringConfig.ready``), the
way a signal receiver would. With no reader registered, no identity check is known and a session
whose exam checks identity cannot start (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from exams.models import ExamSession


@dataclass(frozen=True)
class IdentityCheck:
    passed: bool
    at: datetime  # when the frame was taken (received)
    reason: str = ""  # the verification's reason code (proctoring.analysis.verification.REASONS)
    message: str = ""  # a short sentence for the student about that reason


IdentitySource = Callable[[ExamSession], "IdentityCheck | None"]
_source: IdentitySource | None = None


def register_identity_source(source: IdentitySource | None) -> None:
    global _source
    _source = source


def latest_identity_check(session: ExamSession) -> IdentityCheck | None:
    return _source(session) if _source is not None else None
