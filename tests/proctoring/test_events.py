"""One incident per real event: one second person, k-of-n windows, the session's end, the pre-exam check."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db.models import F
from django.utils import timezone

from accounts import services as account_services
from accounts import tenancy
from exams import services as exam_services
from exams import taking
from exams.models import ExamSession
from exams.statuses import SessionStatus
from proctoring import checks, incidents
from proctoring import review as review_module
from proctoring.models import Frame, FrameStatus, Incident
from proctoring.review import risk
from proctoring.stores import dynamodb
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import image, shot_b64, start_session
from tests.proctoring.test_pipeline import process, register

pytestmark = pytest.mark.django_db(transaction=True)


def _analysis(*, people: int, faces: int) -> dict[str, Any]:
    person = {"Name": "Person", "Confidence": 99.0, "Instances": [{"Confidence": 99.0}] * people}
    return {"Labels": [person] if people else [], "FaceDetails": [{"Confidence": 99.0}] * faces,
            "ModerationLabels": [], "FaceMatches": []}


@pytest.mark.parametrize("people, faces, kinds", [
    (2, 2, {"multiple_people"}),  # one second person: both checks fail, one kind
    (1, 2, {"multiple_faces"}),  # a second face without a second person box still opens one
    (2, 1, {"multiple_people"}),
])
def test_a_second_person_is_one_kind(people: int, faces: int, kinds: set[str]) -> None:
    outcome = checks.evaluate(_analysis(people=people, faces=faces), checks.Policy(), name_of=lambda _: None)
    assert outcome.kinds - {"unregistered_face"} == kinds


def _incidents(tenant: Tenant, session: Any) -> list[Incident]:
    with tenancy.tenant_scope(tenant.institution):
        return list(Incident.objects.filter(session=session).order_by("started_at", "id"))


def _frames(tenant: Tenant, session: Any) -> list[Frame]:
    with tenancy.tenant_scope(tenant.institution):
        return list(Frame.objects.filter(session=session))


def test_a_second_person_opens_one_incident_and_counts_once(tenant_a: Tenant, dynamo: str) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    incidents = _incidents(tenant_a, session)
    assert [(i.kind, i.severity) for i in incidents] == [("multiple_people", "high")]
    assert risk(incidents)[0] == 30
    assert len(dynamodb.incidents_of_session(tenant_a.institution.pk, session.pk)) == 1


def test_the_risk_counts_an_event_seen_by_two_checks_once() -> None:
    now = timezone.now()
    people = Incident(kind="multiple_people", severity="high", started_at=now - timedelta(seconds=30), ended_at=now)
    faces = Incident(kind="multiple_faces", severity="medium", started_at=now - timedelta(seconds=10), ended_at=now)
    later = Incident(kind="multiple_faces", severity="medium", started_at=now + timedelta(minutes=5),
                     ended_at=now + timedelta(minutes=5))
    score, items = risk([people, faces, later], now=now)
    assert [item.points for item in items] == [30, 0, 15] and score == 45
    assert items[1].reason == "the same event as several people (counted there)"


def test_k_of_n_ignores_a_single_frame_and_catches_an_intermittent_one(tenant_a: Tenant, dynamo: str) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=2)  # 2 of the latest 3 frames
    for fixture in ("two_signers.jpg", "signer1_b.jpg", "signer1_b.jpg", "signer1_b.jpg"):
        process(tenant_a, fixture, session=session, user=tenant_a.student)
    assert _incidents(tenant_a, session) == []  # a single noisy frame
    for fixture in ("two_signers.jpg", "signer1_b.jpg", "two_signers.jpg"):
        process(tenant_a, fixture, session=session, user=tenant_a.student)
    frames = _frames(tenant_a, session)
    [incident] = _incidents(tenant_a, session)  # never two frames running, still caught
    assert (incident.kind, incident.is_open, incident.frame_count) == ("multiple_people", True, 2)
    assert incident.first_frame == frames[4] and incident.started_at == frames[4].captured_at
    process(tenant_a, "signer1_b.jpg", session=session, user=tenant_a.student)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    [incident] = _incidents(tenant_a, session)  # flickering: the same incident, not a new one each time
    assert incident.is_open and incident.frame_count == 3


def test_wrong_person_still_needs_consecutive_frames(tenant_a: Tenant) -> None:
    other = account_services.user_create(institution=tenant_a.institution, email="other@alpha.test",
                                         role="student", full_name="Other")
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    register(tenant_a, "signer2_a.jpg", "Olga Other", student=other)
    session = start_session(tenant_a, debounce_frames=1)
    for fixture in ("signer2_a.jpg", "signer2_a.jpg", "signer1_b.jpg", "signer2_a.jpg", "signer2_a.jpg"):
        process(tenant_a, fixture, session=session, user=tenant_a.student)
    assert _incidents(tenant_a, session) == []  # 4 of the latest 5, never 3 running
    process(tenant_a, "signer2_a.jpg", session=session, user=tenant_a.student)
    assert [(i.kind, i.is_open) for i in _incidents(tenant_a, session)] == [("wrong_person", True)]
    process(tenant_a, "signer1_b.jpg", session=session, user=tenant_a.student)
    [incident] = _incidents(tenant_a, session)  # and the first frame of the student closes it, as before
    assert not incident.is_open and incident.ended_at == _frames(tenant_a, session)[-1].captured_at


def _away_since(incident_id: int, left: Any, **fields: Any) -> None:
    """Back-date an ongoing event (away from the tab, camera off): it began, and was last reported, at ``left``."""
    details = Incident.objects.get(pk=incident_id).details
    Incident.objects.filter(pk=incident_id).update(**{"started_at": left, "ended_at": left, **fields},
                                                   details={**details, "left_at": left.isoformat()})


def _end(session: Any, tenant: Tenant, to: str) -> None:
    with tenancy.tenant_scope(tenant.institution):
        session.refresh_from_db()
        if to == SessionStatus.SUBMITTED:
            taking.session_submit(session=session, student=tenant.student)
        else:
            exam_services.session_transition(session_id=session.pk, to=to, actor=None)


@pytest.mark.parametrize("to", [SessionStatus.SUBMITTED, SessionStatus.EXPIRED, SessionStatus.TERMINATED])
def test_open_incidents_close_when_the_session_ends(tenant_a: Tenant, dynamo: str, to: str) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    # The frame was the last one the camera sent, ten minutes ago.
    with tenancy.tenant_scope(tenant_a.institution):
        frame = Incident.objects.get(session=session).last_frame
        Frame.objects.filter(pk=frame.pk).update(captured_at=frame.captured_at - timedelta(minutes=10))
        Incident.objects.filter(session=session).update(started_at=frame.captured_at - timedelta(minutes=10),
                                                        ended_at=frame.captured_at - timedelta(minutes=10))
    [incident] = _incidents(tenant_a, session)
    seen = frame.captured_at - timedelta(minutes=10)
    assert incident.is_open and incident.ended_at == seen  # open: seen until its latest frame
    assert risk([incident])[0] == 30  # no point a minute while no frame shows it
    _end(session, tenant_a, to)
    session.refresh_from_db()
    [incident] = _incidents(tenant_a, session)
    # It closes where the frames stopped showing it, not ten minutes later when the session ended.
    assert session.status == to and not incident.is_open and incident.ended_at == seen < session.ended_at
    assert risk([incident])[0] == 30
    # (the item written before the times were moved back sorts by its old start: the latest version counts)
    item = max(dynamodb.incidents_of_session(tenant_a.institution.pk, session.pk), key=lambda i: int(i["Version"]["N"]))
    assert item["Open"] == {"BOOL": False} and item["Version"] == {"N": "2"}
    assert item["EndedAt"] == {"S": seen.isoformat()}


def test_an_open_incident_lasts_as_far_as_its_frames(tenant_a: Tenant, dynamo: str) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    second = max(_frames(tenant_a, session), key=lambda f: f.captured_at)
    [incident] = _incidents(tenant_a, session)
    assert (incident.is_open, incident.ended_at, incident.last_frame_id) == (True, second.captured_at, second.pk)
    process(tenant_a, "signer1_b.jpg", session=session, user=tenant_a.student)  # the student alone: it ends
    [incident] = _incidents(tenant_a, session)
    third = max(_frames(tenant_a, session), key=lambda f: f.captured_at)
    assert not incident.is_open and incident.ended_at == third.captured_at  # the first frame without it


def test_pre_exam_findings_are_kept_apart_and_out_of_the_risk(tenant_a: Tenant, dynamo: str) -> None:
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1, until=SessionStatus.CHECKING)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)  # someone helps set up
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.IN_PROGRESS, actor=tenant_a.student)
    [check] = _incidents(tenant_a, session)
    assert check.during_check and not check.is_open  # the check's stretch closed when the exam began
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    check, exam = _incidents(tenant_a, session)
    assert (exam.kind, exam.during_check, exam.is_open) == ("multiple_people", False, True)
    score, items = risk([check, exam])
    assert score == 30 and items[0].points == 0 and items[0].reason == "during the check before the exam"
    items = {i["IncidentId"]["N"]: i for i in dynamodb.incidents_of_session(tenant_a.institution.pk, session.pk)}
    assert items[str(check.pk)]["DuringCheck"] == {"BOOL": True} and "DuringCheck" not in items[str(exam.pk)]

    _end(session, tenant_a, SessionStatus.SUBMITTED)
    html = page_client_for(tenant_a.proctor).get(f"/sessions/{session.pk}/report").content.decode()
    assert 'id="risk-score">30<' in html
    assert "Exam started" in html and "Exam ended" in html
    assert "tl-bar high check" in html and "during the check before the exam" in html


@pytest.mark.parametrize("late", ["taken during the check", "analysed after the end"])
def test_a_frame_judged_after_its_stretch_ended_opens_nothing(tenant_a: Tenant, late: str) -> None:
    session = start_session(tenant_a, debounce_frames=1)
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
        taken = session.started_at - timedelta(seconds=5) if late == "taken during the check" else timezone.now()
        if late == "analysed after the end":
            exam_services.session_transition(session_id=session.pk, to=SessionStatus.TERMINATED, actor=None)
        frame = Frame.objects.create(institution=tenant_a.institution, session=session, received_at=taken,
                                     status=FrameStatus.DONE, checks=[])
        frame = Frame.objects.select_related("session__exam").get(pk=frame.pk)
        assert incidents.apply_frame(frame=frame, kinds={"multiple_people"}, exam=frame.session.exam) == []
        assert not Incident.objects.filter(session=session).exists()


def test_browser_events_of_the_pre_exam_check_are_kept_apart(tenant_a: Tenant) -> None:
    session = start_session(tenant_a, until=SessionStatus.CHECKING)
    client = api_client_for(tenant_a.student)
    during = client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": "tab_hidden"}, format="json")
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.IN_PROGRESS, actor=tenant_a.student)
    after = client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": "tab_hidden"}, format="json")
    listed = api_client_for(tenant_a.proctor).get(f"/api/v1/incidents/?session={session.pk}").json()["results"]
    assert {i["id"]: i["during_check"] for i in listed} == {during.json()["incident"]: True,
                                                            after.json()["incident"]: False}
    assert risk(_incidents(tenant_a, session))[0] == 15


def test_the_longest_window_an_exam_allows_is_kept(tenant_a: Tenant) -> None:
    session = start_session(tenant_a, debounce_frames=100)  # 100 of the latest 199 frames
    start = timezone.now()
    with tenancy.tenant_scope(tenant_a.institution):
        opened = []
        for index, held in enumerate([True] * 50 + [False] + [True] * 50):
            frame = Frame.objects.create(institution=tenant_a.institution, session=session, status=FrameStatus.DONE,
                                         received_at=start + timedelta(seconds=index), checks=[])
            frame = Frame.objects.select_related("session__exam").get(pk=frame.pk)
            kinds = {"object_of_interest"} if held else set()
            opened += incidents.apply_frame(frame=frame, kinds=kinds, exam=frame.session.exam)
            assert bool(opened) == (index == 100)
    assert opened[0].frame_count == 100 and opened[0].started_at == start


def _play(tenant: Tenant, session: Any, pattern: str, kind: str = "object_of_interest") -> list[tuple[int, Incident]]:
    """Judge one frame a second for each character of ``pattern`` ("1": ``kind`` holds); answers (index, incident)
    for each incident a frame opened or reopened."""
    start = timezone.now()
    changed = []
    with tenancy.tenant_scope(tenant.institution):
        for index, held in enumerate(pattern):
            frame = Frame.objects.create(institution=tenant.institution, session=session, status=FrameStatus.DONE,
                                         received_at=start + timedelta(seconds=index), checks=[])
            frame = Frame.objects.select_related("session__exam").get(pk=frame.pk)
            kinds = {kind} if held == "1" else set()
            changed += [(index, i) for i in incidents.apply_frame(frame=frame, kinds=kinds, exam=frame.session.exam)
                        if i.is_open]
    return changed


@pytest.mark.parametrize("kind", ["object_of_interest", "multiple_people", "multiple_faces"])
def test_a_phone_raised_on_one_frame_in_three_opens_one_incident_from_its_first_sighting(
        tenant_a: Tenant, kind: str) -> None:
    # 2 of the latest 3 frames never holds; 4 of the latest 12 does (an audit's cheater showed a phone, and a second
    # person, this way).
    session = start_session(tenant_a, debounce_frames=2)
    opened = _play(tenant_a, session, "100" * 10, kind)
    assert [index for index, _ in opened] == [9]
    incident = _incidents(tenant_a, session)[0]
    first = _frames(tenant_a, session)[0]
    assert (incident.is_open, incident.first_frame, incident.started_at) == (True, first, first.captured_at)
    assert incident.frame_count == 10 and len(_incidents(tenant_a, session)) == 1  # stays open, one incident
    # Three frames without it in between: the incident still starts at the first sighting in the window.
    later = start_session(tenant_a, debounce_frames=2)
    assert [index for index, _ in _play(tenant_a, later, "10001001001", kind)] == [10]
    incident = _incidents(tenant_a, later)[0]
    assert (incident.started_at, incident.frame_count) == (_frames(tenant_a, later)[0].captured_at, 4)


@pytest.mark.parametrize("pattern, kind", [
    ("1000" * 12, "object_of_interest"),  # one frame in four: 3 of 12, noise as much as a phone
    ("100100000000" * 4, "object_of_interest"),  # two frames a minute
    ("100" * 10, "no_person"),  # the sparse window is an object's and a second person's only
])
def test_the_sparse_window_needs_a_third_of_a_minutes_frames(tenant_a: Tenant, pattern: str, kind: str) -> None:
    session = start_session(tenant_a, debounce_frames=2)
    assert _play(tenant_a, session, pattern, kind) == []


def test_a_phone_back_within_the_sparse_window_reopens_its_incident_counting_each_frame_once(tenant_a: Tenant) -> None:
    session = start_session(tenant_a, debounce_frames=2)
    opened = _play(tenant_a, session, "110001001000")  # opens on 2 of 3, closes, back on 4 of the latest 12
    assert [index for index, _ in opened] == [1, 8]
    [incident] = _incidents(tenant_a, session)
    assert incident.frame_count == 4 and incident.details["returns"] == 1
    assert incident.started_at == _frames(tenant_a, session)[0].captured_at


def test_a_timeline_label_at_an_edge_is_anchored_there_not_cut_off() -> None:
    from proctoring.views import timeline

    began = timezone.now() - timedelta(minutes=30)
    session = ExamSession(started_at=began, ended_at=began + timedelta(minutes=30), created_at=began)
    marks = {m["label"]: m["anchor"] for m in timeline(session, [], [])["marks"]}
    assert marks == {"Exam started": "start", "Exam ended": "end"}  # "Exam ended" was cut at the right edge


def test_repeated_browser_events_extend_one_incident(tenant_a: Tenant) -> None:
    # A student flicking between tabs: one incident that counts them, not one each (a page could send thousands).
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)

    def event(kind: str = "tab_hidden") -> int:
        response = client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": kind}, format="json")
        assert response.status_code == 201, response.content
        return response.json()["incident"]

    first = event()
    assert event() == first and event() == first
    other = event("copy_paste")  # another kind is another event
    assert other != first
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(pk=first)
        assert incident.details["count"] == 3 and incident.ended_at > incident.started_at
        # A minute later it is a new event.
        gap = timedelta(seconds=review_module.BROWSER_EVENT_MERGE_SECONDS + 1)
        Incident.objects.filter(pk=first).update(started_at=incident.started_at - gap, ended_at=incident.ended_at - gap)
    assert event() != first


def test_an_empty_seat_is_one_kind() -> None:
    outcome = checks.evaluate(_analysis(people=0, faces=0), checks.Policy(), name_of=lambda _: None)
    assert outcome.kinds == {"no_person"}  # not "no person" and "no face": two queue items for one event
    outcome = checks.evaluate(_analysis(people=1, faces=0), checks.Policy(), name_of=lambda _: None)
    assert outcome.kinds == {"no_face"}  # someone there, no face: its own kind still


def test_a_face_that_cannot_be_judged_neither_counts_nor_breaks_a_someone_else_streak(tenant_a: Tenant) -> None:
    # The impostor's face, blurred or too dark on one frame, once split a "someone else" incident (or opened it
    # late): that frame says nothing about who it is.
    session = start_session(tenant_a, debounce_frames=1)

    def judged(*kinds: str) -> None:
        with tenancy.tenant_scope(tenant_a.institution):
            frame = Frame.objects.create(institution=tenant_a.institution, session=session,
                                         received_at=timezone.now(), status=FrameStatus.DONE, checks=[])
            frame = Frame.objects.select_related("session__exam").get(pk=frame.pk)
            incidents.apply_frame(frame=frame, kinds=set(kinds), exam=frame.session.exam)

    for kinds in (["wrong_person"], ["wrong_person"], ["face_not_verifiable"], ["wrong_person"]):
        judged(*kinds)
    assert [(i.kind, i.is_open) for i in _incidents(tenant_a, session)
            if i.kind == "wrong_person"] == [("wrong_person", True)]  # 3 judged frames running
    judged("face_not_verifiable")
    assert [i.is_open for i in _incidents(tenant_a, session) if i.kind == "wrong_person"] == [True]
    judged()  # the student's own face again
    assert [i.is_open for i in _incidents(tenant_a, session) if i.kind == "wrong_person"] == [False]


def test_the_risk_counts_a_condition_that_comes_back_within_a_minute_once() -> None:
    now = timezone.now()

    def seen(kind: str, start: int, end: int, severity: str = "high") -> Incident:
        return Incident(kind=kind, severity=severity, started_at=now + timedelta(seconds=start),
                        ended_at=now + timedelta(seconds=end))

    first, again, faces_again, much_later = (seen("multiple_people", 0, 20), seen("multiple_people", 50, 70),
                                             seen("multiple_faces", 100, 110, "medium"),
                                             seen("multiple_people", 400, 420))
    score, items = risk([first, again, faces_again, much_later], now=now + timedelta(minutes=10))
    assert [item.points for item in items] == [30, 0, 0, 30] and score == 60
    assert items[1].reason == "the same several people again within 60 s (counted with the first)"


def test_a_condition_back_within_a_minute_reopens_its_incident_until_someone_reviews_it(tenant_a: Tenant,
                                                                                       dynamo: str) -> None:
    # A phone on two frames and off three, again and again, made six incidents in 2.5 minutes to decide one by one.
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    for name in ("two_signers.jpg", "signer1_b.jpg", "two_signers.jpg"):
        process(tenant_a, name, session=session, user=tenant_a.student)
    [incident] = _incidents(tenant_a, session)
    assert (incident.is_open, incident.frame_count, incident.details["returns"]) == (True, 2, 1)
    process(tenant_a, "signer1_b.jpg", session=session, user=tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        review_module.incident_review(incident_id=incident.pk, reviewer=tenant_a.proctor, decision="dismissed")
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)  # decided: a new one
    assert [(i.kind, i.is_open) for i in _incidents(tenant_a, session)] == [
        ("multiple_people", False), ("multiple_people", True)]


@pytest.mark.parametrize(("pattern", "kinds"), [
    # An impostor who sometimes scores in the band (59, 78, 86 again and again) opened nothing: one band frame in
    # three broke "someone else" (an audit). A band frame is neutral to it: the clear failures count.
    (["wrong_person", "wrong_person", "identity_unclear"] * 3, ["wrong_person"]),
    # A look-alike, or a student leaning in, scoring in the band on every frame: Low, "not clearly the student".
    (["identity_unclear"] * 4, ["identity_unclear"]),
])
def test_a_weak_match_neither_breaks_a_clear_one_nor_accuses(tenant_a: Tenant, pattern: list[str],
                                                             kinds: list[str]) -> None:
    session = start_session(tenant_a, debounce_frames=1)
    start = timezone.now()
    with tenancy.tenant_scope(tenant_a.institution):
        for index, kind in enumerate(pattern):
            frame = Frame.objects.create(institution=tenant_a.institution, session=session, status=FrameStatus.DONE,
                                         received_at=start + timedelta(seconds=5 * index), checks=[])
            frame = Frame.objects.select_related("session__exam").get(pk=frame.pk)
            incidents.apply_frame(frame=frame, kinds={kind}, exam=frame.session.exam)
    opened = _incidents(tenant_a, session)
    assert [i.kind for i in opened] == kinds
    assert [i.severity for i in opened] == (["high"] if kinds == ["wrong_person"] else ["low"])


def test_a_second_window_of_the_exam_is_a_low_browser_incident_merged_with_the_next_report(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    reports = [client.post(f"/api/v1/sessions/{session.pk}/events", {"kind": "second_window", "detail": "a tab"},
                           format="json") for _ in range(2)]
    assert [r.status_code for r in reports] == [201, 201]
    assert reports[0].json()["incident"] == reports[1].json()["incident"]
    (incident,) = _incidents(tenant_a, session)
    assert (incident.kind, incident.severity, incident.details["count"]) == ("second_window", "low", 2)
    assert incident.get_kind_display() == "Exam open in two windows"


def test_coming_back_to_the_exam_tab_ends_the_incident_leaving_it_opened(tenant_a: Tenant) -> None:
    # An audit: "left the exam tab" said when, never for how long (a second and twenty minutes read the same).
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"

    def ago(incident_id: int, seconds: float) -> None:  # the tab was left ``seconds`` ago
        with tenancy.tenant_scope(tenant_a.institution):
            incident = Incident.objects.get(pk=incident_id)
            left = timezone.now() - timedelta(seconds=seconds)
            Incident.objects.filter(pk=incident_id).update(
                started_at=min(incident.started_at, left), ended_at=left,
                details={**incident.details, "left_at": left.isoformat()})

    first = client.post(url, {"kind": "tab_hidden", "detail": "tab hidden"}, format="json").json()["incident"]
    ago(first, 20)
    back = client.post(url, {"kind": "tab_hidden", "back": True}, format="json")
    assert back.status_code == 200 and back.json()["incident"] == first
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(pk=first)
    assert 19 <= incident.details["away_seconds"] <= 22 and "left_at" not in incident.details
    assert 19 <= (incident.ended_at - incident.started_at).total_seconds() <= 22

    # Left again soon after: the same incident, the time away added up; a second "back" adds nothing.
    assert client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"] == first
    ago(first, 5)
    client.post(url, {"kind": "tab_hidden", "back": True}, format="json")
    assert client.post(url, {"kind": "tab_hidden", "back": True}, format="json").json()["incident"] is None
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(pk=first)
    assert 24 <= incident.details["away_seconds"] <= 28 and incident.details["count"] == 2
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{first}/").content.decode()
    assert "Away from the exam tab for 2" in page and "in all, over 2 times" in page

    refused = client.post(url, {"kind": "copy_paste", "back": True}, format="json")
    assert refused.status_code == 400

    # A decision stands on what it saw: a later "back" (forged, or late) changes nothing of a decided incident.
    assert client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"] == first
    with tenancy.tenant_scope(tenant_a.institution):
        review_module.incident_review(incident_id=first, reviewer=tenant_a.proctor, decision="confirmed")
        decided = Incident.objects.get(pk=first)
    assert client.post(url, {"kind": "tab_hidden", "back": True}, format="json").json()["incident"] is None
    with tenancy.tenant_scope(tenant_a.institution):
        assert Incident.objects.get(pk=first).details == decided.details


def test_a_short_absence_counts_from_when_the_tab_was_left_not_when_the_page_said_so(tenant_a: Tenant) -> None:
    # A re-audit: the page reports leaving 0.3 s late (a reload is not leaving), and each absence was that much short.
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"
    incident = client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"]
    client.post(url, {"kind": "tab_hidden", "back": True}, format="json")
    with tenancy.tenant_scope(tenant_a.institution):
        away = Incident.objects.get(pk=incident).details["away_seconds"]
    assert away >= 0.25  # the page's 0.3 s, less rounding


def test_a_student_away_from_the_exam_tab_is_ongoing_until_they_come_back_or_the_session_ends(
        tenant_a: Tenant) -> None:
    # A proctor's audit: a student away for four minutes showed "0 ongoing" on the live view and "Lasted 0 s" on the
    # incident, which was created already closed; only their return gave it a length.
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"
    live = f"/api/v1/exams/{session.exam_id}/live"

    def ongoing() -> list[str]:
        [card] = api_client_for(tenant_a.proctor).get(live).json()["sessions"]
        return [incident["kind"] for incident in card["incidents"]]

    first = client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"]
    assert ongoing() == ["tab_hidden"]
    with tenancy.tenant_scope(tenant_a.institution):  # left 40 s ago
        left = timezone.now() - timedelta(seconds=40)
        _away_since(first, left)
        for seconds in (35, 30, 25, 20, 10, 5):  # what the camera saw while they were away
            meanwhile = Frame(institution=tenant_a.institution, session=session, status=FrameStatus.DONE,
                              received_at=timezone.now() - timedelta(seconds=seconds),
                              captured_at=timezone.now() - timedelta(seconds=seconds))
            meanwhile.image.save("f.jpg", ContentFile(image("signer1_a.jpg")))
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{first}/").content.decode()
    assert "still away from the exam tab" in page and re.search(r"4[01] s so far", page)
    assert f'alt="Frame {meanwhile.pk}"' in page  # up to the latest (three frames after the leave, before)
    client.post(url, {"kind": "tab_hidden", "back": True}, format="json")
    assert ongoing() == []
    # Away again five minutes later: a new absence. Its return never comes (the page was closed); away again two
    # minutes later: the one left open ends, and one absence is open, never two.
    with tenancy.tenant_scope(tenant_a.institution):
        Incident.objects.filter(pk=first).update(ended_at=timezone.now() - timedelta(minutes=5))
    second = client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"]
    assert second != first and ongoing() == ["tab_hidden"]
    with tenancy.tenant_scope(tenant_a.institution):
        Incident.objects.filter(pk=second).update(ended_at=timezone.now() - timedelta(minutes=2))
    third = client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        assert third != second and not Incident.objects.get(pk=second).is_open
        assert Incident.objects.filter(session=session, kind="tab_hidden", is_open=True).count() == 1
    # The session ends while they are away: the absence ends with it, counted until then.
    with tenancy.tenant_scope(tenant_a.institution):
        left = timezone.now() - timedelta(seconds=30)
        incident = Incident.objects.get(pk=third)
        Incident.objects.filter(pk=third).update(started_at=left, details={**incident.details,
                                                                           "left_at": left.isoformat()})
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.SUBMITTED, actor=tenant_a.student)
        ended = Incident.objects.get(pk=third)
    assert not ended.is_open and 29 <= ended.details["away_seconds"] <= 35 and "left_at" not in ended.details


def test_a_stopped_camera_is_ongoing_until_it_runs_again_and_an_ongoing_event_counts_in_the_risk_so_far(
        tenant_a: Tenant) -> None:
    # Left alone by stop 27: "camera stopped" was created closed, "Lasted 0 s", however long the camera stayed off;
    # and an absence still going on counted no minute in the risk until it ended (the live view's risk stayed low
    # while a student was away for ten minutes).
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"
    # The exam page reports a running camera at each start: with nothing stopped, nothing happens.
    assert client.post(url, {"kind": "camera_stopped", "back": True}, format="json").json()["incident"] is None
    stopped = client.post(url, {"kind": "camera_stopped", "detail": "camera track ended"}, format="json").json()
    with tenancy.tenant_scope(tenant_a.institution):  # stopped five minutes ago
        off = timezone.now() - timedelta(minutes=5)
        incident = Incident.objects.get(pk=stopped["incident"])
        assert incident.is_open
        _away_since(incident.pk, off)
        incident.refresh_from_db()
    [item] = risk([incident])[1]
    assert item.points == 30 + 4 and "lasted 5 min" in item.reason  # so far, while it goes on
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{incident.pk}/").content.decode()
    assert "not yet: the camera is still off" in page and re.search(r"5 min [0-9]+ s so far", page)
    # The page turned the camera on again (or was reloaded and started it): the incident ends, counting the time off.
    client.post(url, {"kind": "camera_stopped", "detail": "camera on again", "back": True}, format="json")
    with tenancy.tenant_scope(tenant_a.institution):
        ended = Incident.objects.get(pk=incident.pk)
    assert not ended.is_open and 299 <= ended.details["away_seconds"] <= 305 and "left_at" not in ended.details
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{incident.pk}/").content.decode()
    assert re.search(r"The camera was off for (299|30[0-5]) s", page)
    [item] = risk([ended])[1]
    assert "lasted 5 min" in item.reason
    # Off again when the session ends: it ends with the session.
    again = client.post(url, {"kind": "camera_stopped"}, format="json").json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        exam_services.session_transition(session_id=session.pk, to=SessionStatus.SUBMITTED, actor=tenant_a.student)
        assert not Incident.objects.get(pk=again).is_open
    # Only an event that lasts is over.
    assert client.post(url, {"kind": "copy_paste", "back": True}, format="json").status_code == 400


def test_a_frame_taken_after_the_camera_stopped_ends_that_incident(tenant_a: Tenant) -> None:
    # A re-audit: a student whose camera stopped reopened the exam in a new tab, camera on; only the tab that saw it
    # stop says it is back, so "camera stopped" stayed ongoing until the session ended. Frames come only while the
    # camera runs: the first taken after the stop ends it.
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a)
    url = f"/api/v1/sessions/{session.pk}/events"
    stopped = api_client_for(tenant_a.student).post(url, {"kind": "camera_stopped"}, format="json").json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):  # stopped two minutes ago
        off = timezone.now() - timedelta(minutes=2)
        _away_since(stopped, off)
    # A frame taken before it stopped again, sent late (kept offline), says nothing of this stop.
    with tenancy.tenant_scope(tenant_a.institution):
        Incident.objects.filter(pk=stopped).update(started_at=off - timedelta(minutes=5))  # a first stretch before
        ExamSession.objects.filter(pk=session.pk).update(started_at=off - timedelta(minutes=10))
    late = api_client_for(tenant_a.student).post("/process?wait=30", {
        "image": shot_b64("signer1_a.jpg"), "session": session.pk,
        "captured_at": (off - timedelta(minutes=1)).isoformat()}, format="json")
    assert late.status_code == 200, late.content
    with tenancy.tenant_scope(tenant_a.institution):
        assert Incident.objects.get(pk=stopped).is_open
    # Nor one taken just before it, stamped a second ahead by the page's clock (still on its way at the stop).
    ahead = api_client_for(tenant_a.student).post("/process?wait=30", {
        "image": shot_b64("signer2_a.jpg"), "session": session.pk,
        "captured_at": (off + timedelta(seconds=1)).isoformat()}, format="json")
    assert ahead.status_code == 200, ahead.content
    with tenancy.tenant_scope(tenant_a.institution):
        assert Incident.objects.get(pk=stopped).is_open
    process(tenant_a, "signer1_a.jpg", session=session, user=tenant_a.student)
    with tenancy.tenant_scope(tenant_a.institution):
        ended = Incident.objects.get(pk=stopped)
    assert not ended.is_open and 119 <= ended.details["away_seconds"] <= 150 and "left_at" not in ended.details


def test_a_second_report_of_an_ongoing_event_keeps_when_it_began_and_one_left_open_keeps_its_time(
        tenant_a: Tenant) -> None:
    # A re-audit: the camera reported stopped again while it was off restarted its clock (the minutes it had been off
    # were lost); and an absence whose return was lost, closed when the next opened, lost the time it was known to
    # last.
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"
    stopped = client.post(url, {"kind": "camera_stopped"}, format="json").json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        off = timezone.now() - timedelta(seconds=50)
        incident = Incident.objects.get(pk=stopped)
        _away_since(stopped, off, ended_at=timezone.now() - timedelta(seconds=30))
    assert client.post(url, {"kind": "camera_stopped"}, format="json").json()["incident"] == stopped
    with tenancy.tenant_scope(tenant_a.institution):
        assert Incident.objects.get(pk=stopped).details["left_at"] == off.isoformat()
        # No return came, and the camera is reported off again three minutes after it was last heard of.
        Incident.objects.filter(pk=stopped).update(ended_at=timezone.now() - timedelta(minutes=3),
                                                   details={**incident.details, "left_at": (
                                                       timezone.now() - timedelta(minutes=4)).isoformat()})
    client.post(url, {"kind": "camera_stopped"}, format="json")
    with tenancy.tenant_scope(tenant_a.institution):
        stale = Incident.objects.get(pk=stopped)
    assert not stale.is_open and 59 <= stale.details["away_seconds"] <= 62


@pytest.mark.parametrize("decision", ["dismissed", "confirmed"])
def test_a_decision_on_an_incident_still_going_on_stands_on_what_the_reviewer_saw(tenant_a: Tenant,
                                                                                decision: str) -> None:
    # An audit of fairness: dismissed while a second person was in view, the incident absorbed the next 30 minutes,
    # unreviewed and out of the risk; confirmed, it grew from 1 to 32 minutes under the same note.
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    [incident] = _incidents(tenant_a, session)
    with tenancy.tenant_scope(tenant_a.institution):
        review_module.incident_review(incident_id=incident.pk, reviewer=tenant_a.proctor, decision=decision)
    for _ in range(2):  # still in view after the decision
        process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    decided, after = _incidents(tenant_a, session)
    assert (decided.pk, decided.is_open, decided.frame_count, decided.review_status) == (
        incident.pk, False, 1, decision)
    assert (after.is_open, after.frame_count, after.review_status, after.details["after_decided"]) == (
        True, 2, "pending", incident.pk)
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{after.pk}/").content.decode()
    assert f'<a href="/incidents/{incident.pk}/">incident {incident.pk}</a>, decided while it went on' in page


def test_an_absence_of_many_short_stretches_counts_their_time_not_the_span_from_first_to_last(
        tenant_a: Tenant) -> None:
    # An audit of fairness: away 5 s every 55 s for half an hour (one incident, merged) "lasted 26 min 40 s" on the
    # reviewer's page and in the risk (30 points, "the most for lasting"), for 2 min 30 s away.
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"
    first = client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"]
    client.post(url, {"kind": "tab_hidden", "back": True}, format="json")
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(pk=first)
        end = timezone.now()
        Incident.objects.filter(pk=first).update(started_at=end - timedelta(seconds=1600), ended_at=end, details={
            **incident.details, "count": 30, "away_seconds": 150.0})
        incident.refresh_from_db()
    [item] = risk([incident])[1]
    assert item.points == 15 + 1 and "lasted 2 min" in item.reason
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{first}/").content.decode()
    assert "2 min 30 s in all, over 30 times within 26 min 40 s" in page


def test_one_switch_away_from_a_full_screen_exam_counts_once(tenant_a: Tenant) -> None:
    # An audit of fairness: the page reports full screen left and the tab hidden for one switch: two incidents,
    # scored 5 + 15.
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"
    client.post(url, {"kind": "fullscreen_exit"}, format="json")
    with tenancy.tenant_scope(tenant_a.institution):  # (the tab's report arrives a little later)
        Incident.objects.filter(session=session).update(started_at=F("started_at") - timedelta(seconds=1),
                                                        ended_at=F("ended_at") - timedelta(seconds=1))
    client.post(url, {"kind": "tab_hidden"}, format="json")
    client.post(url, {"kind": "tab_hidden", "back": True}, format="json")
    score, items = risk(_incidents(tenant_a, session))
    assert score == 15 and sorted(item.points for item in items) == [0, 15]


def test_an_open_incident_the_frames_show_lasts_as_far_as_they_show_it_on_its_page(tenant_a: Tenant) -> None:
    # An audit of fairness: with no frame since, "Lasted ... so far" grew with the clock on the page, not in the risk.
    register(tenant_a, "signer1_a.jpg", "Sam Signer", student=tenant_a.student)
    session = start_session(tenant_a, debounce_frames=1)
    process(tenant_a, "two_signers.jpg", session=session, user=tenant_a.student)
    [incident] = _incidents(tenant_a, session)
    with tenancy.tenant_scope(tenant_a.institution):
        Incident.objects.filter(pk=incident.pk).update(started_at=timezone.now() - timedelta(minutes=10),
                                                       ended_at=timezone.now() - timedelta(minutes=9))
    page = re.sub(r"\s+", " ", page_client_for(tenant_a.proctor).get(f"/incidents/{incident.pk}/").content.decode())
    assert re.search(r'<dd id="lasted">1 min [0-9] s so far</dd>', page)


def test_moments_merged_into_one_incident_do_not_count_as_lasting(tenant_a: Tenant) -> None:
    # Copy and paste ten times over half an hour is one incident (merged); it scored as if it lasted half an hour.
    session = start_session(tenant_a)
    first = api_client_for(tenant_a.student).post(f"/api/v1/sessions/{session.pk}/events", {"kind": "copy_paste"},
                                                  format="json").json()["incident"]
    with tenancy.tenant_scope(tenant_a.institution):
        end = timezone.now()
        Incident.objects.filter(pk=first).update(started_at=end - timedelta(minutes=30), ended_at=end)
        incident = Incident.objects.get(pk=first)
    [item] = risk([incident])[1]
    assert item.points == 15 and "lasted" not in item.reason


def test_a_long_absence_soon_after_leaving_full_screen_counts_on_its_own(tenant_a: Tenant) -> None:
    # A re-audit of 71e8393: full screen left, then the exam tab left 50 s later for 20 minutes, scored 5 (the
    # absence "the same left full screen again within 60 s").
    session = start_session(tenant_a)
    client = api_client_for(tenant_a.student)
    url = f"/api/v1/sessions/{session.pk}/events"
    full = client.post(url, {"kind": "fullscreen_exit"}, format="json").json()["incident"]
    tab = client.post(url, {"kind": "tab_hidden"}, format="json").json()["incident"]
    client.post(url, {"kind": "tab_hidden", "back": True}, format="json")
    with tenancy.tenant_scope(tenant_a.institution):
        now = timezone.now()
        Incident.objects.filter(pk=full).update(started_at=now - timedelta(minutes=21),
                                                ended_at=now - timedelta(minutes=21))
        details = Incident.objects.get(pk=tab).details
        Incident.objects.filter(pk=tab).update(started_at=now - timedelta(minutes=20, seconds=10), ended_at=now,
                                               details={**details, "away_seconds": 1210.0})
    score, _ = risk(_incidents(tenant_a, session))
    assert score == 5 + 30
