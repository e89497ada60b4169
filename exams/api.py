from __future__ import annotations

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
from exams import accommodations, authoring, policy, services, taking
from exams.access import access_exam_by_id, access_session_by_id, sessions_for
from exams.models import Exam, ExamSession
from exams.selectors import reference_warnings
from exams.statuses import ExamStatus, SessionStatus


class ExamOutput(serializers.ModelSerializer):
    class Meta:
        model = Exam
        fields = ["id", "title", "description", "status", "opens_at", "closes_at", "duration_minutes",
                  "microphone", "speech_window_seconds", "speech_max_seconds", "created_at", "updated_at"]


class ExamInput(StrictSerializer):
    """An exam's fields; its status is read-only here (it changes through ``.../status``)."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    opens_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    closes_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False, default=60)
    microphone = serializers.BooleanField(required=False, default=policy.MICROPHONE_FOR_NEW_EXAMS, help_text=(
        "Listen for talking (speech clips as evidence, with the students' own consent); on for new exams."))
    speech_window_seconds = serializers.IntegerField(min_value=10, max_value=3600, required=False,
                                                     default=policy.DEFAULT_SPEECH_WINDOW_SECONDS)
    speech_max_seconds = serializers.IntegerField(min_value=1, max_value=600, required=False,
                                                  default=policy.DEFAULT_SPEECH_MAX_SECONDS, help_text=(
        "More speech than this within the window opens a low-severity talking incident."))


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
        _refuse_status(request)
        data = ExamInput(data=request.data)
        data.is_valid(raise_exception=True)
        return created(ExamOutput(services.exam_create(actor=request.user, **data.validated_data)).data)


def _refuse_status(request: Request) -> None:
    if isinstance(request.data, dict) and "status" in request.data:
        raise AppError("An exam's status changes only through POST /api/v1/exams/<id>/status.",
                       code="status_read_only", details={"status": ["Read-only here."]})


class ExamDetailView(ExamAPIView):
    @extend_schema(responses={200: ExamOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ExamOutput(access_exam_by_id(actor=request.user, exam_id=pk)).data)

    @extend_schema(request=ExamInput(partial=True), responses={200: ExamOutput})
    def patch(self, request: Request, pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        _refuse_status(request)
        data = ExamInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(ExamOutput(services.exam_update(exam=exam, **data.validated_data)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Delete an exam with its sessions; their biometric data is erased everywhere."""
        services.exam_delete(exam=access_exam_by_id(actor=request.user, exam_id=pk), actor=request.user)
        return Response(status=204)


class ExamStatusInput(StrictSerializer):
    to = serializers.ChoiceField(choices=ExamStatus.choices)


class WarningOutput(serializers.Serializer):
    code = serializers.CharField(help_text="`students_without_reference`: enrolled students without a reference "
                                 "face, in an exam that checks identity (Person Recognition).")
    message = serializers.CharField()
    students = serializers.ListField(child=serializers.IntegerField(), help_text="Their user ids.")


class ExamStatusOutput(ExamOutput):
    warnings = WarningOutput(many=True, read_only=True, help_text="Publishing went ahead; what the admin should "
                             "still fix. Empty unless the exam was published.")

    class Meta(ExamOutput.Meta):
        fields = [*ExamOutput.Meta.fields, "warnings"]


