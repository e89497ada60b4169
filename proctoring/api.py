"""The sample-compatible endpoints (/faces/index, /process) and the proctoring API."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from django.http import FileResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import (
    QueryFilters,
    StrictSerializer,
    TenantAPIView,
    created,
    id_filter,
    paginated,
    query_filters,
)
from accounts.errors import AppError
from accounts.models import Role, User
from accounts.parsers import StrictJSONParser
from exams.access import access_exam_by_id, access_session_by_id
from exams.policy import ALL_CHECKS
from exams.statuses import SessionStatus
from proctoring import camera, checks, selectors, services
from proctoring.access import access_face_by_id, access_frame_by_id, access_incident_by_id
from proctoring.api_live import INBOX_RELATED, SessionMessagesOutput, session_inbox
from proctoring.identity import REASON_MESSAGES
from proctoring.images import check_image, decode_base64
from proctoring.models import FaceRegistration, Frame, FrameStatus, Incident, IncidentKind, ReviewStatus
from proctoring.review import BULK_MAX, browser_event, incidents_review_bulk
from proctoring.storage import private_file_response

# ``?wait`` polls the database inside a (sync) web worker: a few waiting requests would stall the site,
# so it is capped hard. Pages never wait: they follow the 202's status_url.
MAX_WAIT_SECONDS = 2.0
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


def _flag(raw: Any, name: str) -> bool:
    """A boolean of a JSON body (true/false) or of a form ("true"/"false", "1"/"0"); absent is false."""
    if raw in (None, "", False, "false", "0"):
        return False
    if raw in (True, "true", "1"):
        return True
    raise AppError(f"'{name}' must be true or false.", code="invalid", details={name: ["Must be a boolean."]})


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
    throttle_scope = "faces"  # each registration runs the engine: REST_FRAMEWORK's "faces" rate

    @extend_schema(request={"application/json": {"type": "object", "properties": {
        "image": {"type": "string", "format": "byte"}, "fullName": {"type": "string", "maxLength": FULL_NAME_MAX},
        "student": {"type": "integer"},
        "confirmDuplicate": {"type": "boolean", "default": False, "description": (
            "Register the face even though it matches a face registered to another person (a different "
            "student, or another name) above the face-match threshold. Without it such a photo is refused "
            "with 409 `duplicate_face`, whose details list the matching registrations (`matches`: "
            "ExternalImageId, FullName, student, Similarity) and the `threshold`; nothing is stored. A "
            "confirmed duplicate is recorded in the audit log.")}}}},
        responses={200: {"type": "object", "properties": {"ExternalImageId": {"type": "string", "format": "uuid"}}},
                   409: {"type": "object", "description": (
                       "`duplicate_face`: the face matches another person's registration; or "
                       "`too_many_references`: the student already has the most reference faces allowed.")}})
    def post(self, request: Request) -> Response:
        data = _fields(request, {"image", "fullName", "student", "confirmDuplicate"})
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
                                              image=image, full_name=data["fullName"], student=student,
                                              confirm_duplicate=_flag(data.get("confirmDuplicate"), "confirmDuplicate"))
        return Response({"ExternalImageId": str(registration.external_image_id)})


class FaceListView(TenantAPIView):
    @extend_schema(responses={200: FaceOutput(many=True)})
    def get(self, request: Request) -> Response:
        return paginated(request, self, FaceRegistration.objects.all(), FaceOutput)


class FaceDetailView(TenantAPIView):
    @extend_schema(responses={200: FaceOutput})
    def get(self, request: Request, external_image_id: Any) -> Response:
        return Response(FaceOutput(access_face_by_id(actor=request.user, external_image_id=external_image_id)).data)

    def delete(self, request: Request, external_image_id: Any) -> Response:
        services.face_delete(registration=access_face_by_id(actor=request.user, external_image_id=external_image_id),
                             actor=request.user)
        return Response(status=204)


class FaceImageView(TenantAPIView):
    """A reference photo, for staff: admins register them, proctors compare them with identity evidence."""

    allowed_roles = STAFF

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request: Request, external_image_id: Any) -> FileResponse:
        return private_file_response(access_face_by_id(actor=request.user, external_image_id=external_image_id).image)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class CheckDetails(serializers.JSONField):
    """A count (Person Detection, Face Detection), a name, labels joined by ", ", or "0"."""


class CheckOutput(serializers.Serializer):
    """One item of the sample's /process answer."""

    TestName = serializers.ChoiceField(choices=ALL_CHECKS)
    Success = serializers.BooleanField()
    Details = CheckDetails()


class FrameQueuedOutput(serializers.Serializer):
    frame = serializers.IntegerField()
    status = serializers.ChoiceField(choices=FrameStatus.choices)
    status_url = serializers.CharField()
    inbox = SessionMessagesOutput(required=False, help_text=(
        "While the exam runs (the session in progress): what the session's message poll "
        "(/api/v1/sessions/<id>/messages) answers now. The exam page reads it here and polls only while its frames "
        "do not flow; the camera check's frames, which nothing reads it from, go without."))


