"""Pay only for what changed: exam frames that barely differ from the last fully analysed one carry its
result; the real local engine runs otherwise (its calls are counted, nothing of ours is mocked)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from PIL import Image, ImageDraw, ImageEnhance

from accounts import tenancy
from exams import services as exam_services
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring import attention, services
from proctoring.analysis import get_backend
from proctoring.models import Frame, Incident
from tests.conftest import Tenant, api_client_for
from tests.proctoring.conftest import b64, image, start_session, turned_head

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The local engine's analyze calls (the heavy stages), each call's keyword arguments but the image,
    running the real engine each time."""
    engine = get_backend()
    calls: list[dict[str, Any]] = []
    analyze = engine.analyze

    def counted(*args: Any, **kwargs: Any) -> dict:
        calls.append({name: value for name, value in kwargs.items() if name != "Image"})
        return analyze(*args, **kwargs)

    monkeypatch.setattr(engine, "analyze", counted)
    return calls


def jittered(name: str, brightness: float = 1.04) -> bytes:
    """The same scene captured again: a little brighter, JPEG-encoded anew."""
    out = io.BytesIO()
    ImageEnhance.Brightness(Image.open(io.BytesIO(image(name))).convert("RGB")).enhance(brightness).save(
        out, "JPEG", quality=80)
    return out.getvalue()


def faintly_covered(name: str, opacity: float) -> bytes:
    """The picture with a dark box in its lower left corner laid over it at ``opacity``: from the bare picture
    it differs by about 3.6 at 0.04 and 7.7 at 0.08 (FRAME_SKIP_THRESHOLD: 5); each step of 0.04 from the one
    before by about 3.1-3.3 (a change that adds up)."""
    picture = Image.open(io.BytesIO(image(name))).convert("RGB")
    covered = picture.copy()
    width, height = picture.size
    ImageDraw.Draw(covered).rectangle([int(width * 0.05), int(height * 0.6), int(width * 0.25), int(height * 0.95)],
                                      fill=(20, 20, 20))
    out = io.BytesIO()
    Image.blend(picture, covered, opacity).save(out, "JPEG", quality=80)
    return out.getvalue()


def registered_session(tenant: Tenant, *, register: bool = False, **kwargs: Any) -> ExamSession:
    """A session of the tenant's student; ``register``: with their reference face (the 1:1 check passes)."""
    if not register:
        return start_session(tenant, **kwargs)
    with tenancy.tenant_scope(tenant.institution):
        services.face_register(institution=tenant.institution, actor=tenant.admin, student=tenant.student,
                               full_name="Sam Signer", image=image("signer1_a.jpg"))
    return start_session(tenant, **kwargs)


def analysed(session: ExamSession, picture: bytes, *, after: float) -> Frame:
    """A frame taken ``after`` seconds into the session, stored and analysed as the Celery task does."""
    from django.core.files.base import ContentFile

    session.refresh_from_db()
    at = (session.started_at or session.consent_at or session.created_at) + timedelta(seconds=after)
    with tenancy.tenant_scope(None):
        frame = Frame(institution_id=session.institution_id, session=session, received_at=at, captured_at=at)
        frame.image.save("frame.jpg", ContentFile(picture), save=False)
        frame.save()
        done = services.frame_analyze(frame_id=frame.pk)
    assert done is not None and done.status == "done", done and done.error
    return done


