"""What every local operation shares with Rekognition's wire format: argument validation against
botocore's own input shapes, model versions, and the ``Face`` and "not found" answers."""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from ..errors import INVALID_PARAMETER, RESOURCE_NOT_FOUND, client_error
from ..store import FaceRecord

FACE_MODEL_VERSION = "0.1"  # local SFace 2021dec; the shape wants digits, and no AWS model is 0.x
LABEL_MODEL_VERSION = "local-yolov4-tiny-coco"
MODERATION_MODEL_VERSION = "local-open-nsfw-1"

_validator = ParamValidator()
_model_lock = threading.Lock()
_service_model: Any = None


def _input_shape(operation: str) -> Any:
    global _service_model
    with _model_lock:
        if _service_model is None:
            _service_model = botocore.session.get_session().get_service_model("rekognition")
    return _service_model.operation_model(operation).input_shape


def validate(operation: str, params: dict[str, Any]) -> None:
    """Refuse, as ``InvalidParameterException``, what the real client would refuse."""
    clean = {k: v for k, v in params.items() if v is not None}
    report = _validator.validate(clean, _input_shape(operation))
    if report.has_errors():
        raise client_error(INVALID_PARAMETER, report.generate_report(), operation)


def face_answer(record: FaceRecord, with_version: bool = True) -> dict:
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


def not_found(collection_id: str, operation: str) -> ClientError:
    return client_error(
        RESOURCE_NOT_FOUND, f"The collection id: {collection_id} does not exist", operation
    )
