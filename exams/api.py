from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import (
    QueryFilters,
    StrictSerializer,
    TenantAPIView,
    created,
    id_field,
    id_filter,
    paginated,
    query_filters,
)
from accounts.errors import AppError, NotFound
from accounts.models import Role, User
from exams import accommodations, authoring, grading, policy, services, taking
from exams.access import access_exam_by_id, access_session_by_id, sessions_for
from exams.models import Exam, ExamSession, Question, QuestionKind
from exams.selectors import reference_warnings
from exams.statuses import ExamStatus, SessionStatus


class ExamOutput(serializers.ModelSerializer):
    class Meta:
        model = Exam
        fields = ["id", "title", "description", "status", "opens_at", "closes_at", "duration_minutes",
                  "microphone", "speech_window_seconds", "speech_max_seconds", "created_at", "updated_at"]


class LocalDateTimeField(serializers.DateTimeField):
    """A date and time; one without a UTC offset is read in the caller's time zone, and refused where that zone's
    clocks skip it or show it twice (a daylight-saving change). An audit: 02:30 on the morning the clocks skip it was
    stored as 03:30, and an hour shown twice silently took the first, where the page's form refuses both."""

    default_error_messages = {"local_time": "{value} does not exist or happens twice in {zone} (the clocks change "
                                            "that day): give the time with its UTC offset, e.g. {example}."}

    def enforce_timezone(self, value: Any) -> Any:
        zone = self.default_timezone()
        if zone is not None and timezone.is_naive(value):
            first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
            if first.utcoffset() != second.utcoffset():
                self.fail("local_time", value=value.isoformat(timespec="minutes"), zone=zone,
                          example=second.isoformat(timespec="minutes"))
        return super().enforce_timezone(value)


