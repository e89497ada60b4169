"""The embedded engine: Rekognition's operations answered by offline models.

Bytes in, Rekognition-shaped dict out (STYLE rule 6). Arguments are checked against botocore's
own Rekognition input shapes, so a call that the real client would refuse is refused here too,
as an ``InvalidParameterException``.

Which faces a response lists: ``detect_faces`` and ``analyze`` list the faces that *count*
(``faces.is_clear``: confident, not a small background face), because proctoring counts them;
``index_faces`` considers every detected face and reports the weak ones as ``UnindexedFaces``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.session
import numpy as np
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from . import faces as face_ops
from . import moderation, nanodet, objects
from .errors import (
    INVALID_PARAMETER,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_NOT_FOUND,
    client_error,
)
from .imaging import DEFAULT_WORK_SIDE, Frame, decode
from .models import thread_count
from .store import CollectionExists, CollectionNotFound, FaceRecord, FaceStore, MemoryFaceStore

FACE_MODEL_VERSION = "0.1"  # local SFace 2021dec; the shape wants digits, and no AWS model is 0.x
LABEL_MODEL_VERSION = "local-yolov4-tiny-coco"
MODERATION_MODEL_VERSION = "local-open-nsfw-1"
DEFAULT_MIN_CONFIDENCE = 55.0  # Rekognition's DetectLabels default
DEFAULT_MODERATION_CONFIDENCE = 50.0  # Rekognition's DetectModerationLabels default
DEFAULT_MATCH_THRESHOLD = 80.0  # Rekognition's SearchFacesByImage default
ANALYZE_MATCH_THRESHOLD = 90.0  # a strict identity check: cosine ~0.45 (faces.similarity)
DEFAULT_LIST_PAGE = 1000


@dataclass(frozen=True)
class QualityBar:
    min_height: float  # face height in original pixels
    min_sharpness: float
    min_brightness: float
    max_yaw: float
    max_pitch: float
    min_score: float  # YuNet score


# NONE filters nothing; AUTO is LOW. Rekognition documents the reasons, not the numbers.
QUALITY_BARS: dict[str, QualityBar | None] = {
    "NONE": None,
    "LOW": QualityBar(20, 8, 5, 75, 60, 0.6),
    "AUTO": QualityBar(20, 8, 5, 75, 60, 0.6),
    "MEDIUM": QualityBar(40, 20, 10, 50, 40, 0.8),
    "HIGH": QualityBar(64, 35, 15, 30, 30, 0.9),
}

T = TypeVar("T")
_validator = ParamValidator()
_model_lock = threading.Lock()
_service_model: Any = None


def _input_shape(operation: str) -> Any:
    global _service_model
    with _model_lock:
        if _service_model is None:
            _service_model = botocore.session.get_session().get_service_model("rekognition")
    return _service_model.operation_model(operation).input_shape


def _validate(operation: str, params: dict[str, Any]) -> None:
    clean = {k: v for k, v in params.items() if v is not None}
    report = _validator.validate(clean, _input_shape(operation))
    if report.has_errors():
        raise client_error(INVALID_PARAMETER, report.generate_report(), operation)


class LocalEngine:
    """Rekognition-shaped analysis on local models; faces go to ``store``.

    Thread-safe: models are shared per process and locked around inference; the store must be
    thread-safe too.
    """

    def __init__(self, store: FaceStore | None = None, *, work_side: int = DEFAULT_WORK_SIDE):
        self.store: FaceStore = store if store is not None else MemoryFaceStore()
        self.work_side = work_side
        self._pool = self._new_pool()
        self._pid = os.getpid()

    # -- collections ------------------------------------------------------------------------

    def create_collection(self, *, CollectionId: str, Tags: dict[str, str] | None = None) -> dict:
        _validate("CreateCollection", {"CollectionId": CollectionId, "Tags": Tags})
        try:
            self.store.create_collection(CollectionId)
        except CollectionExists:
            raise client_error(
                RESOURCE_ALREADY_EXISTS, f"The collection id: {CollectionId} already exists",
                "CreateCollection",
            ) from None
        return {
            "StatusCode": 200,
            "CollectionArn": f"aws:rekognition:local:000000000000:collection/{CollectionId}",
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    def delete_collection(self, *, CollectionId: str) -> dict:
        _validate("DeleteCollection", {"CollectionId": CollectionId})
        try:
            self.store.delete_collection(CollectionId)
        except CollectionNotFound:
            raise _not_found(CollectionId, "DeleteCollection") from None
        return {"StatusCode": 200}

    def list_faces(
        self, *, CollectionId: str, MaxResults: int | None = None, NextToken: str | None = None
    ) -> dict:
        _validate(
            "ListFaces",
            {"CollectionId": CollectionId, "MaxResults": MaxResults, "NextToken": NextToken},
        )
        offset = 0
        if NextToken is not None:
            if not NextToken.isdigit():
                raise client_error(
                    "InvalidPaginationTokenException", "Invalid pagination token", "ListFaces"
                )
            offset = int(NextToken)
        limit = MaxResults or DEFAULT_LIST_PAGE
        try:
            records, more = self.store.list_faces(CollectionId, offset=offset, limit=limit)
        except CollectionNotFound:
            raise _not_found(CollectionId, "ListFaces") from None
        response: dict[str, Any] = {
            "Faces": [_face(record) for record in records],
            "FaceModelVersion": FACE_MODEL_VERSION,
        }
        if more:
            response["NextToken"] = str(offset + limit)
        return response

    def delete_faces(self, *, CollectionId: str, FaceIds: Sequence[str]) -> dict:
        _validate("DeleteFaces", {"CollectionId": CollectionId, "FaceIds": list(FaceIds)})
        try:
            deleted = self.store.delete_faces(CollectionId, list(FaceIds))
        except CollectionNotFound:
            raise _not_found(CollectionId, "DeleteFaces") from None
        return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": []}

    # -- faces ------------------------------------------------------------------------------

    def index_faces(
        self,
        *,
        CollectionId: str,
        Image: dict,
        ExternalImageId: str | None = None,
        DetectionAttributes: Sequence[str] | None = None,
        MaxFaces: int | None = None,
        QualityFilter: str | None = None,
    ) -> dict:
        operation = "IndexFaces"
        _validate(operation, {
            "CollectionId": CollectionId, "Image": Image, "ExternalImageId": ExternalImageId,
            "DetectionAttributes": DetectionAttributes, "MaxFaces": MaxFaces,
            "QualityFilter": QualityFilter,
        })
        bar = _quality_bar(QualityFilter, operation)
        if not self.store.collection_exists(CollectionId):
            raise _not_found(CollectionId, operation)
        frame = decode(Image, operation, self.work_side)
        image_id = str(uuid.uuid4())
        kept: list[tuple[face_ops.Face, dict]] = []
        unindexed: list[dict] = []
        for face in face_ops.detect(frame.bgr):
            detail = face_ops.face_detail(face, frame.bgr)
            reasons = _quality_reasons(face, detail, frame, bar)
            if reasons:
                unindexed.append({"Reasons": reasons, "FaceDetail": detail})
            elif MaxFaces is not None and len(kept) >= MaxFaces:
                unindexed.append({"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": detail})
            else:
                kept.append((face, detail))
        records = [
            FaceRecord(
                face_id=str(uuid.uuid4()),
                image_id=image_id,
                external_image_id=ExternalImageId,
                bounding_box=detail["BoundingBox"],
                confidence=float(detail["Confidence"]),
                vector=face_ops.embed(frame.bgr, face),
            )
            for face, detail in kept
        ]
        try:
            self.store.add_faces(CollectionId, records)
        except CollectionNotFound:
            raise _not_found(CollectionId, operation) from None
        return {
            "FaceRecords": [
                {"Face": _face(record, with_version=False), "FaceDetail": detail}
                for record, (_, detail) in zip(records, kept, strict=True)
            ],
            "FaceModelVersion": FACE_MODEL_VERSION,
            "UnindexedFaces": unindexed,
        }

    def search_faces_by_image(
        self,
        *,
        CollectionId: str,
        Image: dict,
        MaxFaces: int | None = None,
        FaceMatchThreshold: float | None = None,
        QualityFilter: str | None = None,
    ) -> dict:
        operation = "SearchFacesByImage"
        _validate(operation, {
            "CollectionId": CollectionId, "Image": Image, "MaxFaces": MaxFaces,
            "FaceMatchThreshold": FaceMatchThreshold, "QualityFilter": QualityFilter,
        })
        _quality_bar(QualityFilter, operation)
        if not self.store.collection_exists(CollectionId):
            raise _not_found(CollectionId, operation)
        frame = decode(Image, operation, self.work_side)
        found = face_ops.detect(frame.bgr)
        if not found:
            raise client_error(
                INVALID_PARAMETER, "There are no faces in the image. Should be at least 1.",
                operation,
            )
        largest = found[0]
        threshold = DEFAULT_MATCH_THRESHOLD if FaceMatchThreshold is None else FaceMatchThreshold
        matches = self._matches(CollectionId, frame, largest, threshold, MaxFaces, operation)
        return {
            "SearchedFaceBoundingBox": face_ops.bounding_box(largest, frame.bgr),
            "SearchedFaceConfidence": round(min(100.0, largest.score * 100.0), 4),
            "FaceMatches": matches,
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    def detect_faces(self, *, Image: dict, Attributes: Sequence[str] | None = None) -> dict:
        _validate("DetectFaces", {"Image": Image, "Attributes": Attributes})
        frame = decode(Image, "DetectFaces", self.work_side)
        return {"FaceDetails": [face_ops.face_detail(f, frame.bgr) for f in _clear_faces(frame)]}

    # -- labels and moderation ----------------------------------------------------------------

    def detect_labels(
        self,
        *,
        Image: dict,
        MaxLabels: int | None = None,
        MinConfidence: float | None = None,
        Features: Sequence[str] | None = None,
        Settings: dict | None = None,
    ) -> dict:
        _validate("DetectLabels", {
            "Image": Image, "MaxLabels": MaxLabels, "MinConfidence": MinConfidence,
            "Features": Features, "Settings": Settings,
        })
        frame = decode(Image, "DetectLabels", self.work_side)
        minimum = DEFAULT_MIN_CONFIDENCE if MinConfidence is None else MinConfidence
        second = self._executor().submit(nanodet.detect, frame.bgr)
        found = face_ops.detect(frame.bgr)
        detections = nanodet.merge(objects.detect(frame.bgr), second.result())
        labels = _labels(frame, detections, found, minimum, MaxLabels)
        return {"Labels": labels, "LabelModelVersion": LABEL_MODEL_VERSION}

    def detect_moderation_labels(
        self, *, Image: dict, MinConfidence: float | None = None
    ) -> dict:
        _validate("DetectModerationLabels", {"Image": Image, "MinConfidence": MinConfidence})
        frame = decode(Image, "DetectModerationLabels", self.work_side)
        minimum = DEFAULT_MODERATION_CONFIDENCE if MinConfidence is None else MinConfidence
        probability = moderation.unsafe_probability(frame.bgr)
        return {
            "ModerationLabels": moderation.moderation_labels(probability, minimum),
            "ModerationModelVersion": MODERATION_MODEL_VERSION,
        }

    # -- all at once --------------------------------------------------------------------------

    def analyze(
        self,
        *,
        Image: dict,
        CollectionId: str | None = None,
        MinConfidence: float | None = None,
        FaceMatchThreshold: float | None = None,
    ) -> dict:
        """Labels, FaceDetails, FaceMatches (largest face) and ModerationLabels from one decode.

        MinConfidence applies to labels and moderation labels (default 55). FaceMatches is empty
        when there is no face or no CollectionId. YOLO, and NanoDet with open_nsfw, run on
        two helper threads while faces are detected and embedded here.
        """
        operation = "Analyze"
        _validate("DetectLabels", {"Image": Image, "MinConfidence": MinConfidence})
        if CollectionId is not None:
            _validate("SearchFacesByImage", {
                "CollectionId": CollectionId, "Image": Image,
                "FaceMatchThreshold": FaceMatchThreshold,
            })
            if not self.store.collection_exists(CollectionId):
                raise _not_found(CollectionId, operation)
        frame = decode(Image, operation, self.work_side)
        minimum = DEFAULT_MIN_CONFIDENCE if MinConfidence is None else MinConfidence
        threshold = ANALYZE_MATCH_THRESHOLD if FaceMatchThreshold is None else FaceMatchThreshold
        first = self._executor().submit(objects.detect, frame.bgr)
        second = self._executor().submit(_nanodet_and_unsafe, frame.bgr)
        found = face_ops.detect(frame.bgr)
        clear = _clear(found, frame)
        details = [face_ops.face_detail(f, frame.bgr) for f in clear]
        matches: list[dict] = []
        if clear and CollectionId is not None:
            matches = self._matches(CollectionId, frame, clear[0], threshold, None, operation)
        extra, probability = second.result()
        detections = nanodet.merge(first.result(), extra)
        return {
            "Labels": _labels(frame, detections, found, minimum, None),
            "FaceDetails": details,
            "FaceMatches": matches,
            "ModerationLabels": moderation.moderation_labels(probability, minimum),
        }

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
            raise _not_found(collection_id, operation) from None
        matches = []
        for record, cosine in hits:
            score = face_ops.similarity(cosine)
            if score >= threshold:
                matches.append({"Similarity": score, "Face": _face(record, with_version=False)})
        return matches

    def _new_pool(self) -> ThreadPoolExecutor | _InlineExecutor:
        # analyze runs YOLO on one helper, NanoDet + open_nsfw on another, faces here; only
        # when the models' own thread pools leave cores for that (else it oversubscribes).
        if thread_count() * 2 <= (os.cpu_count() or 1):
            return ThreadPoolExecutor(max_workers=2, thread_name_prefix="analysis")
        return _InlineExecutor()

    def _executor(self) -> ThreadPoolExecutor | _InlineExecutor:
        # A forked worker (Celery prefork) inherits the pool object but not its threads, and
        # would wait forever on it: give each process its own.
        if os.getpid() != self._pid:
            self._pool, self._pid = self._new_pool(), os.getpid()
        return self._pool

    def close(self) -> None:
        self._pool.shutdown(wait=False)


class _InlineExecutor:
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


def _nanodet_and_unsafe(bgr: np.ndarray) -> tuple[list[objects.Detection], float]:
    return nanodet.detect(bgr), moderation.unsafe_probability(bgr)


def _clear_faces(frame: Frame) -> list[face_ops.Face]:
    return _clear(face_ops.detect(frame.bgr), frame)


def _clear(found: list[face_ops.Face], frame: Frame) -> list[face_ops.Face]:
    if not found:
        return []
    return [f for f in found if face_ops.is_clear(f, found[0], frame.scale)]


def _labels(
    frame: Frame,
    detections: list[objects.Detection],
    found: list[face_ops.Face],
    minimum: float,
    max_labels: int | None,
) -> list[dict]:
    return objects.labels(
        detections + _people_from_faces(detections, found), frame.bgr, minimum, max_labels
    )


def _people_from_faces(
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


def _quality_bar(name: str | None, operation: str) -> QualityBar | None:
    if (name or "AUTO") not in QUALITY_BARS:
        raise client_error(
            INVALID_PARAMETER, f"QualityFilter must be one of {sorted(QUALITY_BARS)}", operation
        )
    return QUALITY_BARS[name or "AUTO"]


def _quality_reasons(
    face: face_ops.Face, detail: dict, frame: Frame, bar: QualityBar | None
) -> list[str]:
    if bar is None:
        return []
    reasons = []
    if face.score < bar.min_score:
        reasons.append("LOW_CONFIDENCE")
    if face.box[3] / frame.scale < bar.min_height:
        reasons.append("SMALL_BOUNDING_BOX")
    quality, pose = detail["Quality"], detail["Pose"]
    if quality["Sharpness"] < bar.min_sharpness:
        reasons.append("LOW_SHARPNESS")
    if quality["Brightness"] < bar.min_brightness:
        reasons.append("LOW_BRIGHTNESS")
    if abs(pose["Yaw"]) > bar.max_yaw or abs(pose["Pitch"]) > bar.max_pitch:
        reasons.append("EXTREME_POSE")
    return reasons


def _face(record: FaceRecord, with_version: bool = True) -> dict:
    face: dict[str, Any] = {
        "FaceId": record.face_id,
        "BoundingBox": record.bounding_box,
        "ImageId": record.image_id,
        "Confidence": record.confidence,
    }
    if record.external_image_id is not None:
        face["ExternalImageId"] = record.external_image_id
    if with_version:
        face["IndexFacesModelVersion"] = FACE_MODEL_VERSION
    return face


def _not_found(collection_id: str, operation: str) -> ClientError:
    return client_error(
        RESOURCE_NOT_FOUND, f"The collection id: {collection_id} does not exist", operation
    )
