"""The project's path converters: ``<id:pk>`` for a database id in a URL."""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import IntConverter


class IdConverter(IntConverter):
    """A database id: at most 18 digits, so any id matches (ids are 64-bit signed integers, up to 19 digits, and
    none comes near) and a longer number is no id: the URL does not match, a 404. Django's ``int`` passed any
    number of digits on to the database, where SQLite failed on one past 2**63 (OverflowError, a 500)."""

    regex = "[0-9]{1,18}"


register_converter(IdConverter, "id")
