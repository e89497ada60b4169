"""Sign-in by email and password when an email may belong to one account per institution."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User


class EmailBackend(ModelBackend):
    """The one account with this email whose password matches.

    An email is unique per institution, so several accounts may share it; the password picks the
    account. When it matches more than one (one person, one password, two institutions), the
    caller must name the institution: ``request.login_needs_institution`` is set and nobody is
    signed in.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        email: str | None = None,
        institution: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        address = (email or username or "").strip().lower()
        if not address or password is None:
            return None
        candidates = User.objects.filter(email__iexact=address).select_related("institution")
        if institution:
            candidates = candidates.filter(institution__slug=institution.strip().lower())
        accounts = list(candidates[:10])
        if not accounts:
            User().set_password(password)  # as ModelBackend: a missing account costs one hash too
            return None
        matches = [u for u in accounts if u.check_password(password) and self.user_can_authenticate(u)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1 and request is not None:
            request.login_needs_institution = True  # type: ignore[attr-defined]
        return None

    def get_user(self, user_id: Any) -> User | None:
        """The signed-in user of a page or of the browser's API calls (every webcam frame and status poll),
        with the institution that each request reads (tenant scope, time zone) in the same query."""
        try:
            user = User._default_manager.select_related("institution").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