def test_it_carries_a_near_identical_frame_forward_without_calling_the_engine(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    session = registered_session(tenant_a, register=True)
    first = analysed(session, image("signer1_a.jpg"), after=1)
    second = analysed(session, jittered("signer1_a.jpg"), after=6)
    assert len(engine_calls) == 1
    assert second.carried_from == first and first.carried_from is None
    assert second.checks == first.checks and second.findings == first.findings
    assert {"TestName": "Person Recognition", "Success": True, "Details": "Sam Signer"} in second.checks
    shown = api_client_for(tenant_a.admin).get(f"/api/v1/frames/{second.pk}/").json()
    assert shown["carried_from"] == first.pk  # reviewers see where the result came from


def test_a_face_that_did_not_match_is_compared_again_on_the_next_frame(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    # One failed comparison carried over still frames counted as three in a row: a "someone else" incident from
    # one noisy comparison. A frame after a failed one is analysed in full, however little it changed.
    session = registered_session(tenant_a, register=True)
    first = analysed(session, image("signer2_a.jpg"), after=1)
    assert first.findings["Verification"]["Reason"] == "not_matching"
    second = analysed(session, jittered("signer2_a.jpg"), after=6)
    assert len(engine_calls) == 2 and second.carried_from is None
    assert "References" in engine_calls[1]  # compared again


def test_a_frame_like_the_one_before_the_last_analysed_frame_is_carried_from_that_one(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    # A frame that camera noise (or a moment's change) had analysed in full is not the only one compared: its
    # own noise made the next frames of a still scene cross the threshold too, one full analysis after another.
    session = registered_session(tenant_a, register=True)
    first = analysed(session, image("signer1_a.jpg"), after=1)
    changed = analysed(session, faintly_covered("signer1_a.jpg", 0.08), after=6)
    back = analysed(session, jittered("signer1_a.jpg"), after=11)
    assert [changed.carried_from, back.carried_from] == [None, first]
    assert len(engine_calls) == 2 and back.findings == first.findings
    # Unlike both of the last two analysed frames: analysed in full.
    other = analysed(session, image("signer1_b.jpg"), after=16)
    assert other.carried_from is None and len(engine_calls) == 3


def test_it_analyses_a_frame_that_changed(tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    session = registered_session(tenant_a)
    analysed(session, image("signer1_a.jpg"), after=1)
    changed = analysed(session, image("signer2_with_second_person.jpg"), after=6)
    assert len(engine_calls) == 2
    assert changed.carried_from is None


def test_past_the_age_limit_an_unchanged_frame_is_refreshed_without_the_face_comparison_or_unsafe_content(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]], settings: Any) -> None:
    settings.FRAME_SKIP_MAX_AGE_SECONDS = 30
    session = registered_session(tenant_a, register=True)
    first = analysed(session, image("signer1_a.jpg"), after=1)
    carried = analysed(session, jittered("signer1_a.jpg"), after=26)
    refreshed = analysed(session, jittered("signer1_a.jpg", 0.97), after=32)
    then = analysed(session, jittered("signer1_a.jpg", 1.02), after=37)
    assert [carried.carried_from, refreshed.carried_from, then.carried_from] == [first, None, refreshed]
    assert len(engine_calls) == 2
    assert "References" in engine_calls[0] and engine_calls[0].get("Moderation", True)
    # The refresh runs the detectors and the faces again, not the 1:1 comparison nor the unsafe-content model.
    assert "References" not in engine_calls[1] and "CollectionId" not in engine_calls[1]
    assert engine_calls[1]["Moderation"] is False
    assert refreshed.findings["Refreshed"] == {"Frame": first.pk}
    assert refreshed.findings["Verification"] == first.findings["Verification"]
    assert refreshed.findings["ModerationLabels"] == first.findings["ModerationLabels"]
    assert refreshed.findings["FaceDetails"] != first.findings["FaceDetails"]  # its own faces, measured again
    assert {"TestName": "Person Recognition", "Success": True, "Details": "Sam Signer"} in refreshed.checks


def test_the_whole_analysis_runs_at_least_every_full_max_age(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]], settings: Any) -> None:
    settings.FRAME_SKIP_MAX_AGE_SECONDS, settings.FRAME_SKIP_FULL_MAX_AGE_SECONDS = 30, 100
    session = registered_session(tenant_a, register=True)
    frames = [analysed(session, jittered("signer1_a.jpg", 1 + i / 100), after=1 + 31 * i) for i in range(5)]
    assert len(engine_calls) == 5 and all(f.carried_from is None for f in frames)
    refreshed = ["Refreshed" in f.findings for f in frames]
    assert refreshed == [False, True, True, True, False]  # at 94 s the full analysis was 93 s old; at 125, 124
    assert ["References" in call for call in engine_calls] == [True, False, False, False, True]
    assert [f.findings.get("Refreshed") for f in frames[1:4]] == [{"Frame": frames[0].pk}] * 3


