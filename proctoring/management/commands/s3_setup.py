from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from proctoring.storage import S3PrivateStorage, private_storage


class Command(BaseCommand):
    help = "Create the private S3 bucket for biometric files if it is missing, public access blocked (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.S3_BUCKET or not isinstance(private_storage, S3PrivateStorage):
            raise CommandError("S3 is not configured: set S3_BUCKET (and S3_ENDPOINT_URL for an S3-compatible server).")
        created = private_storage.setup_bucket()
        self.stdout.write(f"{settings.S3_BUCKET}: {'created' if created else 'exists'}")
