"""An exam that checks identity warns about students without a reference face: when it is published, when
they are enrolled, and on the student's own dashboard. Warnings, never refusals."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts import services as account_services
from accounts import tenancy
from accounts.models import Role, User
from exams.models import Exam, ExamSession, ExamStatus, Question
from exams.services import session_create
from proctoring.identity import REASON_MESSAGES
from proctoring.models import FaceRegistration
from tests.conftest import Tenant, api_client_for, page_client_for

IDENTITY = ["Face Detection", "Person Recognition"]


@pytest.fixture
def admin(tenant_a: Tenant) -> Client:
    return page_client_for(tenant_a.admin)


def exam_with(tenant: Tenant, checks: list[str]) -> Exam:
    with tenancy.tenant_scope(tenant.institution):
        exam = Exam.objects.create(institution=tenant.institution, title="Identity exam", checks_enabled=checks)
        Question.objects.create(institution=tenant.institution, exam=exam, prompt="Why?", kind="text", position=1)
    return exam


def student(tenant: Tenant, name: str) -> User:
    return account_services.user_create(institution=tenant.institution, email=f"{name.lower()}@alpha.test",
                                        role=Role.STUDENT, full_name=name)


def enrol(tenant: Tenant, exam: Exam, *students: User) -> None:
    with tenancy.tenant_scope(tenant.institution):
        for s in students:
            session_create(exam=exam, student=s)


def test_publishing_warns_of_enrolled_students_without_a_face_and_still_publishes(admin: Client,
                                                                                    tenant_a: Tenant) -> None:
    exam = exam_with(tenant_a, IDENTITY)
    nadia = student(tenant_a, "Nadia")
    enrol(tenant_a, exam, nadia, tenant_a.student)  # the tenant's student has a (stand-in) face
    path = f"/exams/{exam.pk}/publish"

    page = admin.get(path).content.decode()
    assert 'id="missing-faces"' in page
    assert "1 enrolled student has no reference face." in page
    assert f"/students/{nadia.pk}/face" in page and "alpha Student" not in page.split('id="missing-faces"')[1]

    response = admin.post(path, {"action": "publish"}, follow=True)
    page = response.content.decode()
    assert "is now published" in page
    assert "1 student without a reference face is enrolled: Nadia." in page
    with tenancy.tenant_scope(tenant_a.institution):
        assert Exam.objects.get(pk=exam.pk).status == ExamStatus.PUBLISHED


@pytest.mark.parametrize("checks, warned", [(IDENTITY, True), (["Face Detection"], False)])
def test_it_warns_only_for_exams_that_check_identity(admin: Client, tenant_a: Tenant, checks: list[str],
                                                     warned: bool) -> None:
    exam = exam_with(tenant_a, checks)
    enrol(tenant_a, exam, student(tenant_a, "Nadia"))
    assert ('id="missing-faces"' in admin.get(f"/exams/{exam.pk}/publish").content.decode()) is warned
    page = admin.post(f"/exams/{exam.pk}/publish", {"action": "publish"}, follow=True).content.decode()
    assert ("without a reference face" in page) is warned


def test_it_says_nothing_once_every_enrolled_student_has_a_face(admin: Client, tenant_a: Tenant) -> None:
    exam = exam_with(tenant_a, IDENTITY)
    enrol(tenant_a, exam, tenant_a.student)
    assert 'id="missing-faces"' not in admin.get(f"/exams/{exam.pk}/publish").content.decode()
    page = admin.post(f"/exams/{exam.pk}/publish", {"action": "publish"}, follow=True).content.decode()
    assert "without a reference face" not in page


def test_enrolling_students_without_a_face_warns_and_enrols_them(admin: Client, tenant_a: Tenant) -> None:
    exam = exam_with(tenant_a, IDENTITY)
    nadia, omar = student(tenant_a, "Nadia"), student(tenant_a, "Omar")
    enrol(tenant_a, exam, omar)  # already enrolled before: not named again
    response = admin.post(f"/exams/{exam.pk}/enrolments", {"students": [nadia.pk, tenant_a.student.pk]}, follow=True)
    page = response.content.decode()
    assert "Enrolled 2 students." in page
    assert "1 student without a reference face was enrolled: Nadia." in page
    assert "Omar" not in page.split("without a reference face", 1)[1].split("</li>", 1)[0]
    with tenancy.tenant_scope(tenant_a.institution):
        assert ExamSession.objects.filter(exam=exam).count() == 3


def test_a_student_without_a_face_is_told_what_to_do(tenant_a: Tenant, db: Any) -> None:
    nadia = student(tenant_a, "Nadia")
    exam = exam_with(tenant_a, IDENTITY)
    enrol(tenant_a, exam, nadia, tenant_a.student)
    page = page_client_for(nadia).get("/").content.decode()
    assert 'id="no-reference"' in page
    assert REASON_MESSAGES["no_reference"] in page
    # A student with a face, or whose exams don't check identity, sees no such notice.
    assert 'id="no-reference"' not in page_client_for(tenant_a.student).get("/").content.decode()
    other = student(tenant_a, "Omar")
    enrol(tenant_a, exam_with(tenant_a, ["Face Detection"]), other)
    assert 'id="no-reference"' not in page_client_for(other).get("/").content.decode()
    with tenancy.tenant_scope(tenant_a.institution):
        FaceRegistration.objects.create(institution=tenant_a.institution, collection_id="c", face_id="n",
                                        full_name="Nadia", student=nadia)
    assert 'id="no-reference"' not in page_client_for(nadia).get("/").content.decode()


def test_a_student_whose_identity_exams_are_over_is_not_told(tenant_a: Tenant, db: Any) -> None:
    nadia = student(tenant_a, "Nadia")
    exam = exam_with(tenant_a, IDENTITY)
    enrol(tenant_a, exam, nadia)
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(exam=exam, student=nadia).update(status="submitted")
    assert 'id="no-reference"' not in page_client_for(nadia).get("/").content.decode()


def test_the_api_publishes_and_enrols_with_a_warning(tenant_a: Tenant, db: Any) -> None:
    client = api_client_for(tenant_a.admin)
    exam = exam_with(tenant_a, IDENTITY)
    nadia = student(tenant_a, "Nadia")
    enrolled = client.post("/api/v1/sessions/", {"exam": exam.pk, "student": nadia.pk}, format="json")
    assert enrolled.status_code == 201
    [warning] = enrolled.json()["warnings"]
    assert (warning["code"], warning["students"]) == ("students_without_reference", [nadia.pk])
    with_face = client.post("/api/v1/sessions/", {"exam": exam.pk, "student": tenant_a.student.pk}, format="json")
    assert with_face.status_code == 201 and with_face.json()["warnings"] == []

    published = client.post(f"/api/v1/exams/{exam.pk}/status", {"to": "published"}, format="json")
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert [w["students"] for w in published.json()["warnings"]] == [[nadia.pk]]
    unpublished = client.post(f"/api/v1/exams/{exam.pk}/status", {"to": "draft"}, format="json")
    assert unpublished.json()["warnings"] == []