class ProcessView(TenantAPIView):
    """Check a frame. Without ``session``: analysed at once (staff only). With it: stored and queued."""

    allowed_roles = tuple(Role.values)
    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        parameters=[OpenApiParameter("wait", float, description=(
            f"With a session: seconds to wait for the analysis before answering 202, at most "
            f"{MAX_WAIT_SECONDS:g} (larger values are capped; a web worker is held meanwhile). Default: no "
            "wait. Follow the 202's status_url instead. Without a session the check is always synchronous."))],
        request={"application/json": {"type": "object", "properties": {
            "image": {"type": "string", "format": "byte"}, "session": {"type": "integer"},
            "captured_at": {"type": "string", "format": "date-time", "description": (
                "With a session: when the frame was taken, for frames kept while offline (ISO-8601 with a "
                "time zone; not in the future, not before the session began). Default: now.")}}}},
        responses={200: CheckOutput(many=True), 202: FrameQueuedOutput},
    )
    def post(self, request: Request) -> Response:
        data = _fields(request, {"image", "session", "captured_at"})
        image = _image_from(request)
        if data.get("session") in (None, ""):
            return self._check_now(request, image)
        wait = self._wait(request)
        captured_at = aware_time(data.get("captured_at"), "captured_at")
        try:
            session_id = int(data["session"])
        except (TypeError, ValueError) as exc:
            raise AppError("'session' must be a session id.", code="invalid",
                           details={"session": ["Not an id."]}) from exc
        # frame_ingest reads the exam (capture interval); the student is the actor, checked there. The answer's
        # inbox needs the student's accommodation (the deadline): read with the session, in the same query.
        session = access_session_by_id(actor=request.user, session_id=session_id, related=INBOX_RELATED)
        frame = services.frame_ingest(session=session, actor=request.user, image=image, captured_at=captured_at)
        if wait:
            frame = _await_analysis(frame.pk, wait)
            if frame.status == FrameStatus.DONE:
                return Response(checks.as_seen_by(frame.checks, viewer=request.user, student=request.user))
            if frame.status == FrameStatus.FAILED:
                raise AppError(f"The frame could not be analysed: {frame.error}", code="invalid_image",
                               status_code=422)
        answer = {"frame": frame.pk, "status": frame.status, "status_url": f"/api/v1/frames/{frame.pk}/"}
        if session.status == SessionStatus.IN_PROGRESS:  # (the check page's frames, every 2 s at an exam's start,
            answer["inbox"] = session_inbox(session=session, actor=request.user)  # skip the messages' query)
        return Response(answer, status=202)

    def _wait(self, request: Request) -> float | None:
        raw = request.query_params.get("wait")
        if raw is None:
            return None
        try:
            seconds = float(raw)
        except ValueError as exc:
            raise AppError("'wait' must be a number of seconds.", code="invalid") from exc
        if not math.isfinite(seconds):
            raise AppError("'wait' must be a number of seconds.", code="invalid")
        return max(0.0, min(seconds, MAX_WAIT_SECONDS))

    def _check_now(self, request: Request, image: bytes) -> Response:
        if request.user.role not in STAFF or request.user.institution_id is None:
            raise AppError("Students send frames with their exam session; staff check frames against their "
                           "institution's faces.", code="session_required")
        check_image(image)
        try:
            _, outcome = services.analyze_image(institution_id=request.user.institution_id, image=image,
                                                policy=checks.SAMPLE_POLICY)
        except ClientError as exc:
            raise services.engine_error(exc) from exc
        return Response(outcome.results)


def aware_time(raw: Any, name: str) -> datetime | None:
    """An optional ISO-8601 time with a time zone from a form field (bounds are the service's)."""
    if raw in (None, ""):
        return None
    try:
        moment = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise AppError(f"'{name}' must be an ISO-8601 time with a time zone.", code="invalid",
                       details={name: ["Not an ISO-8601 time with a time zone."]})
    return moment


def _await_analysis(frame_id: int, seconds: float) -> Frame:
    deadline = time.monotonic() + seconds
    while True:
        frame = Frame.objects.get(pk=frame_id)
        if frame.status != FrameStatus.PENDING or time.monotonic() >= deadline:
            return frame
        time.sleep(0.05)


class IdentityOutput(serializers.Serializer):
    """The frame's 1:1 identity check, as the session's student may see it."""

    passed = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=list(REASON_MESSAGES))
    message = serializers.CharField()


class AttentionOutput(serializers.Serializer):
    """Whether the student seemed to look away from their own start-of-exam pose on this frame."""

    away = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)


class CameraOutput(serializers.Serializer):
    """Whether the frame repeated the one before byte for byte (the camera's picture is frozen), or showed nothing
    (covered or dark)."""

    frozen = serializers.BooleanField()
    covered = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)


