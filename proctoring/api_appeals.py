"""The student's record and appeals in the API: a student reads their session's decided incidents and
appeals one; staff list appeals and decide them. The rules live in proctoring.appeals."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import QueryFilters, StrictSerializer, TenantAPIView, created, paginated, query_filters
from accounts.models import Role
from exams.access import access_session_by_id
from exams.statuses import AppealStatus
from proctoring import appeals
from proctoring.models import Appeal
from proctoring.storage import private_file_response

STAFF = (Role.ADMIN, Role.PROCTOR)


class AppealOutput(serializers.ModelSerializer):
    class Meta:
        model = Appeal
        fields = ["id", "incident", "student", "note", "status", "created_at", "decided_at", "decision_note"]


class RecordIncidentOutput(serializers.Serializer):
    id = serializers.IntegerField(source="incident.pk")
    kind = serializers.CharField(source="incident.kind")
    severity = serializers.CharField(source="incident.severity")
    started_at = serializers.DateTimeField(source="incident.started_at")
    ended_at = serializers.DateTimeField(source="incident.ended_at", allow_null=True)
    during_check = serializers.BooleanField(source="incident.during_check")
    decision = serializers.CharField(source="incident.review_status")
    decided_at = serializers.DateTimeField(source="incident.reviewed_at", allow_null=True)
    reason = serializers.CharField(source="incident.review_note")
    evidence_frames = serializers.ListField(child=serializers.IntegerField(), source="frame_ids",
                                            help_text="Frame ids; each image at /api/v1/record/frames/<id>/image")
    appeal = AppealOutput(allow_null=True)
    appeal_until = serializers.DateTimeField(source="deadline", allow_null=True)
    can_appeal = serializers.BooleanField()
    why_not = serializers.CharField(help_text="Why it cannot be appealed (empty when it can).")


class RecordOutput(serializers.Serializer):
    session = serializers.IntegerField()
    visibility = serializers.CharField()
    appeal_window_days = serializers.IntegerField()
    incidents = RecordIncidentOutput(many=True)


class SessionRecordView(TenantAPIView):
    """The student's own session after its review: decided incidents, their evidence and the appeals."""

    allowed_roles = (Role.STUDENT,)

    @extend_schema(responses={200: RecordOutput})
    def get(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        return Response(RecordOutput({
            "session": session.pk, "visibility": appeals.VISIBILITY_TEXT,
            "appeal_window_days": session.exam.institution.appeal_window_days,
            "incidents": appeals.session_record(session=session)}).data)


class RecordFrameImageView(TenantAPIView):
    """An evidence frame of a decided incident of the student's own ended session; anything else: 404."""

    allowed_roles = (Role.STUDENT,)

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        return private_file_response(appeals.access_own_evidence_frame(actor=request.user, frame_id=pk).image)


class IncidentAppealView(TenantAPIView):
    """A student appeals a confirmed incident of their own ended session: once, within the window."""

    allowed_roles = (Role.STUDENT,)

    class Input(StrictSerializer):
        note = serializers.CharField(max_length=appeals.NOTE_MAX)

    @extend_schema(request=Input, responses={201: AppealOutput})
    def post(self, request: Request, pk: int) -> Response:
        incident = appeals.access_own_incident(actor=request.user, incident_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = appeals.appeal_create(incident_id=incident.pk, student=request.user, **data.validated_data)
        return created(AppealOutput(appeal).data)


class AppealListView(TenantAPIView):
    allowed_roles = STAFF

    class Filters(QueryFilters):
        status = serializers.ChoiceField(choices=AppealStatus.choices, required=False)

    @extend_schema(responses={200: AppealOutput(many=True)}, parameters=[Filters])
    def get(self, request: Request) -> Response:
        filters = query_filters(request, self.Filters)
        return paginated(request, self, appeals.appeal_queue(status=filters.get("status")), AppealOutput)


class AppealDetailView(TenantAPIView):
    allowed_roles = STAFF

    @extend_schema(responses={200: AppealOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(AppealOutput(appeals.access_appeal_by_id(actor=request.user, appeal_id=pk)).data)


class AppealDecisionView(TenantAPIView):
    """Uphold or overturn an open appeal; overturning dismisses the incident."""

    allowed_roles = STAFF

    class Input(StrictSerializer):
        decision = serializers.ChoiceField(choices=[AppealStatus.UPHELD, AppealStatus.OVERTURNED])
        note = serializers.CharField(max_length=appeals.NOTE_MAX, required=False, allow_blank=True, default="")

    @extend_schema(request=Input, responses={200: AppealOutput})
    def post(self, request: Request, pk: int) -> Response:
        appeal = appeals.access_appeal_by_id(actor=request.user, appeal_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        decided = appeals.appeal_decide(appeal_id=appeal.pk, actor=request.user, **data.validated_data)
        return Response(AppealOutput(decided).data)
