"""Looking away through the real pipeline: frames to /process, the local engine's head pose, the
student's own baseline, the k-of-n incident rule."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import services as account_services
from accounts import tenancy
from exams import policy
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring import attention
from proctoring.models import Frame, Incident, IncidentKind, Severity
from tests.conftest import Tenant, api_client_for
from tests.proctoring.conftest import shot_b64, start_session

pytestmark = pytest.mark.django_db(transaction=True)
# The 1:1 check is off: these frames are about pose, and its embedding would only slow them down.
WITHOUT_RECOGNITION = [c for c in policy.ALL_CHECKS if c != policy.CHECK_PERSON_RECOGNITION]
FRONT, HER_LEFT, HER_RIGHT = "headpose_woman_front.jpg", "headpose_woman_her_left.jpg", "headpose_woman_her_right.jpg"


@pytest.fixture(autouse=True)
def _one_baseline_frame(monkeypatch: Any) -> None:
    monkeypatch.setattr(attention, "BASELINE_FRAMES", 1)  # fewer frames, the same rule


def send(session: ExamSession, student: Any, fixture: str) -> dict[str, Any]:
    response = api_client_for(student).post("/process?wait=30", {"image": shot_b64(fixture), "session": session.pk},
                                            format="json")
    assert response.status_code == 200, response.content
    return response.json()


def session_for(tenant: Tenant, student: Any, **policy_fields: Any) -> ExamSession:
    session = start_session(tenant, debounce_frames=1) if student is tenant.student else _other_session(
        tenant, student)
    with tenancy.tenant_scope(tenant.institution):
        session.exam.checks_enabled = WITHOUT_RECOGNITION
        for name, value in policy_fields.items():
            setattr(session.exam, name, value)
        session.exam.save()
    return session


def _other_session(tenant: Tenant, student: Any) -> ExamSession:
    from exams import services as exam_services
    with tenancy.tenant_scope(tenant.institution):
        exam = ExamSession.objects.get(student=tenant.student, exam__title="Proctored exam").exam
        session = exam_services.session_create(exam=exam, student=student)
        for to in (SessionStatus.CHECKING, SessionStatus.IN_PROGRESS):
            exam_services.session_transition(session_id=session.pk, to=to, actor=student)
    return session


def looking_away(session: ExamSession) -> list[Incident]:
    return list(Incident.objects.filter(session=session, kind=IncidentKind.LOOKING_AWAY))


def test_it_opens_a_low_incident_for_a_sustained_look_away_not_a_glance_against_each_students_baseline(
        tenant_a: Tenant) -> None:
    sam = tenant_a.student
    # Kim's webcam sits to one side: she faces her screen turned as in HER_LEFT, which is her baseline.
    kim = account_services.user_create(institution=tenant_a.institution, email="kim@alpha.test", role="student",
                                       full_name="Kim")
    sams = session_for(tenant_a, sam)
    kims = session_for(tenant_a, kim)

    send(sams, sam, FRONT)  # Sam's baseline
    send(kims, kim, HER_LEFT)  # Kim's
    send(sams, sam, HER_RIGHT)  # a glance aside...
    send(sams, sam, FRONT)  # ...and back
    with tenancy.tenant_scope(tenant_a.institution):
        assert looking_away(sams) == []

    for _ in range(3):  # both now sit as Kim does: for Sam a sustained look away, for Kim her usual pose
        sams_answer = send(sams, sam, HER_LEFT)
        send(kims, kim, HER_LEFT)
    assert [c["TestName"] for c in sams_answer] == WITHOUT_RECOGNITION  # no answer row of its own
    with tenancy.tenant_scope(tenant_a.institution):
        incidents = looking_away(sams)
        assert [(i.severity, i.is_open, i.frame_count, i.during_check) for i in incidents] == [
            (Severity.LOW, True, 4, False)]  # the glance is in its stretch: 4 of the latest 5 frames
        assert looking_away(kims) == []
        assert incidents[0].details["findings"]["Attention"]["Away"] is True
        frame = incidents[0].last_frame
    seen = api_client_for(sam).get(f"/api/v1/frames/{frame.pk}/").json()
    assert seen["attention"] == {"away": True, "message": attention.STUDENT_MESSAGE}


def test_it_is_not_judged_when_the_exams_policy_leaves_it_off(tenant_a: Tenant) -> None:
    session = session_for(tenant_a, tenant_a.student, watch_looking_away=False)
    for fixture in (FRONT, HER_RIGHT, HER_RIGHT, HER_RIGHT):
        send(session, tenant_a.student, fixture)
    with tenancy.tenant_scope(tenant_a.institution):
        assert looking_away(session) == []
        assert all("Attention" not in f.findings for f in Frame.objects.filter(session=session))


def test_it_exempts_the_pre_exam_check_and_takes_no_baseline_there(tenant_a: Tenant) -> None:
    session = start_session(tenant_a, until=SessionStatus.CHECKING)  # the check asks the student to turn
    turned = {"FaceDetails": [{"Pose": {"Yaw": -45.0, "Pitch": 20.0, "Roll": 0.0}}]}
    with tenancy.tenant_scope(tenant_a.institution):
        assert attention.judge(session=session, analysis=turned) is None
        session.refresh_from_db()
    assert session.pose_baseline == []


def test_it_watches_new_exams_but_not_the_sample_policy(tenant_a: Tenant) -> None:
    from exams import services as exam_services
    from proctoring import checks
    with tenancy.tenant_scope(tenant_a.institution):
        exam = exam_services.exam_create(actor=tenant_a.admin, title="New")
    assert exam.watch_looking_away and checks.Policy.of_exam(exam).looking_away
    assert not checks.SAMPLE_POLICY.looking_away


def test_it_counts_a_face_too_turned_to_verify_as_the_same_event_as_looking_away() -> None:
    turned = {"Reason": "turned_away"}
    unverifiable = {IncidentKind.FACE_NOT_VERIFIABLE}
    assert attention.kinds_for(attention={"Away": True}, kinds=unverifiable, verification=turned) == {
        IncidentKind.LOOKING_AWAY}
    assert attention.kinds_for(attention={"Away": False}, kinds=unverifiable, verification=turned) == {
        IncidentKind.FACE_NOT_VERIFIABLE}  # turned from the camera, but as the student sits: not away


def test_it_opens_nothing_for_a_student_exempt_from_looking_away_and_face_detection(tenant_a: Tenant) -> None:
    from exams.accommodations import accommodation_set
    session = session_for(tenant_a, tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        accommodation_set(actor=tenant_a.admin, student=tenant_a.student, reason="Medical: cannot face the camera",
                          exempt_checks=["looking_away", "no_face", "no_person"])
    for fixture in (FRONT, HER_RIGHT, HER_RIGHT, HER_RIGHT, "empty_room.jpg", "empty_room.jpg"):
        send(session, tenant_a.student, fixture)
    with tenancy.tenant_scope(tenant_a.institution):
        assert list(Incident.objects.filter(session=session)) == []
        frames = list(Frame.objects.filter(session=session).order_by("captured_at"))
    assert len(frames) == 6 and all("Attention" not in f.findings for f in frames)  # not judged, not told
    # What the engine saw is kept for a reviewer: the empty room still failed Face Detection.
    assert any(not c["Success"] for c in frames[-1].checks if c["TestName"] == policy.CHECK_FACE_DETECTION)


def test_it_reads_the_eyes_on_the_baseline_and_near_the_cut_and_clears_a_turned_head_looking_at_the_screen(
        tenant_a: Tenant, monkeypatch: Any) -> None:
    monkeypatch.setattr(attention, "EYE_BAND", 4.0)  # off by default (see attention's docstring); the rule when on
    session = session_for(tenant_a, tenant_a.student)
    send(session, tenant_a.student, FRONT)  # the real path reads the eyes of the baseline frame
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        [(yaw, pitch, eyes)] = session.pose_baseline
        assert isinstance(eyes, float) and abs(eyes) < 15  # she looks at the camera
        session.pose_baseline = [[0.0, 0.0, 0.0]]

        def analysis(yaw: float) -> dict[str, Any]:
            return {"FaceDetails": [{"Pose": {"Yaw": yaw, "Pitch": 0.0, "Roll": 0.0}}]}
        back_to_screen = attention.judge(session=session, analysis=analysis(23.0), eyes=lambda: -12.0)
        assert back_to_screen == {"Away": False, "Baseline": False, "Deviation": 11.0, "Eyes": -12.0}
        assert attention.judge(session=session, analysis=analysis(23.0), eyes=lambda: 5.0)["Away"] is True
        assert attention.judge(session=session, analysis=analysis(23.0))["Away"] is True  # the head alone
        assert attention.judge(session=session, analysis=analysis(60.0), eyes=lambda: -60.0) == {
            "Away": True, "Baseline": False, "Deviation": 60.0}  # far past the cut: the eyes are not read
    face = {**analysis(23.0)["FaceDetails"][0], "BoundingBox": {"Left": 0.3, "Top": 0.2, "Width": 0.3, "Height": 0.4},
            "Landmarks": [{"Type": "eyeLeft", "X": 0.4, "Y": 0.3}, {"Type": "eyeRight", "X": 0.5, "Y": 0.3}]}
    assert attention.eyes_of(b"not an image", {"FaceDetails": [face]})() is None  # the head's pose alone judges
    monkeypatch.setattr(attention, "EYE_BAND", 0.0)
    with tenancy.tenant_scope(tenant_a.institution):
        assert attention.judge(session=session, analysis=analysis(23.0), eyes=lambda: -12.0)["Away"] is True  # off


def test_a_quiet_start_fills_the_baseline_with_the_frames_that_carry_its_result(
        tenant_a: Tenant, monkeypatch: Any) -> None:
    # A student who sits still at the start sends frames that barely change: they carry the first frame's result
    # (proctoring.skipping). The baseline counted only analysed frames, so a quiet student's first glances aside
    # became two of its three frames, and facing the screen read "away" for the rest of the exam.
    monkeypatch.setattr(attention, "BASELINE_FRAMES", 3)
    session = session_for(tenant_a, tenant_a.student)
    for _ in range(3):
        send(session, tenant_a.student, FRONT)
    with tenancy.tenant_scope(tenant_a.institution):
        frames = list(Frame.objects.filter(session=session).order_by("pk"))
        assert [f.carried_from_id is not None for f in frames] == [False, True, True]
        session.refresh_from_db()
        assert len(session.pose_baseline) == 3 and len({tuple(p) for p in session.pose_baseline}) == 1  # FRONT
    for _ in range(3):
        send(session, tenant_a.student, HER_LEFT)  # now a look away, not a baseline frame
    with tenancy.tenant_scope(tenant_a.institution):
        assert [i.is_open for i in looking_away(session)] == [True]
