"""The AWS backend: a thin pass-through to ``boto3.client("rekognition")``.

Region from AWS_REGION, then AWS_DEFAULT_REGION, else us-east-1; credentials from boto3's usual
chain. ``analyze`` makes its four calls in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from .errors import INVALID_PARAMETER, error_code
from .verification import verdict

UNCOMPARABLE = {INVALID_PARAMETER, "InvalidImageFormatException", "ImageTooLargeException"}
DEFAULT_THRESHOLD = 80.0  # Rekognition's own default for SearchFacesByImage and CompareFaces


def default_client() -> Any:
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("rekognition", region_name=region)


class RekognitionBackend:
    """The same methods as ``LocalEngine``, answered by Amazon Rekognition."""

    reference_images = True  # verification compares the reference photos themselves
    five_point_pose = False  # Rekognition's Pose is its own 3D estimate

    def __init__(self, client: Any = None, *, max_workers: int = 4):
        self.client = client if client is not None else default_client()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rekognition")

    def create_collection(self, **kwargs: Any) -> dict:
        return self.client.create_collection(**kwargs)  # type: ignore[no-any-return]

    def delete_collection(self, **kwargs: Any) -> dict:
        return self.client.delete_collection(**kwargs)  # type: ignore[no-any-return]

    def list_faces(self, **kwargs: Any) -> dict:
        return self.client.list_faces(**kwargs)  # type: ignore[no-any-return]

    def index_faces(self, **kwargs: Any) -> dict:
        return self.client.index_faces(**kwargs)  # type: ignore[no-any-return]

    def search_faces_by_image(self, **kwargs: Any) -> dict:
        return self.client.search_faces_by_image(**kwargs)  # type: ignore[no-any-return]

    def delete_faces(self, **kwargs: Any) -> dict:
        return self.client.delete_faces(**kwargs)  # type: ignore[no-any-return]

    def detect_faces(self, **kwargs: Any) -> dict:
        return self.client.detect_faces(**kwargs)  # type: ignore[no-any-return]

    def detect_labels(self, **kwargs: Any) -> dict:
        return self.client.detect_labels(**kwargs)  # type: ignore[no-any-return]

    def detect_moderation_labels(self, **kwargs: Any) -> dict:
        return self.client.detect_moderation_labels(**kwargs)  # type: ignore[no-any-return]

    def compare_faces(self, **kwargs: Any) -> dict:
        return self.client.compare_faces(**kwargs)  # type: ignore[no-any-return]

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
        """Rekognition calls in parallel; see ``LocalEngine.analyze`` for the shape.
        LabelsOfInterest changes nothing here: DetectLabels costs the same whatever is looked at.
        Moderation False: no DetectModerationLabels call, no ``ModerationLabels`` in the answer.

        With References (``[{"FaceId", "Image": {"Bytes": reference photo}}, ...]``), no
        collection is searched: one CompareFaces of the frame (its largest face) against each
        reference photo, and ``Verification`` from the best of them.
        """
        confidence = {} if MinConfidence is None else {"MinConfidence": MinConfidence}
        labels = self._pool.submit(self.client.detect_labels, Image=Image, **confidence)
        faces = self._pool.submit(self.client.detect_faces, Image=Image)
        moderation = self._pool.submit(
            self.client.detect_moderation_labels, Image=Image, **confidence
        ) if Moderation else None
        matches = None
        compared: list[tuple[str, Future[dict | None]]] = []
        if References is not None:
            compared = [
                (reference["FaceId"], self._pool.submit(self._compare, Image, reference["Image"]))
                for reference in References
            ]
        elif CollectionId is not None:
            threshold = {} if FaceMatchThreshold is None else {
                "FaceMatchThreshold": FaceMatchThreshold
            }
            matches = self._pool.submit(
                self._search_largest, Image=Image, CollectionId=CollectionId, **threshold
            )
        response = {
            "Labels": labels.result()["Labels"],
            "FaceDetails": faces.result()["FaceDetails"],
            "FaceMatches": matches.result() if matches is not None else [],
        }
        if moderation is not None:
            response["ModerationLabels"] = moderation.result()["ModerationLabels"]
        if References is not None:
            threshold = DEFAULT_THRESHOLD if FaceMatchThreshold is None else FaceMatchThreshold
            best, found = _best_of([(face_id, future.result()) for face_id, future in compared], threshold)
            response["FaceMatches"] = found
            response["Verification"] = verdict(
                face_details=response["FaceDetails"], best=best, threshold=threshold,
                references=len(compared),
            )
        return response

    def _compare(self, image: dict, reference: dict) -> dict | None:
        # SimilarityThreshold 0: the similarity is wanted even below the threshold. No face in
        # the frame or in the reference (InvalidParameterException), or a reference photo that
        # Rekognition can't read: no comparison, no match. A bad frame fails the other calls.
        try:
            answer = self.client.compare_faces(SourceImage=image, TargetImage=reference, SimilarityThreshold=0)
        except ClientError as exc:
            if error_code(exc) in UNCOMPARABLE:
                return None
            raise
        return answer  # type: ignore[no-any-return]

    def _search_largest(self, **kwargs: Any) -> list[dict]:
        # SearchFacesByImage searches the largest face; with none it answers
        # InvalidParameterException, which for analyze simply means "no match".
        try:
            return self.client.search_faces_by_image(**kwargs)["FaceMatches"]  # type: ignore[no-any-return]
        except ClientError as exc:
            if error_code(exc) == INVALID_PARAMETER and "face" in str(exc).lower():
                return []
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _best_of(
    compared: list[tuple[str, dict | None]], threshold: float
) -> tuple[tuple[float, str] | None, list[dict]]:
    """The best (similarity, FaceId) over the references, and the references matched, best first,
    as SearchFacesByImage's FaceMatch items (the reference's FaceId and its face's box)."""
    scored = []
    for face_id, answer in compared:
        for match in (answer or {}).get("FaceMatches", [])[:1]:  # the reference photo's one face
            scored.append((float(match["Similarity"]), face_id, match["Face"]))
    scored.sort(key=lambda item: -item[0])
    best = (scored[0][0], scored[0][1]) if scored else None
    matches = [
        {"Similarity": score, "Face": {"FaceId": face_id, "BoundingBox": face["BoundingBox"],
                                       "Confidence": face["Confidence"]}}
        for score, face_id, face in scored if score >= threshold
    ]
    return best, matches
