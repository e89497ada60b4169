"""Session frames are verified 1:1 against the session student's own faces, through the real local engine.

The people: Sam (the session's student), and Olga, another student of the same institution.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import pytest
from PIL import Image, ImageEnhance

from accounts import services as account_services
from accounts import tenancy
from accounts.errors import AppError
from exams import identity as exam_identity
from proctoring.identity import REASON_MESSAGES
from proctoring.incidents import MIN_FRAMES
from proctoring.models import FaceRegistration, Frame, Incident, IncidentKind, StoredFace
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import FIXTURES, b64, image, shot, start_session

pytestmark = pytest.mark.django_db(transaction=True)
OTHER_NAME = "Olga Otherperson"
SUSTAINED = MIN_FRAMES[IncidentKind.WRONG_PERSON]


def register(tenant: Tenant, data: bytes, name: str, student: Any) -> Any:
    import base64

    response = api_client_for(tenant.admin).post(
        "/faces/index", {"image": base64.b64encode(data).decode(), "fullName": name, "student": student.pk,
                         # Look-alikes and duplicates under another record are the point here: the admin
                         # confirmed them (proctoring/duplicates.py refuses them otherwise).
                         "confirmDuplicate": True},
        format="json")
    return response


def registered(tenant: Tenant, data: bytes, name: str, student: Any) -> FaceRegistration:
    response = register(tenant, data, name, student)
    assert response.status_code == 200, response.content
    with tenancy.tenant_scope(tenant.institution):
        return FaceRegistration.objects.get(external_image_id=response.json()["ExternalImageId"])


def olga(tenant: Tenant) -> Any:
    return account_services.user_create(institution=tenant.institution, email="olga@alpha.test", role="student",
                                        full_name=OTHER_NAME)


def send(tenant: Tenant, data: bytes, session: Any) -> list[dict[str, Any]]:
    import base64

    response = api_client_for(tenant.student).post("/process?wait=30", {
        "image": base64.b64encode(shot(data)).decode(), "session": session.pk}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def recognition(results: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in results if r["TestName"] == "Person Recognition")


def kinds(session: Any) -> list[str]:
    with tenancy.tenant_scope(session.institution_id):
        return sorted(Incident.objects.filter(session=session).values_list("kind", flat=True))


def identity_check(session: Any) -> exam_identity.IdentityCheck | None:
    with tenancy.tenant_scope(session.institution_id):
        return exam_identity.latest_identity_check(session)


def latest_frame(session: Any) -> Frame:
    with tenancy.tenant_scope(session.institution_id):
        return Frame.objects.filter(session=session).latest("received_at")


@functools.cache
def jpeg(name: str, *, brightness: float = 1.0, shrink: int = 1) -> bytes:
    """A fixture darkened, or shrunk onto a large grey canvas (a face far from the camera)."""
    picture = Image.open(FIXTURES / name).convert("RGB")
    picture = ImageEnhance.Brightness(picture).enhance(brightness)
    if shrink > 1:
        canvas = Image.new("RGB", (1280, 960), (90, 90, 90))
        canvas.paste(picture.resize((picture.width // shrink, picture.height // shrink)), (500, 400))
        picture = canvas
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_a_look_alike_registered_under_another_record_neither_locks_the_student_out_nor_accuses_them(
    tenant_a: Tenant,
) -> None:
    # The other record holds the very frame the student will send: a 1:N search ranks it first.
    registered(tenant_a, image("signer1_b.jpg"), OTHER_NAME, olga(tenant_a))
    own = registered(tenant_a, image("signer1_a.jpg"), "Sam Signer", tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    for _ in range(SUSTAINED + 1):
        assert recognition(send(tenant_a, image("signer1_b.jpg"), session)) == {
            "TestName": "Person Recognition", "Success": True, "Details": tenant_a.student.full_name}
    frame = latest_frame(session)
    assert frame.findings["Verification"]["Passed"] and frame.findings["Verification"]["FaceId"] == own.face_id
    assert recognition(frame.checks)["Details"] == "Sam Signer"  # the name on the student's own registration
    assert kinds(session) == []
    check = identity_check(session)
    assert check is not None and (check.passed, check.reason, check.message) == (
        True, "match", "Matches your registered photo.")


def test_it_uses_every_registered_face_of_the_student(tenant_a: Tenant) -> None:
    registered(tenant_a, image("grace_hopper.jpg"), "Sam Signer", tenant_a.student)
    own = registered(tenant_a, image("signer1_a.jpg"), "Sam Signer", tenant_a.student)
    session = start_session(tenant_a)
    assert recognition(send(tenant_a, image("signer1_b.jpg"), session))["Success"] is True
    assert latest_frame(session).findings["Verification"]["FaceId"] == own.face_id


def test_a_student_without_a_registered_face_gets_a_reason_and_no_accusation(tenant_a: Tenant) -> None:
    registered(tenant_a, image("signer2_a.jpg"), OTHER_NAME, olga(tenant_a))
    session = start_session(tenant_a, debounce_frames=1)
    for _ in range(SUSTAINED + 1):
        assert recognition(send(tenant_a, image("signer2_a.jpg"), session)) == {
            "TestName": "Person Recognition", "Success": False, "Details": "0"}
    assert latest_frame(session).findings["Verification"] == {
        "Passed": False, "Reason": "no_reference", "Similarity": None, "FaceId": None}
    assert kinds(session) == []
    check = identity_check(session)
    assert check is not None and (check.passed, check.reason, check.message) == (
        False, "no_reference", REASON_MESSAGES["no_reference"])


@pytest.mark.parametrize(("frame", "reason"), [
    (functools.partial(jpeg, "signer2_a.jpg", brightness=0.2), "too_dark"),
    (functools.partial(jpeg, "signer2_a.jpg", shrink=3), "too_far"),
])
def test_an_unclear_face_is_its_own_low_incident_never_wrong_person(
    tenant_a: Tenant, frame: Any, reason: str,
) -> None:
    registered(tenant_a, image("signer1_a.jpg"), "Sam Signer", tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    for _ in range(SUSTAINED + 1):
        send(tenant_a, frame(), session)
    assert latest_frame(session).findings["Verification"]["Reason"] == reason
    assert "face_not_verifiable" in kinds(session) and "wrong_person" not in kinds(session)
    with tenancy.tenant_scope(tenant_a.institution):
        assert Incident.objects.get(session=session, kind="face_not_verifiable").severity == "low"
    status = api_client_for(tenant_a.student).get(f"/api/v1/frames/{latest_frame(session).pk}/").json()
    assert status["identity"] == {"passed": False, "reason": reason, "message": REASON_MESSAGES[reason]}


def test_a_wrong_person_streak_is_broken_by_a_frame_that_cannot_be_judged(tenant_a: Tenant) -> None:
    registered(tenant_a, image("signer1_a.jpg"), "Sam Signer", tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    for _ in range(SUSTAINED - 1):
        send(tenant_a, image("signer2_a.jpg"), session)
    send(tenant_a, image("empty_room.jpg"), session)  # nobody in view: a low no_face, and a new stretch
    for _ in range(SUSTAINED - 1):
        send(tenant_a, image("signer2_a.jpg"), session)
    assert "wrong_person" not in kinds(session)
    send(tenant_a, image("signer2_a.jpg"), session)
    assert "wrong_person" in kinds(session)


def test_a_students_responses_never_name_another_person(tenant_a: Tenant) -> None:
    other = olga(tenant_a)
    registered(tenant_a, image("signer2_a.jpg"), OTHER_NAME, other)
    registered(tenant_a, image("signer1_b.jpg"), f"{OTHER_NAME} Twin", other)
    registered(tenant_a, image("signer1_a.jpg"), "Sam Signer", tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    student = api_client_for(tenant_a.student)
    answers = []
    for fixture in ("signer2_a.jpg", "signer1_b.jpg", "two_signers.jpg", "signer2_a.jpg", "signer2_a.jpg"):
        answers.append(student.post("/process?wait=30", {"image": b64(fixture), "session": session.pk},
                                    format="json"))
        queued = student.post("/process", {"image": b64(fixture), "session": session.pk}, format="json")
        assert queued.status_code == 202
        answers += [queued, student.get(queued.json()["status_url"])]
    with tenancy.tenant_scope(tenant_a.institution):
        frames = list(Frame.objects.filter(session=session))
    answers += [student.get(f"/api/v1/frames/{frame.pk}/") for frame in frames]
    answers += [student.get(f"/api/v1/frames/{frame.pk}/image") for frame in frames]  # staff only: refused
    answers += [student.get(path) for path in ("/api/v1/faces/", f"/api/v1/sessions/{session.pk}/",
                                               "/api/v1/sessions/")]
    searched = student.post("/process", {"image": b64("signer2_a.jpg")}, format="json")  # 1:N is staff only
    assert searched.status_code == 400 and searched.json()["error"]["code"] == "session_required"
    answers.append(searched)
    pages = page_client_for(tenant_a.student)
    answers += [pages.get(f"/sessions/{session.pk}/{step}", follow=True)
                for step in ("start", "consent", "check", "exam", "done")]
    answers.append(pages.get("/", follow=True))
    assert "wrong_person" in kinds(session)  # what was seen was judged: an impostor, and named to no one
    for response in answers:
        body = response.content.decode(errors="replace")
        assert "Olga" not in body and OTHER_NAME not in body, (response.request["PATH_INFO"], body[:500])
        assert not {"similarity", "faceid", "face_id"} & set(body.lower().replace('"', " ").split()), body[:500]
    # The staff's session-less check keeps the sample's 1:N answer, which names whoever matches.
    staff = api_client_for(tenant_a.proctor).post("/process", {"image": b64("signer2_a.jpg")}, format="json")
    assert recognition(staff.json()) == {"TestName": "Person Recognition", "Success": True, "Details": OTHER_NAME}


def test_it_re_encodes_a_reference_photo_with_bytes_after_its_end_marker(tenant_a: Tenant) -> None:
    tail = b"<script>not part of any photo</script>"
    face = registered(tenant_a, image("signer1_a.jpg") + tail, "Sam Signer", tenant_a.student)
    with face.image.open("rb") as handle:
        stored = handle.read()
    assert stored.endswith(b"\xff\xd9") and tail not in stored and stored != image("signer1_a.jpg")
    assert Image.open(io.BytesIO(stored)).size == Image.open(FIXTURES / "signer1_a.jpg").size


def test_it_re_encodes_a_truncated_photo_repaired_with_an_end_marker(tenant_a: Tenant) -> None:
    original = image("signer1_a.jpg")
    repaired = original[: len(original) * 9 // 10] + b"\xff\xd9"
    face = registered(tenant_a, repaired, "Sam Signer", tenant_a.student)
    with face.image.open("rb") as handle:
        stored = handle.read()
    assert stored != repaired and stored.startswith(b"\xff\xd8")
    Image.open(io.BytesIO(stored)).load()  # a whole image, freshly encoded


def _png_cut_short() -> bytes:
    out = io.BytesIO()
    Image.open(FIXTURES / "signer1_a.jpg").save(out, format="PNG")
    data = out.getvalue()
    return data[: len(data) // 2] + data[-12:]  # half the pixels, then the IEND chunk


@pytest.mark.parametrize("data", [
    pytest.param(lambda: image("signer1_a.jpg")[:400] + b"\xff\xd9", id="jpeg-cut-in-its-headers"),
    pytest.param(_png_cut_short, id="png-cut-short"),
])
def test_it_refuses_a_truncated_photo_that_does_not_decode_in_full(tenant_a: Tenant, data: Any) -> None:
    response = register(tenant_a, data(), "Sam Signer", tenant_a.student)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == "invalid_image"
    with tenancy.tenant_scope(tenant_a.institution):
        assert not FaceRegistration.objects.filter(full_name="Sam Signer").exists()
    assert not StoredFace.objects.exists()


@pytest.mark.parametrize(("similarity", "accused"), [(86.0, False), (80.0, False), (79.9, True), (41.2, True)])
def test_only_a_clear_failure_of_the_comparison_suggests_someone_else(similarity: float, accused: bool) -> None:
    # A student leaning in scored 86-89 on every frame, a clear face: a High "someone else" incident. Between the
    # pass (90) and CLEARLY_SOMEONE_ELSE_BELOW the check fails (the student's chip says so), accuses nobody and is
    # a Low "not clearly the student" for a reviewer (a look-alike scores there too).
    from proctoring import checks

    analysis = {"Labels": [{"Name": "Person", "Confidence": 99.0, "Instances": [{"Confidence": 99.0}]}],
                "FaceDetails": [{"Confidence": 99.0}], "ModerationLabels": [], "FaceMatches": [],
                "Verification": {"Passed": False, "Reason": "not_matching", "Similarity": similarity, "FaceId": "f"}}
    outcome = checks.evaluate(analysis, checks.Policy(), name_of=lambda _: None)
    assert {"TestName": "Person Recognition", "Success": False, "Details": "0"} in outcome.results
    assert outcome.kinds == ({IncidentKind.WRONG_PERSON} if accused else {IncidentKind.IDENTITY_UNCLEAR})


def test_it_registers_a_16_bit_grey_png_as_the_face_it_shows(tenant_a: Tenant) -> None:
    # An audit: a 16-bit grey PNG of a face that registers in colour gave "no face was found" (converted to RGB, every
    # pixel over 255 became white).
    grey = Image.open(FIXTURES / "signer1_a.jpg").convert("L")
    deep = Image.frombytes("I;16", grey.size, bytes(b for v in grey.tobytes() for b in (v, v)))  # v * 257
    out = io.BytesIO()
    deep.save(out, format="PNG")
    face = registered(tenant_a, out.getvalue(), "Sam Signer", tenant_a.student)
    with face.image.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read())).convert("L")
    from PIL import ImageStat

    assert 60 < ImageStat.Stat(stored).mean[0] < 200  # a photo, not a white sheet


def test_one_matching_frame_among_someone_elses_does_not_let_them_start(tenant_a: Tenant) -> None:
    # The gate lets a student in once their identity held, not on one lucky frame: with a frame every 2 s at the
    # check, a look-alike whose frames pass one time in a thousand passed within minutes' tries about one time in
    # seven (settings.IDENTITY_PASS_FRAMES). Liveness is excused here: the identity rule alone is under test.
    from exams import taking
    from exams.accommodations import accommodation_set
    from exams.models import Exam, ExamSession
    from exams.statuses import SessionStatus

    registered(tenant_a, image("signer1_a.jpg"), "alpha Student", tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        accommodation_set(actor=tenant_a.admin, student=tenant_a.student, exempt_checks=["liveness"],
                          reason="The identity rule alone")
    session = start_session(tenant_a, until=SessionStatus.CHECKING)
    Exam.unscoped.filter(pk=session.exam_id).update(status="published")
    ExamSession.unscoped.filter(pk=session.pk).update(consent_at=session.created_at,
                                                      consent_version=tenant_a.institution.consent_version)
    student = api_client_for(tenant_a.student)

    def start_refused_because() -> str:
        session.refresh_from_db()
        with tenancy.tenant_scope(tenant_a.institution):
            try:
                taking.session_start_check(session=session)
            except AppError as exc:
                return (exc.details or {}).get("reason", exc.code)
        return ""

    for _ in range(2):
        assert recognition(send(tenant_a, image("signer2_a.jpg"), session))["Success"] is False
    assert recognition(send(tenant_a, image("signer1_b.jpg"), session))["Success"] is True  # the frame matches
    check = identity_check(session)
    assert check is not None and (check.passed, check.reason) == (False, "confirming")
    gate = student.get(f"/api/v1/sessions/{session.pk}/gate").json()
    assert gate["identity"] == {"passed": False, "reason": "confirming", "message": REASON_MESSAGES["confirming"]}
    assert not gate["can_start"] and start_refused_because() == "confirming"
    for _ in range(2):  # someone else again, then one more lucky frame: one pass in the latest three, not yet
        assert recognition(send(tenant_a, image("signer2_a.jpg"), session))["Success"] is False
    assert recognition(send(tenant_a, image("signer1_b.jpg"), session))["Success"] is True
    assert start_refused_because() == "confirming"
    assert recognition(send(tenant_a, image("signer1_a.jpg"), session))["Success"] is True
    assert start_refused_because() == ""  # two of the latest three matched: the identity held
    gate = student.get(f"/api/v1/sessions/{session.pk}/gate").json()
    assert gate["identity"]["passed"] and gate["can_start"], gate
