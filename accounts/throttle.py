"""Rate limits: the real client address, fail-open counters in the cache, DRF throttles, login lockout.

Failed logins are counted by django-axes in the database (so sign-in works with Redis down), per
account *and* client address together: someone who knows an email can lock it out only from their
own address. A second, cache-backed counter caps failures per client address (password spraying
across many accounts) at a limit high enough for an exam hall behind one NAT address.

Everything counted in the cache fails open: with Redis unreachable a request is allowed and the
outage is logged, because refusing every login or frame would be worse than an unthrottled minute.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework import throttling

logger = logging.getLogger(__name__)

LOCKED_OUT_MESSAGE = "Too many failed attempts. Wait a few minutes and try again."


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the entry that the nearest trusted proxy appended.

    With ``TRUSTED_PROXY_COUNT = n`` the n-th ``X-Forwarded-For`` entry from the right is the
    client's (each proxy appends the address it received from); anything left of it was written by
    the client and is ignored. With 0, the header is ignored altogether.
    """
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    chosen = addresses[-min(count, len(addresses))] if addresses else remote
    return chosen if _is_address(chosen) else remote


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def axes_client_ip(request: HttpRequest) -> str | None:
    """django-axes stores the address in an inet column: a valid address or None."""
    address = client_address(request)
    return address if _is_address(address) else None


# After a cache failure the limits are skipped for RATE_LIMIT_CACHE_RETRY seconds (per process), so
# that a hung Redis costs one socket timeout now and then, not one on every request.
_cache_down_until = 0.0


def cache_usable() -> bool:
    return time.monotonic() >= _cache_down_until


def cache_failed(what: str) -> None:
    global _cache_down_until
    _cache_down_until = time.monotonic() + settings.RATE_LIMIT_CACHE_RETRY
    logger.warning("%s not checked: the cache is unreachable; limits are off for %s s.",
                   what, settings.RATE_LIMIT_CACHE_RETRY, exc_info=True)


def reset_cache_breaker() -> None:
    global _cache_down_until
    _cache_down_until = 0.0


def window_hit(key: str, *, limit: int, window: int, cost: int = 1) -> int | None:
    """Count ``cost`` against ``key`` over a sliding window of ``window`` seconds.

    Answers None while the total stays within ``limit``, else the seconds to wait. The window
    slides as Cloudflare's counters do: this fixed window's total plus the previous one's, weighted
    by how much of it still overlaps, so a boundary never doubles the allowance. An unreachable
    cache allows the hit (logged).
    """
    now = time.time()
    index, elapsed = divmod(now, window)
    fraction = elapsed / window
    current, previous = f"rl:{key}:{int(index)}", f"rl:{key}:{int(index) - 1}"
    if not cache_usable():
        return None
    try:
        total, before = _counts(current, previous, cost=cost, timeout=2 * window + 1)
    except Exception:  # noqa: BLE001 - redis-py raises several types when Redis is down
        cache_failed(f"Rate limit {key}")
        return None
    if before * (1 - fraction) + total <= limit:
        return None
    if total > limit or before == 0:
        return max(1, math.ceil(window - elapsed))
    # Wait until enough of the previous window has slid out.
    return max(1, math.ceil(window * (1 - (limit - total) / before) - elapsed))


def _write_client(backend: RedisCache) -> Any:
    """The cache's Redis client, kept on the backend: Django builds a new ``redis.Redis`` on every call
    (0.11 ms of CPU each, three counters per frame). redis-py clients are thread-safe over the pool."""
    client = getattr(backend, "_window_client", None)
    if client is None:
        client = backend._window_client = backend._cache.get_client(write=True)  # type: ignore[attr-defined]
    return client


