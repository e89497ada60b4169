"""Where biometric files live: Django's ``STORAGES["private"]``, a storage with no public URL.

Frames, reference faces, the gate's ID photos and speech clips are written and read only through the storage
API (save, open, size, delete), never through a filesystem path, so that the same code runs on:

- ``LocalPrivateStorage`` (the embedded default): files under PRIVATE_MEDIA_ROOT, created 600 in
  folders 700 (owner only), whatever the process's umask, so another account on the host cannot
  read them;
- ``S3PrivateStorage`` (``S3_BUCKET`` set): a private bucket through django-storages on boto3, so
  that web and worker nodes share no disk. Objects get no ACL (the bucket owner's alone) and no
  URL.

Either way staff get a file only through an access-checked view, which streams it
(``private_file_response``) rather than redirecting to a presigned URL: a frame is tens of KB; the
pages' Content-Security-Policy allows images from this site only; the bucket's endpoint need not
be reachable from browsers; and a presigned URL is a bearer link that works for anyone who sees it
(browser history, a proxy's log) until it expires.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import FileResponse, Http404
from django.utils.functional import LazyObject, empty
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
STORAGE_ALIAS = "private"


class LocalPrivateStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT (read lazily, so that a test may move it)."""

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


class S3PrivateStorage(S3Storage):
    """A private S3 bucket (or an S3-compatible server at ``endpoint_url``).

    Credentials come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or boto3's
    chain: an instance role). Object names carry a random UUID, so no upload can overwrite another
    and none needs the existence check (a HEAD request) that ``file_overwrite=False`` costs.
    """

    default_acl = None  # no ACL header: the object stays private to the bucket's owner
    file_overwrite = True

    def __init__(self, **options: Any) -> None:
        addressing_style = options.pop("addressing_style", None)
        options.setdefault("client_config", Config(
            s3={"addressing_style": addressing_style} if addressing_style else {}, signature_version="s3v4",
            connect_timeout=options.pop("connect_timeout", 2), read_timeout=options.pop("read_timeout", 10),
            retries={"max_attempts": 3, "mode": "standard"}))
        # A frame is one PutObject: no thread pool per upload (boto3 builds a transfer manager, with
        # its pool, for every upload_fileobj call).
        options.setdefault("transfer_config", TransferConfig(use_threads=False))
        super().__init__(**options)

    def _save(self, name: str, content: Any) -> str:
        """One PutObject on the thread's client, for a file under the multipart threshold.

        django-storages builds a boto3 resource object and an s3transfer manager (futures, a
        submission task) for every upload: 60% of a frame's S3 put in the web process, measured
        with cProfile on ``POST /process``. A frame is tens of KB, so one call does; a big or
        gzipped file keeps the library's path.
        """
        size = getattr(content, "size", None)
        if self.gzip or size is None or size >= self.transfer_config.multipart_threshold:
            return super()._save(name, content)
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key, content)
        content.seek(0)
        self.connection.meta.client.put_object(Bucket=self.bucket_name, Key=key, Body=content.read(), **params)
        return cleaned

    def delete(self, name: str) -> None:
        """DeleteObject on the thread's client, rather than a resource object per call; a missing file is no error."""
        try:
            self.connection.meta.client.delete_object(Bucket=self.bucket_name,
                                                      Key=self._normalize_name(clean_name(name)))
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                raise

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        raise NotImplementedError("Biometric files have no public URL; serve them through an access-checked view.")

    def setup_bucket(self) -> bool:
        """Create the bucket if it is missing, with every public access blocked. True: created.

        For the stack and the tests (a production bucket is provisioned with the infrastructure)."""
        client = self.connection.meta.client
        try:
            client.head_bucket(Bucket=self.bucket_name)
            created = False
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                raise
            region = client.meta.region_name
            location = {} if region in (None, "us-east-1") else {
                "CreateBucketConfiguration": {"LocationConstraint": region}}
            client.create_bucket(Bucket=self.bucket_name, **location)
            created = True
        client.put_public_access_block(Bucket=self.bucket_name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        return created


class PrivateStorage(LazyObject):
    """The model fields' storage: whatever ``STORAGES["private"]`` names, looked up on first use.

    The fields' migrations name this class, never a backend, so switching to S3 is configuration,
    not a migration.
    """

    def _setup(self) -> None:
        self._wrapped = storages[STORAGE_ALIAS]

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        return ("proctoring.storage.PrivateStorage", (), {})


private_storage: Storage = PrivateStorage()  # type: ignore[assignment]


@receiver(setting_changed)
def _forget_private_storage(*, setting: str, **kwargs: Any) -> None:
    """A test that changes where files go (STORAGES, PRIVATE_MEDIA_ROOT) gets a storage built afresh."""
    if setting in ("STORAGES", "PRIVATE_MEDIA_ROOT"):
        storages._storages.pop(STORAGE_ALIAS, None)
        private_storage._wrapped = empty  # type: ignore[attr-defined]


def private_file_response(field: Any, content_type: str = "image/jpeg") -> FileResponse:
    """Stream a biometric file to a caller whose access was checked; 404 when there is none."""
    if not field:
        raise Http404
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404 from None  # erased (or never written) while its row still names it
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response
