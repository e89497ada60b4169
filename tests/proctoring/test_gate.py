"""The gate before an exam: reasons, tries, liveness, and the photo-ID fallback a proctor decides."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts import tenancy
from accounts.audit import AuditEvent
from accounts.models import User
from exams import services as exam_services
from exams import taking
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring import approvals, liveness, retention, services
from proctoring import gate as gate_reads
from proctoring.analysis import get_backend
from proctoring.identity import REASON_MESSAGES
from proctoring.liveness import APPROVED_LIVE, ORDERS, OTHER_SIDE, STEP_BACK, STEP_LEFT, STEP_RIGHT
from proctoring.models import FaceRegistration, Frame, FrameStatus, IdentityApproval, Incident
from tests.conftest import Tenant, api_client_for, head_turn_yaws, page_client_for
from tests.proctoring.conftest import image, start_session

pytestmark = pytest.mark.django_db

FIRST_TURN = {"left": "Turn 1 of 3: slowly turn your head to your left…",
              "right": "Turn 1 of 3: slowly turn your head to your right…"}


def at_gate(tenant: Tenant, **exam: Any) -> ExamSession:
    """A published exam that checks identity; the student consented and is at the camera check."""
    for name, value in {"status": "published", **exam}.items():
        setattr(tenant.exam, name, value)
    tenant.exam.save()
    ExamSession.unscoped.filter(pk=tenant.session.pk).update(
        status=SessionStatus.CHECKING, consent_at=timezone.now(), consent_version=tenant.institution.consent_version)
    Frame.unscoped.filter(session=tenant.session).delete()  # the tenancy fixture's pending frame
    tenant.session.refresh_from_db()
    return tenant.session


def test_a_student_excused_from_the_head_turns_starts_on_the_identity_check_alone(tenant_a: Tenant) -> None:
    # A fairness audit: a student whose head turn the challenge could not read (a camera off to one side, a turn too
    # small) was stuck at the check for good, though every frame matched. Their institution can excuse them now.
    from exams.accommodations import accommodation_set

    at_gate(tenant_a)
    for _ in range(3):
        gate_frame(tenant_a, passed=True, yaw=22.0)  # the right face, read as turned: no starting pose
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    with tenancy.tenant_scope(tenant_a.institution):
        accommodation_set(actor=tenant_a.admin, student=tenant_a.student, exempt_checks=["liveness"],
                          reason="Camera fixed to the side of the screen")
    status = gate(tenant_a)
    assert status["liveness"]["passed"] and status["liveness"]["step"] == "exempt" and status["can_start"], status
    gate_frame(tenant_a, passed=False)  # someone else now: the identity check still holds
    assert code_of(begin(tenant_a)) == "identity_not_verified"
    gate_frame(tenant_a, passed=True, yaw=22.0, seconds_ago=0)
    assert begin(tenant_a).status_code == 200
    report = page_client_for(tenant_a.proctor).get(f"/sessions/{tenant_a.session.pk}/report").content.decode()
    assert "matched the registered photo on the camera" in report
    assert "head turns not asked (an accommodation)" in report


def gate_frame(tenant: Tenant, *, passed: bool, yaw: float = 0.0, faces: int = 1, seconds_ago: float = 5,
               similarity: float | None = None, reason: str | None = None,
               approved_live: float | None = None) -> Frame:
    """An analysed frame of the gate as the pipeline stores it (without running the engine); its 1:1 similarity
    to the student's references by default 96 when it passed, 40 (someone else) when it did not."""
    checks = [{"TestName": "Person Recognition", "Success": passed, "Details": "alpha Student" if passed else "0"},
              {"TestName": "Face Detection", "Success": faces == 1, "Details": faces}]
    reason = reason or ("no_face" if faces == 0 else "several_faces" if faces > 1 else
                        "match" if passed else "not_matching")
    if similarity is None and faces == 1 and reason != "no_reference":
        similarity = 96.0 if passed else 40.0  # the student's face, or someone else's
    findings = {"FaceDetails": [{"Pose": {"Yaw": yaw, "Pitch": 0.0, "Roll": 0.0}}] * faces,
                "Labels": [], "FaceMatches": [], "ModerationLabels": [],
                "Verification": {"Passed": passed, "Reason": reason, "Similarity": similarity, "FaceId": None}}
    if approved_live is not None:  # after a proctor's approval: the similarity to the approved live photo
        findings[APPROVED_LIVE] = {"Similarity": approved_live}
    with tenancy.tenant_scope(tenant.institution):
        return Frame.objects.create(institution=tenant.institution, session=tenant.session, status=FrameStatus.DONE,
                                    received_at=timezone.now() - timedelta(seconds=seconds_ago), checks=checks,
                                    findings=findings)


def turn_head(tenant: Tenant, *, passed: bool = True, order: tuple[str, ...] | None = None,
              approved_live: float | None = None) -> None:
    """Frames of a student who looks at the camera, turns their head as the session asks (or in ``order``),
    looking back after each turn (newest last)."""
    yaws = head_turn_yaws(order or gate_reads.challenge_order(tenant.session))
    for index, yaw in enumerate(yaws):
        gate_frame(tenant, passed=passed, yaw=yaw, seconds_ago=4 * (len(yaws) - index), approved_live=approved_live)


def gate(tenant: Tenant, user: Any = None) -> dict[str, Any]:
    response = api_client_for(user or tenant.student).get(f"/api/v1/sessions/{tenant.session.pk}/gate")
    assert response.status_code == 200, response.content
    return response.json()


