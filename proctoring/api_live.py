"""The live view's actions on a session: a message to the student (and the exam page's polling of it).

Ending a session is exams' (``/api/v1/sessions/<id>/end``): it is a status change of the session.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import StrictSerializer, TenantAPIView, created
from accounts.errors import AppError
from accounts.models import Role, User
from exams.access import access_session_by_id
from exams.models import ExamSession
from proctoring import messages

STAFF = (Role.ADMIN, Role.PROCTOR)
# What ``session_inbox`` reads with the session, in the same query.
INBOX_RELATED = ("exam", "student__accommodation")


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    sent_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class SessionMessagesOutput(serializers.Serializer):
    session = serializers.IntegerField()
    status = serializers.CharField(help_text="The session's status: the exam page stops when it is no longer "
                                   "in progress.")
    end_reason = serializers.CharField(allow_blank=True, help_text="Why a proctor ended the session, if one did.")
    deadline = serializers.DateTimeField(allow_null=True, help_text=(
        "When the session's time runs out now (extra time, an unlock or the exam's closing moved since the page "
        "opened): the exam page's countdown follows it."))
    messages = MessageOutput(many=True, help_text="The student: their unacknowledged messages; staff: all.")


def session_inbox(*, session: ExamSession, actor: User) -> dict[str, Any]:
    """What the exam page follows besides its frames: the session's status (a proctor ended it, and why), its
    deadline now and the messages ``actor`` sees. The message poll answers it, and so does each of the student's
    frames (its 202), so that a page whose frames flow needs no poll of its own: the polls were about a third of
    an exam page's requests. ``session`` comes with its exam and the student's accommodation (``related``)."""
    session.remember_accommodation(getattr(session.student, "accommodation", None))
    found = messages.messages_for(session=session, actor=actor)
    return SessionMessagesOutput({
        "session": session.pk, "status": session.status, "end_reason": session.end_reason,
        "deadline": session.deadline, "messages": [messages.message_payload(m) for m in found]}).data


class SessionMessagesView(TenantAPIView):
    """A session's messages from proctors: the student's exam page polls them; staff send them."""

    allowed_roles = tuple(Role.values)

    class Input(StrictSerializer):
        text = serializers.CharField(max_length=messages.TEXT_MAX)

    @extend_schema(responses={200: SessionMessagesOutput})
    def get(self, request: Request, pk: int) -> Response:
        # An exam page asks every 4 s while its frames do not bring the inbox: the session comes with what its
        # deadline needs, the exam and the student's accommodation, in one query.
        session = access_session_by_id(actor=request.user, session_id=pk, related=INBOX_RELATED)
        return Response(session_inbox(session=session, actor=request.user))

    @extend_schema(request=Input, responses={201: MessageOutput})
    def post(self, request: Request, pk: int) -> Response:
        session = access_session_by_id(actor=request.user, session_id=pk)
        if request.user.role not in STAFF:
            raise AppError("Only staff send messages to students.", code="forbidden", status_code=403)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        message = messages.message_send(session=session, actor=request.user, **data.validated_data)
        return created(MessageOutput(messages.message_payload(message)).data)


class MessageAcknowledgeView(TenantAPIView):
    """The student read a message: it leaves their exam page."""

    allowed_roles = (Role.STUDENT,)

    @extend_schema(request=None, responses={200: MessageOutput})
    def post(self, request: Request, pk: int) -> Response:
        message = messages.message_acknowledge(message_id=pk, actor=request.user)
        return Response(MessageOutput(messages.message_payload(message)).data)
