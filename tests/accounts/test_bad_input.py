"""Bad input answers a 4xx in the error envelope, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant, api_client_for


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


MALFORMED = [b"{not json", b'{"title": "x"', b"\xff\xfe\x00garbage", b'"just a string"', b"[1, 2]"]


@pytest.mark.parametrize("body", MALFORMED)
def test_it_rejects_malformed_json(tenant_a: Tenant, body: bytes) -> None:
    response = api_client_for(tenant_a.admin).generic("POST", "/api/v1/exams/", body, "application/json")
    assert response.status_code == 400
    assert_envelope(response, 400)


def test_it_rejects_wrong_types_with_field_details(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post(
        "/api/v1/exams/", {"title": ["a"], "duration_minutes": "soon", "opens_at": 12}, format="json"
    )
    error = assert_envelope(response, 400, "invalid")
    assert {"title", "duration_minutes", "opens_at"} <= set(error["details"])


def test_it_rejects_unknown_fields(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post("/api/v1/exams/", {"title": "x", "titel": "y"}, format="json")
    error = assert_envelope(response, 400, "invalid")
    assert error["details"] == {"titel": ["Unknown field."]}


def test_it_rejects_an_exam_that_closes_before_it_opens(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post("/api/v1/exams/", {
        "title": "x", "opens_at": "2030-01-02T10:00:00Z", "closes_at": "2030-01-01T10:00:00Z"}, format="json")
    assert_envelope(response, 400, "invalid_window")


@pytest.mark.parametrize("path", ["/api/v1/exams/", "/api/v1/auth/token", "/process"])
def test_it_refuses_huge_bodies_before_reading_them(tenant_a: Tenant, path: str) -> None:
    body = b'{"title": "' + b"x" * (12 * 1024 * 1024) + b'"}'
    response = api_client_for(tenant_a.admin).generic("POST", path, body, "application/json")
    assert_envelope(response, 413, "too_large")


def test_it_refuses_an_unsupported_media_type(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).generic("POST", "/api/v1/exams/", b"title=x", "text/plain")
    assert_envelope(response, 415, "unsupported_media_type")


def test_it_answers_unknown_api_paths_with_a_json_404(tenant_a: Tenant) -> None:
    assert_envelope(api_client_for(tenant_a.admin).get("/api/v1/nothing-here"), 404, "not_found")


def test_it_refuses_a_duplicate_user_with_409(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post(
        "/api/v1/users/", {"email": "student@alpha.test", "role": "student"}, format="json")
    assert_envelope(response, 409, "email_taken")


def test_it_refuses_a_weak_password(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post(
        "/api/v1/users/", {"email": "new@alpha.test", "role": "student", "password": "123"}, format="json")
    assert_envelope(response, 400, "weak_password")


def test_it_creates_users_and_exams_in_the_callers_institution(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    user = client.post("/api/v1/users/", {"email": "New@Alpha.test", "role": "student", "full_name": "N"},
                       format="json")
    assert user.status_code == 201 and user.json()["institution"] == "alpha"
    assert user.json()["email"] == "new@alpha.test"
    exam = client.post("/api/v1/exams/", {"title": "Finals", "duration_minutes": 90}, format="json")
    assert exam.status_code == 201 and exam.json()["duration_minutes"] == 90