def ask_a_proctor(tenant: Tenant, *, live: str = "signer2_a.jpg") -> Any:
    return api_client_for(tenant.student).post(
        f"/api/v1/sessions/{tenant.session.pk}/identity-requests",
        {"id_photo": base64.b64encode(image("grace_hopper.jpg")).decode(),
         "live_photo": base64.b64encode(image(live)).decode()}, format="json")


def begin(tenant: Tenant) -> Any:
    return api_client_for(tenant.student).post(f"/api/v1/sessions/{tenant.session.pk}/transition",
                                               {"to": "in_progress"}, format="json")


def code_of(response: Any) -> str:
    return response.json()["error"]["code"]


def test_it_starts_only_after_the_head_turned_as_asked(tenant_a: Tenant) -> None:
    at_gate(tenant_a)
    for _ in range(3):
        gate_frame(tenant_a, passed=True, yaw=4.0)  # the right face, held still
    status = gate(tenant_a)
    assert status["identity"] == {"passed": True, "reason": "match", "message": "Matches your registered photo."}
    first = gate_reads.challenge_order(tenant_a.session)[0]
    assert status["liveness"]["step"] == first and not status["can_start"]
    assert status["liveness"]["instruction"] == FIRST_TURN[first]
    assert begin(tenant_a).status_code == 409 and code_of(begin(tenant_a)) == "liveness_not_verified"
    turn_head(tenant_a)
    status = gate(tenant_a)
    assert status["liveness"]["passed"] and status["can_start"], status
    assert begin(tenant_a).status_code == 200
    session = ExamSession.unscoped.get(pk=tenant_a.session.pk)
    assert session.status == SessionStatus.IN_PROGRESS and session.liveness_verified_at is not None
    report = page_client_for(tenant_a.proctor).get(f"/sessions/{session.pk}/report").content.decode()
    assert "matched the registered photo on the camera" in report and "head turns passed" in report


def test_the_gate_judges_the_turns_on_the_frames_it_read_once_as_on_its_own_read(
        tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    # The gate's status reads the session's latest frames once (its identity and failed tries) and judges the turns
    # on them when they hold the whole window; when they do not (more frames than it reads), on the window's own read.
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=True, seconds_ago=settings.LIVENESS_PASS_MAX_AGE + 60)  # before the window
    turn_head(tenant_a)
    session = tenant_a.session
    with tenancy.tenant_scope(tenant_a.institution):
        alone = gate_reads.session_liveness(session)
        assert alone.passed and gate_reads.session_liveness(session, latest=gate_reads._gate_frames(session)) == alone
        monkeypatch.setattr(gate_reads, "GATE_FRAMES", 4)  # its latest frames no longer hold the window
        alone = gate_reads.session_liveness(session)
        assert alone.turns_done == 1 and not alone.passed  # the window's own read: its oldest 4 frames
        assert gate_reads.session_liveness(session, latest=gate_reads._gate_frames(session)) == alone


def test_only_the_students_own_head_turns_count(tenant_a: Tenant) -> None:
    # Someone else turns as asked (or still photos of someone's turned heads are held up), then one photo of the
    # student: the turns were not the student's, so the gate does not open.
    at_gate(tenant_a)
    turn_head(tenant_a, passed=False)  # another face (similarity 40)
    gate_frame(tenant_a, passed=True, seconds_ago=1)  # the student's photo, matching
    status = gate(tenant_a)
    assert status["identity"]["passed"] and not status["liveness"]["passed"] and not status["can_start"]
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    # The student's own turns count, though a turned face matches less well than the identity pass needs.
    yaws = head_turn_yaws(gate_reads.challenge_order(tenant_a.session))
    for index, yaw in enumerate(yaws):
        gate_frame(tenant_a, passed=False, yaw=yaw, similarity=85.0, reason="turned_away",
                   seconds_ago=0.5 + 0.01 * (len(yaws) - index))
    gate_frame(tenant_a, passed=True, seconds_ago=0)
    status = gate(tenant_a)
    assert status["can_start"]
    assert begin(tenant_a).status_code == 200


def secret_asking(session: ExamSession, order: tuple[str, ...]) -> str:
    """A server secret under which ``session`` is asked for the turns in ``order``."""
    return next(secret for secret in (f"test-secret-{n}" for n in range(64))
                if liveness.challenge_order(session_id=session.pk, secret=secret) == order)


@pytest.mark.parametrize("asked", ORDERS, ids=["-".join(order) for order in ORDERS])
def test_it_judges_the_turns_in_the_order_the_server_chose_not_the_clients(
    tenant_a: Tenant, settings: Any, asked: tuple[str, ...]
) -> None:
    at_gate(tenant_a)
    settings.SECRET_KEY = secret_asking(tenant_a.session, asked)
    other = tuple(OTHER_SIDE[step] for step in asked)  # another of the orders: each turn the other way
    assert other in ORDERS
    for seconds_ago in (60, 58):
        gate_frame(tenant_a, passed=True, seconds_ago=seconds_ago)  # looking at the camera
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{tenant_a.session.pk}/gate"
    # The page is told the order and the first turn; nothing the client sends can set them.
    shown = client.get(url, {"order": ",".join(other), "liveness_order": other[0]}).json()["liveness"]
    assert shown["order"] == list(asked) and shown["instruction"] == FIRST_TURN[asked[0]]
    assert client.post(url, {"liveness": {"order": list(other)}}, format="json").status_code == 405
    turn_head(tenant_a, order=other)  # a recording of the other order
    status = gate(tenant_a)
    assert not status["liveness"]["passed"] and status["liveness"]["step"] in (STEP_LEFT, STEP_RIGHT, STEP_BACK)
    assert status["liveness"]["turns_done"] < len(asked)
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    Frame.unscoped.filter(session=tenant_a.session).delete()
    turn_head(tenant_a, order=asked)
    assert gate(tenant_a)["liveness"]["passed"] and begin(tenant_a).status_code == 200


