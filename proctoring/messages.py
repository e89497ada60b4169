"""Messages from a proctor to a student in a running session (sent from the live view).

The exam page polls them and shows each in an aria-live region until the student acknowledges it.
Sending and acknowledging are audited; a message is never edited or deleted (it goes with the session).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.errors import AppError, Conflict, Forbidden, NotFound
from accounts.models import Role, User
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring.models import ProctorMessage

TEXT_MAX = ProctorMessage._meta.get_field("text").max_length
# A student in one of these sees the exam page (or the check before it), which polls for messages.
RECEIVES = frozenset({SessionStatus.CHECKING, SessionStatus.AWAITING_APPROVAL, SessionStatus.IN_PROGRESS})
# Unacknowledged messages a session may hold: a runaway client cannot bury the student's page.
PENDING_MAX = 20


@transaction.atomic
def message_send(*, session: ExamSession, actor: User, text: str) -> ProctorMessage:
    """A proctor's message to the session's student, while the session runs.

    Precondition: ``session`` came through ``access_session_by_id`` for ``actor``.
    """
    if actor.role not in (Role.ADMIN, Role.PROCTOR) and not actor.is_superuser:
        raise Forbidden("Only staff send messages to students.", code="forbidden")
    text = (text or "").strip()
    if not text:
        raise AppError("Write a message.", code="invalid", details={"text": ["Required."]})
    if len(text) > TEXT_MAX:
        raise AppError(f"A message has at most {TEXT_MAX} characters.", code="invalid",
                       details={"text": [f"At most {TEXT_MAX} characters."]})
    locked = ExamSession.objects.select_for_update(of=("self",)).get(pk=session.pk)
    if locked.status not in RECEIVES:
        raise Conflict(f"The session is {locked.get_status_display().lower()}; the student cannot see messages.",
                       code="session_not_running")
    if ProctorMessage.objects.filter(session=locked, acknowledged_at__isnull=True).count() >= PENDING_MAX:
        raise Conflict("The student has not read the earlier messages yet.", code="too_many_messages")
    message = ProctorMessage.objects.create(institution_id=locked.institution_id, session=locked, sender=actor,
                                            text=text)
    audit(institution_id=locked.institution_id, actor=actor, action="session.message", target=locked,
          data={"message": message.pk, "text": text})
    return message


@transaction.atomic
def message_acknowledge(*, message_id: int, actor: User) -> ProctorMessage:
    """The session's student says they read a message (again: nothing changes)."""
    message = (ProctorMessage.objects.select_for_update(of=("self",)).select_related("session")
               .filter(pk=message_id, session__student_id=actor.pk).first())
    if message is None:
        raise NotFound("Not found.")
    if message.acknowledged_at is None:
        message.acknowledged_at = timezone.now()
        message.save(update_fields=["acknowledged_at"])
        audit(institution_id=message.institution_id, actor=actor, action="session.message_acknowledged",
              target=message.session, data={"message": message.pk})
    return message


def messages_for(*, session: ExamSession, actor: User) -> list[ProctorMessage]:
    """What the exam page shows: the student's unacknowledged messages; staff see every message."""
    messages = ProctorMessage.objects.filter(session=session)  # (the payload names no sender: no join)
    if actor.role == Role.STUDENT:
        messages = messages.filter(acknowledged_at__isnull=True)
    return list(messages)


def message_payload(message: ProctorMessage) -> dict[str, Any]:
    return {"id": message.pk, "text": message.text, "sent_at": message.sent_at,
            "acknowledged_at": message.acknowledged_at}
