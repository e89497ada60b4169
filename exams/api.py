from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
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
from exams import services, taking
from exams.models import Exam, ExamSession, ExamStatus
from exams.statuses import SessionStatus


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


class SessionOutput(serializers.ModelSerializer):
    class Meta:
        model = ExamSession
        fields = ["id", "exam", "student", "status", "started_at", "ended_at", "created_at"]


class SessionListView(ExamAPIView):
    """Exam sessions: staff list them, admins create one for a student (idempotent)."""

    class Input(StrictSerializer):
        exam = serializers.IntegerField()
        student = serializers.IntegerField()

    class Filters(QueryFilters):
        exam = id_filter()

    @extend_schema(responses={200: SessionOutput(many=True)}, parameters=[Filters])
    def get(self, request: Request) -> Response:
        filters = query_filters(request, self.Filters)
        sessions = ExamSession.objects.all()
        if "exam" in filters:
            sessions = sessions.filter(exam_id=filters["exam"])
        return paginated(request, self, sessions, SessionOutput)

    @extend_schema(request=Input, responses={201: SessionOutput})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        exam = Exam.objects.filter(pk=data.validated_data["exam"]).first()
        student = User.objects.in_scope().filter(pk=data.validated_data["student"]).first()
        if exam is None or student is None:
            raise AppError("Unknown exam or student.", code="invalid",
                           details={"exam" if exam is None else "student": ["Not found."]})
        return created(SessionOutput(services.session_create(exam=exam, student=student)).data)


def _session_for(request: Request, pk: int) -> ExamSession:
    sessions = ExamSession.objects.all()
    if request.user.role == Role.STUDENT:
        sessions = sessions.filter(student=request.user)  # a student sees only their own
    return get_object_or_404(sessions, pk=pk)


# Who may ask for which transition: students move their own session forward; staff may end it.
TRANSITION_ROLES = {
    SessionStatus.CHECKING: (Role.STUDENT, Role.ADMIN),
    SessionStatus.IN_PROGRESS: (Role.STUDENT, Role.ADMIN),
    SessionStatus.SUBMITTED: (Role.STUDENT,),
    SessionStatus.TERMINATED: (Role.ADMIN, Role.PROCTOR),
    SessionStatus.EXPIRED: (Role.ADMIN,),
}


class SessionDetailView(TenantAPIView):
    allowed_roles = tuple(Role.values)

    @extend_schema(responses={200: SessionOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SessionOutput(_session_for(request, pk)).data)


class SessionTransitionView(TenantAPIView):
    allowed_roles = tuple(Role.values)

    class Input(StrictSerializer):
        to = serializers.ChoiceField(choices=SessionStatus.choices)

    @extend_schema(request=Input, responses={200: SessionOutput})
    def post(self, request: Request, pk: int) -> Response:
        session = _session_for(request, pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        to = data.validated_data["to"]
        if request.user.role not in TRANSITION_ROLES.get(to, ()):
            raise AppError("Your role cannot make this change.", code="forbidden", status_code=403)
        return Response(SessionOutput(services.session_transition(session_id=session.pk, to=to,
                                                                  actor=request.user)).data)


class AnswerView(TenantAPIView):
    """Autosave one answer of the caller's running session."""

    allowed_roles = (Role.STUDENT,)

    class Input(StrictSerializer):
        question = serializers.IntegerField()
        value = serializers.JSONField(allow_null=True)

    @extend_schema(request=Input, responses={200: {"type": "object"}})
    def post(self, request: Request, pk: int) -> Response:
        session = _session_for(request, pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        answer = taking.answer_save(session=session, question_id=data.validated_data["question"],
                                    value=data.validated_data["value"])
        return Response({"question": answer.question_id, "saved_at": answer.updated_at})


class EventView(TenantAPIView):
    """A browser event of the caller's running session (tab hidden, copy/paste, …)."""

    allowed_roles = (Role.STUDENT,)

    class Input(StrictSerializer):
        kind = serializers.CharField(max_length=32)
        detail = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(request=Input, responses={201: {"type": "object"}})
    def post(self, request: Request, pk: int) -> Response:
        from proctoring.review import browser_event

        session = _session_for(request, pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        incident = browser_event(session=session, student=request.user, **data.validated_data)
        return created({"incident": incident.pk, "kind": incident.kind})