class ExamStatusView(ExamAPIView):
    """Publish, unpublish or archive an exam (admins): the publishing rules, a row lock, an audit event."""

    @extend_schema(request=ExamStatusInput, responses={200: ExamStatusOutput})
    def post(self, request: Request, pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        data = ExamStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        to = data.validated_data["to"]
        exam = authoring.exam_set_status(exam_id=exam.pk, to=to, actor=request.user)
        warnings = reference_warnings(exam=exam) if to == ExamStatus.PUBLISHED else []
        return Response({**ExamOutput(exam).data, "warnings": warnings})


class SessionOutput(serializers.ModelSerializer):
    class Meta:
        model = ExamSession
        fields = ["id", "exam", "student", "status", "started_at", "ended_at", "unlocked_until", "created_at"]


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
        sessions = sessions_for(actor=request.user)
        if "exam" in filters:
            sessions = sessions.filter(exam_id=filters["exam"])
        return paginated(request, self, sessions, SessionOutput)

    class CreatedOutput(SessionOutput):
        warnings = WarningOutput(many=True, read_only=True, help_text="The enrolment went ahead; what the admin "
                                 "should still fix (the student has no reference face for an exam that checks "
                                 "identity).")

        class Meta(SessionOutput.Meta):
            fields = [*SessionOutput.Meta.fields, "warnings"]

    @extend_schema(request=Input, responses={201: CreatedOutput})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        exam = Exam.objects.filter(pk=data.validated_data["exam"]).first()
        student = User.objects.in_scope().filter(pk=data.validated_data["student"]).first()
        if exam is None or student is None:
            raise AppError("Unknown exam or student.", code="invalid",
                           details={"exam" if exam is None else "student": ["Not found."]})
        session = services.session_create(exam=exam, student=student)
        return created({**SessionOutput(session).data,
                        "warnings": reference_warnings(exam=exam, student_ids=[student.pk])})


# Staff may only end a session. Students move their own session forward, and only through the
# services that check the exam's rules (consent, the start check, submission), never the raw table.
STAFF_TRANSITIONS = {
    SessionStatus.TERMINATED: (Role.ADMIN, Role.PROCTOR),
    SessionStatus.EXPIRED: (Role.ADMIN,),
}
STUDENT_STEPS = {
    SessionStatus.CHECKING: taking.session_check_in,
    SessionStatus.IN_PROGRESS: taking.session_begin,
    SessionStatus.SUBMITTED: taking.session_submit,
}


class SessionDetailView(TenantAPIView):
    allowed_roles = tuple(Role.values)

    @extend_schema(responses={200: SessionOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SessionOutput(access_session_by_id(actor=request.user, session_id=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Admins delete a session; its frames, incidents and their files are erased everywhere."""
        if request.user.role != Role.ADMIN and not request.user.is_superuser:
            raise AppError("Only admins can delete a session.", code="forbidden", status_code=403)
        services.session_delete(session=access_session_by_id(actor=request.user, session_id=pk), actor=request.user)
        return Response(status=204)


class SessionTransitionView(TenantAPIView):
    """Move a session on: a student's own steps go through the exam's rules; staff may end a session."""

    allowed_roles = tuple(Role.values)

    class Input(StrictSerializer):
        to = serializers.ChoiceField(choices=SessionStatus.choices)

    @extend_schema(request=Input, responses={200: SessionOutput})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        to = data.validated_data["to"]
        if request.user.role == Role.STUDENT and to in STUDENT_STEPS:
            session = STUDENT_STEPS[to](session=session, student=request.user)
        elif request.user.role in STAFF_TRANSITIONS.get(to, ()):
            session = services.session_transition(session_id=session.pk, to=to, actor=request.user)
        else:
            raise AppError("Your role cannot make this change.", code="forbidden", status_code=403)
        return Response(SessionOutput(session).data)


class AnswerView(TenantAPIView):
    """Autosave one answer of the caller's running session."""

    allowed_roles = (Role.STUDENT,)

    class Input(StrictSerializer):
        question = serializers.IntegerField()
        value = serializers.JSONField(allow_null=True)

    @extend_schema(request=Input, responses={200: {"type": "object"}})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        answer = taking.answer_save(session=session, question_id=data.validated_data["question"],
                                    value=data.validated_data["value"])
        return Response({"question": answer.question_id, "saved_at": answer.updated_at})


class MicrophoneCheckView(TenantAPIView):
    """The check page's microphone meter heard a signal: an exam that listens starts only after one
    (recent: MICROPHONE_CHECK_MAX_AGE seconds), as it starts only after the camera's checks."""

    allowed_roles = (Role.STUDENT,)

    class Input(StrictSerializer):
        level = serializers.FloatField(min_value=0, max_value=1, help_text=(
            "The meter's peak level, 0 (silence) to 1 (full scale); above 0.1 counts as a signal."))

    @extend_schema(request=Input, responses={200: {"type": "object", "description": (
        "`session`, `microphone_checked_at`. 409 `microphone_off` (the exam does not listen to this student), "
        "`invalid_transition` (not at the checks); 422 `no_signal` (silence only).")}})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        session = taking.session_microphone_check(session=session, student=request.user,
                                                  level=data.validated_data["level"])
        return Response({"session": session.pk, "microphone_checked_at": session.microphone_checked_at})


class AccommodationView(TenantAPIView):
    """A student's accommodation: extra time on every exam they sit and checks they are exempt from.
    Staff read it; admins set (PUT, replacing it) or remove (DELETE) it; every change is audited."""

    class Input(StrictSerializer):
        reason = serializers.CharField(max_length=accommodations.REASON_MAX)
        extra_minutes = serializers.IntegerField(min_value=0, max_value=accommodations.MAX_EXTRA_MINUTES,
                                                 required=False, default=0)
        extra_percent = serializers.IntegerField(min_value=0, max_value=accommodations.MAX_EXTRA_PERCENT,
                                                 required=False, default=0,
                                                 help_text="Of each exam's duration, added to the extra minutes.")
        exempt_checks = serializers.ListField(
            child=serializers.ChoiceField(choices=sorted(policy.EXEMPTABLE)), required=False, default=list,
            help_text="Incident kinds that never open an incident for this student.")

    def get_permissions(self):  # type: ignore[no-untyped-def]
        self.allowed_roles = (Role.ADMIN, Role.PROCTOR) if self.request.method == "GET" else (Role.ADMIN,)
        return super().get_permissions()

    def _student(self, request: Request, pk: int) -> User:
        return accommodations.access_student_by_id(actor=request.user, student_id=pk)

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request, pk: int) -> Response:
        student = self._student(request, pk)
        return Response({"student": student.pk,
                         "accommodation": accommodations.accommodation_summary(
                             accommodations.accommodation_of(student=student))})

    @extend_schema(request=Input, responses={200: {"type": "object"}})
    def put(self, request: Request, pk: int) -> Response:
        student = self._student(request, pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        accommodation = accommodations.accommodation_set(actor=request.user, student=student, **data.validated_data)
        return Response({"student": student.pk, "accommodation": accommodations.accommodation_summary(accommodation)})

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        accommodations.accommodation_remove(actor=request.user, student=self._student(request, pk))
        return Response(status=204)


class SessionResetView(TenantAPIView):
    """Admins start a student's sitting over (answers deleted; frames and incidents kept); audited."""

    allowed_roles = (Role.ADMIN,)

    class Input(StrictSerializer):
        reason = serializers.CharField(max_length=500)

    @extend_schema(request=Input, responses={200: SessionOutput})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_reset(session_id=session.pk, actor=request.user, **data.validated_data)
        return Response(SessionOutput(session).data)


class SessionUnlockView(TenantAPIView):
    """Admins let an expired or terminated sitting run on for some minutes, answers kept; audited."""

    allowed_roles = (Role.ADMIN,)

    class Input(StrictSerializer):
        minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)
        reason = serializers.CharField(max_length=500)

    @extend_schema(request=Input, responses={200: SessionOutput})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_unlock(session_id=session.pk, actor=request.user, **data.validated_data)
        return Response(SessionOutput(session).data)
