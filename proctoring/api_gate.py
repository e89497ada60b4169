"""The gate's API for the student's check page: its status, and the photo-ID request of the fallback."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import StrictSerializer, TenantAPIView, created
from accounts.models import Role
from exams.access import access_session_by_id
from proctoring import approvals, gate
from proctoring.images import decode_base64


class GateStatusView(TenantAPIView):
    """What the check page shows: identity verdict and reason, tries, liveness step, fallback, approval."""

    allowed_roles = tuple(Role.values)

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request, pk: int) -> Response:
        return Response(gate.gate_status(access_session_by_id(actor=request.user, session_id=pk)))


class IdentityRequestView(TenantAPIView):
    """The student sends a photo of their ID card and a live frame for a proctor to check."""

    allowed_roles = (Role.STUDENT,)

    class Input(StrictSerializer):
        id_photo = serializers.CharField(help_text="base64 JPEG or PNG of the photo-ID card")
        live_photo = serializers.CharField(help_text="base64 JPEG or PNG: the student, now")

    @extend_schema(request=Input, responses={201: {"type": "object"}})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        approval = approvals.identity_request_create(
            session=session, student=request.user, id_photo=decode_base64(data.validated_data["id_photo"]),
            live_photo=decode_base64(data.validated_data["live_photo"]))
        return created({"request": approval.pk, "status": approval.status})