def analysed(session: ExamSession, name: str) -> Frame:
    """The fixture ``name`` as a frame of ``session`` captured now, stored and analysed as the Celery task does
    (the real local engine)."""
    with tenancy.tenant_scope(None):
        frame = Frame(institution_id=session.institution_id, session=session, received_at=timezone.now(),
                      captured_at=timezone.now())
        frame.image.save("frame.jpg", ContentFile(image(name)), save=False)
        frame.save()
        done = services.frame_analyze(frame_id=frame.pk)
    assert done is not None and done.status == FrameStatus.DONE, done and done.error
    return done


def test_the_gate_reads_the_head_turns_from_the_face_mesh(tenant_a: Tenant) -> None:
    # The local engine's Pose.Yaw comes from five landmarks, poor near profile: gate frames keep the face mesh's
    # yaw as well (Liveness), and the challenge reads that (scripts/measure_liveness.py, sections 1, 5, 6).
    session = at_gate(tenant_a)
    yaws = {}
    for side in ("front", "her_left", "her_right"):
        findings = analysed(session, f"headpose_woman_{side}.jpg").findings
        mesh = findings["Liveness"]["Yaw"]
        assert isinstance(mesh, float) and liveness.yaw_of(findings) == mesh
        assert mesh != findings["FaceDetails"][0]["Pose"]["Yaw"]
        yaws[side] = mesh
    assert yaws["her_left"] - yaws["front"] >= 20 and yaws["front"] - yaws["her_right"] >= 20, yaws


