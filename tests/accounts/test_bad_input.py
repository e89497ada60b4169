"""Bad input answers a 4xx in the error envelope, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import tenancy
from tests.conftest import Tenant, api_client_for, page_client_for


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


def test_a_page_refuses_a_huge_upload_with_its_own_error_page_and_a_way_back(tenant_a: Tenant) -> None:
    # An audit: a 17 MB photo got a bare line of text with no way back.
    path = f"/students/{tenant_a.student.pk}/face"
    body = b"x" * (12 * 1024 * 1024)
    response = page_client_for(tenant_a.admin).generic("POST", path, body, "multipart/form-data; boundary=b")
    page = response.content.decode()
    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    assert "That file is too large" in page and f'href="{path}"' in page and "Nothing was saved." in page


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


# Issue 8 §5: each root cause of a 500 found by hand and by schemathesis, fixed where it starts.

LISTS = ["/api/v1/exams/", "/api/v1/users/", "/api/v1/sessions/", "/api/v1/faces/", "/api/v1/incidents/"]


@pytest.mark.parametrize("query", ["/api/v1/sessions/?exam=abc", "/api/v1/incidents/?session=abc",
                                   "/api/v1/sessions/?exam=-1", "/api/v1/incidents/?session=1e3",
                                   f"/api/v1/sessions/?exam={10**30}", f"/api/v1/incidents/?session={2**63}"])
def test_it_refuses_a_query_filter_id_that_is_not_an_id(tenant_a: Tenant, query: str) -> None:
    error = assert_envelope(api_client_for(tenant_a.admin).get(query), 400, "invalid")
    assert set(error["details"]) <= {"exam", "session"} and error["details"]


@pytest.mark.parametrize("query", ["/api/v1/users/?role=janitor", "/api/v1/incidents/?kind=nothing"])
def test_it_refuses_a_query_filter_outside_its_choices(tenant_a: Tenant, query: str) -> None:
    assert_envelope(api_client_for(tenant_a.admin).get(query), 400, "invalid")


def test_it_still_filters_by_valid_ids_and_choices(tenant_a: Tenant) -> None:
    client = api_client_for(tenant_a.admin)
    sessions = client.get(f"/api/v1/sessions/?exam={tenant_a.exam.pk}").json()
    assert [s["id"] for s in sessions["results"]] == [tenant_a.session.pk]
    assert client.get(f"/api/v1/sessions/?exam={tenant_a.exam.pk + 1000}").json()["count"] == 0
    incidents = client.get(f"/api/v1/incidents/?session={tenant_a.session.pk}&kind=no_face").json()
    assert [i["id"] for i in incidents["results"]] == [tenant_a.incident.pk]
    students = client.get("/api/v1/users/?role=student&exam=").json()
    assert [u["email"] for u in students["results"]] == ["student@alpha.test"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=-5", "limit=201", f"limit={10**30}",
                                   "offset=-1", "offset=x", f"offset={10**30}"])
def test_it_refuses_a_page_out_of_range(tenant_a: Tenant, path: str, query: str) -> None:
    error = assert_envelope(api_client_for(tenant_a.admin).get(f"{path}?{query}"), 400, "invalid")
    assert set(error["details"]) == {query.split("=")[0]}


def test_it_pages_within_range(tenant_a: Tenant) -> None:
    page = api_client_for(tenant_a.admin).get("/api/v1/users/?limit=1&offset=1").json()
    assert page["count"] == 3 and len(page["results"]) == 1
    assert "limit=1" in page["next"] and page["previous"]
    assert api_client_for(tenant_a.admin).get("/api/v1/users/?limit=200&offset=1000000000").json()["results"] == []


@pytest.mark.parametrize("query", ["role=%00", "kind=a%00b", "%00=1", "search=x%00"])
def test_it_refuses_nul_bytes_in_api_query_strings(tenant_a: Tenant, query: str) -> None:
    path = "/api/v1/incidents/" if "kind" in query else "/api/v1/users/"
    assert_envelope(api_client_for(tenant_a.admin).get(f"{path}?{query}"), 400, "malformed_request")


def test_it_refuses_nul_bytes_in_page_query_strings(tenant_a: Tenant) -> None:
    response = page_client_for(tenant_a.admin).get("/people/?q=%00")
    assert response.status_code == 400
    assert b"NUL" in response.content


def _raw(client: Any, path: str, body: str) -> Any:
    return client.generic("POST", path, body.encode(), "application/json")


@pytest.mark.parametrize("body", ['{"question": 1, "value": "a\\u0000b"}', '{"question": 1, "value": ["\\u0000"]}',
                                  '{"question": 1, "value": {"a\\u0000": 1}}', '{"question": 1, "value": "\\ud800"}',
                                  '{"question": 1, "value": {"\\udfff": 1}}'])
def test_it_refuses_unstorable_text_in_answers(tenant_a: Tenant, body: str) -> None:
    response = _raw(api_client_for(tenant_a.student), f"/api/v1/sessions/{tenant_a.session.pk}/answers", body)
    assert_envelope(response, 400, "malformed_request")


def test_it_keeps_a_valid_surrogate_pair(tenant_a: Tenant) -> None:
    response = _raw(api_client_for(tenant_a.admin), "/api/v1/exams/", '{"title": "\\ud83d\\ude00 exam"}')
    assert response.status_code == 201 and response.json()["title"] == "\U0001f600 exam"


@pytest.mark.parametrize("body", ['{"title": "\\ud800"}', '{"title": "x", "description": "\\u0000"}'])
def test_it_refuses_unstorable_text_in_exam_fields(tenant_a: Tenant, body: str) -> None:
    assert_envelope(_raw(api_client_for(tenant_a.admin), "/api/v1/exams/", body), 400, "malformed_request")


def test_it_refuses_nul_bytes_in_a_json_full_name(tenant_a: Tenant) -> None:
    body = '{"image": "aGVsbG8=", "fullName": "Ada\\u0000Lovelace"}'
    assert_envelope(_raw(api_client_for(tenant_a.admin), "/faces/index", body), 400, "malformed_request")


def test_it_refuses_nul_bytes_in_a_multipart_full_name(tenant_a: Tenant) -> None:
    image = SimpleUploadedFile("face.jpg", b"\xff\xd8\x00\x00\xff\xd9", content_type="image/jpeg")
    response = api_client_for(tenant_a.admin).post("/faces/index", {"image": image, "fullName": "Ada\x00"},
                                                   format="multipart")
    assert_envelope(response, 400, "malformed_request")


def test_it_refuses_nul_bytes_in_a_review_note(tenant_a: Tenant) -> None:
    response = page_client_for(tenant_a.proctor).post(f"/incidents/{tenant_a.incident.pk}/",
                                                      {"decision": "dismissed", "note": "fine\x00"})
    assert response.status_code == 400
    with tenancy.tenant_scope(None):
        tenant_a.incident.refresh_from_db()
    assert tenant_a.incident.review_status == "pending" and tenant_a.incident.review_note == ""


def test_it_refuses_a_full_name_longer_than_its_column(tenant_a: Tenant) -> None:
    response = api_client_for(tenant_a.admin).post("/faces/index", {"image": "aGVsbG8=", "fullName": "x" * 201},
                                                   format="json")
    error = assert_envelope(response, 400, "invalid")
    assert set(error["details"]) == {"fullName"}


def test_it_refuses_an_email_longer_than_its_column(tenant_a: Tenant) -> None:
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".test"
    assert len(email) > 254
    response = api_client_for(tenant_a.admin).post("/api/v1/users/", {"email": email, "role": "student"},
                                                   format="json")
    error = assert_envelope(response, 400, "invalid")
    assert set(error["details"]) == {"email"}


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_it_refuses_json_nested_too_deep(tenant_a: Tenant, depth: int) -> None:
    body = '{"question": 1, "value": ' + "[" * depth + "]" * depth + "}"
    response = _raw(api_client_for(tenant_a.student), f"/api/v1/sessions/{tenant_a.session.pk}/answers", body)
    assert_envelope(response, 400, "malformed_request")


def test_it_accepts_json_nested_within_the_limit(tenant_a: Tenant) -> None:
    body = '{"title": "deep", "description": "' + "x" * 10 + '"}'
    assert _raw(api_client_for(tenant_a.admin), "/api/v1/exams/", body).status_code == 201
    body = '{"question": 1, "value": ' + "[" * 31 + "]" * 31 + "}"  # depth 32 with the object: parsed
    response = _raw(api_client_for(tenant_a.student), f"/api/v1/sessions/{tenant_a.session.pk}/answers", body)
    assert response.json()["error"]["code"] != "malformed_request"


@pytest.mark.parametrize("path", ["/process", "/faces/index", "/api/v1/exams/", "/api/v1/auth/token",
                                  "ANSWERS", "/api/v1/sessions/"])
@pytest.mark.parametrize("body", ["[]", '["image"]', '"image"', "42", "null", "true"])
def test_it_refuses_a_body_that_is_not_an_object(tenant_a: Tenant, path: str, body: str) -> None:
    path = f"/api/v1/sessions/{tenant_a.session.pk}/answers" if path == "ANSWERS" else path
    user = tenant_a.student if "answers" in path else tenant_a.admin
    assert_envelope(_raw(api_client_for(user), path, body), 400, "malformed_request")
