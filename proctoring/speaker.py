"""Is the student the one talking? Mouth movement on the frames taken while speech was heard.

Run only when a talking incident is opened or extended (proctoring.speech queues ``judge_speaker`` once
the segment is stored), never per frame: the session's frames captured during one of the incident's
speech segments, or within ``MARGIN`` of it, the latest ``MAX_FRAMES`` whose image is still kept. On
each, the mouth is read from the face mesh (``analysis.mouth.read``: the one clear face, turned less
than 30 degrees, its lip aperture). The verdict, kept in the incident's ``details`` (``speaker``, the
sentence the incident page shows, and ``mouth``, the counts):

- ``moved``: the mouth is open in at least ``OPEN_FRAMES`` clear frames: the student appears to be the
  one talking;
- ``still``: at least ``STILL_FRAMES`` clear frames and the mouth closed in all of them: the voice may
  be someone else's (or the student spoke between the frames: a frame is taken every few seconds);
- ``not_judged``: too few clear frames.

The aperture cut (``analysis.mouth.OPEN_APERTURE``) separates the 93 labelled dev faces without an
error, held out by source too; how often a talking student is caught with the mouth open on a frame
is not measured (no labelled video of students talking).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from proctoring import incidents
from proctoring.models import Frame, Incident, IncidentKind

logger = logging.getLogger(__name__)

MARGIN = timedelta(seconds=2)
MAX_FRAMES = 8
OPEN_FRAMES = 1
STILL_FRAMES = 2

PENDING = "being judged from the frames taken while speech was heard"
TEXTS = {
    "moved": "the student appears to be the one talking: their mouth was open in {open} of {clear} clear frames "
             "taken while speech was heard",
    "still": "the student's mouth did not move: closed in all {clear} clear frames taken while speech was heard; "
             "the voice may be someone else's",
    "not_judged": "not judged: {clear} clear frontal face(s) in the {frames} frames taken while speech was heard "
                  "(at least {needed} needed)",
}


def frames_heard(incident: Incident) -> list[Frame]:
    """The latest MAX_FRAMES kept frames of the incident's session captured while its speech was heard."""
    during = Q()
    for started_at, ended_at in incident.speech_segments.values_list("started_at", "ended_at"):
        during |= Q(captured_at__gte=started_at - MARGIN, captured_at__lte=ended_at + MARGIN)
    if not during:
        return []
    kept = Frame.objects.filter(session_id=incident.session_id, purged_at__isnull=True).exclude(image="")
    return list(kept.filter(during).order_by("-captured_at")[:MAX_FRAMES])


def aperture_of(frame: Frame) -> float | None:
    """The frame's lip aperture; None without one clear frontal face (or an image that no longer reads)."""
    from proctoring.analysis import imaging, mouth

    try:
        with frame.image.open("rb") as handle:
            decoded = imaging.decode({"Bytes": handle.read()}, "DetectFaces")
    except Exception:  # noqa: BLE001 - a file gone or unreadable is a frame without a face, not a failure
        logger.warning("Frame %s could not be read for mouth movement.", frame.pk, exc_info=True)
        return None
    return mouth.read(decoded.bgr, decoded.scale).aperture


def verdict(apertures: list[float | None]) -> dict[str, Any]:
    from proctoring.analysis import mouth

    clear = [a for a in apertures if a is not None]
    opened = sum(mouth.is_open(a) for a in clear)
    if opened >= OPEN_FRAMES:
        judged, needed = "moved", OPEN_FRAMES
    elif len(clear) >= STILL_FRAMES:
        judged, needed = "still", STILL_FRAMES
    else:
        judged, needed = "not_judged", STILL_FRAMES
    return {"verdict": judged, "frames": len(apertures), "clear": len(clear), "open": opened,
            "apertures": [None if a is None else round(a, 3) for a in apertures],
            "text": TEXTS[judged].format(open=opened, clear=len(clear), frames=len(apertures), needed=needed)}


def speaker_judge(*, incident_id: int) -> Incident | None:
    """Read the mouths on the incident's frames and keep the verdict in its details (idempotent)."""
    incident = Incident.objects.filter(pk=incident_id, kind=IncidentKind.TALKING).first()
    if incident is None:
        return None  # erased with its session
    frames = frames_heard(incident)
    # A frame's aperture is read once: a judgement before kept it with the frame's id. Each new clip re-judges the
    # incident, and reading every frame again cost 2-6 CPU-seconds per 9.6 KB clip (an audit: about 5 cores from
    # one student sending small clips); now only the frames not read before.
    mouth_before = incident.details.get("mouth") if isinstance(incident.details, dict) else None
    mouth_before = mouth_before if isinstance(mouth_before, dict) else {}
    known = dict(zip(mouth_before.get("frame_ids") or [], mouth_before.get("apertures") or [], strict=False))
    judged = verdict([known[frame.pk] if frame.pk in known else aperture_of(frame)  # the models run outside the lock
                      for frame in frames])
    with transaction.atomic():
        locked = Incident.objects.select_for_update().select_related("session").filter(pk=incident_id).first()
        if locked is None:
            return None
        if locked.ended_at != incident.ended_at:
            return locked  # more speech came meanwhile: the judgement it queued reads it, this one is stale
        mouth = {key: judged[key] for key in ("verdict", "frames", "clear", "open", "apertures")}
        mouth["frame_ids"] = [frame.pk for frame in frames]
        locked.details = {**locked.details, "speaker": judged["text"], "mouth": mouth}
        locked.version += 1
        locked.save(update_fields=["details", "version"])
        incidents.publish(locked)
    return locked


def enqueue_judge(incident_id: int) -> None:
    """Queue judge_speaker; a broker outage leaves the incident saying it is being judged (logged)."""
    from proctoring.tasks import judge_speaker

    try:
        judge_speaker.delay(incident_id)
    except Exception:  # noqa: BLE001 - kombu raises several types when Redis is down
        logger.warning("Could not queue the speaker judgement of incident %s.", incident_id, exc_info=True)
