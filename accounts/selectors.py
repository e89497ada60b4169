"""Reads on institutions and users (always inside a tenant scope)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import User


def user_list(*, role: str | None = None) -> QuerySet[User]:
    users = User.objects.in_scope().filter(is_superuser=False)
    return users.filter(role=role) if role else users


def has_reference_face() -> Exists:
    """An annotation: the user has a registered reference face.

    Through proctoring's reverse relation ``face_registrations``, so that accounts (and exams) need
    not import proctoring: apps depend one way, accounts <- exams <- proctoring.
    """
    return Exists(User.objects.filter(pk=OuterRef("pk"), face_registrations__isnull=False))
