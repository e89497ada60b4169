"""Registering reference faces: a face already registered to another person needs the admin's confirmation
(audited); a student has several references, each listed and erasable on its own."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services as account_services
from accounts import tenancy
from accounts.audit import AuditEvent
from accounts.models import Role, User
from proctoring import outbox
from proctoring.models import FaceRegistration, StoredFace
from proctoring.services import MAX_REFERENCES
from proctoring.storage import private_storage
from proctoring.stores import dynamodb
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import b64, image
from tests.proctoring.test_pipeline import register

pytestmark = pytest.mark.django_db(transaction=True)


def other_student(tenant: Tenant, name: str = "Olga Other") -> User:
    return account_services.user_create(institution=tenant.institution, email=f"{name.split()[0].lower()}@x.test",
                                        role=Role.STUDENT, full_name=name)


def index(tenant: Tenant, fixture: str, name: str, student: Any = None, **extra: Any) -> Any:
    body = {"image": b64(fixture), "fullName": name, **extra}
    if student is not None:
        body["student"] = student.pk
    return api_client_for(tenant.admin).post("/faces/index", body, format="json")


def drop_stand_in(tenant: Tenant) -> None:
    """The fixture's face is a stand-in (no engine vector): these tests start without it."""
    tenant.face.image.delete(save=False)
    with tenancy.tenant_scope(tenant.institution):
        FaceRegistration.objects.filter(pk=tenant.face.pk).delete()


def stored(tenant: Tenant) -> dict[str, int]:
    """What each store holds for the tenant: rows, engine vectors, files, DynamoDB items (after a relay)."""
    outbox.relay()
    with tenancy.tenant_scope(tenant.institution):
        faces = list(FaceRegistration.objects.all())
    folder = Path(private_storage.location) / "faces" / str(tenant.institution.pk)
    return {
        "rows": len(faces),
        "engine": StoredFace.objects.count(),
        "files": sum(1 for _ in folder.rglob("*")) if folder.exists() else 0,
        "dynamodb": sum(dynamodb.get_face(str(f.external_image_id)) is not None for f in faces),
    }


def test_it_refuses_a_face_registered_to_another_student_until_confirmed(tenant_a: Tenant, dynamo: str) -> None:
    sam = tenant_a.student
    drop_stand_in(tenant_a)
    first = register(tenant_a, "signer1_a.jpg", "Sam Signer", student=sam)
    olga = other_student(tenant_a)
    before = stored(tenant_a)

    refused = index(tenant_a, "signer1_b.jpg", "Olga Other", student=olga)  # Sam's face, another day
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "duplicate_face"
    assert "Sam Signer" in error["message"]
    [match] = error["details"]["matches"]
    assert (match["ExternalImageId"], match["FullName"], match["student"]) == (first, "Sam Signer", sam.pk)
    assert match["Similarity"] >= error["details"]["threshold"] == 90.0
    assert stored(tenant_a) == before  # nothing kept in any store
    assert not AuditEvent.unscoped.filter(action="face.duplicate_confirmed").exists()

    confirmed = index(tenant_a, "signer1_b.jpg", "Olga Other", student=olga, confirmDuplicate=True)
    assert confirmed.status_code == 200, confirmed.content
    assert stored(tenant_a) == {"rows": 2, "engine": 2, "files": 2, "dynamodb": 2}
    event = AuditEvent.unscoped.get(action="face.duplicate_confirmed")
    assert (event.actor, event.target_id) == (tenant_a.admin, str(FaceRegistration.unscoped.get(
        external_image_id=confirmed.json()["ExternalImageId"]).pk))
    assert event.data["student"] == olga.pk
    assert [m["ExternalImageId"] for m in event.data["matches"]] == [first]


def test_it_refuses_a_duplicate_of_a_face_registered_under_another_name_without_a_student(tenant_a: Tenant) -> None:
    """The sample's call (no student): the name says who it is; one face must not carry two names."""
    register(tenant_a, "signer1_a.jpg", "Sam Signer")
    assert index(tenant_a, "signer1_b.jpg", "Somebody Else").json()["error"]["code"] == "duplicate_face"
    # The same name again is the sample's way to add a photo of the same person.
    assert index(tenant_a, "signer1_b.jpg", "sam signer ").status_code == 200