def _counts(current: str, previous: str, *, cost: int, timeout: int) -> tuple[int, int]:
    """Add ``cost`` to the counter ``current``; answers (its total, the counter ``previous``).

    On Redis in one round trip (a pipeline: set-if-absent, increment, read), where the cache's own
    add, incr (itself two commands) and get took four: every frame counts two limits (scripts/bench_scale.py).
    The values are the cache's own integers, so cache.get reads them as before.
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        keys = backend.make_and_validate_key(current), backend.make_and_validate_key(previous)
        pipe = _write_client(backend).pipeline(transaction=False)
        pipe.set(keys[0], 0, ex=timeout, nx=True)  # the window's first hit
        pipe.incrby(keys[0], cost)
        pipe.get(keys[1])
        _, total, before = pipe.execute()
        return int(total), int(before or 0)
    cache.add(current, 0, timeout=timeout)  # add() only sets when absent: the window's first hit
    try:
        total = cache.incr(current, cost)
    except ValueError:  # expired between add and incr
        cache.set(current, cost, timeout=timeout)
        total = cost
    return total, int(cache.get(previous) or 0)


def window_total(key: str, *, window: int) -> float:
    """The sliding-window total for ``key`` (0 when the cache is unreachable)."""
    index, elapsed = divmod(time.time(), window)
    if not cache_usable():
        return 0
    try:
        counts = cache.get_many([f"rl:{key}:{int(index)}", f"rl:{key}:{int(index) - 1}"])
    except Exception:  # noqa: BLE001
        cache_failed(f"Rate limit {key}")
        return 0
    return int(counts.get(f"rl:{key}:{int(index)}", 0)) + int(
        counts.get(f"rl:{key}:{int(index) - 1}", 0)) * (1 - elapsed / window)


# --- Failed logins per client address (spraying) -------------------------------------------------


def _address_key(request: HttpRequest) -> str:
    return f"login-fail:ip:{client_address(request)}"


def address_blocked(request: HttpRequest) -> bool:
    """True once the client address has LOGIN_ADDRESS_FAILURE_LIMIT failures in the window."""
    failures = window_total(_address_key(request), window=settings.LOGIN_ADDRESS_FAILURE_WINDOW)
    return failures >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


def record_address_failure(request: HttpRequest) -> None:
    window_hit(_address_key(request), limit=settings.LOGIN_ADDRESS_FAILURE_LIMIT,
               window=settings.LOGIN_ADDRESS_FAILURE_WINDOW)


# --- Growing lock-outs per account and address ---------------------------------------------------
# django-axes locks an account out from one address for AXES_COOLOFF_TIME. It cannot let the next
# lock-out last longer: one cool-off both locks and expires its rows, and its cleaner applies the
# requesting account's cool-off to every row. So each lock-out is also recorded here (LoginLockout),
# and the login views refuse the account from that address until the longer wait is over.


def lockout_length(count: int) -> timedelta:
    """The wait after the ``count``-th lock-out in a row: the cool-off, doubled each time, capped."""
    base: timedelta = settings.AXES_COOLOFF_TIME
    return min(base * 2 ** max(0, min(count, 32) - 1), settings.LOGIN_COOLOFF_MAX)


def lockout_signalled(sender: Any, request: HttpRequest, username: str | None, ip_address: str | None,
                      **kwargs: Any) -> None:
    """django-axes' ``user_locked_out``: the account is locked out from this address (again)."""
    from accounts.models import LoginLockout

    if not username:
        return
    now = timezone.now()
    # Rows of lock-outs over a day ago hold an email and an address for no purpose any more.
    LoginLockout.objects.filter(locked_until__lt=now - settings.LOGIN_LOCKOUT_MEMORY).exclude(
        username=username, ip_address=ip_address).delete()
    with transaction.atomic():
        lockout = LoginLockout.objects.select_for_update().filter(username=username, ip_address=ip_address).first()
        if lockout is None:
            lockout = LoginLockout(username=username, ip_address=ip_address, locked_until=now)
        elif lockout.locked_until > now:
            return  # the same lock-out, signalled again by a refused attempt
        elif now - lockout.locked_until > settings.LOGIN_LOCKOUT_MEMORY:
            lockout.count = 0
        lockout.count += 1
        lockout.locked_until = now + lockout_length(lockout.count)
        lockout.save()


def account_locked_for(request: HttpRequest, username: str) -> int | None:
    """Seconds until ``username`` may try again from this request's address, or None."""
    from accounts.models import LoginLockout

    until = (LoginLockout.objects.filter(username=username.strip().lower(), ip_address=axes_client_ip(request),
                                         locked_until__gt=timezone.now())
             .values_list("locked_until", flat=True).first())
    if until is None:
        return None
    return max(1, math.ceil((until - timezone.now()).total_seconds()))


def forget_lockouts(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A successful sign-in from an address starts its lock-outs afresh (as django-axes' failures)."""
    from accounts.models import LoginLockout

    if request is not None and getattr(user, "email", None):
        LoginLockout.objects.filter(username=user.email.strip().lower(), ip_address=axes_client_ip(request)).delete()


# --- django-axes hooks (settings AXES_*) ---------------------------------------------------------


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account a login attempt names: the login form sends ``username``, the API ``email``."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    return str(value).strip().lower() if value else None


def axes_lockout_response(request: HttpRequest, response: HttpResponse | None,
                          credentials: dict[str, Any] | None) -> HttpResponse:
    """What a locked-out login attempt answers: the error envelope for the API, the page otherwise."""
    from accounts.errors import error_response  # not at import: DRF imports this module while accounts.errors loads

    if request.path.startswith("/api/"):
        locked: HttpResponse = error_response("throttled", LOCKED_OUT_MESSAGE, 429)
    else:
        locked = render(request, "accounts/login.html",
                        {"form": locked_out_form(request), "next": request.POST.get("next", "")}, status=429)
    username = axes_username(request, credentials)
    wait = account_locked_for(request, username) if username else None
    locked["Retry-After"] = str(wait or int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return locked


def locked_out_form(request: HttpRequest) -> AuthenticationForm:
    """The login form showing the lock-out message, without authenticating (a bound form would)."""
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    form._errors, form.cleaned_data = ErrorDict(), {}
    form.add_error(None, LOCKED_OUT_MESSAGE)
    return form


# --- DRF throttles: keyed by the real client address, failing open --------------------------------


class _FailOpen:
    """Reads its rate from settings at request time and allows the request when the cache is down."""

    def get_rate(self) -> str | None:
        return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(self.scope)  # type: ignore[attr-defined]

    def get_ident(self, request: Any) -> str:
        return client_address(request)

    def allow_request(self, request: Any, view: Any) -> bool:
        if not cache_usable():
            return True
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - redis-py raises several types when Redis is down
            cache_failed(f"API throttle {getattr(self, 'scope', '?')}")
            return True


class AnonThrottle(_FailOpen, throttling.AnonRateThrottle):
    pass


class UserThrottle(_FailOpen, throttling.UserRateThrottle):
    """The per-user rate, counted in a sliding window (``window_hit``: one Redis round trip).

    DRF keeps a list of the times of a user's requests and reads it, then writes it back pickled,
    on every call: two round trips on each webcam frame and status poll. The window allows what the
    list did (``rate`` calls per period, previous period weighted by its overlap) and fails open
    in the same way.
    """

    def allow_request(self, request: Any, view: Any) -> bool:
        self.retry_after: int | None = None
        if self.rate is None or (key := self.get_cache_key(request, view)) is None:
            return True
        self.retry_after = window_hit(key, limit=self.num_requests, window=self.duration)
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after


class ScopedThrottle(_FailOpen, throttling.ScopedRateThrottle):
    """Views that set ``throttle_scope`` get that scope's rate on top of the user/anon rate."""