def test_exam_frames_and_a_backend_with_its_own_3d_pose_keep_no_mesh_yaw(
        tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    at_gate(tenant_a)
    monkeypatch.setattr(get_backend(), "five_point_pose", False)  # as Rekognition: its Pose is read as it is
    findings = analysed(tenant_a.session, "headpose_woman_her_left.jpg").findings
    assert "Liveness" not in findings and liveness.yaw_of(findings) == findings["FaceDetails"][0]["Pose"]["Yaw"]
    monkeypatch.undo()
    running = start_session(tenant_a)  # the exam started: looking away reads Pose, the mesh is not run
    assert "Liveness" not in analysed(running, "headpose_woman_her_left.jpg").findings


def test_it_asks_sessions_for_every_order() -> None:
    # Session ids from 1 to 40 under the test settings' secret: each of the four orders occurs.
    orders = {gate_reads.challenge_order(ExamSession(pk=pk)) for pk in range(1, 41)}
    assert orders == set(ORDERS) and len(orders) == 4 and (STEP_LEFT, STEP_RIGHT, STEP_LEFT) not in orders


def test_it_forgets_a_liveness_pass_older_than_the_setting(tenant_a: Tenant, settings: Any) -> None:
    settings.LIVENESS_PASS_MAX_AGE = 60
    at_gate(tenant_a)
    for index, yaw in enumerate(head_turn_yaws(gate_reads.challenge_order(tenant_a.session))):
        gate_frame(tenant_a, passed=True, yaw=yaw, seconds_ago=90 - index)
    gate_frame(tenant_a, passed=True)
    assert code_of(begin(tenant_a)) == "liveness_not_verified"


def test_it_tells_the_student_why_and_offers_the_fallback_after_a_few_tries(tenant_a: Tenant,
                                                                            settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 3
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False, faces=0)
    assert gate(tenant_a)["identity"]["message"] == REASON_MESSAGES["no_face"] == \
        "We can't see your face: look at the camera."
    gate_frame(tenant_a, passed=False, faces=2)
    assert gate(tenant_a)["identity"]["reason"] == "several_faces"
    for tries in (1, 2):
        gate_frame(tenant_a, passed=False)
        status = gate(tenant_a)
        assert status["identity"] == {"passed": False, "reason": "not_matching",
                                      "message": "This doesn't match your registered photo."}
        assert status["failed_tries"] == tries and not status["fallback"]
    assert code_of(ask_a_proctor(tenant_a)) == "fallback_not_offered"
    gate_frame(tenant_a, passed=False)
    status = gate(tenant_a)
    assert status["failed_tries"] == 3 and status["fallback"]
    # Never a name, a score or a registration of anyone in what the student reads.
    text = str(status)
    assert "alpha Student" not in text and "Similarity" not in text and "FaceId" not in text


def test_it_reads_the_reason_of_a_1_to_1_verification_when_the_frame_has_one(tenant_a: Tenant) -> None:
    at_gate(tenant_a)
    frame = gate_frame(tenant_a, passed=False)
    Frame.unscoped.filter(pk=frame.pk).update(findings={**frame.findings, "Verification": {
        "Passed": False, "Reason": "too_dark", "Similarity": 12.0, "FaceId": "abc"}})
    assert gate(tenant_a)["identity"] == {"passed": False, "reason": "too_dark",
                                          "message": "It is too dark: add light in front of you."}


def test_a_camera_that_cannot_do_better_is_offered_the_fallback_too(tenant_a: Tenant) -> None:
    at_gate(tenant_a)
    for _ in range(gate_reads.UNCLEAR_FALLBACK_AFTER - 1):
        gate_frame(tenant_a, passed=False, reason="blurred", similarity=70.0)
    gate_frame(tenant_a, passed=False, reason="turned_away", similarity=60.0)  # a head turn: not a failed try
    assert not gate(tenant_a)["fallback"]
    gate_frame(tenant_a, passed=False, reason="too_dark", similarity=30.0)
    assert gate(tenant_a)["fallback"]


def test_it_offers_the_fallback_at_once_without_a_reference_photo(tenant_a: Tenant) -> None:
    at_gate(tenant_a)
    FaceRegistration.unscoped.filter(student=tenant_a.student).delete()
    gate_frame(tenant_a, passed=False, reason="no_reference")
    status = gate(tenant_a)
    assert status["identity"]["reason"] == "no_reference" and status["fallback"]


def test_a_proctor_approves_the_photo_id_and_the_exam_starts(tenant_a: Tenant, settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    frame_before = gate_frame(tenant_a, passed=False)
    for _ in range(4):  # then photos of the student, sent as frames: the frame that did not match stays in view
        gate_frame(tenant_a, passed=True)
    response = ask_a_proctor(tenant_a)
    assert response.status_code == 201, response.content
    approval = IdentityApproval.unscoped.get(pk=response.json()["request"])
    assert ExamSession.unscoped.get(pk=tenant_a.session.pk).status == SessionStatus.AWAITING_APPROVAL
    assert gate(tenant_a)["status"] == "awaiting_approval" and not gate(tenant_a)["fallback"]
    assert code_of(ask_a_proctor(tenant_a)) == "invalid_transition"  # one request at a time
    frame = api_client_for(tenant_a.student).post(
        "/process", {"image": base64.b64encode(image("signer1_a.jpg")).decode(), "session": tenant_a.session.pk},
        format="json")
    assert frame.status_code == 409  # no frames while a proctor decides

    with tenancy.tenant_scope(tenant_a.institution):  # another student's reference is not shown
        other = User.objects.create(institution=tenant_a.institution, email="other@alpha.test", role="student")
        FaceRegistration.objects.create(institution=tenant_a.institution, collection_id="c", face_id="f2",
                                        full_name="Other Student", student=other,
                                        image=ContentFile(image("signer2_a.jpg"), name="other.jpg"))
    proctor = page_client_for(tenant_a.proctor)
    assert "1</strong> student waiting for a photo-ID check" in proctor.get("/").content.decode()
    queue = proctor.get("/identity/")
    assert queue.status_code == 200 and f"/identity/{approval.pk}/" in queue.content.decode()
    page = proctor.get(f"/identity/{approval.pk}/").content.decode()
    assert "Other Student" not in page and "Registered photo 2" not in page
    # What the camera sent at the check, beside the live photo the browser sent (any photo, from a script).
    assert 'id="camera-frames"' in page and f"/api/v1/frames/{frame_before.pk}/image" in page
    assert "40 / 100 to the registered photo" in page and 'id="id-similarity"' in page
    for photo in (f"/identity/{approval.pk}/id.jpg", f"/identity/{approval.pk}/live.jpg",
                  f"/identity/{approval.pk}/references/1.jpg"):
        assert photo in page
    assert proctor.get(f"/identity/{approval.pk}/id.jpg").status_code == 200
    assert proctor.get(f"/identity/{approval.pk}/references/1.jpg").status_code == 200
    assert proctor.get(f"/identity/{approval.pk}/references/2.jpg").status_code == 404  # only their own photo
    response = proctor.post(f"/identity/{approval.pk}/", {"decision": "approved", "note": "Card matches."})
    assert response.status_code == 302

    session = ExamSession.unscoped.get(pk=tenant_a.session.pk)
    approval.refresh_from_db()
    assert session.status == SessionStatus.CHECKING and session.identity_approved_at is not None
    assert approval.status == "approved" and approval.decided_by == tenant_a.proctor
    actions = set(AuditEvent.unscoped.filter(institution=tenant_a.institution).values_list("action", flat=True))
    assert {"identity.request", "identity.approved"} <= actions
    status = gate(tenant_a)
    assert status["identity_approved"] and not status["can_start"]  # the head turn is still asked for
    # The turns, after the approval, still not matching the reference: the approval is the identity pass, and the
    # turns count when the face is the approved live photo's (the approval is set back a minute: these frames are
    # made seconds ago). Someone else's turns never count: an impostor approved on two photos of the student once
    # turned their own head and started.
    ExamSession.unscoped.filter(pk=session.pk).update(identity_approved_at=timezone.now() - timedelta(minutes=1))
    turn_head(tenant_a, passed=False, approved_live=45.0)
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    turn_head(tenant_a, passed=False)  # frames without the comparison (it could not be made) do not count either
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    Frame.unscoped.filter(session_id=session.pk).delete()  # (the tries above were made at the same moments)
    turn_head(tenant_a, passed=False, approved_live=93.0)
    assert begin(tenant_a).status_code == 200


def test_after_an_approval_a_gate_frame_is_compared_with_the_approved_live_photo(tenant_a: Tenant,
                                                                                  settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    FaceRegistration.unscoped.filter(student=tenant_a.student).delete()
    with tenancy.tenant_scope(tenant_a.institution):  # the student's reference: signer1; at the camera: signer2
        services.face_register(institution=tenant_a.institution, actor=tenant_a.admin, student=tenant_a.student,
                               full_name="Sam Signer", image=image("signer1_a.jpg"))
    gate_frame(tenant_a, passed=False)
    approval = IdentityApproval.unscoped.get(pk=ask_a_proctor(tenant_a, live="signer2_a.jpg").json()["request"])
    session = ExamSession.unscoped.get(pk=tenant_a.session.pk)
    with tenancy.tenant_scope(tenant_a.institution):
        assert approvals.approved_live_similarity(session=session, image=image("signer2_a.jpg")) is None  # pending
    IdentityApproval.unscoped.filter(pk=approval.pk).update(status="approved", decided_at=timezone.now())
    with tenancy.tenant_scope(tenant_a.institution):
        same = approvals.approved_live_similarity(session=session, image=image("signer2_with_second_person.jpg"))
        other = approvals.approved_live_similarity(session=session, image=image("signer1_b.jpg"))
    assert same is not None and other is not None
    assert same["Similarity"] >= settings.LIVENESS_MIN_SIMILARITY > other["Similarity"], (same, other)
    # Through the pipeline: a gate frame after the approval carries its comparison, which the turns are read with.
    IdentityApproval.unscoped.filter(pk=approval.pk).update(status="pending", decided_at=None)
    proctor = page_client_for(tenant_a.proctor)
    assert proctor.post(f"/identity/{approval.pk}/", {"decision": "approved", "note": "ok"}).status_code == 302
    ExamSession.unscoped.filter(pk=session.pk).update(identity_approved_at=timezone.now() - timedelta(minutes=1))
    sent = api_client_for(tenant_a.student).post(
        "/process", {"image": base64.b64encode(image("signer1_b.jpg")).decode(), "session": session.pk}, format="json")
    assert sent.status_code in (200, 202), sent.content
    frame = Frame.unscoped.filter(session_id=session.pk).latest("received_at")
    with tenancy.tenant_scope(tenant_a.institution):
        frame = services.frame_analyze(frame_id=frame.pk)
    assert frame is not None and frame.status == FrameStatus.DONE and frame.findings[APPROVED_LIVE]["Similarity"] < 80
    # The exam: the approved face is not "someone else", though it does not match the student's reference photo
    # (the live photo was not kept as one); anyone else still is.
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.IN_PROGRESS, actor=tenant_a.student)
    for name in ["signer2_a.jpg"] * 4 + ["grace_hopper.jpg"] * 4:
        sent = api_client_for(tenant_a.student).post(
            "/process", {"image": base64.b64encode(image(name)).decode(), "session": session.pk}, format="json")
        frame = Frame.unscoped.filter(session_id=session.pk).latest("received_at", "pk")
        with tenancy.tenant_scope(tenant_a.institution):
            done = services.frame_analyze(frame_id=frame.pk)
        assert done is not None and done.status == FrameStatus.DONE
    kinds = list(Incident.unscoped.filter(session_id=session.pk, during_check=False).values_list("kind", flat=True))
    assert kinds.count("wrong_person") == 1, kinds
    first = Incident.unscoped.get(session_id=session.pk, kind="wrong_person")
    assert first.first_frame.findings[APPROVED_LIVE]["Similarity"] < 80  # opened by someone else's frames


def test_a_student_whose_head_turns_stall_may_ask_a_proctor_who_can_excuse_them(tenant_a: Tenant,
                                                                                  settings: Any) -> None:
    # A fairness audit: two of ten honest students whose faces matched on every frame never passed the turns, and
    # the check offered them no way on (the fallback was for a face that does not match).
    settings.LIVENESS_FALLBACK_AFTER = 5
    at_gate(tenant_a)
    for index in range(4):  # their own face, looking at the camera: the turns never come
        gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=20 - index)
    status = gate(tenant_a)
    assert status["identity"]["passed"] and not status["liveness"]["passed"] and not status["fallback"]
    assert code_of(ask_a_proctor(tenant_a)) == "fallback_not_offered"
    gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=10)
    status = gate(tenant_a)
    assert status["fallback"] and status["fallback_for"] == "head_turns" and not status["can_start"]
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    first = ask_a_proctor(tenant_a).json()["request"]
    assert IdentityApproval.unscoped.get(pk=first).turns_stalled
    proctor = page_client_for(tenant_a.proctor)
    assert "head turns</span>" in proctor.get("/identity/").content.decode()
    Frame.unscoped.filter(session=tenant_a.session).update(digest="d" * 32)  # one still picture sent again and again
    page = proctor.get(f"/identity/{first}/").content.decode()
    assert 'id="excuse-liveness"' in page and 'id="head-turns"' in page
    # What the proctor judges "a live person" by: the head's turn read on each frame, and a picture sent again.
    assert "from 1° to 1°" in page and "turned 1°" in page and "the same picture as the frame before" in page

    # Approved without excusing them: the turns are still asked for, and the student may ask again.
    proctor.post(f"/identity/{first}/", {"decision": "approved", "note": "Card checked."})
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    status = gate(tenant_a)
    assert status["identity_approved"] and status["fallback_for"] == "head_turns"
    assert status["approval"] == {"status": "approved", "note": "", "for": "head_turns", "excused": False}
    second = ask_a_proctor(tenant_a).json()["request"]
    said = proctor.post(f"/identity/{second}/", {"decision": "approved", "note": "Live on every frame.",
                                                 "excuse_liveness": "on"}, follow=True).content.decode()
    assert "approved; head turns excused." in said
    assert IdentityApproval.unscoped.get(pk=second).liveness_excused
    # Someone is at the camera after the decision, and it is them: someone else's face starts nothing (an attacker's
    # audit: with the turns excused, anyone did).
    gate_frame(tenant_a, passed=False, seconds_ago=0)
    status = gate(tenant_a)
    assert not status["liveness"]["passed"] and not status["can_start"]
    assert code_of(begin(tenant_a)) == "liveness_not_verified"
    gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=0)
    status = gate(tenant_a)
    assert status["liveness"]["passed"] and status["liveness"]["step"] == "excused" and not status["fallback"]
    assert status["liveness"]["instruction"] == "Not needed: a proctor excused you from the head turns."
    assert begin(tenant_a).status_code == 200
    event = AuditEvent.unscoped.filter(action="identity.approved").order_by("-pk").first()
    assert event is not None and event.data["liveness_excused"] is True
    # The session's report says how it was let in: a reviewer judging its incidents knows the turns were excused.
    report = proctor.get(f"/sessions/{tenant_a.session.pk}/report").content.decode()
    assert "photo ID approved by" in report and "Live on every frame." in report
    assert "head turns excused by the proctor who approved" in report


