"""The student's side of the record (their session's decided incidents, evidence, appeals, and a copy of
their data) and the staff's appeals queue."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import throttle
from accounts.audit import audit
from accounts.decorators import role_required
from accounts.errors import AppError
from accounts.models import Role
from exams.access import access_session_by_id
from exams.statuses import AppealStatus
from proctoring import appeals, selectors, subject_archive
from proctoring.identity_panel import identity_panel
from proctoring.storage import private_file_response

STAFF = (Role.ADMIN, Role.PROCTOR)


@login_required
@role_required(Role.STUDENT)
def session_record(request: HttpRequest, pk: int) -> HttpResponse:
    session = access_session_by_id(actor=request.user, session_id=pk)  # another's session: the same 404
    return render(request, "student/record.html", {
        "session": session, "items": appeals.session_record(session=session),
        "window_days": session.exam.institution.appeal_window_days, "visibility": appeals.VISIBILITY_TEXT,
        "note_max": appeals.NOTE_MAX,
    })


@login_required
@role_required(Role.STUDENT)
def record_frame(request: HttpRequest, pk: int) -> FileResponse:
    """An evidence frame of a decided incident of the student's own ended session; anything else: 404."""
    return private_file_response(appeals.access_own_evidence_frame(actor=request.user, frame_id=pk).image)


@login_required
@role_required(Role.STUDENT)
@require_POST
def incident_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    incident = appeals.access_own_incident(actor=request.user, incident_id=pk)
    try:
        appeals.appeal_create(incident_id=incident.pk, student=request.user, note=request.POST.get("note", ""))
    except AppError as exc:
        messages.error(request, exc.message)
        response = render(request, "student/record.html", {
            "session": incident.session, "items": appeals.session_record(session=incident.session),
            "window_days": incident.session.exam.institution.appeal_window_days,
            "visibility": appeals.VISIBILITY_TEXT, "note_max": appeals.NOTE_MAX,
            "failed_incident": incident.pk, "failed_note": request.POST.get("note", "")[:appeals.NOTE_MAX],
            "failed_message": exc.message},
            status=exc.status_code)
        return response
    messages.success(request, "Your appeal was sent. Staff of your institution will decide it; the outcome "
                              "will be shown here.")
    return redirect(f"/sessions/{incident.session_id}/record#incident-{incident.pk}")


@login_required
@role_required(Role.STUDENT)
def my_data(request: HttpRequest) -> HttpResponse:
    """Everything biometric the institution holds about the student, as one zip, streamed; audited."""
    if not request.user.is_student:
        raise Http404  # a platform superuser passes role_required, and holds no data of their own
    wait = throttle.window_hit(f"my-data:{request.user.pk}", limit=settings.SUBJECT_ARCHIVE_LIMIT,
                               window=settings.SUBJECT_ARCHIVE_WINDOW)
    if wait is not None:
        response = render(request, "error.html", {
            "title": "Too many downloads",
            "message": f"You have downloaded your data several times today. Try again in {wait // 60 + 1} min."},
            status=429)
        response["Retry-After"] = str(wait)
        return response
    audit(institution_id=request.user.institution_id, actor=request.user, action="subject.archive",
          target=request.user, data={})
    response = StreamingHttpResponse(subject_archive.archive_stream(student=request.user),
                                     content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="my-proctoring-data.zip"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@role_required(*STAFF)
def appeal_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", AppealStatus.OPEN)
    if status not in AppealStatus.values and status != "all":
        status = AppealStatus.OPEN
    items = appeals.appeal_queue(status=None if status == "all" else status)
    return render(request, "proctor/appeal_queue.html", {
        "appeals": items[:200], "status": status, "statuses": AppealStatus.choices})


@login_required
@role_required(*STAFF)
def appeal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    appeal = appeals.access_appeal_by_id(actor=request.user, appeal_id=pk)
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            appeals.appeal_decide(appeal_id=appeal.pk, actor=request.user, decision=decision,
                                  note=request.POST.get("note", ""))
        except AppError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Appeal {appeal.pk} {decision}.")
            return redirect("appeal-queue")
    incident = appeal.incident
    return render(request, "proctor/appeal.html", {
        "appeal": appeal, "incident": incident, "frames": selectors.frames_around(incident),
        "identity": identity_panel(incident),  # (an audit: a "someone else" appeal showed no reference photo)
        "evidence": appeals.evidence_frame_ids([incident])[incident.pk],
        "decisions": [(AppealStatus.UPHELD, "Uphold: the decision stands"),
                      (AppealStatus.OVERTURNED, "Overturn: dismiss the incident")],
    })
