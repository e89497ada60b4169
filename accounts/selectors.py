"""Reads on institutions and users (always inside a tenant scope)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User


def user_list(*, role: str | None = None) -> QuerySet[User]:
    users = User.objects.in_scope().filter(is_superuser=False)
    return users.filter(role=role) if role else users