def test_small_changes_cannot_add_up_refresh_by_refresh(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]], settings: Any) -> None:
    settings.FRAME_SKIP_MAX_AGE_SECONDS = 30
    session = registered_session(tenant_a, register=True)
    frames = [analysed(session, faintly_covered("signer1_a.jpg", 0.04 * i), after=1 + 31 * i) for i in range(4)]
    # Each frame is close to the one before; the third is not close to the frame of the last full analysis.
    assert [f.findings.get("Refreshed") for f in frames] == [None, {"Frame": frames[0].pk}, None,
                                                             {"Frame": frames[2].pk}]
    assert ["References" in call for call in engine_calls] == [True, False, True, False]


def test_a_refreshed_frame_judges_its_objects_again_and_keeps_the_incident_going(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]], settings: Any) -> None:
    settings.FRAME_SKIP_MAX_AGE_SECONDS = 30
    session = registered_session(tenant_a, debounce_frames=2)
    session.exam.objects_of_interest = ["Laptop"]
    session.exam.save(update_fields=["objects_of_interest"])
    frames = [analysed(session, jittered("desk_laptop.jpg", 1 + i / 100), after=1 + 31 * i) for i in range(2)]
    assert frames[1].findings["Refreshed"] == {"Frame": frames[0].pk}
    assert "Laptop" in {label["Name"] for label in frames[1].findings["Labels"]}
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="object_of_interest")
    assert incident.is_open and (incident.first_frame, incident.last_frame) == (frames[0], frames[1])


def test_a_phone_that_stays_in_view_keeps_its_incident_going(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    session = registered_session(tenant_a, debounce_frames=2)
    session.exam.objects_of_interest = ["Laptop"]  # the fixture's forbidden object: a laptop on the desk
    session.exam.save(update_fields=["objects_of_interest"])
    frames = [analysed(session, jittered("desk_laptop.jpg", 1 + i / 100), after=1 + 5 * i) for i in range(4)]
    assert len(engine_calls) == 1 and all(f.carried_from == frames[0] for f in frames[1:])
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="object_of_interest")
    assert incident.is_open and incident.frame_count == 4
    assert (incident.first_frame, incident.last_frame) == (frames[0], frames[3])


