from __future__ import annotations

from celery import shared_task

from accounts import tenancy
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
