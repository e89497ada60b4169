from __future__ import annotations

import smtplib
from typing import Any

from celery import shared_task

from accounts import mail, tenancy
from accounts.models import Institution


@shared_task(name="accounts.institution_summary")
def institution_summary(institution_id: int) -> dict[str, object]:
    """Counts of an institution's people by role: a small real task used to check the worker path."""
    institution = Institution.objects.get(pk=institution_id)
    with tenancy.tenant_scope(institution):
        from accounts.selectors import user_list

        counts: dict[str, int] = {}
        for role in user_list().values_list("role", flat=True):
            counts[role] = counts.get(role, 0) + 1
    return {"institution": institution.slug, "users": counts}


# Mail tasks: a refused connection, a timeout or a 4xx from the server is worth another try later.
MAIL_RETRY: dict[str, Any] = {
    "bind": True, "acks_late": True, "ignore_result": True, "max_retries": 6,
    "autoretry_for": (smtplib.SMTPException, OSError), "retry_backoff": 30, "retry_backoff_max": 1800,
    "retry_jitter": True,
}


@shared_task(name="accounts.send_invite", **MAIL_RETRY)
def send_invite(self: Any, user_id: int, base_url: str) -> bool:
    return mail.invite_deliver(user_id=user_id, base_url=base_url)


@shared_task(name="accounts.send_password_reset", **MAIL_RETRY)
def send_password_reset(self: Any, user_id: int, base_url: str) -> bool:
    return mail.password_reset_deliver(user_id=user_id, base_url=base_url)
