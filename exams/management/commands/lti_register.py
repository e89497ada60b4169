from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.errors import AppError
from accounts.models import Institution
from exams.lti.models import InstructorRole
from exams.lti.services import platform_register


class Command(BaseCommand):
    help = "Register an LMS (LTI 1.3 platform) for an institution; prints the tool's URLs and key id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("institution", help="The institution's slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--issuer", required=True)
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--deployment-id", action="append", required=True, dest="deployment_ids",
                            help="Repeat for each deployment.")
        parser.add_argument("--auth-login-url", required=True)
        parser.add_argument("--keyset-url", required=True)
        parser.add_argument("--auth-token-url", default="")
        parser.add_argument("--instructor-role", choices=InstructorRole.values, default=InstructorRole.PROCTOR)
        parser.add_argument("--link-by-email", action="store_true",
                            help="Link a student's first launch to the student account with the email the LMS sends "
                                 "(only for an LMS whose users cannot choose their email).")
        parser.add_argument("--site-url", default="", help="This site's address, for the URLs printed.")

    def handle(self, *args: Any, **options: Any) -> None:
        institution = Institution.objects.filter(slug=options["institution"]).first()
        if institution is None:
            raise CommandError(f"No institution '{options['institution']}'.")
        try:
            platform = platform_register(
                institution=institution, name=options["name"], issuer=options["issuer"],
                client_id=options["client_id"], deployment_ids=options["deployment_ids"],
                auth_login_url=options["auth_login_url"], keyset_url=options["keyset_url"],
                auth_token_url=options["auth_token_url"], instructor_role=options["instructor_role"],
                link_by_email=options["link_by_email"])
        except AppError as exc:
            raise CommandError(exc.message) from exc
        base = options["site_url"].rstrip("/")
        self.stdout.write(f"Registered '{platform.name}' for {institution.name} (id {platform.pk}).\n"
                          f"OIDC login URL: {base}/lti/login\nLaunch URL: {base}/lti/launch\n"
                          f"Keyset URL: {base}/lti/jwks.json\nKey id: {platform.kid}")