def test_it_lets_a_student_have_several_references_of_their_own_face(tenant_a: Tenant) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    assert index(tenant_a, "signer1_b.jpg", "Sam Signer", student=tenant_a.student).status_code == 200
    # The very same photo again (a term's photos sent twice) would spend one more of their references: refused.
    with tenancy.tenant_scope(tenant_a.institution):
        before = FaceRegistration.objects.filter(student=tenant_a.student).count()
    again = index(tenant_a, "signer1_b.jpg", "Sam Signer", student=tenant_a.student)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_registered"
    with tenancy.tenant_scope(tenant_a.institution):
        assert FaceRegistration.objects.filter(student=tenant_a.student).count() == before
    # Other people's faces are not duplicates.
    assert index(tenant_a, "signer2_a.jpg", "Olga Other", student=other_student(tenant_a)).status_code == 200
    assert not AuditEvent.unscoped.filter(action="face.duplicate_confirmed").exists()


def test_it_searches_only_the_institutions_own_faces(tenant_a: Tenant, tenant_b: Tenant) -> None:
    register(tenant_b, "signer1_a.jpg", "Sam Signer", student=tenant_b.student)
    assert index(tenant_a, "signer1_b.jpg", "Olga Other", student=other_student(tenant_a)).status_code == 200


def test_it_refuses_a_confirmation_that_is_not_a_boolean(tenant_a: Tenant) -> None:
    response = index(tenant_a, "signer1_a.jpg", "Sam", confirmDuplicate="yes")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"confirmDuplicate": ["Must be a boolean."]}


def test_it_caps_a_students_references(tenant_a: Tenant) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        for _ in range(MAX_REFERENCES - 1):  # the fixture's stand-in is the first
            FaceRegistration.objects.create(institution=tenant_a.institution, collection_id="c", face_id="f",
                                            full_name="alpha Student", student=tenant_a.student)
    response = index(tenant_a, "signer1_a.jpg", "alpha Student", student=tenant_a.student)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_references"
    assert not StoredFace.objects.exists()


def _photo(fixture: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(fixture, image(fixture), content_type="image/jpeg")


def test_the_page_warns_of_a_duplicate_and_registers_it_once_confirmed(tenant_a: Tenant, dynamo: str) -> None:
    sam = tenant_a.student
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=sam)
    olga = other_student(tenant_a)
    admin = page_client_for(tenant_a.admin)
    path = f"/students/{olga.pk}/face"
    before = stored(tenant_a)

    response = admin.post(path, {"photo": _photo("signer1_b.jpg")})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="duplicate-warning"' in page
    assert "Sam Signer" in page and "% similar" in page  # who it matches, how closely
    assert f"/students/{sam.pk}/face" in page and sam.email in page
    assert 'name="confirm_duplicate" value="1"' in page
    assert stored(tenant_a) == before
    with tenancy.tenant_scope(tenant_a.institution):
        assert not FaceRegistration.objects.filter(student=olga).exists()

    # The warning's form sends the same photo back with the confirmation.
    photo = response.context["duplicate"]["photo"]
    assert base64.b64decode(photo.split(",", 1)[1]) == image("signer1_b.jpg")
    response = admin.post(path, {"captured": photo, "confirm_duplicate": "1"}, follow=True)
    assert "Reference face registered for Olga Other (1 in all)." in response.content.decode()
    with tenancy.tenant_scope(tenant_a.institution):
        assert FaceRegistration.objects.filter(student=olga).count() == 1
    assert AuditEvent.unscoped.filter(action="face.duplicate_confirmed", actor=tenant_a.admin).count() == 1


