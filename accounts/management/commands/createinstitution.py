from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.errors import AppError


class Command(BaseCommand):
    help = "Create an institution (tenant) with its first admin; prints the admin's API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            institution, admin = services.institution_create(
                slug=options["slug"],
                name=options["name"],
                admin_email=options["admin_email"],
                admin_password=options["admin_password"],
            )
        except AppError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from exc
        self.stderr.write(f"Created institution '{institution.slug}' with admin {admin.email}. "
                          f"API token (shown once; it expires in {settings.REST_KNOX['TOKEN_TTL']}):")
        self.stdout.write(services.user_api_token(user=admin))
