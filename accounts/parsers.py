"""The API's JSON parser: a body is one JSON object of bounded depth whose text the database can store."""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

from accounts.text import text_problem


class StrictJSONParser(JSONParser):
    """Refuses, with a 400, what would otherwise fail later as a 500.

    - a body that is not a JSON object (every endpoint takes an object; ``[1]`` or ``"x"`` would reach
      code that calls ``.keys()`` or ``.get()``);
    - nesting deeper than ``MAX_JSON_DEPTH`` (Python's decoder raises ``RecursionError``, not
      ``ValueError``, on very deep input, and a deep value stored in a JSON column comes back out);
    - any key or string holding a NUL (PostgreSQL text and jsonb cannot store it) or a lone UTF-16
      surrogate such as ``"\\ud800"`` (valid JSON, but not encodable as UTF-8 for the database or the
      response).
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            data = json.load(codecs.getreader(encoding)(stream), parse_constant=json.strict_constant)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if not isinstance(data, dict):
            raise ParseError("The body must be a JSON object.")
        _check(data, max_depth=settings.MAX_JSON_DEPTH)
        return data


def _check(data: Any, *, max_depth: int) -> None:
    """Walks the document without recursion (its depth is what is being checked)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise ParseError(f"The body is nested deeper than {max_depth} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((item, depth + 1))
        elif isinstance(value, str):
            _check_text(value)


def _check_text(value: str) -> None:
    problem = text_problem(value)
    if problem:
        raise ParseError(f"The body contains {problem}.")
