"""Tenant scoping: a query on a tenant-owned model without an active tenant raises, never leaks.

Every tenant-owned model uses ``TenantManager`` as ``objects``. Inside ``tenant_scope(institution)``
its querysets are filtered to that institution; outside any scope they raise ``ScopeError``;
``tenant_scope(None)`` (platform superusers, maintenance jobs) disables the filter explicitly.
Related-object access goes through Django's base manager and is not filtered: reach other
institutions' rows only through ids, which always pass through ``objects``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from accounts.models import Institution


class ScopeError(RuntimeError):
    """A tenant-owned model was queried with no tenant scope active."""


_UNSET = object()
_current: contextvars.ContextVar[Any] = contextvars.ContextVar("openproctor_tenant", default=_UNSET)


@contextmanager
def tenant_scope(institution: Institution | int | None) -> Iterator[None]:
    """Activate a tenant (an Institution or its id); ``None`` means "all institutions"."""
    token = _current.set(institution.pk if hasattr(institution, "pk") else institution)
    try:
        yield
    finally:
        _current.reset(token)


def activate(institution: Institution | int | None) -> contextvars.Token[Any]:
    """Activate a tenant until ``deactivate(token)``; for request middleware and DRF views."""
    return _current.set(institution.pk if hasattr(institution, "pk") else institution)


def deactivate(token: contextvars.Token[Any]) -> None:
    _current.reset(token)


def current_institution_id() -> int | None:
    """The active institution's id; None when scoping is disabled. Raises outside any scope."""
    value = _current.get()
    if value is _UNSET:
        raise ScopeError("No tenant scope is active: wrap the query in tenant_scope(...).")
    return value


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager):
    """Default manager of tenant-owned models: filtered to the active institution."""

    def get_queryset(self) -> models.QuerySet:
        institution_id = current_institution_id()
        queryset = super().get_queryset()
        if institution_id is None:
            return queryset
        return queryset.filter(institution_id=institution_id)


class TenantOwned(models.Model):
    """Abstract base: carries the institution and the scoped manager."""

    institution = models.ForeignKey("accounts.Institution", on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()
    unscoped = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"


def scope_for_user(user: Any) -> Any:
    """What a user may see: their institution, everything (superuser), or nothing (anonymous)."""
    if not getattr(user, "is_authenticated", False):
        return _UNSET
    if user.is_superuser:
        return None
    return user.institution_id
