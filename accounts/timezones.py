"""Time zones: each institution has one and a user may choose their own; pages, exports and emails
show every time in it (accounts.middleware.TimeZoneMiddleware activates it per request)."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """IANA zone names known to this machine's tz database, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_time_zone(value: str) -> None:
    if value not in zone_names():
        raise ValidationError("“%(value)s” is not a known time zone (e.g. Europe/Paris).", code="invalid_time_zone",
                              params={"value": value})


def default_time_zone() -> str:
    """A new institution's zone: the deployment's TIME_ZONE setting."""
    return str(settings.TIME_ZONE)


def zone_name_for(user: Any) -> str:
    """The user's own zone, else their institution's, else the deployment's (anonymous, superusers)."""
    own = getattr(user, "time_zone", "")
    if own:
        return str(own)
    institution = getattr(user, "institution", None) if getattr(user, "institution_id", None) else None
    return institution.time_zone if institution is not None and institution.time_zone else default_time_zone()


def zone_for(user: Any) -> zoneinfo.ZoneInfo:
    """The zone of ``zone_name_for``; one that the tz database lost since it was chosen falls back to TIME_ZONE."""
    try:
        return zoneinfo.ZoneInfo(zone_name_for(user))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(default_time_zone())
