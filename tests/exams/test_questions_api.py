"""The questions and enrolments endpoints: bad input is a 4xx with a clear message and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import tenancy
from exams.models import Question
from tests.conftest import Tenant, api_client_for

pytestmark = pytest.mark.django_db


def questions_of(tenant: Tenant) -> list[Question]:
    with tenancy.tenant_scope(tenant.institution):
        return list(Question.objects.filter(exam=tenant.exam))


@pytest.mark.parametrize("body, field", [
    ({"kind": "essay", "prompt": "x"}, "kind"),
    ({"kind": "text"}, "prompt"),
    ({"kind": "choice", "prompt": "x", "choices": ["only one"], "correct_choice": 0}, "choices"),
    ({"kind": "choice", "prompt": "x", "choices": ["a", "b"], "correct_choice": 2}, "correct_choice"),
    ({"kind": "choice", "prompt": "x", "choices": ["a", "b"]}, "correct_choice"),
    ({"kind": "choice", "prompt": "x", "choices": "a,b", "correct_choice": 0}, "choices"),
    ({"kind": "text", "prompt": "x", "points": -1}, "points"),
    ({"kind": "text", "prompt": "x", "position": 1}, "position"),  # not an input: refused, not ignored
])
def test_it_refuses_a_bad_question_with_a_clear_message(tenant_a: Tenant, body: dict[str, Any], field: str) -> None:
    response = api_client_for(tenant_a.admin).post(f"/api/v1/exams/{tenant_a.exam.pk}/questions", body,
                                                   format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"], response.json()
    assert questions_of(tenant_a) == []


def test_it_keeps_the_other_fields_of_a_question_on_patch(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    path = f"/api/v1/exams/{tenant_a.exam.pk}/questions"
    made = client.post(path, {"kind": "choice", "prompt": "Pick", "choices": ["a", "b"], "correct_choice": 1,
                              "points": 3}, format="json").json()
    patched = client.patch(f"{path}/{made['id']}", {"prompt": "Pick one"}, format="json")
    assert patched.status_code == 200
    assert {k: patched.json()[k] for k in ("prompt", "choices", "correct_choice", "points")} == {
        "prompt": "Pick one", "choices": ["a", "b"], "correct_choice": 1, "points": 3}
    wrong = client.patch(f"{path}/{made['id']}", {"correct_choice": 5}, format="json")
    assert wrong.status_code == 400 and questions_of(tenant_a)[0].correct_choice == 1


def test_it_enrols_nobody_when_one_id_is_unknown(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    path = f"/api/v1/exams/{tenant_a.exam.pk}/enrolments"
    client.delete(f"{path}/{tenant_a.student.pk}")  # the fixture's session, not begun
    response = client.post(path, {"students": [tenant_a.student.pk, tenant_b.student.pk, tenant_a.proctor.pk]},
                           format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"students": {"1": ["Unknown student."], "2": ["Unknown student."]}}
    assert client.get(path).json()["count"] == 0
    assert client.post(path, {"students": ["x"]}, format="json").status_code == 400


def test_it_lets_a_student_consent_only_to_their_own_session(tenant_a: Tenant) -> None:
    tenant_a.exam.status = "published"
    tenant_a.exam.save()
    path = f"/api/v1/sessions/{tenant_a.session.pk}/consent"
    refused = api_client_for(tenant_a.student).post(path, {"agree": False}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "consent_required"
    assert api_client_for(tenant_a.admin).post(path, {"agree": True}, format="json").status_code == 403
    agreed = api_client_for(tenant_a.student).post(path, {"agree": True}, format="json")
    assert agreed.status_code == 200 and agreed.json()["consented_at"]
    assert api_client_for(tenant_a.student).get(f"/api/v1/sessions/{tenant_a.session.pk}/").json()["status"] == \
        "checking"
