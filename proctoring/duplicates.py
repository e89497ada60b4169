"""A new reference face that looks like another person's registered face.

Found by a 1:N search of the institution's collection: a search that only staff make, here at
registration (sessions verify 1:1, never search). A face registered under two people would make
the staff's 1:N check name the wrong one and would let one person's face stand for another's, so
the admin sees who it matches and must confirm (``face_register(confirm_duplicate=True)``, audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from accounts.errors import Conflict
from accounts.models import User
from exams.policy import DEFAULT_FACE_MATCH_THRESHOLD
from proctoring.analysis.errors import error_code
from proctoring.models import FaceRegistration

# The face-match threshold exams run with by default: a match above it is what the checks call "the same face".
DUPLICATE_THRESHOLD = DEFAULT_FACE_MATCH_THRESHOLD
# A student's own references and a few others fit well within it.
SEARCH_MAX_FACES = 20


@dataclass(frozen=True)
class Duplicate:
    """A registration of another person whose face matches the new one."""

    registration: FaceRegistration
    similarity: float

    def as_details(self) -> dict[str, Any]:
        return {"ExternalImageId": str(self.registration.external_image_id),
                "FullName": self.registration.full_name, "student": self.registration.student_id,
                "Similarity": round(self.similarity, 1)}


def face_duplicates(*, engine: Any, institution_id: int, collection_id: str, image: bytes, full_name: str,
                    student: User | None) -> list[Duplicate]:
    """Other people's registrations matching the largest face of ``image``, most similar first.

    The face just indexed from ``image`` matches itself, but has no registration row yet: it is not listed.
    """
    try:
        found = engine.search_faces_by_image(CollectionId=collection_id, Image={"Bytes": image},
                                             MaxFaces=SEARCH_MAX_FACES, FaceMatchThreshold=DUPLICATE_THRESHOLD)
    except ClientError as exc:
        if error_code(exc) == "InvalidParameterException":  # the search found no face where indexing did
            return []
        raise
    similarity = {m["Face"]["FaceId"]: m["Similarity"] for m in found.get("FaceMatches", [])}
    registrations = (FaceRegistration.objects.filter(institution_id=institution_id, face_id__in=similarity)
                     .select_related("student"))
    others = [Duplicate(r, similarity[r.face_id]) for r in registrations
              if not _same_person(r, student=student, full_name=full_name)]
    return sorted(others, key=lambda d: -d.similarity)


def _same_person(registration: FaceRegistration, *, student: User | None, full_name: str) -> bool:
    """Two students are two people; without a student on either side, the name says who it is."""
    if student is not None and registration.student_id is not None:
        return registration.student_id == student.pk
    return registration.full_name.strip().casefold() == full_name.strip().casefold()


def duplicate_error(duplicates: list[Duplicate]) -> Conflict:
    best = duplicates[0]
    others = f" and {len(duplicates) - 1} other registration{'s' if len(duplicates) > 2 else ''}" \
        if len(duplicates) > 1 else ""
    return Conflict(
        f"This face matches {best.registration.full_name} ({best.similarity:.1f}% similar){others}, registered "
        "to another person. Check the photo; to register it anyway, confirm the duplicate.",
        code="duplicate_face",
        details={"matches": [d.as_details() for d in duplicates], "threshold": DUPLICATE_THRESHOLD},
    )
