from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from proctoring.stores import dynamodb


class Command(BaseCommand):
    help = "Create the DynamoDB faces and incidents tables if they are missing (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DYNAMODB_ENABLED:
            raise CommandError("DynamoDB is not configured: set DYNAMODB_ENDPOINT_URL (or DYNAMODB_ENABLED=1).")
        created = dynamodb.setup_tables()
        for name in (dynamodb.faces_table(), dynamodb.incidents_table()):
            self.stdout.write(f"{name}: {'created' if name in created else 'exists'}")
