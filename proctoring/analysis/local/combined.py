"""The combined analysis: labels, faces, the largest face's matches and moderation labels
from one decode, with the heavy models on helper threads."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from .. import faces as face_ops
from .. import moderation, nanodet, objects
from ..errors import INVALID_PARAMETER, client_error
from ..imaging import Frame, decode
from ..models import thread_count
from ..store import CollectionNotFound, FaceRecord, FaceStore
from ..verification import verdict
from .quality import clear as clear_of
from .shapes import face_answer, not_found, validate

DEFAULT_MIN_CONFIDENCE = 55.0  # Rekognition's DetectLabels default
ANALYZE_MATCH_THRESHOLD = 90.0  # the product default: cosine 0.514 (faces.similarity)
T = TypeVar("T")


class CombinedAnalysis:
    """``analyze`` and the machinery it shares with the single operations (mixed into the engine)."""

    store: FaceStore
    work_side: int
    _pool: ThreadPoolExecutor | InlineExecutor
    _pid: int

    def analyze(
        self,
        *,
        Image: dict,
        CollectionId: str | None = None,
        References: Sequence[dict] | None = None,
        MinConfidence: float | None = None,
        FaceMatchThreshold: float | None = None,
        LabelsOfInterest: Sequence[str] | None = None,
        Moderation: bool = True,
    ) -> dict:
        """Labels, FaceDetails, FaceMatches (largest face) and ModerationLabels from one decode.

        MinConfidence applies to labels and moderation labels (default 55). Without References,
        FaceMatches is the 1:N search of the largest face in CollectionId (empty when there is no
        face or no CollectionId). With References (``[{"FaceId": ...}, ...]``: one person's
        reference faces, stored in CollectionId), nobody else is searched: FaceMatches lists the
        references the largest face matches, and ``Verification`` says whether it is that person
        (see ``analysis.verification``). NanoDet with open_nsfw runs on a helper thread while faces
        are detected and embedded here.

        LabelsOfInterest (not Rekognition's: our own): the label names the caller will look at
        besides Person. When NanoDet covers them all (``NANODET_NAMES``), YOLO runs only on the
        frames that ``needs_yolo`` finds unsure, and the Labels of the others hold NanoDet's
        objects and the people made from faces only. Without it YOLO always runs.

        Moderation (ours too): False leaves open_nsfw out and ``ModerationLabels`` out of the answer (a
        worker refreshing a frame that barely changed carries the unsafe-content answer it had).
        """
        operation = "Analyze"
        validate("DetectLabels", {"Image": Image, "MinConfidence": MinConfidence})
        references: list[FaceRecord] | None = None
        if References is not None:
            references = self._references(References, CollectionId, Image, FaceMatchThreshold, operation)
        elif CollectionId is not None:
            validate("SearchFacesByImage", {
                "CollectionId": CollectionId, "Image": Image,
                "FaceMatchThreshold": FaceMatchThreshold,
            })
            if not self.store.collection_exists(CollectionId):
                raise not_found(CollectionId, operation)
        frame = decode(Image, operation, self.work_side)
        minimum = DEFAULT_MIN_CONFIDENCE if MinConfidence is None else MinConfidence
        threshold = ANALYZE_MATCH_THRESHOLD if FaceMatchThreshold is None else FaceMatchThreshold
        if LabelsOfInterest is not None and not (
            isinstance(LabelsOfInterest, (list, tuple)) and all(isinstance(n, str) for n in LabelsOfInterest)
        ):
            raise client_error(INVALID_PARAMETER, "LabelsOfInterest must be a list of label names.", operation)
        if not isinstance(Moderation, bool):
            raise client_error(INVALID_PARAMETER, "Moderation must be true or false.", operation)
        tiered = LabelsOfInterest is not None and covered_by_nanodet(LabelsOfInterest)
        first = None if tiered else self._executor().submit(objects.detect, frame.bgr)
        second = self._executor().submit(nanodet_and_unsafe, frame.bgr, Moderation)
        found = face_ops.detect(frame.bgr)
        clear = clear_of(found, frame)
        details = [face_ops.face_detail(f, frame.bgr) for f in clear]
        matches: list[dict] = []
        best: tuple[float, str] | None = None
        if references is not None:
            best, matches = self._verify(references, frame, clear, threshold)
        elif clear and CollectionId is not None:
            matches = self._matches(CollectionId, frame, clear[0], threshold, None, operation)
        extra, people, probability = second.result()
        if first is not None:
            primary = first.result()
        elif needs_yolo(found, extra, people):
            primary = objects.detect(frame.bgr)
        else:
            primary = []
        detections = nanodet.merge(primary, extra)
        response = {
            "Labels": labels(frame, detections, found, minimum, None),
            "FaceDetails": details,
            "FaceMatches": matches,
        }
        if probability is not None:
            response["ModerationLabels"] = moderation.moderation_labels(probability, minimum)
        if references is not None:
            response["Verification"] = verdict(
                face_details=details, best=best, threshold=threshold, references=len(references)
            )
        return response

    def _references(
        self,
        references: Sequence[dict],
        collection_id: str | None,
        image: dict,
        threshold: float | None,
        operation: str,
    ) -> list[FaceRecord]:
        """The stored faces that ``References`` names; their ``Image`` is not needed here."""
        if not isinstance(references, (list, tuple)) or not all(
            isinstance(r, dict) and isinstance(r.get("FaceId"), str) for r in references
        ):
            raise client_error(INVALID_PARAMETER, "References must be a list of {FaceId, Image}.", operation)
        for reference in references:
            if "Image" in reference:
                validate("CompareFaces", {"SourceImage": image, "TargetImage": reference["Image"],
                                          "SimilarityThreshold": threshold})
        face_ids = [r["FaceId"] for r in references]
        if not face_ids:
            return []
        if collection_id is None:
            raise client_error(
                INVALID_PARAMETER, "References need the CollectionId that holds their faces.", operation
            )
        validate("DeleteFaces", {"CollectionId": collection_id, "FaceIds": face_ids})  # the same id rules
        try:
            return self.store.get_faces(collection_id, face_ids)
        except CollectionNotFound:
            raise not_found(collection_id, operation) from None

    def _verify(
        self, references: list[FaceRecord], frame: Frame, clear: list[face_ops.Face], threshold: float
    ) -> tuple[tuple[float, str] | None, list[dict]]:
        """The largest face against one person's references only: best (similarity, FaceId), matches."""
        if not clear or not references:
            return None, []
        vector = face_ops.embed(frame.bgr, clear[0])
        scored = sorted(
            ((face_ops.similarity(float(np.dot(r.vector, vector))), r) for r in references),
            key=lambda pair: -pair[0],
        )
        matches = [
            {"Similarity": score, "Face": face_answer(record, with_version=False)}
            for score, record in scored if score >= threshold
        ]
        return (scored[0][0], scored[0][1].face_id), matches

    # -- helpers ----------------------------------------------------------------------------

    def _matches(
        self,
        collection_id: str,
        frame: Frame,
        face: face_ops.Face,
        threshold: float,
        max_faces: int | None,
        operation: str,
    ) -> list[dict]:
        vector = face_ops.embed(frame.bgr, face)
        try:
            hits = self.store.search(collection_id, vector, max_faces or 80)
        except CollectionNotFound:
            raise not_found(collection_id, operation) from None
        matches = []
        for record, cosine in hits:
            score = face_ops.similarity(cosine)
            if score >= threshold:
                matches.append({"Similarity": score, "Face": face_answer(record, with_version=False)})
        return matches

    def _new_pool(self) -> ThreadPoolExecutor | InlineExecutor:
        # analyze runs YOLO on one helper, NanoDet + open_nsfw on another, faces here; only
        # when the models' own thread pools leave cores for that (else it oversubscribes).
        if thread_count() * 2 <= (os.cpu_count() or 1):
            return ThreadPoolExecutor(max_workers=2, thread_name_prefix="analysis")
        return InlineExecutor()

    def _executor(self) -> ThreadPoolExecutor | InlineExecutor:
        # A forked worker (Celery prefork) inherits the pool object but not its threads, and
        # would wait forever on it: give each process its own.
        if os.getpid() != self._pid:
            self._pool, self._pid = self._new_pool(), os.getpid()
        return self._pool

    def close(self) -> None:
        self._pool.shutdown(wait=False)



class InlineExecutor:
    """Runs submitted work at once in the caller: the sequential fallback of ``analyze``."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - re-raised by result(), as from a pool
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True) -> None:
        return None


def nanodet_and_unsafe(
    bgr: np.ndarray, unsafe: bool = True
) -> tuple[list[objects.Detection], list[objects.Detection] | None, float | None]:
    extra, people = nanodet.detect_with_people(bgr)
    return extra, people, moderation.unsafe_probability(bgr) if unsafe else None


def _names_of(coco: str) -> set[str]:
    info = objects.label_info(coco)
    return {info.name, *info.aliases, *info.parents}


# The label names (and aliases) that only NanoDet's classes give: an exam that watches nothing
# else needs no YOLO label but Person. A parent shared with a YOLO class ("Electronics": a monitor,
# a keyboard) is not among them.
NANODET_NAMES = frozenset(
    name.lower()
    for coco in nanodet.FLOORS
    for name in _names_of(coco) - set().union(*(_names_of(c) for c in objects.COCO if c not in nanodet.FLOORS))
)


def covered_by_nanodet(names: Sequence[str]) -> bool:
    return all(name.lower() in NANODET_NAMES for name in names)


def needs_yolo(
    found: list[face_ops.Face], extra: list[objects.Detection], people: list[objects.Detection] | None
) -> bool:
    """Whether YOLO could change what a frame's five checks say, when NanoDet watches the objects.

    Not when the frame is plainly one person and no object: YuNet finds exactly one face, a
    confident one (PERSON_FACE_SCORE: it counts as a person by itself, ``people_from_faces``);
    NanoDet sees no phone, laptop, book or screen even at its raw floor (far below any label's cut), and
    exactly one person box at its raw floor, around that face. Anything else (no face, a second or a
    weak face, a second person box however weak, an object candidate) is unsure, and YOLO runs.
    On the dev photos this skips YOLO on 69 of 143 (33 of the 44 laptop-webcam photos) and changes
    no check's answer on any of them (issue 11's engine notes).
    """
    if people is None or extra or len(found) != 1 or len(people) != 1:
        return True
    face = found[0]
    if face.score < face_ops.PERSON_FACE_SCORE:
        return True
    x, y, w, h = face.box
    px, py, pw, ph = people[0].box
    return not (px <= x + w / 2 <= px + pw and py <= y + h / 2 <= py + ph)



def labels(
    frame: Frame,
    detections: list[objects.Detection],
    found: list[face_ops.Face],
    minimum: float,
    max_labels: int | None,
) -> list[dict]:
    others = [d for d in detections if d.coco != "person"]
    return objects.labels(others + fused_people(detections, found), frame.bgr, minimum, max_labels)


def fused_people(detections: list[objects.Detection], found: list[face_ops.Face]) -> list[objects.Detection]:
    """The person boxes fused with the faces, plus the people made from faces (``people_from_faces``).

    A confident face (PERSON_FACE_SCORE) supports the strongest person box that holds its centre with
    the face's top in the box's upper half, and that box scores at least as the face does: a weak box
    with a face of its own is somebody (a bystander half out of the frame). A box without a face keeps
    its own score and counts only from the person cut (``objects.CONFIDENCE_85``): a confident one
    still counts (a student turned away), a weak one does not (an office chair, a coat). One face,
    one box: a second box on the same head gets no lift from it, and the face adds nobody else.
    """
    people = sorted((d for d in detections if d.coco == "person"), key=lambda d: -d.score)
    unused = [f for f in found if f.score >= face_ops.PERSON_FACE_SCORE]
    fused = []
    for person in people:
        px, py, pw, ph = person.box
        support = next((
            face for face in unused
            if px <= face.box[0] + face.box[2] / 2 <= px + pw and py <= face.box[1] + face.box[3] / 2 <= py + ph
            and face.box[1] <= py + ph / 2
        ), None)
        if support is not None:
            unused = [face for face in unused if face is not support]
            person = replace(person, score=max(person.score, support.score))
        fused.append(person)
    return fused + people_from_faces(detections, unused)


def people_from_faces(
    detections: list[objects.Detection], found: list[face_ops.Face]
) -> list[objects.Detection]:
    """A confident face that no person box contains is a person YOLO missed (close-ups, crops,
    profiles at the frame edge). Any such face counts, clear or not: a face in profile or
    in the background is still somebody in the room.

    The synthetic Person instance spans the face widened to head-and-shoulders.
    """
    clear = [f for f in found if f.score >= face_ops.PERSON_FACE_SCORE]
    people = [
        d for d in detections
        if d.coco == "person" and d.score >= objects.label_info("person").floor
    ]
    extra = []
    for face in clear:
        x, y, w, h = face.box
        cx, cy = x + w / 2, y + h / 2
        if any(px <= cx <= px + pw and py <= cy <= py + ph for px, py, pw, ph in (p.box for p in people)):
            continue
        box = (x - w, y - 0.5 * h, 3 * w, 3 * h)
        extra.append(objects.Detection("person", face.score, box))
    return extra

