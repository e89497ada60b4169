from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import services, tenancy
from accounts.errors import AppError
from accounts.models import Institution, Role, User
from exams.authoring import enrolment_add, question_create
from exams.models import Exam, ExamSession, ExamStatus, QuestionKind
from exams.services import session_transition
from exams.statuses import SessionStatus
from proctoring.models import FaceRegistration, Frame, FrameStatus, Incident, IncidentKind
from proctoring.services import face_register

DEMO_SLUG = "demo"
# Reference photos from the clean test fixtures (tests/fixtures/images/CREDITS.md: CC-BY-4.0, Intel IoT devkit
# sample-videos), one per demo student, and the photo of the frames of the finished sitting.
FIXTURES = settings.BASE_DIR / "tests" / "fixtures" / "images"
REFERENCE_PHOTOS = {"student1@demo.openproctor.test": "signer1_a.jpg",
                    "student2@demo.openproctor.test": "signer2_a.jpg"}
MIDTERM = "Introduction to Statistics — Midterm"
QUIZ = "Statistics Quiz 1 (already sat)"
QUESTIONS = [
    (QuestionKind.MULTIPLE_CHOICE, "The median of 2, 3, 9 is…", ["2", "3", "4.67", "9"], 1),
    (QuestionKind.MULTIPLE_CHOICE, "A fair coin is tossed twice. The chance of two heads is…",
     ["1/2", "1/3", "1/4"], 2),
    (QuestionKind.SHORT_TEXT, "In one or two sentences: what does a standard deviation measure?", [], None),
]
DEMO_PEOPLE = [
    ("admin@demo.openproctor.test", "Ada Admin", Role.ADMIN, ""),
    ("proctor@demo.openproctor.test", "Paul Proctor", Role.PROCTOR, ""),
    ("student1@demo.openproctor.test", "Sam Student", Role.STUDENT, "S-0001"),
    ("student2@demo.openproctor.test", "Tess Student", Role.STUDENT, "S-0002"),
]


class Command(BaseCommand):
    help = (
        "Create the demo institution: an admin, a proctor, two students with reference photos, an open exam "
        "with questions both students are enrolled in, and a sitting already finished with incidents for the "
        "proctor to review. Idempotent: existing demo users keep their passwords, which are kept in "
        "var/demo-credentials.txt."
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
                admin = User.objects.get(institution=institution, email=DEMO_PEOPLE[0][0])
                students = list(User.objects.filter(institution=institution, role=Role.STUDENT,
                                                    email__in=REFERENCE_PHOTOS).order_by("email"))
                now = timezone.now()
                midterm = self._exam(institution, admin, MIDTERM, now - timedelta(hours=1), now + timedelta(days=30))
                enrolment_add(exam=midterm, students=students, actor=admin)
                quiz = self._exam(institution, admin, QUIZ, now - timedelta(days=2), now + timedelta(days=30))
                self._finished_sitting(quiz, students[-1], admin, now)
        with tenancy.tenant_scope(institution):
            self._reference_photos(institution, admin, students)
        credentials_file.write_text("".join(f"{email} {pw}\n" for email, pw in known.items()))
        credentials_file.chmod(0o600)
        self.stdout.write(f"Demo institution '{institution.name}' is ready. Sign in at /accounts/login/ with:")
        for email, _name, role, _number in DEMO_PEOPLE:
            password = known.get(email, "(unknown: changed outside loaddemo)")
            self.stdout.write(f"  {role:<8} {email:<34} {password}")
        self.stdout.write(
            f"Both students can sit '{MIDTERM}' now; the proctor has a finished sitting of '{QUIZ}' to review. "
            "The students' reference photos are sample pictures, so the camera check will not recognise your "
            "own face: replace the photo under Students → Face, or use the photo-ID fallback for the proctor.")

    @staticmethod
    def _exam(institution: Institution, admin: User, title: str, opens_at: Any, closes_at: Any) -> Exam:
        """A published exam with the demo questions (made once)."""
        exam = Exam.objects.filter(title=title).first()
        if exam is None:
            exam = Exam.objects.create(
                institution=institution, title=title, description="A short demo exam.", status=ExamStatus.PUBLISHED,
                opens_at=opens_at, closes_at=closes_at, duration_minutes=45, created_by=admin)
        if not exam.questions.exists():
            for kind, prompt, choices, correct in QUESTIONS:
                question_create(exam=exam, kind=kind, prompt=prompt, choices=choices, correct_choice=correct)
        return exam

    @staticmethod
    def _finished_sitting(exam: Exam, student: User, admin: User, now: Any) -> None:
        """A submitted sitting with analysed frames and two open incidents, for the proctor's review queue.
        The frames and incidents are written as the analysis would have left them (no engine run)."""
        (session,) = enrolment_add(exam=exam, students=[student], actor=admin)
        if session.status != SessionStatus.SCHEDULED:
            return
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS, SessionStatus.SUBMITTED):
            session_transition(session_id=session.pk, to=to, actor=None)
        started = now - timedelta(days=1)
        ExamSession.objects.filter(pk=session.pk).update(
            started_at=started, ended_at=started + timedelta(minutes=20), consent_at=started,
            consent_version=exam.institution.consent_version, consent_text=exam.institution.consent_text,
            identity_verified_at=started)
        alone = (FIXTURES / "signer2_a.jpg").read_bytes()
        crowded = (FIXTURES / "signer2_with_second_person.jpg").read_bytes()
        frames = []
        for n in range(10):
            at = started + timedelta(minutes=5, seconds=10 * n)
            frame = Frame(institution=exam.institution, session=session, received_at=at, captured_at=at,
                          status=FrameStatus.DONE, analysed_at=at)
            frame.image.save("frame.jpg", ContentFile(crowded if 3 <= n <= 6 else alone))
            frames.append(frame)
        Incident.objects.create(institution=exam.institution, session=session, kind=IncidentKind.MULTIPLE_FACES,
                                severity="high", started_at=frames[3].captured_at, ended_at=frames[6].captured_at,
                                first_frame=frames[3], last_frame=frames[6], evidence_frame=frames[4], frame_count=4,
                                is_open=False)  # the session was submitted: its incidents closed (as the rules do)
        Incident.objects.create(institution=exam.institution, session=session, kind=IncidentKind.TAB_HIDDEN,
                                severity="medium", started_at=frames[8].captured_at,
                                ended_at=frames[8].captured_at + timedelta(seconds=14), is_open=False,
                                details={"source": "browser", "detail": "tab hidden", "away_seconds": 14.0})

    def _reference_photos(self, institution: Institution, admin: User, students: list[User]) -> None:
        """Index each student's sample reference photo with the analysis engine (once)."""
        for student in students:
            if FaceRegistration.objects.filter(student=student).exists():
                continue
            try:
                face_register(institution=institution, actor=admin, student=student, full_name=student.full_name,
                              image=(FIXTURES / REFERENCE_PHOTOS[student.email]).read_bytes())
            except AppError as exc:  # the demo still works without it: the check then offers the photo-ID path
                self.stderr.write(f"No reference photo for {student.email}: {exc.message}")

    @staticmethod
    def _read_credentials(path: Any) -> dict[str, str]:
        if not path.exists():
            return {}
        pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
        return {email: password for email, password in pairs}
