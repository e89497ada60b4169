from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts import services, tenancy
from accounts.models import Institution, Role, User
from exams.models import Exam

PASSWORD = "correct-horse-battery-staple-42"


@dataclass
class Tenant:
    """One institution with a person of each role and an exam."""

    institution: Institution
    admin: User
    proctor: User
    student: User
    exam: Exam

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
    return Tenant(institution, admin, proctor, student, exam)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's deliberate slowness would dominate the suite's run time; the algorithm is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clean_cache() -> Any:
    cache.clear()  # login throttles live in the cache
    yield
    cache.clear()


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
