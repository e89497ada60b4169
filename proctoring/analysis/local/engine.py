"""The embedded engine's operations: Rekognition's operations answered by offline models.

Bytes in, Rekognition-shaped dict out (STYLE rule 6). Arguments are checked against botocore's
own Rekognition input shapes, so a call that the real client would refuse is refused here too,
as an ``InvalidParameterException``.

Which faces a response lists: ``detect_faces`` and ``analyze`` list the faces that *count*
(``faces.is_clear``: confident, not a small background face), because proctoring counts them;
``index_faces`` considers every detected face and reports the weak ones as ``UnindexedFaces``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import faces as face_ops
from .. import moderation, nanodet, objects
from ..errors import INVALID_PARAMETER, RESOURCE_ALREADY_EXISTS, client_error
from ..imaging import DEFAULT_WORK_SIDE, Frame, decode
from ..store import CollectionExists, CollectionNotFound, FaceRecord, FaceStore, MemoryFaceStore
from .combined import DEFAULT_MIN_CONFIDENCE, CombinedAnalysis, labels
from .quality import QualityBar, clear_faces, quality_bar, quality_reasons
from .shapes import FACE_MODEL_VERSION, LABEL_MODEL_VERSION, MODERATION_MODEL_VERSION, face_answer, not_found
from .shapes import validate as _validate

DEFAULT_MODERATION_CONFIDENCE = 50.0  # Rekognition's DetectModerationLabels default
DEFAULT_MATCH_THRESHOLD = 80.0  # Rekognition's SearchFacesByImage and CompareFaces default
DEFAULT_LIST_PAGE = 1000
MAX_COMPARED_FACES = 100  # CompareFaces compares the largest 100 faces of the target


class LocalEngine(CombinedAnalysis):
    """Rekognition-shaped analysis on local models; faces go to ``store``.

    Thread-safe: models are shared per process and locked around inference; the store must be
    thread-safe too.
    """

    reference_images = False  # verification reads the stored vectors of the references' FaceIds
    five_point_pose = True  # Pose from YuNet's five 2D landmarks (faces.pose): poor near profile

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
            raise not_found(CollectionId, "DeleteCollection") from None
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
            raise not_found(CollectionId, "ListFaces") from None
        response: dict[str, Any] = {
            "Faces": [face_answer(record) for record in records],
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
            raise not_found(CollectionId, "DeleteFaces") from None
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
        bar = quality_bar(QualityFilter, operation)
        if not self.store.collection_exists(CollectionId):
            raise not_found(CollectionId, operation)
        frame = decode(Image, operation, self.work_side)
        image_id = str(uuid.uuid4())
        kept: list[tuple[face_ops.Face, dict]] = []
        unindexed: list[dict] = []
        for face in face_ops.detect(frame.bgr):
            detail = face_ops.face_detail(face, frame.bgr)
            reasons = quality_reasons(face, detail, frame, bar)
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
            raise not_found(CollectionId, operation) from None
        return {
            "FaceRecords": [
                {"Face": face_answer(record, with_version=False), "FaceDetail": detail}
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
        quality_bar(QualityFilter, operation)
        if not self.store.collection_exists(CollectionId):
            raise not_found(CollectionId, operation)
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

    def compare_faces(
        self,
        *,
        SourceImage: dict,
        TargetImage: dict,
        SimilarityThreshold: float | None = None,
        QualityFilter: str | None = None,
    ) -> dict:
        """The largest face of SourceImage against every face of TargetImage (at most 100).

        As Rekognition: QualityFilter defaults to NONE here; a source or target without a face
        (after the filter) is an InvalidParameterException; faces below SimilarityThreshold
        (default 80) are listed as UnmatchedFaces; FaceMatches come best first.
        """
        operation = "CompareFaces"
        _validate(operation, {
            "SourceImage": SourceImage, "TargetImage": TargetImage,
            "SimilarityThreshold": SimilarityThreshold, "QualityFilter": QualityFilter,
        })
        bar = quality_bar(QualityFilter or "NONE", operation)
        source = decode(SourceImage, operation, self.work_side)
        target = decode(TargetImage, operation, self.work_side)
        sources, targets = self._usable(source, bar), self._usable(target, bar)[:MAX_COMPARED_FACES]
        if not sources or not targets:
            raise client_error(
                INVALID_PARAMETER, "There are no faces in the image. Should be at least 1.", operation
            )
        face, detail = sources[0]
        probe = face_ops.embed(source.bgr, face)
        threshold = DEFAULT_MATCH_THRESHOLD if SimilarityThreshold is None else SimilarityThreshold
        matches, unmatched = [], []
        for other, compared in targets:
            score = face_ops.similarity(float(np.dot(probe, face_ops.embed(target.bgr, other))))
            if score >= threshold:
                matches.append({"Similarity": score, "Face": compared})
            else:
                unmatched.append(compared)
        matches.sort(key=lambda match: -match["Similarity"])
        return {
            "SourceImageFace": {"BoundingBox": detail["BoundingBox"], "Confidence": detail["Confidence"]},
            "FaceMatches": matches,
            "UnmatchedFaces": unmatched,
        }

    def _usable(self, frame: Frame, bar: QualityBar | None) -> list[tuple[face_ops.Face, dict]]:
        """Detected faces, largest first, with their FaceDetail, that pass the quality bar."""
        usable = []
        for face in face_ops.detect(frame.bgr):
            detail = face_ops.face_detail(face, frame.bgr)
            if not quality_reasons(face, detail, frame, bar):
                usable.append((face, detail))
        return usable

    def detect_faces(self, *, Image: dict, Attributes: Sequence[str] | None = None) -> dict:
        _validate("DetectFaces", {"Image": Image, "Attributes": Attributes})
        frame = decode(Image, "DetectFaces", self.work_side)
        return {"FaceDetails": [face_ops.face_detail(f, frame.bgr) for f in clear_faces(frame)]}

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
        return {"Labels": labels(frame, detections, found, minimum, MaxLabels),
                "LabelModelVersion": LABEL_MODEL_VERSION}

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
