"""A student's copy of everything biometric their institution holds about them, as one zip (subject access).

The zip holds their reference photos, the gate's ID and live photos, every kept frame and speech clip of
their sessions, and ``findings.json``: each frame's checks and the engine's findings, the incidents they
may see (``appeals.decided_incidents_of``: decided, of an ended session) with the reviewer's decision and
reason, and their appeals. Incidents still waiting for review are counted, not listed (they appear once
decided, as on the record page).

Files are read through the storage API one at a time and written into a zip that is streamed as it is
built (``zipfile`` on a write-only sink: data descriptors, no seeking), so memory stays at one chunk
whatever the number of frames, on local files and on S3 alike.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from accounts.models import User
from exams.models import ExamSession
from proctoring.appeals import decided_incidents_of, evidence_frame_ids
from proctoring.models import Appeal, FaceRegistration, Frame, IdentityApproval, Incident, ReviewStatus, SpeechSegment

CHUNK = 64 * 1024


class _Sink:
    """A write-only file for ``zipfile``: what was written since the last ``take``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def _own_findings(findings: Any, own_ids: set[str]) -> Any:
    """The engine's findings without any match to somebody else's face (a 1:N search names other people)."""
    if not isinstance(findings, dict) or not isinstance(findings.get("FaceMatches"), list):
        return findings
    matches = [m for m in findings["FaceMatches"] if str((m.get("Face") or {}).get("ExternalImageId")) in own_ids]
    return {**findings, "FaceMatches": matches}


def _files(student: User) -> list[tuple[str, Any]]:
    """(name in the zip, file field) of every biometric file held about the student."""
    sessions = ExamSession.objects.filter(student_id=student.pk)
    files: list[tuple[str, Any]] = []
    for face in FaceRegistration.objects.filter(student_id=student.pk).order_by("created_at", "id"):
        files.append((f"reference-photos/{face.external_image_id}.jpg", face.image))
    for approval in IdentityApproval.objects.filter(session__in=sessions).order_by("requested_at", "id"):
        files.append((f"id-photos/session-{approval.session_id}/{approval.pk}-id.jpg", approval.id_photo))
        files.append((f"id-photos/session-{approval.session_id}/{approval.pk}-live.jpg", approval.live_photo))
    for frame in Frame.objects.filter(session__in=sessions).exclude(image="").only(
            "id", "session_id", "image").order_by("session_id", "captured_at", "id"):
        files.append((f"frames/session-{frame.session_id}/{frame.pk}.jpg", frame.image))
    for segment in SpeechSegment.objects.filter(session__in=sessions).exclude(clip="").order_by("started_at", "id"):
        files.append((f"speech/session-{segment.session_id}/{segment.pk}.wav", segment.clip))
    return files


def _incident(incident: Incident, frames: list[int], own_ids: set[str]) -> dict[str, Any]:
    return {"id": incident.pk, "kind": incident.kind, "kind_label": incident.get_kind_display(),
            "severity": incident.severity, "started_at": _iso(incident.started_at), "ended_at": _iso(incident.ended_at),
            "during_check": incident.during_check, "decision": incident.review_status,
            "decided_at": _iso(incident.reviewed_at), "reason": incident.review_note, "evidence_frames": frames,
            "findings": _own_findings((incident.details or {}).get("findings"), own_ids)}


def findings_of(*, student: User) -> dict[str, Any]:
    """findings.json: the student, their sessions' frames (checks, findings), incidents and appeals."""
    own_ids = {str(i) for i in FaceRegistration.objects.filter(student_id=student.pk)
               .values_list("external_image_id", flat=True)}
    visible = list(decided_incidents_of(student=student).order_by("started_at", "id"))
    frame_ids = evidence_frame_ids(visible)
    waiting = Incident.objects.filter(session__student_id=student.pk).exclude(pk__in=[i.pk for i in visible]).count()
    sessions = []
    for session in ExamSession.objects.filter(student_id=student.pk).select_related("exam").order_by("created_at"):
        frames = [{"id": f.pk, "captured_at": _iso(f.captured_at), "status": f.status, "checks": f.checks,
                   "findings": _own_findings(f.findings, own_ids), "image_kept": bool(f.image),
                   "file": f"frames/session-{session.pk}/{f.pk}.jpg" if f.image else None}
                  for f in Frame.objects.filter(session=session).order_by("captured_at", "id").iterator(chunk_size=500)]
        sessions.append({
            "id": session.pk, "exam": session.exam.title, "status": session.status,
            "started_at": _iso(session.started_at), "ended_at": _iso(session.ended_at), "frames": frames,
            "incidents": [_incident(i, frame_ids[i.pk], own_ids) for i in visible if i.session_id == session.pk],
            "speech": [{"id": s.pk, "started_at": _iso(s.started_at), "ended_at": _iso(s.ended_at),
                        "speech_seconds": s.speech_seconds, "clip_kept": bool(s.clip)}
                       for s in SpeechSegment.objects.filter(session=session).order_by("started_at", "id")],
        })
    appeals = [{"id": a.pk, "incident": a.incident_id, "note": a.note, "status": a.status,
                "created_at": _iso(a.created_at), "decided_at": _iso(a.decided_at), "decision_note": a.decision_note}
               for a in Appeal.objects.filter(student_id=student.pk).order_by("created_at", "id")]
    return {
        "generated_at": _iso(timezone.now()),
        "student": {"id": student.pk, "email": student.email, "full_name": student.full_name,
                    "student_number": student.student_number},
        "reference_photos": [{"id": str(f.external_image_id), "registered_at": _iso(f.created_at),
                              "file": f"reference-photos/{f.external_image_id}.jpg" if f.image else None}
                             for f in FaceRegistration.objects.filter(student_id=student.pk)],
        "sessions": sessions, "appeals": appeals,
        "incidents_waiting_for_review": waiting,
        "note": ("Incidents appear once a reviewer has decided them and the exam has ended. Decisions: "
                 f"{ReviewStatus.CONFIRMED.value!r} or {ReviewStatus.DISMISSED.value!r}."),
    }


def archive_stream(*, student: User) -> Iterator[bytes]:
    """The zip, in chunks. Precondition: inside the student's tenant scope, and the caller is the student.

    The rows are read now (a streamed response is consumed after the request's tenant scope has ended);
    the files are read as the zip is sent. A file gone from storage since (erased) is left out."""
    files = _files(student)
    findings = json.dumps(findings_of(student=student), indent=2, ensure_ascii=False)
    return _zip(files, findings)


def _zip(files: list[tuple[str, Any]], findings: str) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        info = zipfile.ZipInfo("findings.json", date_time=timezone.now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, findings)
        yield sink.take()
        for name, field in files:
            try:
                source = field.open("rb")
            except OSError:  # FileNotFoundError included: erased since it was listed
                continue
            with source, archive.open(name, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if sum(len(p) for p in sink.parts) >= CHUNK:
                        yield sink.take()
            yield sink.take()
    yield sink.take()
