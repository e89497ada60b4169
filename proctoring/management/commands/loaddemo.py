from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import services, tenancy
from accounts.models import Institution, Role, User
from exams.models import Exam, ExamStatus

DEMO_SLUG = "demo"
DEMO_PEOPLE = [
    ("admin@demo.openproctor.test", "Ada Admin", Role.ADMIN, ""),
    ("proctor@demo.openproctor.test", "Paul Proctor", Role.PROCTOR, ""),
    ("student1@demo.openproctor.test", "Sam Student", Role.STUDENT, "S-0001"),
    ("student2@demo.openproctor.test", "Tess Student", Role.STUDENT, "S-0002"),
]


class Command(BaseCommand):
    help = (
        "Create the demo institution (an admin, a proctor, two students and an exam). Idempotent: "
        "existing demo users keep their passwords, which are kept in var/demo-credentials.txt."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        credentials_file = settings.VAR_DIR / "demo-credentials.txt"
        known = self._read_credentials(credentials_file)
        with transaction.atomic():
            institution, _ = Institution.objects.get_or_create(
                slug=DEMO_SLUG, defaults={"name": "Demo University"}
            )
            for email, name, role, number in DEMO_PEOPLE:
                if User.objects.filter(institution=institution, email=email).exists():
                    continue
                password = secrets.token_urlsafe(12)
                services.user_create(institution=institution, email=email, password=password,
                                     role=role, full_name=name, student_number=number)
                known[email] = password
            with tenancy.tenant_scope(institution):
                if not Exam.objects.exists():
                    now = timezone.now()
                    Exam.objects.create(
                        institution=institution, title="Introduction to Statistics — Midterm",
                        description="A short demo exam.", status=ExamStatus.PUBLISHED,
                        opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=30),
                        duration_minutes=45,
                        created_by=User.objects.get(institution=institution, email=DEMO_PEOPLE[0][0]),
                    )
        credentials_file.write_text("".join(f"{email} {pw}\n" for email, pw in known.items()))
        credentials_file.chmod(0o600)
        self.stdout.write(f"Demo institution '{institution.name}' is ready. Sign in at /accounts/login/ with:")
        for email, _name, role, _number in DEMO_PEOPLE:
            password = known.get(email, "(unknown: changed outside loaddemo)")
            self.stdout.write(f"  {role:<8} {email:<34} {password}")

    @staticmethod
    def _read_credentials(path: Any) -> dict[str, str]:
        if not path.exists():
            return {}
        pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
        return {email: password for email, password in pairs}
