from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessLog
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import services
from accounts.models import LoginLockout, User
from tests.conftest import PASSWORD, Tenant, api_client_for


def test_it_issues_a_token_that_authenticates_api_calls(tenant_a: Tenant) -> None:
    response = APIClient().post("/api/v1/auth/token", {"email": "Admin@Alpha.test", "password": PASSWORD},
                                format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    me = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me")
    assert me.json()["email"] == "admin@alpha.test"
    assert me.json()["institution"] == "alpha"


def test_it_refuses_a_wrong_password_with_an_error_envelope(tenant_a: Tenant) -> None:
    response = APIClient().post("/api/v1/auth/token", {"email": "admin@alpha.test", "password": "nope"},
                                format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"


def token(email: str, password: str, address: str = "10.0.0.1", **headers: str) -> Any:
    return APIClient().post("/api/v1/auth/token", {"email": email, "password": password}, format="json",
                            REMOTE_ADDR=address, **headers)


def test_it_refuses_an_email_longer_than_the_column(db: Any) -> None:
    email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".test"  # valid, 311 characters
    response = token(email, "x")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_it_locks_an_account_out_from_the_failing_address_only(tenant_a: Tenant, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert token("admin@alpha.test", "nope").status_code == 400
    assert token("admin@alpha.test", "nope").status_code == 429  # the third failure locks
    blocked = token("Admin@Alpha.test", PASSWORD)  # the right password, any case of the email
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "throttled"
    assert int(blocked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    # Whoever knows the email cannot lock its owner out of another address (another exam hall).
    assert token("admin@alpha.test", PASSWORD, address="10.0.0.2").status_code == 200
    # Nor another account of the same address.
    assert token("proctor@alpha.test", PASSWORD).status_code == 200


def test_it_lets_the_account_in_again_after_the_cool_off(tenant_a: Tenant, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        token("admin@alpha.test", "nope")
    assert token("admin@alpha.test", PASSWORD).status_code == 429
    _cool_off_passes(settings)
    assert token("admin@alpha.test", PASSWORD).status_code == 200
    assert not LoginLockout.objects.exists()  # a sign-in starts the lock-outs afresh


def _cool_off_passes(settings: Any) -> None:
    """The clock moves past the current lock-out (django-axes' failures and the growing wait)."""
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    LoginLockout.objects.update(locked_until=timezone.now() - timedelta(seconds=1))


def test_it_makes_each_further_lock_out_last_twice_as_long(tenant_a: Tenant, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    base = int(settings.AXES_COOLOFF_TIME.total_seconds())
    for expected in (base, 2 * base, 4 * base):
        token("admin@alpha.test", "nope")
        locked = token("admin@alpha.test", "nope")
        assert locked.status_code == 429 and int(locked["Retry-After"]) == expected
        # django-axes' own lock-out ends after the base cool-off; the longer wait still holds ...
        AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
        refused = token("admin@alpha.test", PASSWORD)
        assert refused.status_code == 429 and expected - 5 <= int(refused["Retry-After"]) <= expected
        page = Client(REMOTE_ADDR="10.0.0.1").post("/accounts/login/", {"username": "admin@alpha.test",
                                                                        "password": PASSWORD})
        assert page.status_code == 429 and int(page["Retry-After"]) <= expected
        # ... for that address only.
        assert token("admin@alpha.test", PASSWORD, address="10.0.0.2").status_code == 200
        _cool_off_passes(settings)
    assert token("admin@alpha.test", PASSWORD).status_code == 200


def test_it_starts_the_lock_outs_afresh_after_a_quiet_day(tenant_a: Tenant, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        token("admin@alpha.test", "nope")
    AccessAttempt.objects.all().delete()
    LoginLockout.objects.update(locked_until=timezone.now() - settings.LOGIN_LOCKOUT_MEMORY - timedelta(minutes=1))
    token("admin@alpha.test", "nope")
    again = token("admin@alpha.test", "nope")
    assert again.status_code == 429 and int(again["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


def test_it_forgets_failures_after_a_successful_sign_in(tenant_a: Tenant, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        token("admin@alpha.test", "nope")
    assert token("admin@alpha.test", PASSWORD).status_code == 200
    for _ in range(2):
        token("admin@alpha.test", "nope")
    assert token("admin@alpha.test", PASSWORD).status_code == 200
    assert not AccessLog.objects.exists()  # failures are counted; successful sign-ins are not logged


def test_it_throttles_the_login_page_per_account_and_address(tenant_a: Tenant, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    client = Client(REMOTE_ADDR="10.0.0.1")
    assert client.post("/accounts/login/", {"username": "admin@alpha.test", "password": "x"}).status_code == 200
    assert client.post("/accounts/login/", {"username": "admin@alpha.test", "password": "x"}).status_code == 429
    blocked = client.post("/accounts/login/", {"username": "admin@alpha.test", "password": PASSWORD})
    assert blocked.status_code == 429
    assert b"Too many failed attempts" in blocked.content and b"Sign in" in blocked.content
    assert "_auth_user_id" not in client.session
    elsewhere = Client(REMOTE_ADDR="10.0.0.2").post("/accounts/login/",
                                                     {"username": "admin@alpha.test", "password": PASSWORD})
    assert elsewhere.status_code == 302
    # Another account from the same address is not locked; the email's case does not escape the lock.
    assert Client(REMOTE_ADDR="10.0.0.1").post(
        "/accounts/login/", {"username": "proctor@alpha.test", "password": PASSWORD}).status_code == 302
    assert Client(REMOTE_ADDR="10.0.0.1").post(
        "/accounts/login/", {"username": "ADMIN@alpha.test", "password": PASSWORD}).status_code == 429


def test_it_refuses_an_address_that_fails_across_many_accounts(tenant_a: Tenant, settings: Any) -> None:
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for number in range(3):
        assert token(f"nobody{number}@alpha.test", "guess").status_code == 400
    refused = token("proctor@alpha.test", PASSWORD)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"
    assert "Retry-After" in refused
    page = Client(REMOTE_ADDR="10.0.0.1").post("/accounts/login/", {"username": "proctor@alpha.test",
                                                                     "password": PASSWORD})
    assert page.status_code == 429 and "Retry-After" in page
    assert b"Too many failed attempts" in page.content
    assert token("proctor@alpha.test", PASSWORD, address="10.0.0.2").status_code == 200


def test_it_takes_the_client_address_from_the_trusted_proxy(tenant_a: Tenant, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 2
    # Behind one proxy (REMOTE_ADDR is the proxy): the last X-Forwarded-For entry is the client's;
    # what the client wrote before it changes nothing.
    for spoof in ("1.1.1.1", "2.2.2.2"):
        token("admin@alpha.test", "nope", address="192.0.2.1", HTTP_X_FORWARDED_FOR=f"{spoof}, 10.0.0.1")
    assert token("admin@alpha.test", PASSWORD, address="192.0.2.1",
                 HTTP_X_FORWARDED_FOR="3.3.3.3, 10.0.0.1").status_code == 429
    # Another client behind the same proxy is not locked out.
    assert token("admin@alpha.test", PASSWORD, address="192.0.2.1",
                 HTTP_X_FORWARDED_FOR="10.0.0.2").status_code == 200


def test_it_ignores_forwarded_for_without_a_trusted_proxy(tenant_a: Tenant, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    settings.AXES_FAILURE_LIMIT = 2
    for spoof in ("1.1.1.1", "2.2.2.2"):
        token("admin@alpha.test", "nope", HTTP_X_FORWARDED_FOR=spoof)
    assert token("admin@alpha.test", PASSWORD, HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 429


def test_it_signs_in_with_redis_unreachable(tenant_a: Tenant, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens there
    # The page first: no API throttle has found Redis down yet, so the login counters meet it themselves.
    assert Client().post("/accounts/login/", {"username": "admin@alpha.test", "password": "nope"}).status_code == 200
    page = Client().post("/accounts/login/", {"username": "admin@alpha.test", "password": PASSWORD})
    assert page.status_code == 302
    assert token("admin@alpha.test", "nope").status_code == 400
    assert token("admin@alpha.test", PASSWORD).status_code == 200


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


def test_it_stores_only_a_hash_of_the_token(tenant_a: Tenant) -> None:
    key = token("admin@alpha.test", PASSWORD).json()["token"]
    stored = AuthToken.objects.get(user=tenant_a.admin)
    assert key not in (stored.digest, stored.token_key) and stored.digest == hash_token(key)


def test_it_answers_the_tokens_expiry_and_refuses_it_after(tenant_a: Tenant) -> None:
    response = token("admin@alpha.test", PASSWORD).json()
    assert response["expiry"]
    client = APIClient(HTTP_AUTHORIZATION=f"Token {response['token']}")
    assert client.get("/api/v1/me").status_code == 200
    AuthToken.objects.filter(user=tenant_a.admin).update(expiry=timezone.now() - timedelta(seconds=1))
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"


def test_it_revokes_the_token_a_client_signs_out_with(tenant_a: Tenant) -> None:
    first, second = api_client_for(tenant_a.admin), api_client_for(tenant_a.admin)
    assert first.post("/api/v1/auth/logout").status_code == 204
    assert first.get("/api/v1/me").status_code == 401
    assert second.get("/api/v1/me").status_code == 200


def test_it_revokes_every_token_of_the_user_on_logout_all(tenant_a: Tenant) -> None:
    first, second, other = (api_client_for(u) for u in (tenant_a.admin, tenant_a.admin, tenant_a.proctor))
    assert first.post("/api/v1/auth/logout-all").status_code == 204
    assert first.get("/api/v1/me").status_code == 401 and second.get("/api/v1/me").status_code == 401
    assert other.get("/api/v1/me").status_code == 200


def test_it_needs_a_token_to_sign_a_token_out(tenant_a: Tenant) -> None:
    client = APIClient()
    client.force_login(tenant_a.admin)
    response = client.post("/api/v1/auth/logout")
    assert response.status_code == 400 and response.json()["error"]["code"] == "token_required"


def test_it_revokes_every_token_when_the_password_changes(tenant_a: Tenant) -> None:
    api = api_client_for(tenant_a.student)
    page = Client()
    page.force_login(tenant_a.student)
    new = "a-new-long-passphrase-7"
    page.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert api.get("/api/v1/me").status_code == 401
    assert not AuthToken.objects.filter(user=tenant_a.student).exists()


def test_it_keeps_tokens_when_a_user_is_saved_without_a_new_password(tenant_a: Tenant) -> None:
    api = api_client_for(tenant_a.student)
    tenant_a.student.full_name = "Renamed"
    tenant_a.student.save()
    assert api.get("/api/v1/me").status_code == 200


def test_it_keeps_a_bounded_number_of_tokens_per_user(tenant_a: Tenant, settings: Any) -> None:
    settings.API_TOKENS_PER_USER = 2
    oldest = api_client_for(tenant_a.admin)
    newer = [api_client_for(tenant_a.admin) for _ in range(2)]
    assert oldest.get("/api/v1/me").status_code == 401
    assert all(client.get("/api/v1/me").status_code == 200 for client in newer)


@pytest.mark.parametrize("header", [b"Token \xff\xfe", b"Token abc\x00def", b"Token " + b"g" * 64])
def test_it_answers_401_for_a_malformed_token(db: Any, header: bytes) -> None:
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=header.decode("latin-1"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"


def test_it_adds_a_user_whose_email_another_institution_uses(tenant_a: Tenant, tenant_b: Tenant) -> None:
    # Emails are unique per institution: beta's admin learns nothing about alpha's people.
    client = api_client_for(tenant_b.admin)
    taken_elsewhere = client.post("/api/v1/users/", {"email": "Student@Alpha.test", "role": "student"},
                                  format="json")
    fresh = client.post("/api/v1/users/", {"email": "nobody@alpha.test", "role": "student"}, format="json")
    assert taken_elsewhere.status_code == fresh.status_code == 201
    assert set(taken_elsewhere.json()) == set(fresh.json())
    assert taken_elsewhere.json()["institution"] == "beta"
    again = client.post("/api/v1/users/", {"email": "student@alpha.test", "role": "student"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"


def test_it_adds_and_imports_on_pages_an_email_another_institution_uses(tenant_a: Tenant, tenant_b: Tenant) -> None:
    admin = Client()
    admin.force_login(tenant_b.admin)
    response = admin.post("/students/new", {"email": "student@alpha.test", "full_name": "Same Address"})
    assert response.status_code == 302
    upload = SimpleUploadedFile("s.csv", b"email,name,student_number\nproctor@alpha.test,Pat,7\n", "text/csv")
    imported = admin.post("/students/import", {"file": upload})
    assert len(imported.context["invites"]) == 1  # the import-done page
    assert User.objects.filter(institution=tenant_b.institution, email="proctor@alpha.test").exists()
    manage = admin.post("/manage/accounts/user/add/", {"email": "admin@alpha.test", "full_name": "A",
                                                        "role": "proctor", "is_active": "on"})
    assert manage.status_code == 302, manage.content[:500]
    assert User.objects.filter(email="admin@alpha.test").count() == 2
    duplicate = admin.post("/manage/accounts/user/add/", {"email": "Admin@Alpha.test", "full_name": "B",
                                                           "role": "proctor", "is_active": "on"})
    assert duplicate.status_code == 200
    assert duplicate.context["adminform"].form.errors["email"] == ["A user with this email already exists."]


def test_it_signs_each_account_of_a_shared_email_in_with_its_own_password(tenant_a: Tenant, tenant_b: Tenant) -> None:
    services.user_create(institution=tenant_b.institution, email="student@alpha.test", role="student",
                         password="another-long-passphrase-9")
    alpha = token("student@alpha.test", PASSWORD).json()["token"]
    beta = token("student@alpha.test", "another-long-passphrase-9").json()["token"]
    assert APIClient(HTTP_AUTHORIZATION=f"Token {alpha}").get("/api/v1/me").json()["institution"] == "alpha"
    assert APIClient(HTTP_AUTHORIZATION=f"Token {beta}").get("/api/v1/me").json()["institution"] == "beta"
    assert token("student@alpha.test", "wrong").status_code == 400


def test_it_asks_for_the_institution_when_one_password_fits_two_accounts(tenant_a: Tenant, tenant_b: Tenant) -> None:
    services.user_create(institution=tenant_b.institution, email="student@alpha.test", role="student",
                         password=PASSWORD)
    ambiguous = token("student@alpha.test", PASSWORD)
    assert ambiguous.status_code == 400 and ambiguous.json()["error"]["code"] == "institution_required"
    chosen = APIClient().post("/api/v1/auth/token", {"email": "student@alpha.test", "password": PASSWORD,
                                                     "institution": "beta"}, format="json")
    me = APIClient(HTTP_AUTHORIZATION=f"Token {chosen.json()['token']}").get("/api/v1/me").json()
    assert me["institution"] == "beta"

    page = Client()
    asked = page.post("/accounts/login/", {"username": "student@alpha.test", "password": PASSWORD})
    assert asked.status_code == 200 and b'name="institution"' in asked.content
    signed_in = page.post("/accounts/login/", {"username": "student@alpha.test", "password": PASSWORD,
                                               "institution": "alpha"})
    assert signed_in.status_code == 302
    assert int(page.session["_auth_user_id"]) == tenant_a.student.pk


def test_it_keeps_platform_user_emails_unique(db: Any) -> None:
    User.objects.create_superuser("root@platform.test", PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_superuser("root@platform.test", PASSWORD)
    assert User.objects.get_by_natural_key("Root@Platform.test").is_superuser


def test_it_forgets_lock_outs_older_than_a_day(tenant_a: Tenant, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    LoginLockout.objects.create(username="gone@alpha.test", ip_address="10.0.0.9", count=3,
                                locked_until=timezone.now() - settings.LOGIN_LOCKOUT_MEMORY - timedelta(minutes=1))
    for _ in range(2):
        token("admin@alpha.test", "nope")
    assert list(LoginLockout.objects.values_list("username", flat=True)) == ["admin@alpha.test"]


def test_adding_and_changing_a_user_is_audited_with_who_did_it(tenant_a: Tenant) -> None:
    from accounts.audit import AuditEvent

    admin = api_client_for(tenant_a.admin)
    added = admin.post("/api/v1/users/", {"email": "new@alpha.test", "role": "proctor", "full_name": "New Proctor"},
                       format="json")
    assert added.status_code == 201, added.content
    created = AuditEvent.unscoped.get(action="user.created", target_id=str(added.json()["id"]))
    assert (created.actor, created.data["role"]) == (tenant_a.admin, "proctor")
    changed = admin.patch(f"/api/v1/users/{added.json()['id']}/", {"is_active": False, "full_name": "New Proctor"},
                          format="json")
    assert changed.status_code == 200, changed.content
    updated = AuditEvent.unscoped.get(action="user.updated", target_id=str(added.json()["id"]))
    assert (updated.actor, updated.data) == (tenant_a.admin, {"is_active": {"from": True, "to": False}})  # only changes


def test_a_refused_sign_in_is_announced_and_tied_to_the_fields(tenant_a: Tenant) -> None:
    # An accessibility audit: after a wrong password the focus went back to the email, and nothing said why.
    page = Client().post("/accounts/login/", {"username": tenant_a.student.email, "password": "wrong"}).content.decode()
    assert 'role="alert" id="login-error"' in page
    password = re.search(r'<input type="password"[^>]*>', page).group(0)
    assert "autofocus" in password and 'aria-invalid="true"' in password
    assert 'aria-describedby="login-error"' in password
    email = re.search(r'<input type="email"[^>]*>', page).group(0)
    assert "autofocus" not in email and 'aria-invalid="true"' in email
