from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import StrictSerializer, TenantAPIView, created, paginated
from accounts.models import Role
from exams import services
from exams.models import Exam, ExamStatus


class ExamOutput(serializers.ModelSerializer):
    class Meta:
        model = Exam
        fields = ["id", "title", "description", "status", "opens_at", "closes_at", "duration_minutes",
                  "created_at", "updated_at"]


class ExamInput(StrictSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=ExamStatus.choices, required=False, default=ExamStatus.DRAFT)
    opens_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    closes_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False, default=60)


class ExamAPIView(TenantAPIView):
    """Admins and proctors read exams; only admins change them."""

    def get_permissions(self):  # type: ignore[no-untyped-def]
        self.allowed_roles = (Role.ADMIN, Role.PROCTOR) if self.request.method == "GET" else (Role.ADMIN,)
        return super().get_permissions()


class ExamListView(ExamAPIView):

    @extend_schema(responses={200: ExamOutput(many=True)})
    def get(self, request: Request) -> Response:
        return paginated(request, self, Exam.objects.all(), ExamOutput)

    @extend_schema(request=ExamInput, responses={201: ExamOutput})
    def post(self, request: Request) -> Response:
        data = ExamInput(data=request.data)
        data.is_valid(raise_exception=True)
        return created(ExamOutput(services.exam_create(actor=request.user, **data.validated_data)).data)


class ExamDetailView(ExamAPIView):
    @extend_schema(responses={200: ExamOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ExamOutput(get_object_or_404(Exam.objects.all(), pk=pk)).data)

    @extend_schema(request=ExamInput(partial=True), responses={200: ExamOutput})
    def patch(self, request: Request, pk: int) -> Response:
        exam = get_object_or_404(Exam.objects.all(), pk=pk)
        data = ExamInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(ExamOutput(services.exam_update(exam=exam, **data.validated_data)).data)

    def delete(self, request: Request, pk: int) -> Response:
        services.exam_delete(exam=get_object_or_404(Exam.objects.all(), pk=pk))
        return Response(status=204)