def test_a_carried_frame_counts_in_the_baseline_then_carries_its_looking_away_judgement(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    # The baseline weighs the student's poses by time: each frame of a quiet start counts, carried or not. Once
    # it is taken, a carried frame carries its source's judgement.
    session = registered_session(tenant_a)
    session.exam.watch_looking_away = True
    session.exam.save(update_fields=["watch_looking_away"])
    first = analysed(session, image("signer1_a.jpg"), after=1)
    carried = [analysed(session, jittered("signer1_a.jpg", 1 + 0.02 * n), after=1 + 5 * n) for n in (1, 2, 3)]
    session.refresh_from_db()
    assert all(frame.carried_from == first for frame in carried) and len(engine_calls) == 1
    assert len(session.pose_baseline) == attention.BASELINE_FRAMES == 3
    assert len({tuple(pose) for pose in session.pose_baseline}) == 1  # the first frame's pose, three frames long
    assert [frame.findings["Attention"]["Away"] for frame in carried] == [False, False, False]
    assert carried[2].findings["Attention"] == first.findings["Attention"]  # the baseline taken: carried


def test_the_gate_analyses_every_frame_until_it_is_passed(tenant_a: Tenant, engine_calls: list[dict[str, Any]]
                                                          ) -> None:
    # While the head turns are asked for, liveness needs each frame's own head pose (a small turn must count);
    # without a reference photo no verdict passes.
    for register in (False, True):
        session = registered_session(tenant_a, register=register, until=SessionStatus.CHECKING)
        analysed(session, image("signer1_a.jpg"), after=1)
        fresh = analysed(session, jittered("signer1_a.jpg"), after=3)
        assert fresh.carried_from is None
    # Head turns done, but no face the 1:1 check could pass: what the page tells them is judged again each frame
    # (a student who moved into view, turned on a light).
    session = registered_session(tenant_a, until=SessionStatus.CHECKING)  # registered above
    turned_head(session)
    empty = analysed(session, image("empty_room.jpg"), after=1)
    assert empty.findings["Verification"]["Passed"] is False
    assert analysed(session, jittered("empty_room.jpg"), after=3).carried_from is None
    assert len(engine_calls) == 6


def test_once_the_gate_is_passed_a_still_frame_carries_its_result_and_the_exam_may_start(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]], settings: Any) -> None:
    # A student who passed the check early waits, sitting still, until the exam opens: their frames cost what a
    # quiet exam's do instead of a full analysis each (make bench-scale's settled check).
    session = registered_session(tenant_a, register=True, until=SessionStatus.CHECKING)
    ExamSession.unscoped.filter(pk=session.pk).update(consent_at=session.created_at,
                                                      consent_version=tenant_a.institution.consent_version)
    turned_head(session)
    # Facing the camera after the turns: the first frame matches, but the identity has not held yet (one pass in the
    # latest three frames analysed in full: settings.IDENTITY_PASS_FRAMES), so the next frame is analysed too.
    confirming = analysed(session, image("signer1_a.jpg"), after=1)
    assert confirming.findings["Verification"]["Passed"] and confirming.findings["IdentityHeld"] is False
    status = api_client_for(tenant_a.student).get(f"/api/v1/sessions/{session.pk}/gate").json()
    assert status["identity"]["reason"] == "confirming" and not status["can_start"], status
    first = analysed(session, jittered("signer1_a.jpg", 1.01), after=3)
    assert first.carried_from is None and first.findings["IdentityHeld"] is True
    still = analysed(session, jittered("signer1_a.jpg"), after=6)
    assert still.carried_from == first and len(engine_calls) == 2
    assert still.findings == first.findings
    status = api_client_for(tenant_a.student).get(f"/api/v1/sessions/{session.pk}/gate").json()
    assert status["identity"]["passed"] and status["liveness"]["passed"], status
    # The start rule (the page's and the API's) lets them in on the latest frame's verdict, a carried one.
    from exams import taking
    from exams.models import Exam

    Exam.unscoped.filter(pk=session.exam_id).update(status="published")
    session.refresh_from_db()
    with tenancy.tenant_scope(tenant_a.institution):
        assert taking.session_start_check(session=session).passed
    # Someone else sits down: analysed in full, and not them.
    other = analysed(session, image("signer2_a.jpg"), after=11)
    assert other.carried_from is None and other.findings["Verification"]["Reason"] == "not_matching"
    # The student is back: their frame is analysed again (the last verdict accused), then carried.
    back = analysed(session, jittered("signer1_a.jpg", 1.02), after=16)
    again = analysed(session, jittered("signer1_a.jpg"), after=21)
    assert back.carried_from is None and again.carried_from == back and len(engine_calls) == 4
    assert back.findings["IdentityHeld"] is True  # two of the latest three analyses matched: first and back
    # Older than FRAME_SKIP_MAX_AGE_SECONDS: analysed in full, never refreshed (the start rule reads its verdict).
    late = analysed(session, jittered("signer1_a.jpg", 1.03), after=16 + settings.FRAME_SKIP_MAX_AGE_SECONDS + 1)
    assert late.carried_from is None and "References" in engine_calls[-1] and len(engine_calls) == 5


