"""What a reviewer needs to judge an identity incident: the student's reference photos, the evidence
frame and how similar they were. Staff-only reading (the incident page is for staff).

The similarity comes from the frame's 1:1 verification (``findings["Verification"]``: Similarity to the
student's best-matching reference, FaceId of that reference). Frames analysed before it existed carry
only the 1:N search (``findings["FaceMatches"]``): the best match among the student's own faces is used,
and the closest other registered face is shown for what it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from proctoring.models import FaceRegistration, Frame, Incident, IncidentKind

IDENTITY_KINDS = frozenset({IncidentKind.WRONG_PERSON, IncidentKind.UNREGISTERED_FACE,
                            IncidentKind.FACE_NOT_VERIFIABLE, IncidentKind.IDENTITY_UNCLEAR})

# The verification's reason codes, as a reviewer reads them.
REASON_LABELS = {
    "match": "Matches a reference photo",
    "no_reference": "No reference photo registered",
    "no_face": "No face in view",
    "several_faces": "Several faces in view",
    "too_dark": "Too dark to compare",
    "too_far": "Face too small to compare",
    "turned_away": "Face turned away",
    "blurred": "Blurred",
    "not_matching": "Does not match the reference photos",
}


@dataclass
class IdentityPanel:
    references: list[FaceRegistration]  # the best-matching one first
    evidence: Frame | None
    similarity: float | None  # 0-100, to the student's own references; None: not recorded
    threshold: float
    source: str  # "verification", "search" or "" (nothing recorded)
    best_face_id: str | None = None
    reason: str = ""
    closest_other: dict[str, Any] | None = field(default=None)  # {"name", "similarity"} of another person

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason.replace("_", " ").capitalize())

    @property
    def below_threshold(self) -> bool:
        return self.similarity is not None and self.similarity < self.threshold


def is_identity_incident(incident: Incident) -> bool:
    return incident.kind in IDENTITY_KINDS


def identity_panel(incident: Incident) -> IdentityPanel | None:
    """The panel of an identity incident; None for other kinds."""
    if not is_identity_incident(incident):
        return None
    session = incident.session
    evidence = incident.evidence_frame
    findings = (evidence.findings if evidence is not None else None) or incident.details.get("findings") or {}
    references = list(FaceRegistration.objects.filter(student_id=session.student_id).order_by("created_at"))
    panel = IdentityPanel(references=references, evidence=evidence, similarity=None,
                          threshold=session.exam.face_match_threshold, source="")
    verification = findings.get("Verification")
    if isinstance(verification, dict):
        panel.source = "verification"
        panel.similarity = _number(verification.get("Similarity"))
        panel.best_face_id = verification.get("FaceId")
        panel.reason = str(verification.get("Reason") or "")
    elif isinstance(findings.get("FaceMatches"), list):
        _from_search(panel, findings["FaceMatches"], institution_id=incident.institution_id)
    panel.references.sort(key=lambda r: r.face_id != panel.best_face_id)  # stable: the best first
    return panel


def _from_search(panel: IdentityPanel, matches: list[Any], *, institution_id: int) -> None:
    own = {str(r.external_image_id): r for r in panel.references}
    scored = [(m.get("Face", {}).get("ExternalImageId"), _number(m.get("Similarity"))) for m in matches
              if isinstance(m, dict)]
    scored = [(external_id, similarity) for external_id, similarity in scored if similarity is not None]
    mine = [(s, own[e]) for e, s in scored if e in own]
    if mine:
        best_similarity, best = max(mine, key=lambda pair: pair[0])
        panel.similarity, panel.best_face_id = best_similarity, best.face_id
    others = sorted(((s, e) for e, s in scored if e not in own), reverse=True)
    if others:
        similarity, external_id = others[0]
        other = FaceRegistration.objects.filter(institution_id=institution_id, external_image_id=external_id).first() \
            if _is_uuid(external_id) else None
        panel.closest_other = {"name": other.full_name if other else "a registration since deleted",
                               "similarity": similarity}
    panel.source = "search"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