def test_an_excuse_holds_for_its_own_approval_only_and_a_burst_of_frames_is_not_a_minute_of_trying(
        tenant_a: Tenant, settings: Any) -> None:
    settings.LIVENESS_FALLBACK_AFTER = 5
    at_gate(tenant_a)
    for index in range(5):  # five frames in two seconds, whatever their capture times say: not a minute of trying
        gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=3 - index / 2)
    assert not gate(tenant_a)["fallback"]
    gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=12)  # the server had them over nine seconds and more
    assert gate(tenant_a)["fallback_for"] == "head_turns"
    approval_id = ask_a_proctor(tenant_a).json()["request"]
    page_client_for(tenant_a.proctor).post(f"/identity/{approval_id}/", {
        "decision": "approved", "note": "Live.", "excuse_liveness": "on"})
    gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=0)
    assert gate(tenant_a)["liveness"]["step"] == "excused"
    # A later approval that did not excuse the turns, or an admin's reset: the earlier excuse no longer holds (an
    # attacker's audit started an exam on an approval whose note said "turns NOT excused").
    later = timezone.now() + timedelta(seconds=1)
    IdentityApproval.unscoped.create(institution=tenant_a.institution, session=tenant_a.session, status="approved",
                                     decided_at=later, decided_by=tenant_a.proctor)
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(identity_approved_at=later)
    gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=-2)  # they are at the camera after it
    assert not gate(tenant_a)["liveness"]["passed"]
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(identity_approved_at=None)
    assert not gate(tenant_a)["liveness"]["passed"]


