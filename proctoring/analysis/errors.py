"""Rekognition-coded errors.

Both backends raise ``botocore.exceptions.ClientError`` so that callers handle one error type
whichever backend runs. The local engine builds them here with the same codes and HTTP statuses
that Rekognition answers, and with ``operation_name`` set as botocore sets it.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

INVALID_IMAGE_FORMAT = "InvalidImageFormatException"
IMAGE_TOO_LARGE = "ImageTooLargeException"
INVALID_PARAMETER = "InvalidParameterException"
RESOURCE_NOT_FOUND = "ResourceNotFoundException"
RESOURCE_ALREADY_EXISTS = "ResourceAlreadyExistsException"

_STATUS = {
    INVALID_IMAGE_FORMAT: 400,
    IMAGE_TOO_LARGE: 400,
    INVALID_PARAMETER: 400,
    RESOURCE_NOT_FOUND: 400,
    RESOURCE_ALREADY_EXISTS: 400,
}


def client_error(code: str, message: str, operation: str) -> ClientError:
    """A ClientError shaped as botocore builds it from a Rekognition error response."""
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": _STATUS.get(code, 400)},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
