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
