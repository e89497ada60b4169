"""Check a response against botocore's own Rekognition output shapes.

``validate_output("DetectFaces", response)`` walks the operation's output shape recursively and
fails with every problem found: wrong types, missing required members, unknown keys, values
outside an enum, numbers outside min/max, strings or lists outside their length bounds, strings
not matching the shape's pattern. ``validate_analyze`` checks ``analyze``'s four members against
the operations they come from.
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

import botocore.session
from botocore.model import Shape

_TOP_LEVEL_EXTRAS = {"ResponseMetadata"}  # added by botocore, not part of the output shape

ANALYZE_MEMBERS = {
    "Labels": ("DetectLabels", "Labels"),
    "FaceDetails": ("DetectFaces", "FaceDetails"),
    "FaceMatches": ("SearchFacesByImage", "FaceMatches"),
    "ModerationLabels": ("DetectModerationLabels", "ModerationLabels"),
}


@functools.lru_cache(maxsize=1)
def service_model() -> Any:
    return botocore.session.get_session().get_service_model("rekognition")


def output_shape(operation: str) -> Shape:
    return service_model().operation_model(operation).output_shape


def problems(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Every way ``value`` departs from ``shape``."""
    found: list[str] = []
    _walk(shape, value, path, found)
    return found


def validate_output(operation: str, response: dict) -> None:
    shape = output_shape(operation)
    value = {k: v for k, v in response.items() if k not in _TOP_LEVEL_EXTRAS}
    found = problems(shape, value, operation)
    assert not found, "\n".join(found)


def validate_analyze(response: dict) -> None:
    """The four Rekognition members; with References, also our ``Verification`` member."""
    assert set(response) - {"Verification"} == set(ANALYZE_MEMBERS), f"analyze keys: {sorted(response)}"
    found: list[str] = []
    for key, (operation, member) in ANALYZE_MEMBERS.items():
        _walk(output_shape(operation).members[member], response[key], f"analyze.{key}", found)
    if "Verification" in response:
        found += verification_problems(response["Verification"])
    assert not found, "\n".join(found)


def verification_problems(value: Any) -> list[str]:
    """Departures from the Verification contract: Passed, Reason, Similarity (0..100), FaceId."""
    from proctoring.analysis.verification import REASONS

    if not isinstance(value, dict) or set(value) != {"Passed", "Reason", "Similarity", "FaceId"}:
        return [f"analyze.Verification: keys {sorted(value) if isinstance(value, dict) else value!r}"]
    found = []
    if not isinstance(value["Passed"], bool) or value["Reason"] not in REASONS:
        found.append(f"analyze.Verification: Passed/Reason {value['Passed']!r}/{value['Reason']!r}")
    if value["Passed"] != (value["Reason"] == "match"):
        found.append("analyze.Verification: Passed exactly when Reason is match")
    similarity = value["Similarity"]
    if similarity is not None and not (isinstance(similarity, float) and 0.0 <= similarity <= 100.0):
        found.append(f"analyze.Verification.Similarity: {similarity!r}")
    if (similarity is None) != (value["FaceId"] is None):
        found.append("analyze.Verification: Similarity and FaceId come together")
    return found


def _walk(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    kind = shape.type_name
    checker = _CHECKERS.get(kind)
    if checker is None:
        found.append(f"{path}: no checker for shape type {kind}")
        return
    checker(shape, value, path, found)


def _structure(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, dict):
        found.append(f"{path}: expected a dict for {shape.name}, got {type(value).__name__}")
        return
    members = shape.members
    for key in value:
        if key not in members:
            found.append(f"{path}: unknown key {key!r} for {shape.name}")
    for key in shape.required_members:
        if key not in value:
            found.append(f"{path}: missing required {key!r} of {shape.name}")
    for key, item in value.items():
        if key in members:
            _walk(members[key], item, f"{path}.{key}", found)


def _list(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, list):
        found.append(f"{path}: expected a list, got {type(value).__name__}")
        return
    _length(shape, len(value), path, found)
    for i, item in enumerate(value):
        _walk(shape.member, item, f"{path}[{i}]", found)


def _map(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, dict):
        found.append(f"{path}: expected a map, got {type(value).__name__}")
        return
    for key, item in value.items():
        _walk(shape.key, key, f"{path}<key>", found)
        _walk(shape.value, item, f"{path}[{key!r}]", found)


def _string(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, str):
        found.append(f"{path}: expected a string, got {type(value).__name__}")
        return
    if shape.enum and value not in shape.enum:
        found.append(f"{path}: {value!r} is not one of {shape.enum}")
    _length(shape, len(value), path, found)
    pattern = shape.metadata.get("pattern")
    if pattern:
        compiled = _compile(pattern)
        if compiled is not None and not compiled.fullmatch(value):
            found.append(f"{path}: {value!r} does not match {pattern}")


def _integer(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        found.append(f"{path}: expected an integer, got {type(value).__name__}")
        return
    _range(shape, value, path, found)


def _float(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        found.append(f"{path}: expected a number, got {type(value).__name__}")
        return
    if value != value:  # NaN
        found.append(f"{path}: NaN")
        return
    _range(shape, value, path, found)


def _boolean(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, bool):
        found.append(f"{path}: expected a boolean, got {type(value).__name__}")


def _blob(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, (bytes, bytearray)):
        found.append(f"{path}: expected bytes, got {type(value).__name__}")


def _timestamp(shape: Shape, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, datetime.datetime):
        found.append(f"{path}: expected a datetime, got {type(value).__name__}")


def _range(shape: Shape, value: float, path: str, found: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        found.append(f"{path}: {value} < min {low}")
    if high is not None and value > high:
        found.append(f"{path}: {value} > max {high}")


def _length(shape: Shape, length: int, path: str, found: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        found.append(f"{path}: length {length} < min {low}")
    if high is not None and length > high:
        found.append(f"{path}: length {length} > max {high}")


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: skip the pattern rather than guess
        return None


_CHECKERS = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "float": _float,
    "double": _float,
    "boolean": _boolean,
    "blob": _blob,
    "timestamp": _timestamp,
}
