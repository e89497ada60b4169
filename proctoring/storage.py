"""Where biometric files live: a storage with no public URL. Views stream them after access checks."""

from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT (read lazily, so migrations carry no machine path)."""

    @cached_property
    def base_location(self) -> str:
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Biometric files have no public URL; serve them through an access-checked view.")


private_storage = PrivateStorage()
