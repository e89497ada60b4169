"""Looking away: a session frame's head pose judged against the student's own start-of-exam pose.

The engine's ``FaceDetails[].Pose`` (Yaw, Pitch in degrees, Rekognition's shape; YuNet's five
landmarks, ``analysis.faces.pose``) of the frame's one face is compared with the student's
baseline: the median pose of the first ``BASELINE_FRAMES`` frames of the exam that show one face
roughly towards the camera (``|Yaw| <= BASELINE_MAX_YAW``, ``|Pitch| <= BASELINE_MAX_PITCH``), kept on
the session (``ExamSession.pose_baseline``). So a webcam set off to the side, or a student who sits
a little turned, is judged against how *they* sat, not against the camera's axis. A frame is "away"
when ``max(|Yaw - yaw0|, PITCH_WEIGHT x |Pitch - pitch0|) > AWAY_DEGREES``; pitch is weighted up
because a head nods through a smaller range than it turns, and five-point pitch is the noisier.

A frame that is away holds ``IncidentKind.LOOKING_AWAY``; the incident rules (``incidents.rule``)
open one only when it holds on 3 of the latest 5 frames at least (with a capture every 5 s, a look
away of 10-25 s), so a glance at the keyboard is not an incident. Judged only while the exam runs:
the pre-exam check asks the student to turn their head (liveness), and its frames never count.

Measured by ``manage.py evaluate_engine --images ../shared/data/images`` on the 108 dev frames labelled
in ``analysis/labels/looking_away.csv`` (15 away), ``analysis.looking_away``: at this cut, recall 86.7%
(13/15) with 5.4% (5/93) frames not away flagged; held out by source, 86.7% and 5.4% (5/93). Targets
(>= 90% at <= 5%) missed by one frame each: the two misses are a profile YuNet does not find at all
(no face, its own incident) and a 30-degree turn with the eyes aside that five points put at 19 degrees.
AWAY_DEGREES is the fitted cut (20.7: the lowest with <= 5% false flags) rounded up.
MediaPipe's 468-point face mesh and iris models (``face_landmark.tflite`` and ``iris_landmark.tflite``
from the ``mediapipe==0.10.21`` wheel, run under ``ai-edge-litert``; the mesh ships for mouth movement,
analysis.landmarks) were compared on the same labels, baselines and measurement code
(``analysis/tools/looking_away_mesh.py``; recall, false flags at the product cut | fitted | held out):
five points 13/15, 5/93 | 13/15, 4/93 | 13/15, 5/93 (AUC 0.925); mesh pose 13/15, 16/93 | 9/15, 3/93 |
9/15, 5/93 (AUC 0.878); five-point yaw plus the eyes' direction (iris offset in the eye, no fitted
scale) 14/15, 2/93 | 14/15, 4/93 | 14/15, 6/93 (AUC 0.930): it catches the 30-degree turn with the eyes
aside and clears the heads turned with the eyes on the camera, but held out flags one frame more.
Only where the five-point deviation is within 8 degrees of the cut (20 of the 108 frames) it gives
13/15, 2/93 | 14/15, 4/93 | 14/15, 4/93 (within 10 degrees: 14/15, 5/93; the band chosen on each fold's
training frames: 14/15, 4/93 held out). But wired into the product's path (eyes read on the engine's
face box and eye landmarks, the frame decoded at the engine's working size; evaluate_engine, the
patch not kept) the same rule gave 13/15, 4/93 | 14/15, 4/93 | 13/15, 5/93: the eye offset moves with
the crop, and the gains were one frame each. So the product keeps the five points (the mesh ~1.5 ms
and the iris ~1.8 ms a face on one quiet thread would have run only near the cut); judging a frame
here takes ~20 microseconds.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring.models import IncidentKind

AWAY_DEGREES = 21.0
EYE_BAND = 4.0  # the eyes are read only where the head's deviation is this close to the cut
PITCH_WEIGHT = 1.5
BASELINE_FRAMES = 3
BASELINE_MAX_YAW = 30.0
BASELINE_MAX_PITCH = 20.0
NEUTRAL = (0.0, 0.0)

STUDENT_MESSAGE = "You seem to be looking away from your screen: keep your eyes on the exam."
REVIEWER_MESSAGE = ("The student's head stayed turned away from their own pose at the start of the exam on most of "
                    "several frames in a row (a glance does not count). Check the frames: reading notes, a "
                    "second screen or someone off camera?")


def pose_of(analysis: dict[str, Any]) -> tuple[float, float] | None:
    """(Yaw, Pitch) of the frame's only face; None without exactly one face or without a pose."""
    details = analysis.get("FaceDetails") or []
    if len(details) != 1 or not isinstance(details[0], dict):
        return None
    pose = details[0].get("Pose") or {}
    yaw, pitch = pose.get("Yaw"), pose.get("Pitch")
    if not isinstance(yaw, int | float) or not isinstance(pitch, int | float):
        return None
    return float(yaw), float(pitch)


def baseline_of(poses: list[list[float]] | list[tuple[float, float]]) -> tuple[float, float]:
    """The median (yaw, pitch) of the baseline frames; NEUTRAL (facing the camera) before any."""
    if not poses:
        return NEUTRAL
    return statistics.median(p[0] for p in poses), statistics.median(p[1] for p in poses)