class ExamInput(StrictSerializer):
    """An exam's fields; its status is read-only here (it changes through ``.../status``)."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    opens_at = LocalDateTimeField(required=False, allow_null=True, default=None)
    closes_at = LocalDateTimeField(required=False, allow_null=True, default=None)
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
        fields = ["id", "exam", "student", "status", "started_at", "ended_at", "unlocked_until", "end_reason",
                  "created_at"]
        extra_kwargs = {"end_reason": {"help_text": "Why a proctor ended the session (shown to the student)."}}


class SessionListView(ExamAPIView):
    """Exam sessions: staff list the institution's, a student their own (how a client finds the session to
    sit); admins create one for a student (idempotent)."""

    def get_permissions(self):  # type: ignore[no-untyped-def]
        if self.request.method == "GET":  # sessions_for() keeps a student to their own
            self.allowed_roles = tuple(Role.values)
            return TenantAPIView.get_permissions(self)
        return super().get_permissions()

    class Input(StrictSerializer):
        exam = id_field()
        student = id_field()

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


class GradeOutput(serializers.Serializer):
    points = serializers.IntegerField(allow_null=True, help_text="Awarded; null while a short answer is ungraded.")
    comment = serializers.CharField(allow_blank=True)
    graded_by = serializers.IntegerField(allow_null=True)
    graded_at = serializers.DateTimeField(allow_null=True)


class AnswerRowOutput(serializers.Serializer):
    question = serializers.IntegerField()
    position = serializers.IntegerField()
    kind = serializers.CharField()
    prompt = serializers.CharField()
    max_points = serializers.IntegerField()
    answer = serializers.IntegerField(allow_null=True, help_text="The answer's id (grade it with "
                                      "POST /api/v1/answers/<id>/grade); null: not answered.")
    choice = serializers.IntegerField(allow_null=True, help_text="Multiple choice: the picked option's index.")
    correct_choice = serializers.IntegerField(allow_null=True, help_text="Multiple choice: the key.")
    text = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=list(grading.STATE_LABELS))
    points = serializers.IntegerField(allow_null=True, help_text="Scored or graded; null while ungraded.")
    comment = serializers.CharField(allow_blank=True)
    sent_late = serializers.BooleanField(help_text="Saved after the deadline: given before it, the student's browser "
                                         "says, while it was offline (taken up to 5 minutes after the deadline).")


class SessionAnswersOutput(serializers.Serializer):
    session = serializers.IntegerField()
    score = serializers.IntegerField()
    max_score = serializers.IntegerField()
    graded = serializers.BooleanField(help_text="False while a short-text answer waits for its grade.")
    pending = serializers.IntegerField(help_text="Short-text answers still to grade.")
    answers = AnswerRowOutput(many=True)


def _answers_output(session: ExamSession) -> dict[str, Any]:
    rows = grading.session_answers(session)
    total = grading.score_of(rows)
    return {"session": session.pk, "score": total.earned, "max_score": total.maximum, "graded": total.graded,
            "pending": total.pending, "answers": [{
                "question": r.question.pk, "position": r.question.position, "kind": r.question.kind,
                "prompt": r.question.prompt, "max_points": r.question.points,
                "answer": r.answer.pk if r.answer else None, "choice": r.answer.choice if r.answer else None,
                "correct_choice": r.question.correct_choice, "text": r.answer.text if r.answer else "",
                "state": r.state, "points": r.points, "comment": r.answer.grade_comment if r.answer else "",
                "sent_late": r.answer.sent_late if r.answer else False,
            } for r in rows]}


class AnswerSavedOutput(serializers.Serializer):
    question = serializers.IntegerField()
    saved_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(help_text="When the answer the server keeps was given.")
    sent_late = serializers.BooleanField()
    kept_newer = serializers.BooleanField(help_text=(
        "True: the server kept an answer given later than this one (in another window or on another device); "
        "'value' is that answer."))
    value = serializers.JSONField(allow_null=True, help_text="The answer the server keeps: an option's index, or text.")


class AnswerView(TenantAPIView):
    """A session's answers: staff read them with their scores (GET); a student autosaves one answer of
    their own running session (POST). Students never read the key."""

    class Input(StrictSerializer):
        question = id_field()
        value = serializers.JSONField(allow_null=True)
        answered_at = serializers.DateTimeField(required=False, help_text=(
            "When the student gave the answer, on the server's clock: an answer given before the deadline while the "
            "browser was offline is taken up to 5 minutes after it (marked sent_late). Of two answers to a question "
            "the one given later is kept (not said: given now)."))

    def get_permissions(self):  # type: ignore[no-untyped-def]
        self.allowed_roles = (Role.ADMIN, Role.PROCTOR) if self.request.method == "GET" else (Role.STUDENT,)
        return super().get_permissions()

    @extend_schema(responses={200: SessionAnswersOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_answers_output(access_session_by_id(actor=request.user, session_id=pk)))

    @extend_schema(request=Input, responses={200: AnswerSavedOutput})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        answer = taking.answer_save(session=session, question_id=data.validated_data["question"],
                                    value=data.validated_data["value"],
                                    answered_at=data.validated_data.get("answered_at"))
        choice = answer.question.kind == QuestionKind.MULTIPLE_CHOICE
        return Response({"question": answer.question_id, "saved_at": answer.updated_at, "answered_at": answer.given_at,
                         "sent_late": answer.sent_late, "kept_newer": answer.kept_newer,
                         "value": answer.choice if choice else answer.text})


class AnswerGradeView(TenantAPIView):
    """Admins grade a short-text answer of a finished session: 0..the question's points and an optional
    comment; audited. Multiple-choice answers are scored from the key and cannot be graded."""

    allowed_roles = (Role.ADMIN,)

    class Input(StrictSerializer):
        points = serializers.IntegerField(min_value=0, max_value=1_000_000)
        comment = serializers.CharField(max_length=grading.COMMENT_MAX, required=False, allow_blank=True,
                                        default="")

    @extend_schema(request=Input, responses={200: SessionAnswersOutput})
    def post(self, request: Request, pk: int) -> Response:
        answer = grading.access_answer_by_id(actor=request.user, answer_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        answer = grading.answer_grade(actor=request.user, answer=answer, **data.validated_data)
        return Response(_answers_output(answer.session))
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


class SessionEndView(TenantAPIView):
    """Staff end a running session (-> terminated) with a reason the student's page shows; audited."""

    allowed_roles = (Role.ADMIN, Role.PROCTOR)

    class Input(StrictSerializer):
        reason = serializers.CharField(max_length=services.END_REASON_MAX)

    @extend_schema(request=Input, responses={200: SessionOutput})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_end(session_id=session.pk, actor=request.user, **data.validated_data)
        return Response(SessionOutput(session).data)


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


class QuestionOutput(serializers.ModelSerializer):
    class Meta:
        model = Question
        fields = ["id", "exam", "position", "kind", "prompt", "choices", "correct_choice", "points"]


class QuestionInput(StrictSerializer):
    """A question; ``choices`` and ``correct_choice`` (0-based) only for a multiple-choice one."""

    kind = serializers.ChoiceField(choices=QuestionKind.choices)
    prompt = serializers.CharField(max_length=5000)
    choices = serializers.ListField(child=serializers.CharField(max_length=500), max_length=authoring.MAX_CHOICES,
                                    required=False, default=list)
    correct_choice = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    points = serializers.IntegerField(min_value=0, max_value=1000, required=False, default=1)


def _question(request: Request, pk: int, qpk: int) -> Question:
    exam = access_exam_by_id(actor=request.user, exam_id=pk)
    question = Question.objects.filter(exam=exam, pk=qpk).first()
    if question is None:
        raise NotFound("Not found.")
    return question


