"""The OpenAPI schema tells the truth about errors: every operation may answer a 4xx in the envelope."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(help_text="Field errors ({field: [messages]}) or other context; may be empty.")


class ErrorEnvelope(serializers.Serializer):
    """What ``accounts.errors`` answers for every client error."""

    error = ErrorDetail()


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: serializers.Serializer, direction: Any) -> str:
        # Views nest their own ``Input``/``Output``; named by class alone they would collide into one
        # component ("Input"), and the schema would describe every body as the token view's.
        return type(serializer).__qualname__.replace("View.", "").replace(".", "")

    def get_request_serializer(self) -> Any:
        if self.method in ("GET", "DELETE"):
            return None  # no body; without this drf-spectacular guesses, fails and warns
        return super().get_request_serializer()

    def get_response_serializers(self) -> Any:
        if self.method == "DELETE":
            return None
        return super().get_response_serializers()

    def _get_request_body(self, direction: Any = "request") -> Any:
        body = super()._get_request_body(direction)
        # The sample's endpoints take the same fields as JSON (base64 image) or multipart (image file); a
        # body declared only as JSON is documented for multipart too, with the image as a file.
        parsers = getattr(self.view, "parser_classes", [])
        content = (body or {}).get("content", {})
        json_schema = content.get("application/json", {}).get("schema", {})
        if any(issubclass(p, MultiPartParser) for p in parsers) and "properties" in json_schema \
                and "multipart/form-data" not in content:
            properties = {name: ({"type": "string", "format": "binary"} if prop.get("format") == "byte" else prop)
                          for name, prop in json_schema["properties"].items()}
            content["multipart/form-data"] = {"schema": {**json_schema, "properties": properties}}
        return body

    def _get_paginator(self) -> Any:
        # Only GET lists are pages; a POST answering a list (the sample's /process) is a bare array.
        return super()._get_paginator() if self.method == "GET" else None

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        if self.method == "DELETE" and self.get_response_serializers() is None:
            responses: dict[str, Any] = {"204": {"description": "Deleted; no body."}}
        else:
            responses = super()._get_response_bodies(direction)
        if direction == "response":
            responses.setdefault("4XX", self._get_response_for_code(ErrorEnvelope, "4XX", direction=direction))
        return responses
