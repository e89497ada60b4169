"""What the worker does per webcam frame besides the engine: every student's frame comes every few seconds, so
each query here is paid hundreds of times a second at scale (scripts/profile_frame_cost.py measures them).
The real local engine runs; a quiet frame carries the last analysed one's result (proctoring.skipping)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile

from accounts import tenancy
from exams.models import Exam, ExamSession
from proctoring import services
from proctoring.models import Frame, Incident
from tests.conftest import Tenant
from tests.proctoring.conftest import image
from tests.proctoring.test_skipping import analysed, faintly_covered, jittered, registered_session

pytestmark = pytest.mark.django_db


def stored(session: ExamSession, picture: bytes, *, after: float) -> Frame:
    """A frame taken ``after`` seconds into the exam, stored and waiting for its analysis."""
    session.refresh_from_db()
    at = session.started_at + timedelta(seconds=after)
    with tenancy.tenant_scope(None):
        frame = Frame(institution_id=session.institution_id, session=session, received_at=at, captured_at=at)
        frame.image.save("frame.jpg", ContentFile(picture), save=False)
        frame.save()
    return frame


def judged(frame: Frame, assert_num_queries: Any, count: int) -> tuple[Frame, list[str]]:
    with tenancy.tenant_scope(None), assert_num_queries(count) as captured:
        done = services.frame_analyze(frame_id=frame.pk)
    assert done is not None and done.status == "done"
    return done, [query["sql"] for query in captured.captured_queries]


def test_it_judges_a_quiet_carried_frame_with_ten_queries(tenant_a: Tenant,
                                                           django_assert_num_queries: Any) -> None:
    """The frame with its session and exam, the frame it may carry (and, sent with its digest, the frame before: a
    frozen camera?), the student's name for the carried 1:1 verdict (as their registration is named now); then, in
    a transaction: the session's lock (read with its exam and the student's accommodation), the frame's status
    again, what the incident rules ask (a talking incident that went quiet? the streaks; a later frame judged? only
    of a frame that would clear something: not of this one), the frame's UPDATE. None of them orders rows it need
    not: an ORDER BY costs compiling, on every frame.

    Fewer queries are possible (the rules' three questions as subqueries of the frame's, the name as one of
    the carried frame's), but each subquery costs Django more CPU to build than the query it saves
    (scripts/profile_frame_cost.py --per-query): the worker's CPU, not the count, decides capacity."""
    session = registered_session(tenant_a, register=True)
    first = analysed(session, image("signer1_a.jpg"), after=1)
    for i in (1, 2):  # past the looking-away baseline (carried frames of a quiet start save the student's pose)
        analysed(session, jittered("signer1_a.jpg"), after=1 + 5 * i)

    done, queries = judged(stored(session, jittered("signer1_a.jpg"), after=16), django_assert_num_queries, 10)

    assert done.carried_from == first
    assert not any(sql.startswith('SELECT "exams_accommodation"') for sql in queries)  # read with the frame
    ordered = [sql for sql in queries if " ORDER BY " in sql]
    assert len(ordered) == 1 and '"proctoring_frame"."thumbnail"' in ordered[0]  # the latest frame it may carry


def test_it_judges_a_quiet_analysed_frame_with_thirteen_queries(tenant_a: Tenant,
                                                                 django_assert_num_queries: Any) -> None:
    """Beside the carried frame's (less the name): the collection (its existence, twice: ours and the
    engine's), the student's references and their vectors."""
    session = registered_session(tenant_a, register=True)
    pictures = [image("signer1_a.jpg"), image("signer1_b.jpg")]
    for i in range(4):  # past the looking-away baseline (its first frames save the student's pose)
        analysed(session, pictures[i % 2], after=1 + 5 * i)

    # Unlike either of the last two analysed frames (a frame like the one before the last is carried from it).
    done, _ = judged(stored(session, faintly_covered("signer1_a.jpg", 0.08), after=21), django_assert_num_queries, 13)

    assert done.carried_from is None


def test_it_judges_a_refreshed_frame_with_the_carried_frames_queries(tenant_a: Tenant,
                                                                    django_assert_num_queries: Any,
                                                                    settings: Any) -> None:
    """A frame past the age limit that barely changed (proctoring.skipping): the carried frame's queries; none of
    the analysed frame's for the 1:1 comparison (the collection, the student's references and their vectors)."""
    settings.FRAME_SKIP_MAX_AGE_SECONDS = 30
    session = registered_session(tenant_a, register=True)
    pictures = [image("signer1_a.jpg"), image("signer1_b.jpg")]
    for i in range(4):  # past the looking-away baseline (its first frames save the student's pose)
        analysed(session, pictures[i % 2], after=1 + 5 * i)

    done, _ = judged(stored(session, jittered("signer1_b.jpg"), after=16 + 31), django_assert_num_queries, 10)

    assert done.carried_from is None and "Refreshed" in done.findings


def test_a_carried_frame_reads_the_incidents_it_extends_in_one_query(tenant_a: Tenant,
                                                                      django_assert_num_queries: Any) -> None:
    """A laptop stays in view (the exam lists it): each of the frame's held kinds extends its open incident
    (an UPDATE of its streak and of the incident), but the incidents are read together."""
    session = registered_session(tenant_a, debounce_frames=2)
    with tenancy.tenant_scope(None):
        Exam.objects.filter(pk=session.exam_id).update(objects_of_interest=["Laptop"])
    for i in range(3):
        analysed(session, jittered("desk_laptop.jpg", 1 + i / 100), after=1 + 5 * i)
    with tenancy.tenant_scope(None):
        extended = Incident.objects.filter(session=session, is_open=True).count()
    assert extended >= 1

    done, queries = judged(stored(session, jittered("desk_laptop.jpg", 1.03), after=16), django_assert_num_queries,
                           10 + 2 * extended)

    assert done.carried_from is not None
    assert sum(sql.startswith('SELECT "proctoring_incident"') for sql in queries) == 1


def test_a_session_takes_an_accommodation_read_with_it_only_from_its_own_institution(
        tenant_a: Tenant, tenant_b: Tenant) -> None:
    """As ``ExamSession.accommodation`` reads it: the student's, in the session's institution."""
    from exams.models import Accommodation

    session = tenant_a.session
    for institution, exempt in ((tenant_b.institution, frozenset()), (tenant_a.institution, {"no_face"})):
        session.remember_accommodation(Accommodation(institution=institution, student=tenant_a.student,
                                                     exempt_checks=["no_face"], reason="Scribe"))
        assert session.exempt_checks == exempt
    session.remember_accommodation(None)
    assert session.exempt_checks == frozenset()


def test_a_carried_frame_names_the_student_as_their_reference_face_is_named_now(tenant_a: Tenant) -> None:
    """The carried 1:1 verdict names the student from their registration today, not as the first frame saw it."""
    from proctoring.models import FaceRegistration

    session = registered_session(tenant_a, register=True)
    first = analysed(session, image("signer1_a.jpg"), after=1)
    with tenancy.tenant_scope(None):
        FaceRegistration.objects.filter(student=tenant_a.student).update(full_name="Sam Renamed")

    carried = analysed(session, jittered("signer1_a.jpg"), after=6)

    assert carried.carried_from == first
    assert {"TestName": "Person Recognition", "Success": True, "Details": "Sam Renamed"} in carried.checks