class FrameOutput(serializers.ModelSerializer):
    checks = CheckOutput(many=True, read_only=True, help_text="The five checks, as /process answers them; "
                         "empty until the frame is analysed.")
    identity = serializers.SerializerMethodField(help_text=(
        "The identity check against the student's own registered photos, with the reason when it fails; "
        "null until the frame is analysed, or when the exam does not check identity."))
    attention = serializers.SerializerMethodField(help_text=(
        "Looking away, judged against the student's own pose at the start of the exam; null when not judged "
        "(before analysis, during the pre-exam check, or when the exam does not watch for it)."))
    camera = serializers.SerializerMethodField(help_text=(
        "Whether the frame repeated the frame before it byte for byte (a stalled or virtual camera) or showed "
        "nothing (covered or dark), with what the student is told; null before analysis."))

    class Meta:
        model = Frame
        fields = ["id", "session", "status", "received_at", "captured_at", "analysed_at", "checks", "identity",
                  "attention", "camera", "carried_from", "error"]
        extra_kwargs = {"carried_from": {"help_text": (
            "The frame whose result this one carries: it barely differed from that fully analysed frame, so "
            "the engine did not run again (null: analysed in full).")}}

    @extend_schema_field(IdentityOutput(allow_null=True))
    def get_identity(self, frame: Frame) -> dict[str, Any] | None:
        return selectors.frame_identity(frame)

    @extend_schema_field(AttentionOutput(allow_null=True))
    def get_attention(self, frame: Frame) -> dict[str, Any] | None:
        return selectors.frame_attention(frame)

    @extend_schema_field(CameraOutput(allow_null=True))
    def get_camera(self, frame: Frame) -> dict[str, Any] | None:
        return camera.frame_camera(frame)


class FrameDetailView(TenantAPIView):
    allowed_roles = tuple(Role.values)

    @extend_schema(responses={200: FrameOutput})
    def get(self, request: Request, pk: int) -> Response:
        # The browser polls this after every frame: a student reaches only their own session's frames, so
        # they are the frame's student and neither the session nor the student row needs loading.
        own = request.user.role == Role.STUDENT and not request.user.is_superuser
        frame = access_frame_by_id(actor=request.user, frame_id=pk, related=() if own else ("session__student",))
        data = FrameOutput(frame).data
        data["checks"] = checks.as_seen_by(frame.checks, viewer=request.user,
                                           student=request.user if own else frame.session.student)
        return Response(data)


class FrameImageView(TenantAPIView):
    allowed_roles = STAFF

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        return private_file_response(access_frame_by_id(actor=request.user, frame_id=pk).image)


class IncidentOutput(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = ["id", "session", "kind", "severity", "is_open", "started_at", "ended_at", "first_frame",
                  "last_frame", "evidence_frame", "frame_count", "review_status", "during_check"]


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
        return Response(IncidentOutput(access_incident_by_id(actor=request.user, incident_id=pk)).data)


class IncidentBulkReviewView(TenantAPIView):
    """Confirm or dismiss several incidents at once: all or none, each audited as one review; an id that is
    missing or another institution's answers 404 for the whole request."""

    allowed_roles = STAFF

    class Input(StrictSerializer):
        ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                    min_length=1, max_length=BULK_MAX)
        decision = serializers.ChoiceField(choices=[ReviewStatus.CONFIRMED, ReviewStatus.DISMISSED])
        note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    @extend_schema(request=Input, responses={200: IncidentOutput(many=True)})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        decided = incidents_review_bulk(incident_ids=data.validated_data["ids"], reviewer=request.user,
                                        decision=data.validated_data["decision"], note=data.validated_data["note"])
        return Response(IncidentOutput(decided, many=True).data)


class LiveView(TenantAPIView):
    """The running sessions of an exam with their latest frame, checks and open incidents."""

    allowed_roles = STAFF

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request, pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        return Response({"exam": exam.pk, "sessions": selectors.live_sessions(exam=exam)})


class EventView(TenantAPIView):
    """A browser event of the caller's running session (tab hidden, copy/paste, …)."""

    allowed_roles = (Role.STUDENT,)

    class Input(StrictSerializer):
        kind = serializers.CharField(max_length=32)
        detail = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        back = serializers.BooleanField(required=False, default=False, help_text=(
            "tab_hidden or camera_stopped only: the student came back to the exam tab, or the camera runs again; "
            "the incident the event opened ends now."))

    @extend_schema(request=Input, responses={201: {"type": "object"}, 200: {
        "type": "object", "description": "The student is exempt from this kind (an accommodation): no incident."}})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        incident = browser_event(session=session, student=request.user, **data.validated_data)
        if data.validated_data["back"]:
            return Response({"incident": incident.pk if incident else None, "kind": data.validated_data["kind"]})
        if incident is None:
            return Response({"incident": None, "kind": data.validated_data["kind"], "exempt": True})
        return created({"incident": incident.pk, "kind": incident.kind})