def test_after_a_denial_the_student_tries_the_camera_again_before_asking_again(tenant_a: Tenant,
                                                                               settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    approval_id = ask_a_proctor(tenant_a).json()["request"]
    page_client_for(tenant_a.proctor).post(f"/identity/{approval_id}/", {"decision": "denied",
                                                                        "note": "A printed photo, not you."})
    assert not gate(tenant_a)["fallback"] and code_of(ask_a_proctor(tenant_a)) == "fallback_not_offered"
    IdentityApproval.unscoped.filter(pk=approval_id).update(
        decided_at=timezone.now() - timedelta(seconds=gate_reads.ASK_AGAIN_AFTER_DENIAL_SECONDS + 1))
    assert gate(tenant_a)["fallback"]
    second = ask_a_proctor(tenant_a).json()["request"]
    page = page_client_for(tenant_a.proctor).get(f"/identity/{second}/").content.decode()
    assert 'id="earlier-requests"' in page and "A printed photo, not you." in page  # the next proctor sees it


def test_after_a_denial_of_the_head_turns_only_a_new_minute_of_tries_asks_again(tenant_a: Tenant,
                                                                                 settings: Any) -> None:
    # A re-audit waited the 60 s out without a frame, and the next proctor saw the very frames the first had denied.
    settings.LIVENESS_FALLBACK_AFTER = 5
    at_gate(tenant_a)
    for index in range(5):
        gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=120 - 3 * index)
    approval_id = ask_a_proctor(tenant_a).json()["request"]
    page_client_for(tenant_a.proctor).post(f"/identity/{approval_id}/", {"decision": "denied",
                                                                        "note": "A photo held up."})
    IdentityApproval.unscoped.filter(pk=approval_id).update(decided_at=timezone.now() - timedelta(seconds=90))
    assert not gate(tenant_a)["fallback"]  # the denied tries do not count again
    for index in range(5):
        gate_frame(tenant_a, passed=True, yaw=1.0, seconds_ago=30 - 3 * index)
    assert gate(tenant_a)["fallback_for"] == "head_turns"


def test_no_approval_excuses_the_head_turns_of_a_student_who_did_not_try_them(tenant_a: Tenant,
                                                                            settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)  # someone else's face: offered for the identity, not the turns
    status = gate(tenant_a)
    assert status["fallback_for"] == "identity"
    approval_id = ask_a_proctor(tenant_a).json()["request"]
    proctor = page_client_for(tenant_a.proctor)
    assert 'id="excuse-liveness"' not in proctor.get(f"/identity/{approval_id}/").content.decode()
    page = proctor.post(f"/identity/{approval_id}/", {"decision": "approved", "excuse_liveness": "on"}, follow=True)
    assert "only when the student asked after trying them" in page.content.decode()
    approval = IdentityApproval.unscoped.get(pk=approval_id)
    assert approval.status == "pending" and not approval.liveness_excused


def test_an_exam_that_closes_while_a_proctor_decides_says_so_to_both(tenant_a: Tenant, settings: Any) -> None:
    # The student kept reading "Waiting for a proctor…" after the exam closed; the proctor's page did not say it.
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    approval_id = ask_a_proctor(tenant_a).json()["request"]
    assert not gate(tenant_a)["closed"]
    tenant_a.exam.closes_at = timezone.now() - timedelta(minutes=1)
    tenant_a.exam.save(update_fields=["closes_at"])
    assert gate(tenant_a)["closed"]
    page = page_client_for(tenant_a.proctor).get(f"/identity/{approval_id}/").content.decode()
    assert 'id="exam-closed"' in page