def test_the_page_lists_several_references_and_deletes_one_everywhere(tenant_a: Tenant, dynamo: str) -> None:
    student = tenant_a.student
    drop_stand_in(tenant_a)
    admin = page_client_for(tenant_a.admin)
    path = f"/students/{student.pk}/face"
    for fixture in ("signer1_a.jpg", "signer1_b.jpg"):
        assert admin.post(path, {"photo": _photo(fixture)}).status_code == 302
    with tenancy.tenant_scope(tenant_a.institution):
        first, second = FaceRegistration.objects.filter(student=student).order_by("created_at")
    page = admin.get(path).content.decode()
    assert "2 of 5" in page
    for face in (first, second):
        assert f"/api/v1/faces/{face.external_image_id}/image" in page
        assert f"/faces/{face.external_image_id}/delete" in page
    assert stored(tenant_a) == {"rows": 2, "engine": 2, "files": 2, "dynamodb": 2}
    first_file = Path(first.image.path)

    assert "Delete this reference face" in admin.get(f"/faces/{first.external_image_id}/delete").content.decode()
    response = admin.post(f"/faces/{first.external_image_id}/delete")
    assert response.status_code == 302 and response["Location"] == path
    assert stored(tenant_a) == {"rows": 1, "engine": 1, "files": 1, "dynamodb": 1}
    assert not first_file.exists()
    assert dynamodb.get_face(str(first.external_image_id)) is None
    assert not StoredFace.objects.filter(face_id=first.face_id).exists()
    assert "1 of 5" in admin.get(path).content.decode()


def test_only_the_institutions_admins_delete_a_reference_face(tenant_a: Tenant, tenant_b: Tenant) -> None:
    path = f"/faces/{tenant_a.face.external_image_id}/delete"
    assert page_client_for(tenant_b.admin).post(path).status_code == 404
    assert page_client_for(tenant_a.proctor).post(path).status_code == 403
    assert page_client_for(tenant_a.student).post(path).status_code == 403
    with tenancy.tenant_scope(None):
        assert FaceRegistration.objects.filter(pk=tenant_a.face.pk).exists()


def test_registering_and_deleting_a_face_is_audited_with_who_did_it(tenant_a: Tenant) -> None:
    # Biometric data: every registration and deletion says who, whose face and which; a duplicate refused, its
    # first registration deleted and the face registered again once left no trace.
    drop_stand_in(tenant_a)
    olga = other_student(tenant_a)
    face = index(tenant_a, "signer1_a.jpg", "Olga Other", student=olga).json()["ExternalImageId"]
    registered = AuditEvent.unscoped.get(action="face.registered")
    assert (registered.actor, registered.data["student"], registered.data["face"]) == (tenant_a.admin, olga.pk, face)
    assert api_client_for(tenant_a.admin).delete(f"/api/v1/faces/{face}/").status_code == 204
    deleted = AuditEvent.unscoped.get(action="face.deleted")
    assert (deleted.actor, deleted.data["student"], deleted.data["face"]) == (tenant_a.admin, olga.pk, face)


def test_an_enrolment_of_an_id_too_large_for_the_database_is_a_400(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post(f"/api/v1/exams/{tenant_a.exam.pk}/enrolments",
                                                   {"students": [2**64]}, format="json")
    assert response.status_code == 400, response.content  # SQLite raised OverflowError: a 500


def test_a_person_with_several_matching_faces_is_listed_once_and_the_page_leads_to_the_next_student(
        tenant_a: Tenant, dynamo: str) -> None:
    # An audit: a person with five registered faces was listed five times in the warning, and after saving a photo
    # the page offered no way on to the next student without one.
    sam = tenant_a.student
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=sam)
    register(tenant_a, "signer1_b.jpg", "Sam Signer", student=sam)
    olga = other_student(tenant_a)
    admin = page_client_for(tenant_a.admin)
    response = admin.post(f"/students/{olga.pk}/face", {"photo": _photo("signer1_b.jpg")})
    matches = response.context["duplicate"]["matches"]
    assert [m["registration"].student_id for m in matches] == [sam.pk] and matches[0]["faces"] == 2
    assert "(2 of their faces match)" in response.content.decode()

    assert 'id="next-missing"' not in admin.get(f"/students/{olga.pk}/face").content.decode()  # no photo yet
    page = admin.get(f"/students/{sam.pk}/face").content.decode()
    assert 'id="next-missing"' in page and f"/students/{olga.pk}/face" in page