def test_a_student_excused_from_the_head_turns_is_settled_on_the_identity_check(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    from exams.accommodations import accommodation_set

    with tenancy.tenant_scope(tenant_a.institution):
        accommodation_set(actor=tenant_a.admin, student=tenant_a.student, exempt_checks=["liveness"],
                          reason="Camera fixed to the side of the screen")
    session = registered_session(tenant_a, register=True, until=SessionStatus.CHECKING)
    analysed(session, image("signer1_a.jpg"), after=1)  # matches; held once the next one does too
    first = analysed(session, jittered("signer1_a.jpg", 1.01), after=3)
    still = analysed(session, jittered("signer1_a.jpg"), after=6)
    assert still.carried_from == first and len(engine_calls) == 2


def test_a_result_of_the_pre_exam_check_is_not_carried_into_the_exam(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    session = registered_session(tenant_a, until=SessionStatus.CHECKING)
    analysed(session, image("signer1_a.jpg"), after=0)
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.IN_PROGRESS,
                                         actor=tenant_a.student)
    first_of_the_exam = analysed(session, jittered("signer1_a.jpg"), after=1)
    assert len(engine_calls) == 2
    assert first_of_the_exam.carried_from is None


def test_process_without_a_session_is_never_skipped(tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    for _ in range(2):
        response = api_client_for(tenant_a.admin).post("/process", {"image": b64("signer1_a.jpg")}, format="json")
        assert response.status_code == 200
    assert len(engine_calls) == 2


def test_under_overload_it_analyses_the_newest_frame_and_sheds_the_older_one(
        tenant_a: Tenant, engine_calls: list[dict[str, Any]], settings: Any) -> None:
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from proctoring import selectors

    settings.FRAME_SHED_AFTER_SECONDS = 10
    session = registered_session(tenant_a)
    now = timezone.now()
    with tenancy.tenant_scope(None):
        frames = []
        for waited in (25, 12):  # both waited behind a backlog; the second is the newer
            frame = Frame(institution_id=session.institution_id, session=session,
                          received_at=now - timedelta(seconds=waited))
            frame.image.save("frame.jpg", ContentFile(image("empty_room.jpg")), save=False)
            frame.save()
            frames.append(frame)
        older, newer = (services.frame_analyze(frame_id=f.pk) for f in frames)
    assert (older.status, newer.status) == ("shed", "done")
    assert len(engine_calls) == 1
    with tenancy.tenant_scope(tenant_a.institution):
        live = {s["session"]: s for s in selectors.live_sessions(exam=session.exam)}
    assert live[session.pk]["shed"] == 1 and live[session.pk]["frame"] == newer.pk


def test_without_a_backlog_it_sheds_nothing(tenant_a: Tenant, engine_calls: list[dict[str, Any]]) -> None:
    from django.core.files.base import ContentFile
    from django.utils import timezone

    session = registered_session(tenant_a)
    now = timezone.now()
    with tenancy.tenant_scope(None):
        frames = []
        for taken in (8, 3):  # kept while offline, sent together just now
            frame = Frame(institution_id=session.institution_id, session=session, received_at=now,
                          captured_at=now - timedelta(seconds=taken))
            frame.image.save("frame.jpg", ContentFile(image("empty_room.jpg" if taken == 8 else "signer1_a.jpg")),
                             save=False)
            frame.save()
            frames.append(frame)
        statuses = [services.frame_analyze(frame_id=f.pk).status for f in frames]  # type: ignore[union-attr]
    assert statuses == ["done", "done"] and len(engine_calls) == 2


@pytest.mark.parametrize("name", ["signer2_a.jpg", "grace_hopper.jpg"])
def test_it_barely_sees_a_student_sway_by_a_pixel_and_a_half(name: str) -> None:
    # The camera's picture moved by 1.5 px at 640x480 (a quarter of a thumbnail pixel; the scene beyond
    # the old edge comes into view): sharp edges then fall between whole-pixel candidates, which alone
    # measured 3.2 and 4.4 here; on the half-pixel grid under 3.
    from proctoring import skipping

    scene = Image.open(io.BytesIO(image(name))).convert("RGB").resize((660, 500))
    before = scene.crop((8, 8, 648, 488))
    after = scene.transform((640, 480), Image.Transform.AFFINE, (1, 0, 9.5, 0, 1, 9.5),
                            resample=Image.Resampling.BILINEAR)
    a, b = (skipping.thumbnail(encoded(picture)) for picture in (before, after))
    assert a is not None and b is not None
    assert skipping.difference(a, b) < 3.1


def encoded(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_it_leaves_out_the_edge_a_sway_fills_but_sees_a_phone_held_at_the_edge() -> None:
    # A 2-px sway leaves a strip at the picture's edge that the alignment can only replicate (measured
    # 5.9 and 6.3 with the ring counted: above the default threshold); a phone-sized object (40x75 px)
    # touching the same edge still shows inside the ring.
    from PIL import ImageDraw

    from proctoring import skipping

    for name in ("signer1_a.jpg", "signer2_a.jpg"):
        scene = Image.open(io.BytesIO(image(name))).convert("RGB").resize((640, 480))
        swayed = scene.transform(scene.size, Image.Transform.AFFINE, (1, 0, 2, 0, 1, 2),
                                 resample=Image.Resampling.BILINEAR, fillcolor=scene.getpixel((0, 0)))
        phone = scene.copy()
        ImageDraw.Draw(phone).rounded_rectangle((0, 300, 40, 375), radius=5, fill=(30, 30, 35))
        a, b, c = (skipping.thumbnail(encoded(picture)) for picture in (scene, swayed, phone))
        assert a is not None and b is not None and c is not None
        assert skipping.difference(a, b) < settings.FRAME_SKIP_THRESHOLD <= skipping.difference(a, c), name
