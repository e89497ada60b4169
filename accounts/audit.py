"""Audit events: who changed what, when. In accounts so that every app can write them.

Apps depend one way (accounts <- exams <- proctoring). The model was born in ``exams`` and moved
here without touching the database: it keeps its table ``exams_auditevent`` (see
accounts/migrations/0002_auditevent_moved_from_exams.py and exams/migrations/0004_auditevent_moved_to_accounts.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from accounts.tenancy import TenantOwned


class AuditEvent(TenantOwned):
    """Who changed what, when: session transitions, exam statuses, reviews, registrations, settings."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "accounts"
        db_table = "exams_auditevent"
        ordering = ["-at"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="exams_audit_target__99ba47_idx")]


def audit(*, institution_id: int, actor: Any, action: str, target: Any, data: dict[str, Any]) -> AuditEvent:
    return AuditEvent.objects.create(
        institution_id=institution_id, actor=actor, action=action,
        target_type=type(target).__name__, target_id=str(target.pk), data=data,
    )


ERASED = "[erased]"
# What an audit event's data may say of a person: their name, email and student number, and words written by them
# or about them (an appeal's note, a reviewer's note, an accommodation's reason, a proctor's message to them).
PERSONAL_KEYS = frozenset({"email", "full_name", "FullName", "name", "student_number", "note", "reason", "text",
                           "message"})  # (reason, text: an accommodation's reason, a proctor's message, a reset's)


def audit_forget_person(*, institution_id: int, user_id: int, targets: tuple[tuple[str, str], ...] = (),
                        own_acts: bool = True) -> int:
    """Take out of the audit log what it says of a person who is being deleted, keeping what was done and when: in
    the events about them (their account, ``targets``: their sessions, incidents, faces, …; with ``own_acts``, those
    they did; those whose ``data["student"]`` is them) every ``PERSONAL_KEYS`` value, and in other people's events
    the entries that name them (a duplicate face's ``matches``). An audit found a deleted student's name and email
    in ``user.created``, and their name and similarity in five ``face.registered`` and another student's
    ``face.duplicate_confirmed``, where accounts.roster.user_delete says "the person's name and email go with them".
    Answers the events changed."""
    events = AuditEvent.unscoped.filter(institution_id=institution_id)
    about = models.Q(target_type="User", target_id=str(user_id)) | models.Q(data__student=user_id)
    if own_acts:
        about |= models.Q(actor_id=user_id)
    for target_type, target_id in targets:
        about |= models.Q(target_type=target_type, target_id=target_id)
    changed = 0
    _forget_in_admin_log(user_id)
    for event in events.filter(about | models.Q(action="face.duplicate_confirmed")).iterator():
        whole = (event.target_type, event.target_id) in {("User", str(user_id)), *targets} or \
            (own_acts and event.actor_id == user_id) or \
            (isinstance(event.data, dict) and event.data.get("student") == user_id)
        data = _forgotten(event.data) if whole else _without_entries_of(event.data, user_id)
        if data != event.data:
            AuditEvent.unscoped.filter(pk=event.pk).update(data=data)
            changed += 1
    return changed


def _forgotten(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ERASED if k in PERSONAL_KEYS and v not in (None, "") else _forgotten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_forgotten(v) for v in value]
    return value


def _without_entries_of(data: Any, user_id: int) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get("matches"), list):
        return data
    return {**data, "matches": [_forgotten(m) if isinstance(m, dict) and m.get("student") == user_id else m
                                for m in data["matches"]]}


def _forget_in_admin_log(user_id: int) -> None:
    """Django admin's own log names the person it changed or deleted (``object_repr``; a re-audit saw "Deleted: <their
    name>" under /manage/'s recent actions)."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import User

    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(User), object_id=str(user_id)) \
        .update(object_repr=ERASED)
