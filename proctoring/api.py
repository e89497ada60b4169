"""The sample-compatible endpoints (/faces/index, /process) and the proctoring API."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import QueryFilters, TenantAPIView, id_filter, paginated, query_filters
from accounts.errors import AppError
from accounts.models import Role, User
from accounts.parsers import StrictJSONParser
from exams.models import ExamSession
from exams.policy import ALL_CHECKS
from proctoring import checks, selectors, services
from proctoring.images import check_image, decode_base64
from proctoring.models import FaceRegistration, Frame, FrameStatus, Incident, IncidentKind

MAX_WAIT_SECONDS = 30.0
STAFF = (Role.ADMIN, Role.PROCTOR)
FULL_NAME_MAX = FaceRegistration._meta.get_field("full_name").max_length


def _image_from(request: Request) -> bytes:
    """The image of a JSON body (base64 ``image``) or of a multipart upload (file ``image``)."""
    upload = request.FILES.get("image") if hasattr(request, "FILES") else None
    if upload is not None:
        if upload.size > 5 * 1024 * 1024:
            raise AppError("The image is larger than 5 MB.", code="image_too_large", status_code=413)
        return upload.read()
    if "image" not in request.data:
        raise AppError("'image' is required (base64 in JSON, or a multipart file).", code="invalid",
                       details={"image": ["Required."]})
    return decode_base64(request.data.get("image"))


def _fields(request: Request, allowed: set[str]) -> dict[str, Any]:
    data = {key: request.data.get(key) for key in request.data.keys()}  # noqa: SIM118 - QueryDict too
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise AppError("Unknown fields.", code="invalid", details={name: ["Unknown field."] for name in unknown})
    return data


class FaceOutput(serializers.ModelSerializer):
    ExternalImageId = serializers.UUIDField(source="external_image_id")
    FullName = serializers.CharField(source="full_name")
    student = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = FaceRegistration
        fields = ["ExternalImageId", "FullName", "student", "collection_id", "face_id", "created_at"]


class FaceIndexView(TenantAPIView):
    """Register a face (admins): JSON ``{"image": base64, "fullName"}`` or multipart."""

    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(request={"application/json": {"type": "object", "properties": {
        "image": {"type": "string", "format": "byte"}, "fullName": {"type": "string", "maxLength": FULL_NAME_MAX},
        "student": {"type": "integer"}}}}, responses={200: {"type": "object", "properties": {
            "ExternalImageId": {"type": "string", "format": "uuid"}}}})
    def post(self, request: Request) -> Response:
        data = _fields(request, {"image", "fullName", "student"})
        image = _image_from(request)
        student = None
        if data.get("student") not in (None, ""):
            try:
                student = User.objects.in_scope().get(pk=int(data["student"]), role=Role.STUDENT)
            except (User.DoesNotExist, TypeError, ValueError) as exc:
                raise AppError("Unknown student.", code="invalid", details={"student": ["Unknown student."]}) from exc
        if not isinstance(data.get("fullName"), str):
            raise AppError("'fullName' is required.", code="invalid", details={"fullName": ["Required."]})
        if len(data["fullName"]) > FULL_NAME_MAX:  # the column's length: PostgreSQL would refuse it with a 500
            raise AppError(f"'fullName' has at most {FULL_NAME_MAX} characters.", code="invalid",
                           details={"fullName": [f"At most {FULL_NAME_MAX} characters."]})
        registration = services.face_register(institution=request.user.institution, actor=request.user,
                                              image=image, full_name=data["fullName"], student=student)
        return Response({"ExternalImageId": str(registration.external_image_id)})


class FaceListView(TenantAPIView):
    @extend_schema(responses={200: FaceOutput(many=True)})
    def get(self, request: Request) -> Response:
        return paginated(request, self, FaceRegistration.objects.all(), FaceOutput)


class FaceDetailView(TenantAPIView):
    def _get(self, external_image_id: Any) -> FaceRegistration:
        return get_object_or_404(FaceRegistration.objects.all(), external_image_id=external_image_id)

    @extend_schema(responses={200: FaceOutput})
    def get(self, request: Request, external_image_id: Any) -> Response:
        return Response(FaceOutput(self._get(external_image_id)).data)

    def delete(self, request: Request, external_image_id: Any) -> Response:
        services.face_delete(registration=self._get(external_image_id))
        return Response(status=204)


class FaceImageView(TenantAPIView):
    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request: Request, external_image_id: Any) -> FileResponse:
        registration = get_object_or_404(FaceRegistration.objects.all(), external_image_id=external_image_id)
        return _private_file(registration.image)


def _private_file(field: Any) -> FileResponse:
    if not field:
        raise Http404
    response = FileResponse(field.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class CheckDetails(serializers.JSONField):
    """A count (Person Detection, Face Detection), a name, a list of labels, or "0"."""


class CheckOutput(serializers.Serializer):
    """One item of the sample's /process answer."""

    TestName = serializers.ChoiceField(choices=ALL_CHECKS)
    Success = serializers.BooleanField()
    Details = CheckDetails()


