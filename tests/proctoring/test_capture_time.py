"""Frames kept offline by the browser arrive with their capture time; ``?wait`` never holds a worker long."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts import tenancy
from exams.models import ExamSession
from proctoring import selectors, services
from proctoring.models import Frame, FrameStatus, Incident
from tests.conftest import Tenant, api_client_for, page_client_for
from tests.proctoring.conftest import b64, start_session

pytestmark = pytest.mark.django_db(transaction=True)


def send(tenant: Tenant, session: ExamSession, captured_at: Any = None, fixture: str = "signer1_b.jpg",
         path: str = "/process") -> Any:
    body: dict[str, Any] = {"image": b64(fixture), "session": session.pk}
    if captured_at is not None:
        body["captured_at"] = captured_at.isoformat() if isinstance(captured_at, datetime) else captured_at
    return api_client_for(tenant.student).post(path, body, format="json")


def begun(tenant: Tenant, *, minutes: int = 5, debounce_frames: int = 1) -> ExamSession:
    """A running session that began some minutes ago."""
    session = start_session(tenant, debounce_frames=debounce_frames)
    earlier = timezone.now() - timedelta(minutes=minutes)
    with tenancy.tenant_scope(tenant.institution):
        ExamSession.objects.filter(pk=session.pk).update(created_at=earlier, started_at=earlier)
        session.refresh_from_db()
    return session


def frame_of(tenant: Tenant, response: Any) -> Frame:
    assert response.status_code == 202, response.content
    with tenancy.tenant_scope(tenant.institution):
        return Frame.objects.get(pk=response.json()["frame"])


def test_it_keeps_the_capture_time_of_a_frame_sent_late(tenant_a: Tenant) -> None:
    session = begun(tenant_a)
    taken = timezone.now() - timedelta(seconds=40)
    frame = frame_of(tenant_a, send(tenant_a, session, taken))
    assert frame.captured_at == taken and frame.received_at > taken + timedelta(seconds=39)
    status = api_client_for(tenant_a.student).get(f"/api/v1/frames/{frame.pk}/").json()
    assert datetime.fromisoformat(status["captured_at"].replace("Z", "+00:00")) == taken


def test_it_takes_the_arrival_time_when_no_capture_time_is_sent(tenant_a: Tenant) -> None:
    frame = frame_of(tenant_a, send(tenant_a, start_session(tenant_a)))
    assert frame.captured_at == frame.received_at


def test_it_clamps_a_capture_time_a_little_ahead_to_the_arrival_time(tenant_a: Tenant) -> None:
    frame = frame_of(tenant_a, send(tenant_a, start_session(tenant_a), timezone.now() + timedelta(seconds=10)))
    assert frame.captured_at == frame.received_at


@pytest.mark.parametrize("captured_at", [
    "yesterday", "2026-13-45T10:00:00+00:00", "2026-01-01T10:00:00", 1700000000, ["2026-01-01"],
])
def test_it_refuses_a_capture_time_that_is_not_an_aware_iso_time(tenant_a: Tenant, captured_at: Any) -> None:
    session = start_session(tenant_a)
    response = send(tenant_a, session, captured_at)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {"captured_at": ["Not an ISO-8601 time with a time zone."]}
    with tenancy.tenant_scope(tenant_a.institution):
        assert not Frame.objects.filter(session=session).exists()


def test_it_refuses_a_capture_time_in_the_future_or_before_the_session_began(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    ahead = send(tenant_a, session, timezone.now() + services.CAPTURE_CLOCK_SKEW + timedelta(seconds=5))
    assert ahead.status_code == 400 and "future" in ahead.json()["error"]["message"]
    with tenancy.tenant_scope(tenant_a.institution):
        session.refresh_from_db()
    began = session.consent_at or session.started_at or session.created_at
    before = send(tenant_a, session, began - services.CAPTURE_CLOCK_SKEW - timedelta(seconds=5))
    assert before.status_code == 400 and "before the session began" in before.json()["error"]["message"]
    for extreme in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:00"):
        assert send(tenant_a, session, extreme).status_code == 400
    with tenancy.tenant_scope(tenant_a.institution):
        assert not Frame.objects.filter(session=session).exists()


def test_it_opens_an_incident_at_the_time_the_frame_was_taken(tenant_a: Tenant) -> None:
    session = begun(tenant_a, debounce_frames=1)
    taken = timezone.now() - timedelta(minutes=2)
    frame = frame_of(tenant_a, send(tenant_a, session, taken, fixture="two_signers.jpg"))
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="multiple_people")
    assert frame.captured_at == taken and incident.started_at == taken


def done_frame(tenant: Tenant, session: ExamSession, *, received_at: datetime, captured_at: datetime) -> Frame:
    frame = Frame(institution=tenant.institution, session=session, received_at=received_at, captured_at=captured_at,
                  status=FrameStatus.DONE, checks=[{"TestName": "Face Detection", "Success": True, "Details": 1}])
    frame.image.save("f.jpg", ContentFile(b"\xff\xd8 not really a jpeg \xff\xd9"))
    return frame


def test_it_places_frames_on_the_timeline_and_around_incidents_at_their_capture_time(tenant_a: Tenant) -> None:
    session = start_session(tenant_a)
    start = timezone.now() - timedelta(minutes=10)
    minute = timedelta(minutes=1)
    with tenancy.tenant_scope(tenant_a.institution):
        ExamSession.objects.filter(pk=session.pk).update(started_at=start, ended_at=start + 10 * minute)
        session.refresh_from_db()
        live = done_frame(tenant_a, session, received_at=start + 5 * minute, captured_at=start + 5 * minute)
        # Taken offline at minute 2, received at minute 8 just before the live frame of minute 8.
        late = done_frame(tenant_a, session, received_at=start + 8 * minute, captured_at=start + 2 * minute)
        newest = done_frame(tenant_a, session, received_at=start + 8 * minute + timedelta(seconds=1),
                            captured_at=start + 8 * minute)
        incident = Incident.objects.create(institution=tenant_a.institution, session=session, kind="no_face",
                                           severity="low", started_at=start + minute, ended_at=start + 3 * minute,
                                           evidence_frame=late)
        around = selectors.frames_around(incident)
    assert around == [late, live, newest]  # the late frame lies during the incident, the others after it
    left, right = 150, 900 - 30
    ticks = [round(left + (right - left) * share, 1) for share in (0.2, 0.5, 0.8)]
    page = page_client_for(tenant_a.proctor).get(f"/sessions/{session.pk}/report")
    assert page.status_code == 200
    assert re.findall(rb'<rect x="([\d.]+)" y="\d+" width="2"', page.content) == [str(x).encode() for x in ticks]
    # The frame sent six minutes late is marked so, and counted: it was not seen live.
    assert page.content.count(b'class="tl-late"') == 1 and re.search(rb'id="late-frames">1 taken', page.content)
    from proctoring.views import late_frame

    taken = timezone.now()  # two capture intervals (5 s) and a little: late; a second or two: live
    assert late_frame({"captured_at": taken, "received_at": taken + timedelta(seconds=12)}, 5)
    assert not late_frame({"captured_at": taken, "received_at": taken + timedelta(seconds=2)}, 5)


def test_it_caps_the_wait_for_analysis_so_no_worker_is_held(tenant_a: Tenant, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "enqueue_analysis", lambda frame_id: False)  # the frame stays pending
    session = start_session(tenant_a)
    began = time.monotonic()
    response = send(tenant_a, session, path="/process?wait=30")
    elapsed = time.monotonic() - began
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert elapsed < 4.0, f"/process?wait=30 held the worker {elapsed:.1f} s"


@pytest.mark.parametrize("wait", ["soon", "nan", "inf"])
def test_it_refuses_a_wait_that_is_not_a_number_of_seconds(tenant_a: Tenant, wait: str) -> None:
    response = send(tenant_a, start_session(tenant_a), path=f"/process?wait={wait}")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_a_frame_dated_before_the_exam_began_is_judged_as_the_exams(tenant_a: Tenant) -> None:
    # Received during the exam with a capture time before its start: kept at the start, and the incident rules
    # judge it (they once skipped it as a frame of the check: a student could date every frame so).
    session = begun(tenant_a, debounce_frames=1)
    frame = frame_of(tenant_a, send(tenant_a, session, session.started_at - timedelta(seconds=1),
                                    fixture="two_signers.jpg"))
    assert frame.captured_at == session.started_at
    with tenancy.tenant_scope(tenant_a.institution):
        assert Incident.objects.filter(session=session, kind="multiple_people").exists()


def test_a_late_frame_opens_what_it_shows_and_clears_nothing(tenant_a: Tenant) -> None:
    session = begun(tenant_a, debounce_frames=1)
    now = timezone.now()
    frame_of(tenant_a, send(tenant_a, session, now - timedelta(seconds=5), fixture="two_signers.jpg"))
    with tenancy.tenant_scope(tenant_a.institution):
        incident = Incident.objects.get(session=session, kind="multiple_people")
    # Frames kept offline (or dated so by a student) arrive after a newer one was judged.
    frame_of(tenant_a, send(tenant_a, session, now - timedelta(seconds=60), fixture="signer1_b.jpg"))
    with tenancy.tenant_scope(tenant_a.institution):
        incident.refresh_from_db()
        assert incident.is_open  # an older frame without the second person says nothing of now
    frame_of(tenant_a, send(tenant_a, session, now - timedelta(seconds=120), fixture="empty_room.jpg"))
    with tenancy.tenant_scope(tenant_a.institution):
        late = Incident.objects.filter(session=session, kind__in=["no_person", "no_face"]).first()
    assert late is not None and late.started_at == now - timedelta(seconds=120)  # what it showed, when


def test_frames_are_kept_only_while_they_can_be_evidence_of_the_exam(tenant_a: Tenant) -> None:
    # An attacker's audit stored 48.8 MB in 16 s at the check of an exam opening the next day, and a session nobody
    # visited after its deadline still took frames.
    from exams.models import Exam
    from exams.statuses import SessionStatus

    session = start_session(tenant_a)
    ExamSession.unscoped.filter(pk=session.pk).update(status=SessionStatus.CHECKING, started_at=None)
    Exam.unscoped.filter(pk=session.exam_id).update(opens_at=timezone.now() + timedelta(hours=20))
    refused = send(tenant_a, session)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "exam_not_open"
    Exam.unscoped.filter(pk=session.exam_id).update(opens_at=timezone.now() + timedelta(minutes=20))
    assert send(tenant_a, session).status_code == 202  # the check opens half an hour before
    Exam.unscoped.filter(pk=session.exam_id).update(opens_at=None, closes_at=timezone.now() - timedelta(minutes=1))
    closed = send(tenant_a, session)  # a session left at the check after the exam closed
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "exam_closed"
    Exam.unscoped.filter(pk=session.exam_id).update(closes_at=None)

    # Running, its deadline (60 min) 10 minutes ago: a frame taken before it still arrives; one taken after does not.
    session = begun(tenant_a, minutes=70)
    assert send(tenant_a, session, timezone.now() - timedelta(minutes=11)).status_code == 202
    late = send(tenant_a, session, timezone.now() - timedelta(minutes=5))
    assert late.status_code == 409 and late.json()["error"]["code"] == "session_not_running"
    assert send(tenant_a, session).status_code == 409
    # Its deadline 40 minutes ago: nothing more, whatever the capture time says.
    session = begun(tenant_a, minutes=100)
    assert send(tenant_a, session, timezone.now() - timedelta(minutes=41)).status_code == 409


def test_a_long_incident_shows_frames_spread_over_it_from_its_first_to_its_last(tenant_a: Tenant) -> None:
    # An audit: only an incident's first six frames were shown, so a look away of 13 frames jumped from its 6th frame
    # to the one after it, and the frame where a student came back was never shown.
    session = start_session(tenant_a)
    start = timezone.now() - timedelta(minutes=10)
    with tenancy.tenant_scope(tenant_a.institution):
        frames = [done_frame(tenant_a, session, received_at=start + timedelta(seconds=3 * i),
                             captured_at=start + timedelta(seconds=3 * i)) for i in range(15)]
        incident = Incident.objects.create(institution=tenant_a.institution, session=session, kind="looking_away",
                                           severity="low", started_at=frames[1].captured_at,
                                           ended_at=frames[13].captured_at, evidence_frame=frames[7])
        around = selectors.frames_around(incident)
    inside = around[1:-1]
    assert around[0] == frames[0] and around[-1] == frames[14]  # before and after it
    assert inside[0] == frames[1] and inside[-1] == frames[13] and frames[7] in inside
    assert len(inside) == selectors.DURING_SHOWN + 1  # spread over it, and its evidence frame
    assert sum(getattr(f, "skipped", 0) for f in inside) + len(inside) == 13  # each frame hidden is counted once
    page = page_client_for(tenant_a.proctor).get(f"/incidents/{incident.pk}/").content.decode()
    assert f"/api/v1/frames/{frames[13].pk}/image" in page and "more …" in page
