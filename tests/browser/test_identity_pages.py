"""Identity on the staff's pages, in a real browser: the duplicate-face warning and its confirmation, the
reviewer's side-by-side panel, the missing-face warnings; screenshots at 1280 and 390 px."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import services as account_services
from accounts import tenancy
from accounts.models import Role
from exams.models import Exam, Question
from exams.services import session_create
from proctoring import services as proctoring_services
from proctoring.models import FaceRegistration, Frame, Incident
from tests.browser.conftest import Shots, sign_in
from tests.conftest import PASSWORD, Tenant
from tests.proctoring.conftest import FIXTURES, image

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]


def fits_a_phone(page: Page) -> None:
    """Nothing wider than a 390 px screen: no sideways scrolling."""
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(size or {"width": 1280, "height": 900})
    assert width <= 390, f"{page.url} is {width} px wide on a phone"


def images_loaded(page: Page, selector: str, expected: int) -> int:
    """How many images under ``selector`` have loaded, once ``expected`` have or after 10 s (they load after
    the page shows: reading the count at once races them)."""
    count = 0
    for _ in range(100):
        count = page.eval_on_selector_all(selector, "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")
        if count >= expected:
            break
        page.wait_for_timeout(100)
    return count


def test_an_admin_is_warned_of_a_duplicate_face_and_confirms_it(live_server: Any, tenant_a: Tenant,
                                                                  camera_browser: Any, shots: Shots) -> None:
    with tenancy.tenant_scope(tenant_a.institution):
        FaceRegistration.objects.filter(pk=tenant_a.face.pk).delete()
        proctoring_services.face_register(institution=tenant_a.institution, actor=tenant_a.admin,
                                          image=image("signer1_a.jpg"), full_name="alpha Student",
                                          student=tenant_a.student)
    olga = account_services.user_create(institution=tenant_a.institution, email="olga@alpha.test",
                                        role=Role.STUDENT, full_name="Olga Other")
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url, tenant_a.admin.email, PASSWORD)

    page.goto(f"{live_server.url}/students/{olga.pk}/face")
    page.set_input_files("#id_photo", str(FIXTURES / "signer1_b.jpg"))  # the other student's face
    page.click("#face-form button[type=submit]")
    warning = page.locator("#duplicate-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("alpha Student")
    expect(warning).to_contain_text("% similar")
    assert images_loaded(page, "#duplicate-warning img", 2) == 2  # the new photo and the registered face
    shots.take(page, "duplicate-warning")
    fits_a_phone(page)
    with tenancy.tenant_scope(tenant_a.institution):
        assert not FaceRegistration.objects.filter(student=olga).exists()

    page.click("#confirm-duplicate")
    expect(page.locator(".msg.success")).to_contain_text("Reference face registered for Olga Other (1 in all).")
    expect(page.locator("#face-list li")).to_have_count(1)
    shots.take(page, "duplicate-confirmed")
    fits_a_phone(page)
    with tenancy.tenant_scope(tenant_a.institution):
        assert FaceRegistration.objects.filter(student=olga).count() == 1
    assert errors == []


def test_a_reviewer_sees_reference_evidence_and_similarity_side_by_side(live_server: Any, tenant_a: Tenant,
                                                                         camera_browser: Any, shots: Shots) -> None:
    tenant_a.face.image.save("reference.jpg", ContentFile(image("signer1_a.jpg")))
    with tenancy.tenant_scope(tenant_a.institution):
        second = FaceRegistration(institution=tenant_a.institution, collection_id="c", face_id="second",
                                  full_name="alpha Student", student=tenant_a.student)
        second.image.save("reference.jpg", ContentFile(image("signer1_b.jpg")))
        frame = Frame(institution=tenant_a.institution, session=tenant_a.session, received_at=timezone.now(),
                      status="done", findings={"Verification": {"Passed": False, "Reason": "not_matching",
                                                                "Similarity": 23.4, "FaceId": "second"}})
        frame.image.save("frame.jpg", ContentFile(image("signer2_a.jpg")))
        incident = Incident.objects.create(institution=tenant_a.institution, session=tenant_a.session,
                                           kind="wrong_person", severity="high", started_at=frame.received_at,
                                           evidence_frame=frame, details={"findings": frame.findings})
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_server.url, tenant_a.proctor.email, PASSWORD)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    panel = page.locator("#identity-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#identity-similarity")).to_have_text("23.4%")
    assert images_loaded(page, "#identity-panel img", 3) == 3  # two references and the evidence
    columns = page.eval_on_selector_all(".identity-compare > *", "cols => cols.map(c => c.getBoundingClientRect().top)")
    assert len(set(round(top) for top in columns)) == 1  # side by side at desktop width
    shots.take(page, "identity-incident")
    fits_a_phone(page)


def test_missing_faces_are_flagged_to_the_admin_and_the_student(live_server: Any, tenant_a: Tenant,
                                                                camera_browser: Any, shots: Shots) -> None:
    nadia = account_services.user_create(institution=tenant_a.institution, email="nadia@alpha.test",
                                         role=Role.STUDENT, full_name="Nadia Noface", password=PASSWORD)
    with tenancy.tenant_scope(tenant_a.institution):
        exam = Exam.objects.create(institution=tenant_a.institution, title="Identity exam",
                                   checks_enabled=["Face Detection", "Person Recognition"])
        Question.objects.create(institution=tenant_a.institution, exam=exam, prompt="Why?", kind="text", position=1)
        session_create(exam=exam, student=nadia)
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_server.url, tenant_a.admin.email, PASSWORD)
    page.goto(f"{live_server.url}/exams/{exam.pk}/publish")
    expect(page.locator("#missing-faces")).to_contain_text("Nadia Noface")
    page.click("button[value=publish]")
    expect(page.locator(".msg.warning")).to_contain_text("Nadia Noface")
    shots.take(page, "published-with-missing-faces")
    fits_a_phone(page)

    student = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    sign_in(student, live_server.url, nadia.email, PASSWORD)
    expect(student.locator("#no-reference")).to_contain_text("ask your institution to register one")
    shots.take(student, "student-without-a-face")
    fits_a_phone(student)


def test_a_phone_photo_over_5_mb_is_made_smaller_in_the_browser_and_registered(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, tmp_path: Any
) -> None:
    # An admin's phone photo of the student (12 megapixels, over the server's 5 MB) was refused: "larger than 5 MB".
    import io

    import numpy as np
    from PIL import Image

    picture = Image.open(io.BytesIO(image("signer1_a.jpg"))).convert("RGB").resize((4000, 3000))
    grain = np.random.default_rng(1).normal(0, 6, (3000, 4000, 3))  # a phone sensor's grain: the bytes of a real one
    pixels = np.clip(np.asarray(picture, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    big = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(big, format="JPEG", quality=97)
    assert big.stat().st_size > 5 * 1024 * 1024
    with tenancy.tenant_scope(tenant_a.institution):
        FaceRegistration.objects.filter(student=tenant_a.student).delete()
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_server.url, tenant_a.admin.email, PASSWORD)
    page.goto(f"{live_server.url}/students/{tenant_a.student.pk}/face")
    page.set_input_files("#id_photo", str(big))
    expect(page.locator("#photo-resized")).to_contain_text("was made smaller to send: 2048×1536 pixels.")
    page.click("#face-form button[type=submit]")
    expect(page.locator(".msg.success")).to_contain_text("Reference face registered")
    with tenancy.tenant_scope(tenant_a.institution):
        assert FaceRegistration.objects.filter(student=tenant_a.student).count() == 1


def test_an_admin_registers_a_terms_photos_at_once_each_named_after_its_student(
    live_server: Any, tenant_a: Tenant, camera_browser: Any, shots: Shots, tmp_path: Any, settings: Any
) -> None:
    # An audit of an admin's term set-up: 300 students' photos meant 300 visits to 300 pages.
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]  # the engine's rate limit, tight: the page waits it out
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "faces": "1/sec"}}
    ana = account_services.user_create(institution=tenant_a.institution, email="ana@alpha.test", role=Role.STUDENT,
                                       full_name="Ana Alvarez")
    ben = account_services.user_create(institution=tenant_a.institution, email="ben@alpha.test", role=Role.STUDENT,
                                       full_name="Ben Brown", student_number="S1002")
    carl = account_services.user_create(institution=tenant_a.institution, email="carl@alpha.test",
                                        role=Role.STUDENT, full_name="Carl Clark")
    for email, number in (("dee@alpha.test", "S3003"), ("eve@alpha.test", "s3003")):  # one number, two students
        account_services.user_create(institution=tenant_a.institution, email=email, role=Role.STUDENT,
                                     full_name=email[:3].title(), student_number=number)
    files = {"ana@alpha.test.jpg": "signer1_a.jpg", "s1002.JPG": "signer2_a.jpg", "nobody.jpg": "grace_hopper.jpg",
             "CARL@alpha.test.jpg": "signer1_b.jpg", "S3003.jpg": "signer2_a.jpg"}  # Carl's photo shows Ana's face
    for name, fixture in files.items():
        (tmp_path / name).write_bytes(image(fixture))
    page = camera_browser().new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    told_to_wait: list[int] = []
    page.on("response", lambda response: told_to_wait.append(1) if response.status == 429 else None)
    sign_in(page, live_server.url, tenant_a.admin.email, PASSWORD)
    page.goto(f"{live_server.url}/students/")
    page.click("#bulk-photos-link")
    page.set_input_files("#bulk-files", [str(tmp_path / name) for name in files])
    rows = page.locator("#bulk-results tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(2)).to_contain_text("No student has this email or student number")
    expect(rows.nth(4)).to_contain_text("2 students have this student number: not sent")
    expect(page.locator("#bulk-send")).to_have_text("Register 3 photos")
    page.click("#bulk-send")
    expect(page.locator("#bulk-progress")).to_have_text("Registered 2 of 5 photos: the others say why below.",
                                                        timeout=30_000)
    expect(rows.nth(0)).to_have_attribute("data-result", "ok")
    expect(rows.nth(1)).to_contain_text("Ben Brown")
    expect(rows.nth(1)).to_have_attribute("data-result", "ok")
    expect(rows.nth(3)).to_contain_text("matches Ana Alvarez's registered face")
    expect(rows.nth(3).locator("a")).to_have_attribute("href", f"/students/{carl.pk}/face")
    shots.take(page, "bulk-photos")
    fits_a_phone(page)
    with tenancy.tenant_scope(tenant_a.institution):
        assert FaceRegistration.objects.filter(student=ana).count() == 1
        assert FaceRegistration.objects.filter(student=ben).count() == 1
        assert not FaceRegistration.objects.filter(student=carl).exists()
    assert errors == [] and told_to_wait  # it was told to wait at least once, and waited
