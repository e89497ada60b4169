"""Failed-login throttling shared by the login page and the token endpoint (cache-backed)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _keys(request: HttpRequest, email: str) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "unknown")
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:ip:{address}", f"login-fail:acct:{account}"]


def login_blocked(request: HttpRequest, email: str) -> bool:
    """True once the client address or the account has too many recent failures."""
    counts = cache.get_many(_keys(request, email))
    return any(count >= settings.LOGIN_THROTTLE_LIMIT for count in counts.values())


def record_login_failure(request: HttpRequest, email: str) -> None:
    for key in _keys(request, email):
        # add() only sets when absent, so the window starts at the first failure.
        cache.add(key, 0, timeout=settings.LOGIN_THROTTLE_WINDOW)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW)


def clear_login_failures(request: HttpRequest, email: str) -> None:
    cache.delete_many(_keys(request, email)[1:])
