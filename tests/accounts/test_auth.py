from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, Tenant, api_client_for


def test_it_issues_a_token_that_authenticates_api_calls(tenant_a: Tenant) -> None:
    response = APIClient().post("/api/v1/auth/token", {"email": "Admin@Alpha.test", "password": PASSWORD},
                                format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert re.fullmatch(r"[0-9a-f]{40}", token)
    me = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me")
    assert me.json()["email"] == "admin@alpha.test"
    assert me.json()["institution"] == "alpha"


def test_it_refuses_a_wrong_password_with_an_error_envelope(tenant_a: Tenant) -> None:
    response = APIClient().post("/api/v1/auth/token", {"email": "admin@alpha.test", "password": "nope"},
                                format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_it_throttles_repeated_failed_token_attempts(tenant_a: Tenant, settings: Any) -> None:
    settings.LOGIN_THROTTLE_LIMIT = 3
    client = APIClient()
    for _ in range(3):
        client.post("/api/v1/auth/token", {"email": "admin@alpha.test", "password": "nope"}, format="json")
    blocked = client.post("/api/v1/auth/token", {"email": "admin@alpha.test", "password": PASSWORD}, format="json")
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "throttled"


def test_it_throttles_the_login_page(tenant_a: Tenant, settings: Any) -> None:
    settings.LOGIN_THROTTLE_LIMIT = 2
    client = Client()
    for _ in range(2):
        assert client.post("/accounts/login/", {"username": "admin@alpha.test", "password": "x"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "admin@alpha.test", "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.content


def test_it_signs_in_on_the_login_page_and_shows_the_dashboard(tenant_a: Tenant) -> None:
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in" in page.content
    response = client.post("/accounts/login/", {"username": "proctor@alpha.test", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert b"alpha exam" in response.content


def test_it_changes_a_password(tenant_a: Tenant) -> None:
    client = Client()
    client.force_login(tenant_a.student)
    new = "a-new-long-passphrase-7"
    form = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    response = client.post("/accounts/password/", form)
    assert response.status_code == 302
    tenant_a.student.refresh_from_db()
    assert tenant_a.student.check_password("a-new-long-passphrase-7")


def test_it_redirects_anonymous_visitors_to_the_login_page(db: Any) -> None:
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["student", "proctor"])
def test_it_forbids_admin_endpoints_to_other_roles(tenant_a: Tenant, role: str) -> None:
    client = api_client_for(tenant_a.user(role))
    assert client.get("/api/v1/users/").status_code == 403
    assert client.post("/api/v1/exams/", {"title": "x"}, format="json").status_code == 403


def test_it_lists_only_the_callers_institution(tenant_a: Tenant, tenant_b: Tenant) -> None:
    exams = api_client_for(tenant_a.admin).get("/api/v1/exams/").json()
    assert [e["title"] for e in exams["results"]] == ["alpha exam"]
    users = api_client_for(tenant_b.admin).get("/api/v1/users/").json()
    assert {u["email"] for u in users["results"]} == {"admin@beta.test", "proctor@beta.test", "student@beta.test"}


@pytest.mark.parametrize("role", ["admin", "proctor", "student"])
def test_it_renders_the_dashboard_for_every_role(tenant_a: Tenant, role: str) -> None:
    client = Client()
    client.force_login(tenant_a.user(role))
    response = client.get("/")
    assert response.status_code == 200
    assert b"alpha exam" in response.content
    assert (b'id="my-exams"' in response.content) == (role == "student")
