"""Access helpers for proctoring rows, on top of exams.access: the same 404 for missing and not yours."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.errors import NotFound
from accounts.models import Role, User
from exams.access import sessions_for
from proctoring.models import FaceRegistration, Frame, IdentityApproval, Incident, SpeechSegment


def _is_student(actor: User) -> bool:
    return getattr(actor, "role", None) == Role.STUDENT and not actor.is_superuser


def frames_for(*, actor: User) -> QuerySet[Frame]:
    """Frames of the sessions ``actor`` may see (a student: their own sessions only)."""
    frames = Frame.objects.all()
    return frames.filter(session__in=sessions_for(actor=actor)) if _is_student(actor) else frames


def access_frame_by_id(*, actor: User, frame_id: int,
                       related: tuple[str, ...] = ("session", "session__student")) -> Frame:
    """``related``: the relations fetched with it (a student's status poll needs none)."""
    frames = frames_for(actor=actor)
    if related:  # select_related() without names would follow every relation
        frames = frames.select_related(*related)
    frame = frames.filter(pk=frame_id).first()
    if frame is None:
        raise NotFound("Not found.")
    return frame


def access_incident_by_id(*, actor: User, incident_id: int, for_update: bool = False) -> Incident:
    """Incidents are for staff; a student reaches none by id."""
    incidents = Incident.objects.none() if _is_student(actor) else Incident.objects.all()
    if for_update:
        incidents = incidents.select_for_update(of=("self",))
    incident = incidents.filter(pk=incident_id).first()
    if incident is None:
        raise NotFound("Not found.")
    return incident


def access_incidents_by_ids(*, actor: User, incident_ids: list[int]) -> list[int]:
    """The ids, sorted, when every one is an incident ``actor`` may reach; else the same 404 as for one
    missing incident (a bulk request is all or nothing)."""
    incidents = Incident.objects.none() if _is_student(actor) else Incident.objects.all()
    wanted = sorted(set(incident_ids))
    found = sorted(incidents.filter(pk__in=wanted).values_list("pk", flat=True))
    if found != wanted:
        raise NotFound("Not found.")
    return found


def access_face_by_id(*, actor: User, external_image_id: Any) -> FaceRegistration:
    """Reference faces are for staff; a student reaches none, not even their own, by id."""
    faces = FaceRegistration.objects.none() if _is_student(actor) else FaceRegistration.objects.all()
    face = faces.filter(external_image_id=external_image_id).first()
    if face is None:
        raise NotFound("Not found.")
    return face


def access_approval_by_id(*, actor: User, approval_id: int) -> IdentityApproval:
    """Photo-ID requests are for staff; a student reaches none by id, not even their own."""
    approvals = IdentityApproval.objects.none() if _is_student(actor) else IdentityApproval.objects.all()
    approval = approvals.select_related("session__student", "session__exam", "decided_by").filter(
        pk=approval_id).first()
    if approval is None:
        raise NotFound("Not found.")
    return approval


def access_speech_by_id(*, actor: User, segment_id: int) -> SpeechSegment:
    """Speech clips are for staff, as frames' images are; a student reaches none by id."""
    segments = SpeechSegment.objects.none() if _is_student(actor) else SpeechSegment.objects.all()
    segment = segments.filter(pk=segment_id).first()
    if segment is None:
        raise NotFound("Not found.")
    return segment
