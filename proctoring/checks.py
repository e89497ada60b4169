"""The five checks of the original sample, computed from one ``analyze`` answer under a policy.

Pure functions: no ORM. ``evaluate`` answers the sample's array of ``{"TestName", "Success",
"Details"}`` in the sample's order, plus the incident kinds that the failing checks mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.models import Role
from exams import policy as p
from proctoring.models import IncidentKind


@dataclass(frozen=True)
class Policy:
    checks_enabled: tuple[str, ...] = tuple(p.ALL_CHECKS)
    min_confidence: float = p.DEFAULT_MIN_CONFIDENCE
    face_match_threshold: float = p.DEFAULT_FACE_MATCH_THRESHOLD
    objects_of_interest: tuple[str, ...] = tuple(p.DEFAULT_OBJECTS_OF_INTEREST)
    # Judged across a session's frames (proctoring.attention), not by ``evaluate``: no answer row.
    looking_away: bool = p.DEFAULT_LOOKING_AWAY

    @classmethod
    def of_exam(cls, exam: Any) -> Policy:
        return cls(
            checks_enabled=tuple(exam.checks_enabled), min_confidence=exam.min_confidence,
            face_match_threshold=exam.face_match_threshold, objects_of_interest=tuple(exam.objects_of_interest),
            looking_away=exam.watch_looking_away,
        )


# The sample's stateless /process: its five checks, nothing judged across frames.
SAMPLE_POLICY = Policy(looking_away=False)


@dataclass
class Outcome:
    results: list[dict[str, Any]]
    kinds: set[str] = field(default_factory=set)  # incident kinds whose condition holds on this frame
    matched_external_id: str | None = None


def _label_names(label: dict[str, Any]) -> set[str]:
    return {label["Name"], *(alias["Name"] for alias in label.get("Aliases", []))}


# A session frame's failed 1:1 verification, by reason, means these incident kinds. Only a clear,
# frontal, well-lit face that is not the student's suggests someone else; a face that can't be
# judged is its own, lower kind; a student without a reference face is the institution's to fix.
VERIFICATION_KINDS = {
    "not_matching": IncidentKind.WRONG_PERSON,
    "no_face": IncidentKind.NO_FACE,
    "several_faces": IncidentKind.MULTIPLE_FACES,
    "too_dark": IncidentKind.FACE_NOT_VERIFIABLE,
    "too_far": IncidentKind.FACE_NOT_VERIFIABLE,
    "turned_away": IncidentKind.FACE_NOT_VERIFIABLE,
    "blurred": IncidentKind.FACE_NOT_VERIFIABLE,
}
# One event, one incident: when checks of one frame fail for the same cause, the kind that says the
# most keeps it. A second person box and a second face are one second person, and "several people"
# (high) says more than "several faces" (medium); a second face with no second person box (a face
# in the background, a partly visible person) still opens "several faces" on its own. An empty seat
# fails both Person Detection and Face Detection: "no person" keeps it.
ABSORBS = {IncidentKind.MULTIPLE_PEOPLE: {IncidentKind.MULTIPLE_FACES},
           # Nobody in view is one event, not "no person" plus "no face" (a face seen without a person box
           # still holds no_person alone; a person without a face, no_face alone).
           IncidentKind.NO_PERSON: {IncidentKind.NO_FACE}}


def evaluate(
    analysis: dict[str, Any],
    policy: Policy,
    *,
    name_of: Callable[[str], str | None],
    own_name: str | None = None,
) -> Outcome:
    """Judge one frame.

    A session frame carries ``Verification`` (the 1:1 check against the student's own references):
    Person Recognition passes when it passed, and names at most ``own_name`` (the student's name
    on the matched registration), never anyone else. Outside a session (``FaceMatches`` of a 1:N
    search, as in the sample) any registered face passes, named by ``name_of(external_image_id)``
    (None: not registered any more).
    """
    labels = [label for label in analysis["Labels"] if label["Confidence"] >= policy.min_confidence]
    interesting = {name.lower() for name in policy.objects_of_interest}
    found = sorted({
        label["Name"] for label in labels if {n.lower() for n in _label_names(label)} & interesting
    })
    people = sum(
        len([i for i in label.get("Instances", []) if i.get("Confidence", 100) >= policy.min_confidence]) or 1
        for label in labels if label["Name"] == "Person"
    )
    faces = len(analysis["FaceDetails"])
    unsafe = sorted({
        label["Name"] for label in analysis["ModerationLabels"] if label["Confidence"] >= policy.min_confidence
    })
    verification = analysis.get("Verification")
    outcome = Outcome(results=[])
    if verification is not None:
        recognised = verification["Passed"] is True
        recognition: tuple[bool, str | int] = (recognised, (own_name or "0") if recognised else "0")
        recognition_kinds = set() if recognised else _verification_kinds(verification)
    else:
        match = next(
            (m for m in analysis["FaceMatches"] if m["Similarity"] >= policy.face_match_threshold), None
        )
        external_id = match["Face"].get("ExternalImageId") if match else None
        full_name = name_of(external_id) if external_id else None
        outcome.matched_external_id = external_id if full_name else None
        recognition = (bool(full_name), full_name or "0")
        recognition_kinds = set() if faces == 0 else {IncidentKind.UNREGISTERED_FACE}
    verdicts: dict[str, tuple[bool, str | int]] = {
        p.CHECK_OBJECTS: (not found, ", ".join(found) if found else "0"),
        p.CHECK_PERSON_DETECTION: (people == 1, people),  # numbers, as the sample answers them
        p.CHECK_PERSON_RECOGNITION: recognition,
        p.CHECK_FACE_DETECTION: (faces == 1, faces),
        p.CHECK_UNSAFE: (not unsafe, ", ".join(unsafe) if unsafe else "0"),
    }
    for name in p.ALL_CHECKS:
        if name not in policy.checks_enabled:
            continue
        success, details = verdicts[name]
        outcome.results.append({"TestName": name, "Success": success, "Details": details})
        if not success:
            outcome.kinds |= recognition_kinds if name == p.CHECK_PERSON_RECOGNITION else _kinds(
                name, people=people, faces=faces)
    for kind, absorbed in ABSORBS.items():
        if kind in outcome.kinds:
            outcome.kinds -= absorbed
    return outcome


# A clear face that did not match but came close is not clear evidence of someone else: "someone else" (High, it
# accuses) needs the comparison to fail clearly. Under the pass (FaceMatchThreshold 90) and at or above this, the
# frame holds IDENTITY_UNCLEAR (Low: "not clearly the student", for a reviewer to look at the faces) and neither
# counts in nor breaks a "someone else" streak (incidents.NEUTRAL). The student's own face scores here when they
# lean in or sit at an angle (an audit: a student 1.2x closer to the camera scored 86-89 on every frame, clear,
# frontal and lit, and got a High incident; 2 of 8 people leaning in for 30 s); so does a look-alike (a second
# audit: one dev pair scored 85-89 on every frame), which no similarity separates from them. Someone else's face
# rarely does: on the dev set's webcam-like impostor trials the best similarity to a student's references is 42.3 /
# 63.4 / 80.0 at the 50th / 90th / 99th percentile (evaluate_engine), and the gate takes 80 as the floor of the
# student's own face too (LIVENESS_MIN_SIMILARITY; their turned faces scored 80.9 and up,
# scripts/measure_liveness.py --only-whose).
CLEARLY_SOMEONE_ELSE_BELOW = 80.0


def _verification_kinds(verification: dict[str, Any]) -> set[str]:
    reason = str(verification.get("Reason"))
    similarity = verification.get("Similarity")
    if reason == "not_matching" and isinstance(similarity, int | float) and similarity >= CLEARLY_SOMEONE_ELSE_BELOW:
        return {IncidentKind.IDENTITY_UNCLEAR}
    kind = VERIFICATION_KINDS.get(reason)
    return {kind} if kind else set()


def _kinds(check: str, *, people: int, faces: int) -> set[str]:
    if check == p.CHECK_OBJECTS:
        return {IncidentKind.OBJECT_OF_INTEREST}
    if check == p.CHECK_PERSON_DETECTION:
        return {IncidentKind.NO_PERSON if people == 0 else IncidentKind.MULTIPLE_PEOPLE}
    if check == p.CHECK_FACE_DETECTION:
        return {IncidentKind.NO_FACE if faces == 0 else IncidentKind.MULTIPLE_FACES}
    return {IncidentKind.UNSAFE_CONTENT}


def as_seen_by(results: list[dict[str, Any]] | None, *, viewer: Any, student: Any) -> list[dict[str, Any]]:
    """A frame's checks as ``viewer`` may see them.

    Staff see what was stored. The session's student sees Person Recognition as pass/fail with at
    most their own name: a failed check could otherwise name whichever registered person the photo
    matched. (Students only ever reach their own frames; ``student`` is the frame's session student.)
    """
    results = list(results or [])
    if getattr(viewer, "role", None) != Role.STUDENT:
        return results
    own_name = (student.full_name if student is not None and student.pk == viewer.pk else "") or "0"
    return [
        {**check, "Details": own_name if check.get("Success") is True else "0"}
        if check.get("TestName") == p.CHECK_PERSON_RECOGNITION else check
        for check in results
    ]