def qualifies_for_baseline(pose: tuple[float, float]) -> bool:
    return abs(pose[0]) <= BASELINE_MAX_YAW and abs(pose[1]) <= BASELINE_MAX_PITCH


def deviation(pose: tuple[float, float], baseline: tuple[float, float]) -> float:
    """How far, in degrees, the head is from the baseline (pitch weighted)."""
    return max(abs(pose[0] - baseline[0]), PITCH_WEIGHT * abs(pose[1] - baseline[1]))


def is_away(pose: tuple[float, float], baseline: tuple[float, float], *, cut: float = AWAY_DEGREES) -> bool:
    return deviation(pose, baseline) > cut


def gaze_baseline_of(taken: list[list[float | None]]) -> tuple[float, float]:
    """Where the eyes pointed on the baseline frames (``[yaw, pitch, eyes' turn]``): the median of
    yaw plus the eyes' turn; the head's baseline where any frame lacks its eyes' turn."""
    if any(len(p) < 3 or p[2] is None for p in taken):
        return baseline_of([(float(p[0] or 0.0), float(p[1] or 0.0)) for p in taken])
    return baseline_of([(float(p[0] or 0.0) + float(p[2] or 0.0), float(p[1] or 0.0)) for p in taken])


def judged_deviation(pose: tuple[float, float], baseline: tuple[float, float], gaze_baseline: tuple[float, float],
                     eyes: Callable[[], float | None] | None, *, cut: float = AWAY_DEGREES,
                     band: float = EYE_BAND) -> tuple[float, float | None]:
    """(deviation, the eyes' turn or None): the head's deviation from ``baseline``, or where it is
    within ``band`` of ``cut`` and ``eyes()`` reads the eyes' turn in the head, the deviation of where
    the eyes point (head yaw plus the eyes' turn) from where they pointed at the start
    (``gaze_baseline``). ``eyes`` is called only there: it runs two small models."""
    head = deviation(pose, baseline)
    if eyes is None or abs(head - cut) > band:
        return head, None
    turn = eyes()
    if turn is None:
        return head, None
    return deviation((pose[0] + turn, pose[1]), gaze_baseline), turn


def eyes_of(image: bytes, analysis: dict[str, Any]) -> Callable[[], float | None]:
    """The eyes' turn of the frame's only face, read when called (``analysis.landmarks.eye_yaw``: the
    local face mesh and iris models on the engine's face box); None where they cannot run."""
    def read() -> float | None:
        from botocore.exceptions import ClientError

        from proctoring.analysis import landmarks

        try:
            return landmarks.eye_yaw(image, (analysis.get("FaceDetails") or [{}])[0])
        except (ImportError, FileNotFoundError, ClientError):
            return None  # no mediapipe wheel or an undecodable frame: the head's pose alone judges
    return read


def judge(*, session: ExamSession, analysis: dict[str, Any],
          eyes: Callable[[], float | None] | None = None) -> dict[str, Any] | None:
    """Judge a frame of ``session`` (locked by the caller); answers what goes in its findings
    (``Attention``), or None when looking away is not judged on it. While the baseline is being
    taken, adds the frame's pose to it and saves the session's ``pose_baseline``. ``eyes`` (see
    ``judged_deviation``) reads the eyes' turn near the cut; without it the head's pose alone judges."""
    if not session.exam.watch_looking_away or session.status != SessionStatus.IN_PROGRESS:
        return None
    if IncidentKind.LOOKING_AWAY in session.exempt_checks:
        return None  # an accommodation (not facing the camera for a medical reason): not judged, not told
    pose = pose_of(analysis)
    if pose is None:
        return None  # no face or several: other checks say so
    taken = list(session.pose_baseline or [])
    if len(taken) < BASELINE_FRAMES and qualifies_for_baseline(pose):
        # Where the eyes point at the screen, for the gaze baseline (only where the eyes are ever read).
        turn = eyes() if eyes is not None and EYE_BAND > 0 else None
        taken.append([round(pose[0], 2), round(pose[1], 2), None if turn is None else round(turn, 2)])
        session.pose_baseline = taken
        session.save(update_fields=["pose_baseline"])
        return {"Away": False, "Baseline": True, "Deviation": 0.0}
    baseline = baseline_of([(p[0], p[1]) for p in taken])
    judged, turn = judged_deviation(pose, baseline, gaze_baseline_of(taken), eyes)
    found = {"Away": judged > AWAY_DEGREES, "Baseline": False, "Deviation": round(judged, 2)}
    if turn is not None:
        found["Eyes"] = round(turn, 2)
    return found


def kinds_for(*, attention: dict[str, Any] | None, kinds: set[str],
              verification: dict[str, Any] | None) -> set[str]:
    """The frame's incident kinds with looking away added. One event, one incident: a face too
    turned to verify (``turned_away``) is the same event as looking away, which then says it."""
    if not attention or not attention.get("Away"):
        return kinds
    kinds = set(kinds) | {IncidentKind.LOOKING_AWAY}
    if (verification or {}).get("Reason") == "turned_away":
        kinds.discard(IncidentKind.FACE_NOT_VERIFIABLE)
    return kinds