class FrameQueuedOutput(serializers.Serializer):
    frame = serializers.IntegerField()
    status = serializers.ChoiceField(choices=FrameStatus.choices)
    status_url = serializers.CharField()


class ProcessView(TenantAPIView):
    """Check a frame. Without ``session``: analysed at once (staff only). With it: stored and queued."""

    allowed_roles = tuple(Role.values)
    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        parameters=[OpenApiParameter("wait", float, description="Seconds to wait for the analysis.")],
        request={"application/json": {"type": "object", "properties": {
            "image": {"type": "string", "format": "byte"}, "session": {"type": "integer"}}}},
        responses={200: CheckOutput(many=True), 202: FrameQueuedOutput},
    )
    def post(self, request: Request) -> Response:
        data = _fields(request, {"image", "session"})
        image = _image_from(request)
        wait = self._wait(request, default=None if data.get("session") else MAX_WAIT_SECONDS)
        if data.get("session") in (None, ""):
            return self._check_now(request, image)
        try:
            session_id = int(data["session"])
        except (TypeError, ValueError) as exc:
            raise AppError("'session' must be a session id.", code="invalid",
                           details={"session": ["Not an id."]}) from exc
        session = get_object_or_404(ExamSession.objects.select_related("exam"), pk=session_id)
        frame = services.frame_ingest(session=session, actor=request.user, image=image)
        if wait:
            frame = _await_analysis(frame.pk, wait)
            if frame.status == FrameStatus.DONE:
                return Response(frame.checks)
            if frame.status == FrameStatus.FAILED:
                raise AppError(f"The frame could not be analysed: {frame.error}", code="invalid_image",
                               status_code=422)
        return Response({"frame": frame.pk, "status": frame.status,
                         "status_url": f"/api/v1/frames/{frame.pk}/"}, status=202)

    def _wait(self, request: Request, default: float | None) -> float | None:
        raw = request.query_params.get("wait")
        if raw is None:
            return default
        try:
            return max(0.0, min(float(raw), MAX_WAIT_SECONDS))
        except ValueError as exc:
            raise AppError("'wait' must be a number of seconds.", code="invalid") from exc

    def _check_now(self, request: Request, image: bytes) -> Response:
        if request.user.role not in STAFF or request.user.institution_id is None:
            raise AppError("Students send frames with their exam session; staff check frames against their "
                           "institution's faces.", code="session_required")
        check_image(image)
        try:
            _, outcome = services.analyze_image(institution_id=request.user.institution_id, image=image,
                                                policy=checks.Policy())
        except ClientError as exc:
            raise services.engine_error(exc) from exc
        return Response(outcome.results)


def _await_analysis(frame_id: int, seconds: float) -> Frame:
    deadline = time.monotonic() + seconds
    while True:
        frame = Frame.objects.get(pk=frame_id)
        if frame.status != FrameStatus.PENDING or time.monotonic() >= deadline:
            return frame
        time.sleep(0.05)


class FrameOutput(serializers.ModelSerializer):
    class Meta:
        model = Frame
        fields = ["id", "session", "status", "received_at", "analysed_at", "checks", "error"]


class FrameDetailView(TenantAPIView):
    allowed_roles = tuple(Role.values)

    @extend_schema(responses={200: FrameOutput})
    def get(self, request: Request, pk: int) -> Response:
        frames = Frame.objects.all()
        if request.user.role == Role.STUDENT:
            frames = frames.filter(session__student=request.user)
        return Response(FrameOutput(get_object_or_404(frames, pk=pk)).data)


class FrameImageView(TenantAPIView):
    allowed_roles = STAFF

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        return _private_file(get_object_or_404(Frame.objects.all(), pk=pk).image)


class IncidentOutput(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = ["id", "session", "kind", "severity", "is_open", "started_at", "ended_at", "first_frame",
                  "last_frame", "evidence_frame", "frame_count", "review_status"]


class IncidentListView(TenantAPIView):
    allowed_roles = STAFF

    class Filters(QueryFilters):
        session = id_filter()
        kind = serializers.ChoiceField(choices=IncidentKind.choices, required=False)

    @extend_schema(responses={200: IncidentOutput(many=True)}, parameters=[Filters])
    def get(self, request: Request) -> Response:
        incidents = Incident.objects.all().filter(**query_filters(request, self.Filters))
        return paginated(request, self, incidents, IncidentOutput)


class IncidentDetailView(TenantAPIView):
    allowed_roles = STAFF

    @extend_schema(responses={200: IncidentOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(IncidentOutput(get_object_or_404(Incident.objects.all(), pk=pk)).data)


class LiveView(TenantAPIView):
    """The running sessions of an exam with their latest frame, checks and open incidents."""

    allowed_roles = STAFF

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request, pk: int) -> Response:
        from exams.models import Exam

        exam = get_object_or_404(Exam.objects.all(), pk=pk)
        return Response({"exam": exam.pk, "sessions": selectors.live_sessions(exam=exam)})
