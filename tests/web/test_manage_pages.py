"""The institution-admin pages: exams, questions, publishing, enrolment, students, faces, settings."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts import tenancy
from accounts.models import Institution, Role, User
from exams.models import AuditEvent, Exam, ExamSession, ExamStatus, Question
from proctoring.models import FaceRegistration
from tests.conftest import PASSWORD, Tenant, page_client_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "images"

EXAM_FORM = {
    "title": "Algebra final", "description": "Chapters 1–4", "opens_at": "2030-06-01T09:00",
    "closes_at": "2030-06-01T12:00", "duration_minutes": "90",
    "checks_enabled": ["Objects of Interest", "Face Detection", "Person Recognition"],
    "min_confidence": "80", "face_match_threshold": "92.5", "objects_of_interest": "Mobile Phone, book ,, Book",
    "debounce_frames": "3", "debounce_seconds": "10", "capture_interval_seconds": "4",
}


@pytest.fixture
def admin(tenant_a: Tenant) -> Client:
    return page_client_for(tenant_a.admin)


def scoped(tenant: Tenant) -> Any:
    return tenancy.tenant_scope(tenant.institution)


def question(exam: Exam, prompt: str, position: int) -> Question:
    return Question.objects.create(institution_id=exam.institution_id, exam=exam, prompt=prompt, kind="text",
                                   position=position)


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("students.csv", text.encode(), content_type="text/csv")


def test_it_renders_every_page_for_the_admin(admin: Client, tenant_a: Tenant) -> None:
    exam, student = tenant_a.exam.pk, tenant_a.student.pk
    with scoped(tenant_a):
        q = question(tenant_a.exam, "Name a prime.", 1)
    pages = ["/exams/", "/exams/new", f"/exams/{exam}/edit", f"/exams/{exam}/questions",
             f"/exams/{exam}/questions/{q.pk}/edit", f"/exams/{exam}/questions/{q.pk}/delete",
             f"/exams/{exam}/publish", f"/exams/{exam}/enrolments", "/students/", "/students/?missing=1&q=alpha",
             "/students/new", "/students/import", "/students/photos", f"/students/{student}/face",
             f"/people/{student}/invite", "/settings/"]
    for page in pages:
        response = admin.get(page)
        assert response.status_code == 200, page
        assert b'class="subnav"' in response.content, page


def test_it_keeps_other_roles_and_anonymous_callers_out(tenant_a: Tenant) -> None:
    for path in ("/exams/", "/exams/new", "/students/", "/students/new", "/students/import", "/students/photos",
                 "/settings/"):
        assert page_client_for(tenant_a.proctor).get(path).status_code == 403
        assert page_client_for(tenant_a.student).post(path, {}).status_code == 403
        assert page_client_for(None).get(path).status_code == 302
    root = User.objects.create_superuser("root@platform.test", PASSWORD)
    assert page_client_for(root).get("/exams/").status_code == 403  # no institution to manage


def test_the_bulk_photo_page_lists_only_the_institutions_own_students(admin: Client, tenant_a: Tenant,
                                                                       tenant_b: Tenant) -> None:
    import json
    import re

    page = admin.get("/students/photos").content.decode()
    listed = json.loads(re.search(r'<script id="bulk-students" type="application/json">(.*?)</script>', page).group(1))
    assert [s["email"] for s in listed] == [tenant_a.student.email]  # not the staff, not another institution's
    assert listed[0] == {"id": tenant_a.student.pk, "email": tenant_a.student.email,
                         "number": tenant_a.student.student_number, "name": tenant_a.student.full_name, "faces": 1}
    assert tenant_b.student.email not in page


def test_it_creates_an_exam_with_its_schedule_and_policy(admin: Client, tenant_a: Tenant) -> None:
    response = admin.post("/exams/new", EXAM_FORM)
    with scoped(tenant_a):
        exam = Exam.objects.get(title="Algebra final")
    assert response.status_code == 302 and response["Location"] == f"/exams/{exam.pk}/questions"
    assert exam.institution == tenant_a.institution and exam.created_by == tenant_a.admin
    assert exam.closes_at - exam.opens_at == (exam.closes_at - exam.opens_at).__class__(hours=3)
    assert exam.duration_minutes == 90
    assert exam.checks_enabled == ["Objects of Interest", "Person Recognition", "Face Detection"]  # sample order
    assert (exam.min_confidence, exam.face_match_threshold) == (80, 92.5)
    assert exam.objects_of_interest == ["Mobile Phone", "book"]
    assert (exam.debounce_frames, exam.debounce_seconds, exam.capture_interval_seconds) == (3, 10, 4)


def test_it_edits_an_exam_and_shows_validation_errors_on_the_form(admin: Client, tenant_a: Tenant) -> None:
    path = f"/exams/{tenant_a.exam.pk}/edit"
    page = admin.get(path).content.decode()
    assert 'value="alpha exam"' in page and 'value="Mobile Phone, Cell Phone"' in page

    bad = {**EXAM_FORM, "closes_at": "2030-06-01T08:00", "min_confidence": "101", "checks_enabled": ["Nonsense"]}
    response = admin.post(path, bad)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"closes_at", "min_confidence", "checks_enabled"}
    assert "The exam must close after it opens." in response.content.decode()

    response = admin.post(path, {**EXAM_FORM, "checks_enabled": [], "objects_of_interest": ""})
    assert response.status_code == 302
    tenant_a.exam.refresh_from_db()
    assert tenant_a.exam.title == "Algebra final"
    assert tenant_a.exam.checks_enabled == [] and tenant_a.exam.objects_of_interest == []


def test_it_refuses_an_empty_object_list_while_the_objects_check_is_on(admin: Client, tenant_a: Tenant) -> None:
    response = admin.post(f"/exams/{tenant_a.exam.pk}/edit", {**EXAM_FORM, "objects_of_interest": " , "})
    assert "objects_of_interest" in response.context["form"].errors


def test_it_adds_multiple_choice_and_short_text_questions(admin: Client, tenant_a: Tenant) -> None:
    path = f"/exams/{tenant_a.exam.pk}/questions"
    admin.post(path, {"kind": "choice", "prompt": "2 + 2?", "choices": "3\n\n4\n 5 \n", "correct_choice": "2",
                      "points": "2"})
    admin.post(path, {"kind": "text", "prompt": "Define a group.", "choices": "ignored", "points": "5"})
    with scoped(tenant_a):
        choice, text = Question.objects.filter(exam=tenant_a.exam)
    assert (choice.position, choice.kind, choice.choices, choice.correct_choice, choice.points) == (
        1, "choice", ["3", "4", "5"], 1, 2)
    assert (text.position, text.kind, text.choices, text.correct_choice) == (2, "text", [], None)
    page = admin.get(path).content.decode()
    assert "2 + 2?" in page and "Define a group." in page

    response = admin.post(path, {"kind": "choice", "prompt": "Pick", "choices": "a\nb", "correct_choice": "3",
                                 "points": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"correct_choice": ["Pick a number from 1 to 2."]}
    response = admin.post(path, {"kind": "choice", "prompt": "Pick", "choices": "only one", "correct_choice": "1",
                                 "points": "1"})
    assert "choices" in response.context["form"].errors


def test_it_edits_reorders_and_deletes_questions(admin: Client, tenant_a: Tenant) -> None:
    exam = tenant_a.exam
    with scoped(tenant_a):
        first, second, third = (question(exam, prompt, n) for n, prompt in enumerate("ABC", start=1))
    base = f"/exams/{exam.pk}/questions"
    admin.post(f"{base}/{second.pk}/edit", {"kind": "choice", "prompt": "B?", "choices": "x\ny", "correct_choice": "1",
                                            "points": "3"})
    admin.post(base, {"move": f"{third.pk}:up"})
    admin.post(base, {"move": f"{third.pk}:up"})
    admin.post(base, {"move": f"{third.pk}:up"})  # already first: stays
    with scoped(tenant_a):
        assert [(q.prompt, q.position) for q in Question.objects.filter(exam=exam)] == [("C", 1), ("A", 2), ("B?", 3)]
        assert Question.objects.get(pk=second.pk).choices == ["x", "y"]
    assert admin.post(f"{base}/{first.pk}/delete").status_code == 302
    with scoped(tenant_a):
        assert [(q.prompt, q.position) for q in Question.objects.filter(exam=exam)] == [("C", 1), ("B?", 2)]


def test_it_publishes_an_exam_that_has_questions_and_unpublishes_it(admin: Client, tenant_a: Tenant) -> None:
    path = f"/exams/{tenant_a.exam.pk}/publish"
    response = admin.post(path, {"action": "publish"}, follow=True)
    assert "Add at least one question before publishing." in response.content.decode()
    tenant_a.exam.refresh_from_db()
    assert tenant_a.exam.status == ExamStatus.DRAFT

    with scoped(tenant_a):
        question(tenant_a.exam, "Q", 1)
    response = admin.post(path, {"action": "publish"}, follow=True)
    assert "is now published" in response.content.decode()
    tenant_a.exam.refresh_from_db()
    assert tenant_a.exam.status == ExamStatus.PUBLISHED
    admin.post(path, {"action": "unpublish", "next": "edit"})
    tenant_a.exam.refresh_from_db()
    assert tenant_a.exam.status == ExamStatus.DRAFT
    with scoped(tenant_a):
        assert [e.data for e in AuditEvent.objects.filter(action="exam.status").order_by("at", "id")] == [
            {"from": "draft", "to": "published"}, {"from": "published", "to": "draft"}]


def test_it_enrols_the_students_picked(admin: Client, tenant_a: Tenant, tenant_b: Tenant) -> None:
    with scoped(tenant_a):
        exam = Exam.objects.create(institution=tenant_a.institution, title="Fresh")
    ann = User.objects.create_user("ann@alpha.test", institution=tenant_a.institution, role=Role.STUDENT,
                                   full_name="Ann Alpha")
    path = f"/exams/{exam.pk}/enrolments"
    page = admin.get(path).content.decode()
    assert "Ann Alpha" in page and "alpha Student" in page and "beta Student" not in page
    assert "Nobody is enrolled yet" in page

    response = admin.post(path, {"students": [ann.pk, tenant_a.student.pk]})
    assert response.status_code == 302
    with scoped(tenant_a):
        assert set(ExamSession.objects.filter(exam=exam).values_list("student_id", flat=True)) == {
            ann.pk, tenant_a.student.pk}
    assert "Every student is enrolled" in admin.get(path).content.decode()

    response = admin.post(path, {"students": [tenant_b.student.pk]})  # another institution's: not a choice
    assert "students" in response.context["form"].errors


def test_it_adds_a_student_and_hands_out_a_password_link(admin: Client, tenant_a: Tenant) -> None:
    response = admin.post("/students/new", {"email": "New@Alpha.test", "full_name": "Nia New",
                                            "student_number": "S42", "password": ""})
    student = User.objects.get(email="new@alpha.test")
    assert (student.institution, student.role, student.student_number) == (tenant_a.institution, "student", "S42")
    assert not student.has_usable_password()
    assert response["Location"] == f"/people/{student.pk}/invite"
    link = admin.get(response["Location"]).context["link"]
    assert link.startswith("http://testserver/accounts/set-password?uid=")

    invitee = Client()
    response = invitee.get(link)
    assert response.status_code == 302 and response["Location"] == "/accounts/set-password"  # token off the URL
    assert invitee.get("/accounts/set-password").status_code == 200
    response = invitee.post("/accounts/set-password", {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.check_password(PASSWORD)
    assert Client().get(link, follow=True).context["invalid"]  # one time only


def test_it_shows_why_a_student_cannot_be_added(admin: Client, tenant_a: Tenant) -> None:
    response = admin.post("/students/new", {"email": tenant_a.proctor.email, "full_name": "Dup", "password": "abc"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["email"] == ["A user with this email already exists."]
    response = admin.post("/students/new", {"email": "weak@alpha.test", "full_name": "Weak", "password": "123"})
    assert "password" in response.context["form"].errors
    assert not User.objects.filter(email="weak@alpha.test").exists()


def test_it_imports_a_csv_of_students(admin: Client, tenant_a: Tenant) -> None:
    text = "\ufeffEmail,Name,Student Number\nada@alpha.test,Ada Lovelace,S1001\n\nALAN@alpha.test , Alan Turing,\n"
    response = admin.post("/students/import", {"file": csv_upload(text)})
    assert response.status_code == 200
    assert "2 students imported" in response.content.decode()
    assert len(response.context["invites"]) == 2
    ada, alan = User.objects.filter(email__in=["ada@alpha.test", "alan@alpha.test"]).order_by("email")
    assert (ada.full_name, ada.student_number, ada.role, ada.institution) == (
        "Ada Lovelace", "S1001", "student", tenant_a.institution)
    assert (alan.full_name, alan.student_number) == ("Alan Turing", "")
    students = admin.get("/students/?missing=1").content.decode()
    assert "Ada Lovelace" in students and "Invite pending" in students


def test_it_imports_nothing_when_any_row_is_invalid(admin: Client, tenant_a: Tenant) -> None:
    text = ("email,name,student_number\n"
            "ok@alpha.test,Fine Person,1\n"
            "not-an-email,Bad Email,2\n"
            "twice@alpha.test,First,3\n"
            "TWICE@alpha.test,Second,4\n"
            f"{tenant_a.proctor.email},Taken,5\n"
            "noname@alpha.test,,6\n")
    response = admin.post("/students/import", {"file": csv_upload(text)})
    assert response.status_code == 200
    rows = {row.line: row.errors for row in response.context["result"].invalid_rows}
    assert rows == {
        3: ["“not-an-email” is not a valid email address."],
        5: ["The email is already on line 4 of the file."],
        6: ["This email belongs to a staff account, not a student's."],
        7: ["The name is missing."],
    }
    page = response.content.decode()
    assert "Nothing was imported" in page and "The email is already on line 4 of the file." in page
    assert not User.objects.filter(email__in=["ok@alpha.test", "twice@alpha.test"]).exists()


def test_it_imports_a_registrars_file_with_semicolons_its_own_header_names_and_no_student_numbers(
        admin: Client, tenant_a: Tenant) -> None:
    # An audit: a semicolon-separated file (a spreadsheet's CSV in many European locales) was refused as lacking all
    # three columns, and so were the headers "Full Name" and "Student ID", and a file without student numbers.
    text = "\ufeffE-mail;Full Name;Student ID\nelodie@alpha.test;Élodie Dupont, née Martin;2024-17\n"
    response = admin.post("/students/import", {"file": csv_upload(text)})
    assert "1 student imported" in response.content.decode()
    elodie = User.objects.get(email="elodie@alpha.test")
    assert (elodie.full_name, elodie.student_number) == ("Élodie Dupont, née Martin", "2024-17")
    response = admin.post("/students/import", {"file": csv_upload("Name,Email\nŁukasz Nowak,lukasz@alpha.test\n")})
    assert "1 student imported" in response.content.decode()
    assert User.objects.get(email="lukasz@alpha.test").student_number == ""


def test_a_new_terms_list_can_leave_out_the_students_already_here(admin: Client, tenant_a: Tenant) -> None:
    # An audit: next term's list (last term's students and two new ones) was refused whole, one error per student.
    text = f"email,name,student_number\n{tenant_a.student.email},Already Here,S1\nnew@alpha.test,New Person,N1\n"
    refused = admin.post("/students/import", {"file": csv_upload(text)})
    assert "An account with this email already exists." in refused.content.decode()
    assert not User.objects.filter(email="new@alpha.test").exists()
    response = admin.post("/students/import", {"file": csv_upload(text), "skip_existing": "on"}, follow=True)
    assert "Imported 1 student; each was emailed an invite. 1 already had an account and was left as they are." \
        in response.content.decode()
    assert User.objects.get(email="new@alpha.test").full_name == "New Person"
    assert User.objects.get(pk=tenant_a.student.pk).full_name != "Already Here"  # left as it was

    # A re-audit: a staff member's email was counted among the students left as they are, an unknown column was
    # dropped without a word, and a list of only known students said "Imported 0 students; each was emailed …".
    text = f"email,name,ID\n{tenant_a.student.email},Already Here,1\n{tenant_a.proctor.email},Proctor,2\n"
    refused = admin.post("/students/import", {"file": csv_upload(text), "skip_existing": "on"}).content.decode()
    assert "This email belongs to a staff account, not a student&#x27;s." in refused
    text = f"email,name,ID\n{tenant_a.student.email},Already Here,1\n"
    page = admin.post("/students/import", {"file": csv_upload(text), "skip_existing": "on"}, follow=True)
    assert "No new student to import. 1 already had an account and was left as they are. Not read: the column " \
        "“ID” (the import reads email, name and student_number)." in page.content.decode()


def test_an_import_keeps_to_the_accounts_limits(admin: Client, tenant_a: Tenant) -> None:
    # An audit stored a NUL in a name, a 272-character email and one student number twice (PostgreSQL refuses the
    # first two: a server error there).
    User.objects.filter(pk=tenant_a.student.pk).update(student_number="S1")
    long_email = "a" * 250 + "@alpha.test"
    text = ("email,name,student_number\n"
            "nul@alpha.test,Nul\x00Byte,N1\n"
            f"{long_email},Long Email,N2\n"
            "one@alpha.test,One,N3\n"
            "two@alpha.test,Two,N3\n"
            "three@alpha.test,Three,S1\n")
    response = admin.post("/students/import", {"file": csv_upload(text)})
    rows = {row.line: row.errors for row in response.context["result"].invalid_rows}
    assert rows == {
        2: ["The name holds a control character (a tab, a line break or a NUL)."],
        3: ["The email is longer than 254 characters."],
        5: ["The student number is already on line 4 of the file."],
        6: ["Another account of the institution has this student number."],
    }
    assert not User.objects.filter(email__in=["one@alpha.test", "nul@alpha.test"]).exists()


@pytest.mark.parametrize(("content", "problem"), [
    (b"name,e-post\nx,y@z.test\n", "The header row lacks email."),
    (b"email,name,student_number\n", "The file has a header row but no students."),
    (b"\xff\xfe\x00bad", "The file is not UTF-8 text."),
    (b"email,name,student_number\n" + b"a@b.test,A,1\n" * 5001, "import at most 5000 at once"),
])
def test_it_refuses_a_file_it_cannot_import(admin: Client, tenant_a: Tenant, content: bytes, problem: str) -> None:
    upload = SimpleUploadedFile("s.csv", content, content_type="text/csv")
    response = admin.post("/students/import", {"file": upload})
    assert problem in response.content.decode()
    assert User.objects.filter(role=Role.STUDENT).count() == 1


def test_it_refuses_a_csv_over_one_megabyte(admin: Client, tenant_a: Tenant) -> None:
    upload = SimpleUploadedFile("s.csv", b"email,name,student_number\n" + b"x" * (1024 * 1024), "text/csv")
    response = admin.post("/students/import", {"file": upload})
    assert response.context["form"].errors["file"] == ["The file is larger than 1 MB. Split it and import the parts."]


def test_it_registers_a_reference_face_then_adds_another(admin: Client, tenant_a: Tenant) -> None:
    student = tenant_a.student
    with scoped(tenant_a):
        FaceRegistration.objects.filter(student=student).delete()  # the fixture's stand-in, not a real face
    path = f"/students/{student.pk}/face"
    assert "No reference face yet" in admin.get(path).content.decode()

    photo = SimpleUploadedFile("me.jpg", (FIXTURES / "signer1_a.jpg").read_bytes(), content_type="image/jpeg")
    response = admin.post(path, {"photo": photo}, follow=True)
    assert "Reference face registered" in response.content.decode()
    with scoped(tenant_a):
        first = FaceRegistration.objects.get(student=student)
    assert first.full_name == "alpha Student"
    assert f"/api/v1/faces/{first.external_image_id}/image" in response.content.decode()
    assert admin.get(f"/api/v1/faces/{first.external_image_id}/image").status_code == 200

    capture = "data:image/jpeg;base64," + base64.b64encode((FIXTURES / "signer1_b.jpg").read_bytes()).decode()
    response = admin.post(path, {"captured": capture}, follow=True)
    assert "Reference face registered for alpha Student (2 in all)." in response.content.decode()
    with scoped(tenant_a):
        faces = list(FaceRegistration.objects.filter(student=student).order_by("created_at"))
    assert [f.pk for f in faces][0] == first.pk and len(faces) == 2  # the first one stays
    assert all(f"/api/v1/faces/{f.external_image_id}/image" in response.content.decode() for f in faces)


def test_it_shows_the_refusal_of_a_photo_without_a_face(admin: Client, tenant_a: Tenant) -> None:
    path = f"/students/{tenant_a.student.pk}/face"
    photo = SimpleUploadedFile("room.jpg", (FIXTURES / "empty_room.jpg").read_bytes(), content_type="image/jpeg")
    response = admin.post(path, {"photo": photo})
    assert response.status_code == 200
    assert "The photo needs exactly one clear face: no face was found." in response.content.decode()
    assert 'id="face-form"' in response.content.decode()
    with scoped(tenant_a):
        assert list(FaceRegistration.objects.filter(student=tenant_a.student)) == [tenant_a.face]  # kept

    response = admin.post(path, {})
    assert "Upload a photo or take one with the webcam." in response.content.decode()
    response = admin.post(path, {"captured": "data:image/jpeg;base64,@@@"})
    assert "&#x27;image&#x27; is not valid base64." in response.content.decode()


def test_it_saves_settings_and_bumps_the_consent_version_when_the_text_changes(admin: Client,
                                                                              tenant_a: Tenant) -> None:
    institution = tenant_a.institution
    same_text = {"form": "settings", "frame_retention_days": "14", "consent_text": institution.consent_text + "  "}
    assert admin.post("/settings/", same_text).status_code == 302
    institution.refresh_from_db()
    assert (institution.frame_retention_days, institution.consent_version) == (14, 1)

    response = admin.post("/settings/", {"form": "settings", "frame_retention_days": "14",
                                         "consent_text": "New terms."}, follow=True)
    assert "Consent text is now version 2." in response.content.decode()
    institution.refresh_from_db()
    assert (institution.consent_text, institution.consent_version) == ("New terms.", 2)

    response = admin.post("/settings/", {"form": "settings", "frame_retention_days": "0", "consent_text": ""})
    assert set(response.context["settings_form"].errors) == {"frame_retention_days", "consent_text"}
    assert Institution.objects.get(pk=institution.pk).frame_retention_days == 14


def test_it_adds_a_proctor(admin: Client, tenant_a: Tenant) -> None:
    response = admin.post("/settings/", {"form": "proctor", "proctor-email": "pat@alpha.test",
                                         "proctor-full_name": "Pat Proctor", "proctor-password": PASSWORD})
    assert response.status_code == 302
    pat = User.objects.get(email="pat@alpha.test")
    assert (pat.role, pat.institution, pat.check_password(PASSWORD)) == ("proctor", tenant_a.institution, True)
    page = admin.get("/settings/").content.decode()
    assert "Pat Proctor" in page and "alpha Proctor" in page


def test_it_sets_the_exams_photo_id_policy(admin: Client, tenant_a: Tenant) -> None:
    path = f"/exams/{tenant_a.exam.pk}/edit"
    assert "Require a photo ID from every student" in admin.get(path).content.decode()
    assert admin.post(path, {**EXAM_FORM, "require_photo_id": "on"}).status_code == 302
    tenant_a.exam.refresh_from_db()
    assert tenant_a.exam.require_photo_id
    assert admin.post(path, EXAM_FORM).status_code == 302  # an unticked box turns it off
    tenant_a.exam.refresh_from_db()
    assert not tenant_a.exam.require_photo_id


def test_it_says_when_a_refused_photo_shows_several_faces(admin: Client, tenant_a: Tenant) -> None:
    # Neither face of two people walking is clear enough to index: the refusal says there were two.
    path = f"/students/{tenant_a.student.pk}/face"
    photo = SimpleUploadedFile("two.jpg", (FIXTURES / "two_people_walking.jpg").read_bytes(), content_type="image/jpeg")
    body = admin.post(path, {"photo": photo}).content.decode()
    assert "The photo needs exactly one clear face: it shows 2 faces, and none is clear enough (" in body
