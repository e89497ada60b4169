"""Text the database cannot store: one definition shared by the JSON parser and the request middleware."""

from __future__ import annotations


def text_problem(value: str) -> str | None:
    """What makes ``value`` unstorable, or None.

    PostgreSQL refuses NUL in text and jsonb; a lone surrogate (``"\\ud800"`` in JSON, or a
    ``surrogateescape``-decoded byte) cannot be encoded as UTF-8. SQLite stores both, so without this
    check the same request is a 201 on SQLite and a 500 on PostgreSQL.
    """
    if "\x00" in value:
        return "a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (not valid Unicode text)"
    return None
