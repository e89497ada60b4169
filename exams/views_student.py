"""The student's pages: consent, camera and identity check, the exam, and its end."""

from __future__ import annotations

from datetime import datetime

from csp.decorators import csp_update
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.decorators import role_required
from accounts.errors import AppError
from accounts.models import Role
from exams import taking
from exams.access import access_session_by_id
from exams.lti import proctoring as lti_proctoring
from exams.models import Answer, ExamSession
from exams.policy import MICROPHONE_CONSENT_TEXT
from exams.statuses import SessionStatus

STEP_OF_STATUS = {
    SessionStatus.SCHEDULED: "session-consent",
    SessionStatus.CHECKING: "session-check",
    SessionStatus.AWAITING_APPROVAL: "session-check",  # the check page says a proctor is deciding
    SessionStatus.IN_PROGRESS: "session-exam",
}


def _own_session(request: HttpRequest, pk: int) -> ExamSession:
    return access_session_by_id(actor=request.user, session_id=pk)  # another's session: the same 404


def _at_step(session: ExamSession, step: str) -> HttpResponse | None:
    """Redirect to the step the session is at, when it is not this one."""
    expected = STEP_OF_STATUS.get(session.status, "session-done")
    if expected == "session-check" and not taking.consent_is_current(session):
        expected = "session-consent"  # the institution changed its consent text since: consent again first
    return None if expected == step else redirect(expected, pk=session.pk)


@login_required
@role_required(Role.STUDENT)
def session_start(request: HttpRequest, pk: int) -> HttpResponse:
    session = taking.expire_if_due(_own_session(request, pk))
    if (early := _too_early(request, session)) is not None:
        return early
    return redirect(STEP_OF_STATUS.get(session.status, "session-done"), pk=session.pk)


def _too_early(request: HttpRequest, session: ExamSession) -> HttpResponse | None:
    """Back to the home page, saying when, before the consent and camera check open (an audit's student began the
    check a week early and saw "Starting your camera…" for ever)."""
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.CHECKING):
        return None
    try:
        taking.check_not_open(session.exam, timezone.now())
    except AppError as exc:
        messages.info(request, exc.message)
        return redirect("dashboard")
    return None


@login_required
@role_required(Role.STUDENT)
def session_consent(request: HttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    if (elsewhere := _at_step(session, "session-consent")) is not None:
        return elsewhere
    if (early := _too_early(request, session)) is not None:
        return early
    if request.method == "POST":
        if request.POST.get("agree") != "yes":
            messages.error(request, "You need to agree to continue; without it the exam cannot be proctored.")
        else:
            taking.session_consent(session=session, student=request.user)
            return redirect("session-check", pk=session.pk)
    return render(request, "student/consent.html", {
        "session": session, "step": 1, "institution": session.exam.institution,
        "microphone_text": MICROPHONE_CONSENT_TEXT if session.exam.microphone else "",
    })


@login_required
@role_required(Role.STUDENT)
def session_check(request: HttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    if (elsewhere := _at_step(session, "session-check")) is not None:
        return elsewhere
    if (early := _too_early(request, session)) is not None:
        return early
    if request.method == "POST":
        try:
            taking.session_begin(session=session, student=request.user)
        except AppError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("session-exam", pk=session.pk)
    has_face = request.user.face_registrations.exists()  # proctoring's relation, without importing it
    needs_identity = "Person Recognition" in session.exam.checks_enabled
    return render(request, "student/check.html", {
        "session": session, "step": 2, "has_face": has_face, "needs_identity": needs_identity,
        "listens": taking.listens(session), "now": timezone.now(),
    })


@login_required
@role_required(Role.STUDENT)
@csp_update({"script-src": ["'wasm-unsafe-eval'"]})  # the voice-activity detection's WebAssembly, no JS eval
@never_cache  # Back to it showed the answers as the page was first sent, not those saved since (a re-audit)
def session_exam(request: HttpRequest, pk: int) -> HttpResponse:
    session = taking.expire_if_due(_own_session(request, pk))
    if (elsewhere := _at_step(session, "session-exam")) is not None:
        return elsewhere
    if lti_proctoring.pending_attempt(session) is not None:  # the LMS hosts the assessment: back there
        return redirect("lti-start-assessment")
    answers = {a.question_id: a for a in Answer.objects.filter(session=session)}
    questions = [(q, answers.get(q.pk)) for q in session.exam.questions.all()]
    answered = sum(1 for _, answer in questions if answer is not None and answer.is_answered)
    return render(request, "student/exam.html", {"session": session, "questions": questions, "step": 3,
                                                  "answered": answered,
                                                  "deadline": session.deadline, "now": timezone.now(),
                                                  "listens": taking.listens(session)})


@login_required
@role_required(Role.STUDENT)
@require_POST
def session_submit(request: HttpRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    try:
        taking.session_submit_with_answers(session=session, student=request.user,
                                           form_answers=_form_answers(request), given_at=_form_given_at(request))
    except AppError as exc:
        messages.error(request, exc.message)
    return redirect("session-done", pk=session.pk)


def _by_question(request: HttpRequest, prefix: str) -> dict[int, str]:
    """The form's fields ``<prefix><question id>`` by question id (the last value when one is repeated)."""
    return {int(name[1:]): value for name, value in request.POST.items()
            if name.startswith(prefix) and name[1:].isascii() and name[1:].isdigit() and len(name) <= 19}


def _form_answers(request: HttpRequest) -> dict[int, str]:
    """The exam form's answers: fields ``q<question id>``."""
    return _by_question(request, "q")


def _form_given_at(request: HttpRequest) -> dict[int, datetime]:
    """When the exam form's answers were given: fields ``t<question id>`` (ISO 8601 with an offset; others are
    left out, and their answers taken as given now)."""
    given = {}
    for question_id, value in _by_question(request, "t").items():
        try:
            when = parse_datetime(value) if len(value) <= 40 else None
        except ValueError:  # well formed, not a date (a 13th month)
            when = None
        if when is not None and when.tzinfo is not None:
            given[question_id] = when
    return given


@login_required
@role_required(Role.STUDENT)
def session_done(request: HttpRequest, pk: int) -> HttpResponse:
    session = taking.expire_if_due(_own_session(request, pk))
    if session.status in STEP_OF_STATUS:
        return redirect(STEP_OF_STATUS[session.status], pk=session.pk)
    answered = sum(answer.is_answered for answer in Answer.objects.filter(session=session))
    return render(request, "student/done.html", {"session": session, "answered": answered,
                                                  "total": session.exam.questions.count()})