def test_a_denial_keeps_the_student_out_with_the_reason(tenant_a: Tenant, settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    turn_head(tenant_a, passed=False)
    approval_id = ask_a_proctor(tenant_a).json()["request"]
    proctor = page_client_for(tenant_a.proctor)
    proctor.post(f"/identity/{approval_id}/", {"decision": "denied", "note": ""})
    assert IdentityApproval.unscoped.get(pk=approval_id).status == "pending"  # a denial must say why
    proctor.post(f"/identity/{approval_id}/", {"decision": "denied", "note": "The card shows someone else."})
    status = gate(tenant_a)
    assert status["status"] == "checking" and not status["can_start"]
    assert status["approval"] == {"status": "denied", "note": "The card shows someone else.", "for": "identity",
                                  "excused": False}
    assert code_of(begin(tenant_a)) == "identity_not_verified"
    assert proctor.post(f"/identity/{approval_id}/", {"decision": "approved"}).status_code == 200  # decided once
    assert IdentityApproval.unscoped.get(pk=approval_id).status == "denied"
    assert "identity.denied" in AuditEvent.unscoped.values_list("action", flat=True)


def test_an_exam_can_require_the_photo_id_of_everyone(tenant_a: Tenant) -> None:
    at_gate(tenant_a, require_photo_id=True)
    turn_head(tenant_a, passed=True)  # the face matches, yet a proctor must see the ID
    status = gate(tenant_a)
    assert status["photo_id_required"] and status["fallback"] and not status["can_start"]
    assert code_of(begin(tenant_a)) == "photo_id_required"


def test_only_staff_of_the_institution_see_a_request(tenant_a: Tenant, tenant_b: Tenant, settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    approval_id = ask_a_proctor(tenant_a).json()["request"]
    for path in (f"/identity/{approval_id}/", f"/identity/{approval_id}/live.jpg", f"/identity/{approval_id}/id.jpg",
                 f"/identity/{approval_id}/references/1.jpg"):
        assert page_client_for(tenant_b.proctor).get(path).status_code == 404
        assert page_client_for(tenant_a.student).get(path).status_code in (403, 404)
        assert page_client_for(tenant_a.admin).get(path).status_code == 200
    assert page_client_for(tenant_b.admin).post(f"/identity/{approval_id}/", {"decision": "approved"}).status_code \
        == 404
    assert IdentityApproval.unscoped.get(pk=approval_id).status == "pending"
    other = api_client_for(tenant_b.student).get(f"/api/v1/sessions/{tenant_a.session.pk}/gate")
    assert other.status_code == 404


def test_a_student_cannot_leave_the_proctors_decision_by_checking_in_again(tenant_a: Tenant,
                                                                           settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    ask_a_proctor(tenant_a)
    response = api_client_for(tenant_a.student).post(f"/api/v1/sessions/{tenant_a.session.pk}/transition",
                                                     {"to": "checking"}, format="json")
    assert response.status_code == 409
    assert ExamSession.unscoped.get(pk=tenant_a.session.pk).status == SessionStatus.AWAITING_APPROVAL


def test_the_proctor_sees_the_similarity_of_the_live_frame_to_the_references(tenant_a: Tenant,
                                                                             settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        tenant_a.face.image.save("ref.jpg", ContentFile(image("signer1_a.jpg")))
    gate_frame(tenant_a, passed=False)
    same = IdentityApproval.unscoped.get(pk=ask_a_proctor(tenant_a, live="signer1_b.jpg").json()["request"])
    page = page_client_for(tenant_a.proctor).get(f"/identity/{same.pk}/").content.decode()
    same.refresh_from_db()
    assert same.similarity is not None and same.similarity >= 90 and f"{same.similarity:.1f} / 100" in page
    IdentityApproval.unscoped.filter(pk=same.pk).update(status="denied")
    ExamSession.unscoped.filter(pk=tenant_a.session.pk).update(status=SessionStatus.CHECKING)
    other = IdentityApproval.unscoped.get(pk=ask_a_proctor(tenant_a, live="signer2_a.jpg").json()["request"])
    page_client_for(tenant_a.proctor).get(f"/identity/{other.pk}/")
    other.refresh_from_db()
    assert other.similarity is not None and other.similarity < 90


def test_it_erases_the_id_photo_and_live_frame_with_the_session(tenant_a: Tenant, settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    approval = IdentityApproval.unscoped.get(pk=ask_a_proctor(tenant_a).json()["request"])
    files = [Path(approval.id_photo.path), Path(approval.live_photo.path)]
    assert all(f.exists() for f in files)
    with tenancy.tenant_scope(tenant_a.institution), pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit", lambda fn, robust=False: fn())
        exam_services.session_delete(session=ExamSession.objects.get(pk=tenant_a.session.pk), actor=tenant_a.admin)
    assert not IdentityApproval.unscoped.filter(pk=approval.pk).exists()
    assert not any(f.exists() for f in files)


def test_retention_erases_the_photos_of_decided_requests(tenant_a: Tenant, settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    approval = IdentityApproval.unscoped.get(pk=ask_a_proctor(tenant_a).json()["request"])
    files = [Path(approval.id_photo.path), Path(approval.live_photo.path)]
    old = timezone.now() - timedelta(days=tenant_a.institution.frame_retention_days + 1)
    IdentityApproval.unscoped.filter(pk=approval.pk).update(requested_at=old)
    with tenancy.tenant_scope(tenant_a.institution):
        retention.purge_institution(tenant_a.institution)
    assert all(f.exists() for f in files)  # still waiting for a proctor: kept
    page_client_for(tenant_a.proctor).post(f"/identity/{approval.pk}/", {"decision": "approved"})
    with tenancy.tenant_scope(tenant_a.institution):
        retention.purge_institution(tenant_a.institution)
    approval.refresh_from_db()
    assert not any(f.exists() for f in files) and approval.purged_at is not None and not approval.id_photo


def test_the_start_rule_is_the_same_on_the_page(tenant_a: Tenant) -> None:
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=True)
    page = page_client_for(tenant_a.student)
    response = page.post(f"/sessions/{tenant_a.session.pk}/check", follow=True)
    assert "Turn your head as the camera check asks" in response.content.decode()
    turn_head(tenant_a)
    assert page.post(f"/sessions/{tenant_a.session.pk}/check").status_code == 302
    with tenancy.tenant_scope(tenant_a.institution):
        assert taking.ExamSession.objects.get(pk=tenant_a.session.pk).status == SessionStatus.IN_PROGRESS


def test_an_approved_live_photo_can_become_a_reference_face(tenant_a: Tenant, settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    approval_id = ask_a_proctor(tenant_a, live="signer1_b.jpg").json()["request"]
    before = FaceRegistration.unscoped.filter(student=tenant_a.student).count()
    proctor = page_client_for(tenant_a.proctor)
    response = proctor.post(f"/identity/{approval_id}/", {"decision": "approved", "keep_reference": "on"})
    assert response.status_code == 302
    assert FaceRegistration.unscoped.filter(student=tenant_a.student).count() == before + 1
    assert AuditEvent.unscoped.filter(action="identity.reference_kept", actor=tenant_a.proctor).exists()


def test_a_live_face_of_another_registered_person_is_shown_and_approved_only_when_confirmed(
    tenant_a: Tenant, settings: Any
) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    other = User.objects.create_user(institution=tenant_a.institution, email="olga@alpha.test", role="student",
                                     full_name="Olga Other", password="x-Long-enough-9")
    registered = api_client_for(tenant_a.admin).post("/faces/index", {
        "image": base64.b64encode(image("signer2_a.jpg")).decode(), "fullName": "Olga Other", "student": other.pk},
        format="json")
    assert registered.status_code == 200, registered.content
    at_gate(tenant_a)
    gate_frame(tenant_a, passed=False)
    approval_id = ask_a_proctor(tenant_a, live="signer2_a.jpg").json()["request"]
    before = FaceRegistration.unscoped.filter(student=tenant_a.student).count()
    proctor = page_client_for(tenant_a.proctor)
    # Before deciding, the proctor reads whose registered face the live one matches (staff only: a 1:N search).
    page = proctor.get(f"/identity/{approval_id}/").content.decode()
    assert 'id="duplicate-warning"' in page and "Olga Other" in page and 'id="confirm-duplicate"' in page
    refused = proctor.post(f"/identity/{approval_id}/", {"decision": "approved", "keep_reference": "on"})
    assert refused.status_code == 200 and "registered to another person" in refused.content.decode()
    assert IdentityApproval.unscoped.get(pk=approval_id).status == "pending"
    response = proctor.post(f"/identity/{approval_id}/", {"decision": "approved", "keep_reference": "on",
                                                          "confirm_duplicate": "on"}, follow=True)
    assert "was not kept as a reference" in response.content.decode()
    assert "register it from the student&#x27;s reference photos" in response.content.decode()  # the way to, if sure
    assert FaceRegistration.unscoped.filter(student=tenant_a.student).count() == before
    assert IdentityApproval.unscoped.get(pk=approval_id).status == "approved"
    audited = AuditEvent.unscoped.get(action="identity.approved")
    assert [m["FullName"] for m in audited.data["matches_others"]] == ["Olga Other"]
    # Decided: nothing left to confirm.
    assert "duplicate-warning" not in proctor.get(f"/identity/{approval_id}/").content.decode()


def test_a_reference_that_does_not_decode_is_skipped_not_fatal(tenant_a: Tenant, settings: Any) -> None:
    settings.IDENTITY_FALLBACK_AFTER = 1
    at_gate(tenant_a)
    with tenancy.tenant_scope(tenant_a.institution):
        tenant_a.face.image.save("broken.jpg", ContentFile(b"not an image"))
        FaceRegistration.objects.create(institution=tenant_a.institution, collection_id=tenant_a.face.collection_id,
                                        face_id="f-good", full_name="alpha Student", student=tenant_a.student,
                                        image=ContentFile(image("signer1_a.jpg"), name="good.jpg"))
    gate_frame(tenant_a, passed=False)
    approval = IdentityApproval.unscoped.get(pk=ask_a_proctor(tenant_a, live="signer1_b.jpg").json()["request"])
    page_client_for(tenant_a.proctor).get(f"/identity/{approval.pk}/")
    approval.refresh_from_db()
    assert approval.similarity is not None and approval.similarity >= 90


def test_the_head_turns_the_check_asks_for_open_no_incident(tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    # An audit: each of three students who turned their head as the liveness challenge asked got a pending "face not
    # clear enough to verify" check incident (a turned face cannot be verified), for a reviewer to dismiss.
    from tests.proctoring.test_pipeline import register

    register(tenant_a, "headpose_woman_front.jpg", "alpha Student", student=tenant_a.student)
    engine, analyze = get_backend(), get_backend().analyze

    def turned_too_far(**kwargs: Any) -> dict[str, Any]:  # as the audit's turns were: too far to verify
        found = analyze(**kwargs)
        return {**found, "Verification": {**found["Verification"], "Passed": False, "Reason": "turned_away"}}
    monkeypatch.setattr(engine, "analyze", turned_too_far)
    session = at_gate(tenant_a)
    for side in ("her_left", "her_left", "her_left", "her_right", "her_right", "her_right"):
        assert analysed(session, f"headpose_woman_{side}.jpg").findings["Verification"]["Reason"] == "turned_away"
    assert not Incident.unscoped.filter(session=session, kind="face_not_verifiable").exists()
