"""The AWS backend: a thin pass-through to ``boto3.client("rekognition")``.

Region from AWS_REGION, then AWS_DEFAULT_REGION, else us-east-1; credentials from boto3's usual
chain. ``analyze`` makes its four calls in parallel.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from .errors import INVALID_PARAMETER, error_code


def default_client() -> Any:
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("rekognition", region_name=region)


class RekognitionBackend:
    """The same methods as ``LocalEngine``, answered by Amazon Rekognition."""

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

    def analyze(
        self,
        *,
        Image: dict,
        CollectionId: str | None = None,
        MinConfidence: float | None = None,
        FaceMatchThreshold: float | None = None,
    ) -> dict:
        """Four Rekognition calls in parallel; see ``LocalEngine.analyze`` for the shape."""
        confidence = {} if MinConfidence is None else {"MinConfidence": MinConfidence}
        labels = self._pool.submit(self.client.detect_labels, Image=Image, **confidence)
        faces = self._pool.submit(self.client.detect_faces, Image=Image)
        moderation = self._pool.submit(
            self.client.detect_moderation_labels, Image=Image, **confidence
        )
        matches = None
        if CollectionId is not None:
            threshold = {} if FaceMatchThreshold is None else {
                "FaceMatchThreshold": FaceMatchThreshold
            }
            matches = self._pool.submit(
                self._search_largest, Image=Image, CollectionId=CollectionId, **threshold
            )
        return {
            "Labels": labels.result()["Labels"],
            "FaceDetails": faces.result()["FaceDetails"],
            "FaceMatches": matches.result() if matches is not None else [],
            "ModerationLabels": moderation.result()["ModerationLabels"],
        }

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