class QuestionListView(ExamAPIView):
    """An exam's questions in order: staff read them; admins add one at the end."""

    @extend_schema(responses={200: QuestionOutput(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        return paginated(request, self, Question.objects.filter(exam=exam), QuestionOutput)

    @extend_schema(request=QuestionInput, responses={201: QuestionOutput})
    def post(self, request: Request, pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        data = QuestionInput(data=request.data)
        data.is_valid(raise_exception=True)
        return created(QuestionOutput(authoring.question_create(exam=exam, **data.validated_data)).data)


class QuestionDetailView(ExamAPIView):
    """One question: staff read it; admins change (PATCH: the fields given) or delete it (not once answered)."""

    @extend_schema(responses={200: QuestionOutput})
    def get(self, request: Request, pk: int, qpk: int) -> Response:
        return Response(QuestionOutput(_question(request, pk, qpk)).data)

    @extend_schema(request=QuestionInput(partial=True), responses={200: QuestionOutput})
    def patch(self, request: Request, pk: int, qpk: int) -> Response:
        question = _question(request, pk, qpk)
        data = QuestionInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        question = authoring.question_update(question=question, **data.validated_data)
        return Response(QuestionOutput(question).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, qpk: int) -> Response:
        authoring.question_delete(question=_question(request, pk, qpk))
        return Response(status=204)


class EnrolmentOutput(serializers.ModelSerializer):
    session = serializers.IntegerField(source="pk", help_text="The student's session of this exam.")
    email = serializers.EmailField(source="student.email")
    full_name = serializers.CharField(source="student.full_name")
    student_number = serializers.CharField(source="student.student_number")

    class Meta:
        model = ExamSession
        fields = ["session", "student", "email", "full_name", "student_number", "status"]


class EnrolmentListView(ExamAPIView):
    """The students enrolled in an exam: staff list them; admins enrol more (idempotent per student)."""

    class Input(StrictSerializer):
        students = serializers.ListField(child=id_field(), max_length=1000,
                                         help_text="User ids of the institution's students.")

    class CreatedOutput(serializers.Serializer):
        enrolled = EnrolmentOutput(many=True)
        warnings = WarningOutput(many=True, help_text="The enrolment went ahead; what the admin should still fix.")

    @extend_schema(responses={200: EnrolmentOutput(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        sessions = ExamSession.objects.filter(exam=exam).select_related("student").order_by("student__email")
        return paginated(request, self, sessions, EnrolmentOutput)

    @extend_schema(request=Input, responses={201: CreatedOutput})
    def post(self, request: Request, pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(data.validated_data["students"]))
        students = list(User.objects.in_scope().filter(pk__in=ids, role=Role.STUDENT))
        known = {s.pk for s in students}
        unknown = {str(n): ["Unknown student."]
                   for n, i in enumerate(data.validated_data["students"]) if i not in known}
        if unknown:  # by position in the list: another institution's id reads exactly as a missing one
            raise AppError("Unknown students: nothing was enrolled.", code="invalid", details={"students": unknown})
        sessions = authoring.enrolment_add(exam=exam, students=students, actor=request.user)
        sessions = ExamSession.objects.filter(pk__in=[s.pk for s in sessions]).select_related("student")
        return created({"enrolled": EnrolmentOutput(sessions.order_by("student__email"), many=True).data,
                        "warnings": reference_warnings(exam=exam, student_ids=ids)})


class EnrolmentDetailView(ExamAPIView):
    """Un-enrol a student whose sitting has not begun (admins); 409 once it has."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, student_pk: int) -> Response:
        exam = access_exam_by_id(actor=request.user, exam_id=pk)
        student = User.objects.in_scope().filter(pk=student_pk, role=Role.STUDENT).first()
        if student is None:
            raise NotFound("Not found.")
        authoring.enrolment_remove(exam=exam, student=student, actor=request.user)
        return Response(status=204)


class ConsentView(TenantAPIView):
    """The student consents to the institution's current consent text (as ``GET .../consent`` shows it), which
    moves their session on to the camera and identity check. The pages' consent step, over the API."""

    allowed_roles = (Role.STUDENT,)

    class Output(serializers.Serializer):
        session = serializers.IntegerField()
        consent_version = serializers.IntegerField()
        consent_text = serializers.CharField()
        microphone_consent_text = serializers.CharField(allow_blank=True)
        consented_at = serializers.DateTimeField(allow_null=True)

    class Input(StrictSerializer):
        agree = serializers.BooleanField(help_text="Must be true.")

    @staticmethod
    def _output(session: ExamSession) -> dict:
        institution = session.exam.institution
        current = taking.consent_is_current(session)
        return {"session": session.pk, "consent_version": institution.consent_version,
                "consent_text": institution.consent_text,
                "microphone_consent_text": policy.MICROPHONE_CONSENT_TEXT if session.exam.microphone else "",
                "consented_at": session.consent_at if current else None}

    @extend_schema(responses={200: Output})
    def get(self, request: Request, pk: int) -> Response:
        return Response(self._output(access_session_by_id(actor=request.user, session_id=pk)))

    @extend_schema(request=Input, responses={200: Output})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data["agree"]:
            raise AppError("Consent is needed to continue; without it the exam cannot be proctored.",
                           code="consent_required", details={"agree": ["Must be true."]})
        return Response(self._output(taking.session_consent(session=session, student=request.user)))
