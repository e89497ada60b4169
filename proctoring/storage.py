"""Where biometric files live: a storage with no public URL. Views stream them after access checks.

Frames, reference photos and speech clips are biometric data: their files are created 600 and their folders 700
(owner only), whatever the process's umask, so another account on the host cannot read them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


class PrivateStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT (read lazily, so migrations carry no machine path)."""

    @cached_property
    def base_location(self) -> str:
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    @cached_property
    def file_permissions_mode(self) -> int:
        return FILE_MODE

    @cached_property
    def directory_permissions_mode(self) -> int:
        return DIRECTORY_MODE

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Biometric files have no public URL; serve them through an access-checked view.")


private_storage = PrivateStorage()


def private_file_response(field: Any, content_type: str = "image/jpeg") -> FileResponse:
    """Stream a biometric file to a caller whose access was checked; 404 when there is none."""
    if not field:
        raise Http404
    response = FileResponse(field.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response
