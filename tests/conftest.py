from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services, tenancy, throttle
from accounts.models import Institution, Role, User
from exams.models import Exam, ExamSession
from exams.services import session_create
from proctoring.analysis import reset_backends
from proctoring.models import FaceRegistration, Frame, Incident

PASSWORD = "correct-horse-battery-staple-42"


@dataclass
class Tenant:
    """One institution with a person of each role, an exam and, for the tenancy table, one of
    each proctoring object (made directly, without the analysis engine)."""

    institution: Institution
    admin: User
    proctor: User
    student: User
    exam: Exam
    session: ExamSession
    face: FaceRegistration
    frame: Frame
    incident: Incident

    def user(self, role: str) -> User:
        return {"admin": self.admin, "proctor": self.proctor, "student": self.student}[role]


def make_tenant(slug: str) -> Tenant:
    institution, admin = services.institution_create(
        slug=slug, name=f"{slug.title()} College", admin_email=f"admin@{slug}.test", admin_password=PASSWORD
    )
    proctor = services.user_create(institution=institution, email=f"proctor@{slug}.test", role=Role.PROCTOR,
                                   password=PASSWORD, full_name=f"{slug} Proctor")
    student = services.user_create(institution=institution, email=f"student@{slug}.test", role=Role.STUDENT,
                                   password=PASSWORD, full_name=f"{slug} Student", student_number="S1")
    with tenancy.tenant_scope(institution):
        exam = Exam.objects.create(institution=institution, title=f"{slug} exam", created_by=admin)
        session = session_create(exam=exam, student=student)
        face = FaceRegistration(institution=institution, collection_id=f"c-{slug}", face_id=str(uuid.uuid4()),
                                full_name=f"{slug} Student", student=student)
        face.image.save("f.jpg", ContentFile(b"\xff\xd8 not really a jpeg \xff\xd9"))
        frame = Frame(institution=institution, session=session, received_at=timezone.now())
        frame.image.save("f.jpg", ContentFile(b"\xff\xd8 not really a jpeg \xff\xd9"))
        incident = Incident.objects.create(institution=institution, session=session, kind="no_face", severity="low",
                                           started_at=frame.received_at, evidence_frame=frame)
    return Tenant(institution, admin, proctor, student, exam, session, face, frame, incident)


# make test runs the suite on SQLite and again on PostgreSQL. A test that never touches a database gives the
# same answer on both, so the PostgreSQL half (DATABASE_TESTS_ONLY=1, set by the Makefile) leaves it to the
# SQLite half and spends its time on what the database can change.
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                     "live_server"}


def uses_a_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(item.fixturenames))


# The two halves also share the slowest tests whose subject does not depend on the database, the browser tests among
# them: a test marked ``one_database("sqlite")`` or ``one_database("postgresql")`` runs only in that half of make test
# (SUITE_HALF, set by the Makefile). Run by hand (no SUITE_HALF), pytest runs it whatever the database.
HALVES = ("sqlite", "postgresql")


def in_this_half(item: pytest.Item) -> bool:
    marker, half = item.get_closest_marker("one_database"), os.environ.get("SUITE_HALF")
    if marker is not None and (len(marker.args) != 1 or marker.args[0] not in HALVES):
        raise pytest.UsageError(f"{item.nodeid}: one_database takes one of {HALVES}: a test marked otherwise "
                                "would run in neither half of make test")
    if marker is None and is_a_browser_test(item):
        raise pytest.UsageError(f"{item.nodeid}: a browser test runs in one half of make test: mark its module "
                                "one_database('sqlite') or one_database('postgresql') (Makefile)")
    return marker is None or not half or marker.args[0] == half


# make test runs the browser tests (both halves' of them) in a third process beside the other two (SUITE_PART
# "browser"; the others "rest"): they mostly wait on a browser, a server and a worker, and the two halves left
# about 40% of two cores idle (vmstat). Unset, a run takes both parts.
PARTS = ("browser", "rest")


def is_a_browser_test(item: pytest.Item) -> bool:
    return item.path.parent.name == "browser" and item.path.parent.parent.name == "tests"


def in_this_part(item: pytest.Item) -> bool:
    part = os.environ.get("SUITE_PART")
    if part and part not in PARTS:
        raise pytest.UsageError(f"SUITE_PART is {part!r}: it takes one of {PARTS}, or unset for both")
    return not part or (part == "browser") == is_a_browser_test(item)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_only = os.environ.get("DATABASE_TESTS_ONLY") == "1"
    kept, deselected = [], []
    for item in items:
        wanted = in_this_half(item) and in_this_part(item) and (uses_a_database(item) or not tests_only)
        (kept if wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's deliberate slowness would dominate the suite's run time; the algorithm is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_conf_unchanged() -> Iterator[None]:
    """Celery reads Django's settings once, on first use: load them before a test overrides a setting
    (e.g. CELERY_TASK_ALWAYS_EAGER), and put the app's own values back after it, so that no test leaves
    later ones sending tasks to a broker nobody consumes."""
    from config.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    yield
    app.conf.update(saved)


@pytest.fixture(autouse=True)
def _celery_may_wait_for_results() -> Iterator[None]:
    """Celery keeps "inside a task: never wait for a result" in one process-wide flag that each eager task sets
    and then puts back as it found it. Two eager tasks at once in the live server's threads (a frame and a speech
    clip of a browser test) can put it back the wrong way round and leave it set, and a later test's
    ``result.get()`` then fails with "Never call result.get() within a task!" (seen twice in one PostgreSQL
    half). No test runs inside a task: each starts with the flag clear. The product never waits for a result."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield


@pytest.fixture(autouse=True)
def _clean_cache() -> Any:
    cache.clear()  # rate limits live in the cache
    throttle.reset_cache_breaker()
    yield
    cache.clear()
    throttle.reset_cache_breaker()


@pytest.fixture(autouse=True)
def _private_media(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Biometric files of each test go to its own folder; the engine starts afresh."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"  # proctoring.storage builds its storage afresh
    reset_backends()  # its face-store cache must not outlive the test database
    yield


@pytest.fixture
def tenant_a(db: Any) -> Tenant:
    return make_tenant("alpha")


@pytest.fixture
def tenant_b(db: Any) -> Tenant:
    return make_tenant("beta")


def api_client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {services.user_api_token(user=user)}")
    return client


def page_client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


from tests.smtp import smtp_server  # noqa: E402, F401  (a real SMTP server on loopback for email tests)


def head_turn_yaws(order: tuple[str, ...], *, turned: float = 30.0) -> list[float]:
    """The yaws of a student doing the liveness challenge ``order`` as asked (proctoring.liveness): two frames
    looking at the camera, then each turn (left: positive yaw) followed by a frame looking back at it."""
    yaws = [0.0, 2.0]
    for step in order:
        yaws += [turned if step == "left" else -turned, 0.0]
    return yaws
