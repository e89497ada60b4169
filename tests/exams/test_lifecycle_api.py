"""An exam's whole life over the API only: an admin writes it, enrols a student and publishes it; the student
consents, passes the camera check with real frames (the embedded engine), answers and submits; staff read the
results. No page, no ORM shortcut between the calls."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, Tenant
from tests.proctoring.conftest import image

pytestmark = pytest.mark.django_db(transaction=True)  # frames are analysed on commit, as in production

# A woman looking at the camera, then turning her head to her left or right as the gate asks, looking back at the
# camera after each turn (as tests/browser/conftest.py's turn_head_as_asked does in the browser).
TURNED = {"left": "headpose_woman_her_left.jpg", "right": "headpose_woman_her_right.jpg"}
FRONT = "headpose_woman_front.jpg"


def head_turn(order: list[str]) -> list[str]:
    return [FRONT, FRONT] + [photo for step in order for photo in (TURNED[step], FRONT)]


def signed_in(email: str, password: str = PASSWORD) -> APIClient:
    client = APIClient()
    response = client.post("/api/v1/auth/token", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content[:500]
    return response.json() if response.content else None


def photo(name: str) -> str:
    return base64.b64encode(image(name)).decode()


def test_it_runs_an_exam_from_writing_to_results_over_the_api(tenant_a: Tenant) -> None:
    admin = signed_in(tenant_a.admin.email)
    now = timezone.now()

    # The admin writes the exam and its questions.
    exam = ok(admin.post("/api/v1/exams/", {
        "title": "Statistics final", "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(days=1)).isoformat(), "duration_minutes": 30, "microphone": False,
    }, format="json"), 201)
    questions = f"/api/v1/exams/{exam['id']}/questions"
    choice = ok(admin.post(questions, {"kind": "choice", "prompt": "The median of 2, 3, 9?",
                                       "choices": ["2", "3", "9"], "correct_choice": 1, "points": 2},
                           format="json"), 201)
    text = ok(admin.post(questions, {"kind": "text", "prompt": "What does a standard deviation measure?"},
                         format="json"), 201)
    spare = ok(admin.post(questions, {"kind": "text", "prompt": "A question to drop"}, format="json"), 201)
    assert (choice["position"], text["position"], spare["position"]) == (1, 2, 3)
    ok(admin.delete(f"{questions}/{spare['id']}"), 204)
    edited = ok(admin.patch(f"{questions}/{text['id']}", {"prompt": "What does a standard deviation measure, "
                                                                    "in one sentence?"}, format="json"))
    assert edited["kind"] == "text" and edited["prompt"].endswith("in one sentence?")
    bad = admin.post(questions, {"kind": "choice", "prompt": "No options"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["choices"]
    listed = ok(admin.get(questions))
    assert [q["id"] for q in listed["results"]] == [choice["id"], text["id"]]

    # A new student, their reference photo, the enrolment (un-enrol and enrol again), publishing.
    student = ok(admin.post("/api/v1/users/", {"email": "new@alpha.test", "role": "student", "full_name": "Nia New",
                                               "student_number": "S9", "password": PASSWORD}, format="json"), 201)
    ok(admin.post("/faces/index", {"image": photo("headpose_woman_front2.jpg"), "fullName": "Nia New",
                                   "student": student["id"]}, format="json"))
    enrolments = f"/api/v1/exams/{exam['id']}/enrolments"
    enrolled = ok(admin.post(enrolments, {"students": [student["id"]]}, format="json"), 201)
    assert [e["student"] for e in enrolled["enrolled"]] == [student["id"]] and enrolled["warnings"] == []
    ok(admin.delete(f"{enrolments}/{student['id']}"), 204)
    assert ok(admin.get(enrolments))["count"] == 0
    ok(admin.post(enrolments, {"students": [student["id"]]}, format="json"), 201)
    (enrolment,) = ok(admin.get(enrolments))["results"]
    assert ok(admin.post(f"/api/v1/exams/{exam['id']}/status", {"to": "published"}, format="json"))["warnings"] == []

    # The student: their session, consent, the camera check with a head that turns, the exam, submission.
    me = signed_in("new@alpha.test")
    (session,) = ok(me.get("/api/v1/sessions/"))["results"]
    assert session["id"] == enrolment["session"] and session["status"] == "scheduled"
    sid = session["id"]
    consent = ok(me.get(f"/api/v1/sessions/{sid}/consent"))
    assert consent["consent_text"] and consent["consented_at"] is None
    assert ok(me.post(f"/api/v1/sessions/{sid}/consent", {"agree": True}, format="json"))["consented_at"]
    assert ok(me.get(f"/api/v1/sessions/{sid}/"))["status"] == "checking"
    order = ok(me.get(f"/api/v1/sessions/{sid}/gate"))["liveness"]["order"]  # the turns the server asks for
    for name in head_turn(order):
        ok(me.post("/process?wait=20", {"image": photo(name), "session": sid}, format="json"))
    gate = ok(me.get(f"/api/v1/sessions/{sid}/gate"))
    assert gate["can_start"], gate
    assert ok(me.post(f"/api/v1/sessions/{sid}/transition", {"to": "in_progress"}, format="json"))["status"] == \
        "in_progress"
    ok(me.post(f"/api/v1/sessions/{sid}/answers", {"question": choice["id"], "value": 1}, format="json"))
    ok(me.post(f"/api/v1/sessions/{sid}/answers", {"question": text["id"], "value": "How spread out the values are."},
               format="json"))
    assert ok(me.post(f"/api/v1/sessions/{sid}/transition", {"to": "submitted"}, format="json"))["status"] == \
        "submitted"

    # Staff read the results: the session, its answers' effect on the exam, no longer un-enrollable.
    proctor = signed_in(tenant_a.proctor.email)
    assert ok(proctor.get(f"/api/v1/sessions/{sid}/"))["status"] == "submitted"
    (row,) = ok(proctor.get(enrolments))["results"]
    assert row["status"] == "submitted" and row["email"] == "new@alpha.test"
    assert ok(proctor.get(f"/api/v1/incidents/?session={sid}"))["count"] == 0
    refused = admin.delete(f"{enrolments}/{student['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "session_begun"
    assert admin.delete(f"{questions}/{choice['id']}").status_code == 409  # answered: kept
