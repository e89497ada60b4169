"""Speech segments: the exam page sends what its VAD heard; staff play the clips; admins set accommodations."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import StrictSerializer, TenantAPIView, created
from accounts.errors import AppError
from accounts.models import Role
from exams.access import access_session_by_id
from exams.policy import EXEMPT_TALKING
from proctoring import speech
from proctoring.access import access_speech_by_id
from proctoring.api import STAFF, aware_time
from proctoring.storage import private_file_response

FIELDS = {"clip", "started_at", "ended_at", "probability"}


def _time(raw: Any, name: str) -> datetime:
    moment = aware_time(raw, name)
    if moment is None:
        raise AppError(f"'{name}' is required.", code="invalid", details={name: ["Required."]})
    return moment


def _probability(raw: Any) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 <= value <= 1:
        raise AppError("'probability' is a number from 0 to 1.", code="invalid",
                       details={"probability": ["Between 0 and 1."]})
    return value


class SpeechView(TenantAPIView):
    """A speech segment of the caller's running session: multipart ``clip`` (16 kHz mono 16-bit PCM
    WAV, at most 30 s), ``started_at``, ``ended_at`` (ISO-8601) and the browser's ``probability``."""

    allowed_roles = (Role.STUDENT,)
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "required": ["clip", "started_at", "ended_at"],
                                         "properties": {
                                             "clip": {"type": "string", "format": "binary"},
                                             "started_at": {"type": "string", "format": "date-time"},
                                             "ended_at": {"type": "string", "format": "date-time"},
                                             "probability": {"type": "number", "minimum": 0, "maximum": 1}}}},
        responses={201: {"type": "object", "description": (
            "Stored: `segment`, `speech_seconds` (what the server's VAD heard), `incident` (the talking "
            "incident it is evidence of, or null). 4xx, nothing stored: 400 `empty_clip`, `truncated_audio`, "
            "`clip_too_short`, `invalid`; 413 `clip_too_large`; 415 `unsupported_audio`; 409 `microphone_off`, "
            "`microphone_consent_required`, `speech_accommodation`, `session_not_running`; 422 `no_speech`.")}},
    )
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        unknown = sorted(set(request.data.keys()) - FIELDS)
        if unknown:
            raise AppError("Unknown fields.", code="invalid", details={name: ["Unknown field."] for name in unknown})
        upload = request.FILES.get("clip")
        if upload is None:
            raise AppError("'clip' is required (a multipart file).", code="empty_clip", details={"clip": ["Required."]})
        # The size limit is checked once, where every clip is decoded (audio.decode_wav); the upload is
        # already in memory here (FILE_UPLOAD_MAX_MEMORY_SIZE), and a larger body never reaches this view.
        segment = speech.speech_segment_ingest(
            session=session, actor=request.user, clip=upload.read(),
            started_at=_time(request.data.get("started_at"), "started_at"),
            ended_at=_time(request.data.get("ended_at"), "ended_at"),
            browser_probability=_probability(request.data.get("probability")),
        )
        return created({"segment": segment.pk, "speech_seconds": segment.speech_seconds,
                        "incident": segment.incident_id})


class SpeechClipView(TenantAPIView):
    """A speech clip, for staff (access-checked, never a public URL)."""

    allowed_roles = STAFF

    @extend_schema(responses={(200, "audio/wav"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        return private_file_response(access_speech_by_id(actor=request.user, segment_id=pk).clip,
                                     content_type="audio/wav")


class SpeechAccommodationView(TenantAPIView):
    """Switch listening off for a student's sitting (read-aloud or dictation software), or back on."""

    allowed_roles = (Role.ADMIN,)

    class Input(StrictSerializer):
        on = serializers.BooleanField()

    @extend_schema(request=Input, responses={200: {"type": "object"}})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        session = speech.speech_accommodation_set(session=session, actor=request.user, on=data.validated_data["on"])
        return Response({"session": session.pk,
                         "speech_accommodation": EXEMPT_TALKING in session.exempt_checks})
