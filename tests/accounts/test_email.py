"""Invites and password resets by email, sent through a real SMTP server on loopback and followed
from the message to a password and a sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts import services, tenancy
from accounts.models import AuditEvent, Role, User
from tests.conftest import PASSWORD, Tenant, page_client_for
from tests.smtp import Mailbox, html_of, link_in, text_of

NEW_PASSWORD = "a-new-and-long-passphrase-77"


@pytest.fixture
def admin(tenant_a: Tenant) -> Client:
    return page_client_for(tenant_a.admin)


def set_password_from(link: str, password: str = NEW_PASSWORD) -> Client:
    """Follow an emailed link as its reader would, choose a password, and answer the browser (client)."""
    reader = Client()
    form_page = reader.get(link, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    done = reader.post(form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
                       {"new_password1": password, "new_password2": password})
    assert done.status_code == 302, done.content.decode()[:500]
    return reader


def signs_in(email: str, password: str) -> bool:
    response = Client().post("/accounts/login/", {"username": email, "password": password})
    return response.status_code == 302 and response["Location"] == "/"


def test_it_emails_an_invite_when_an_admin_adds_a_student_and_the_link_sets_the_password(
        admin: Client, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/students/new", {"email": "Nia@Alpha.test", "full_name": "Nia New", "password": ""})
    assert response.status_code == 302

    message = smtp_server.only("nia@alpha.test")
    assert message["Subject"] == "Your Alpha College account on OpenProctor"
    assert "Hello Nia New" in text_of(message) and "Alpha College" in html_of(message)
    link = link_in(message)
    assert link.startswith("http://testserver/accounts/set-password?uid=")

    set_password_from(link)
    assert signs_in("nia@alpha.test", NEW_PASSWORD)
    assert Client().get(link, follow=True).context["invalid"]  # the link dies with its first use


def test_it_emails_no_invite_to_a_person_given_a_password(
        admin: Client, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        admin.post("/settings/", {"form": "proctor", "proctor-email": "pat@alpha.test",
                                  "proctor-full_name": "Pat Proctor", "proctor-password": PASSWORD})
    assert User.objects.filter(email="pat@alpha.test").exists() and smtp_server.messages == []


def test_it_emails_every_imported_student_their_own_invite(
        admin: Client, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    upload = SimpleUploadedFile("s.csv", b"email,name,student_number\nada@alpha.test,Ada,1\nalan@alpha.test,Alan,2\n")
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post("/students/import", {"file": upload}).status_code == 200
    ada_link, alan_link = link_in(smtp_server.only("ada@alpha.test")), link_in(smtp_server.only("alan@alpha.test"))
    assert ada_link != alan_link
    set_password_from(alan_link)
    assert signs_in("alan@alpha.test", NEW_PASSWORD) and not signs_in("ada@alpha.test", NEW_PASSWORD)


def test_it_emails_an_invite_again_from_the_invite_page_and_audits_it(
        admin: Client, tenant_a: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    pending = services.user_create(institution=tenant_a.institution, email="late@alpha.test", role=Role.STUDENT)
    assert smtp_server.messages == []  # created without an address for links: nobody was mailed
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/people/{pending.pk}/invite", follow=True)
    assert "emailed to late@alpha.test again" in response.content.decode()
    smtp_server.only("late@alpha.test")
    with tenancy.tenant_scope(tenant_a.institution):
        assert AuditEvent.objects.filter(action="user.invite", target_id=str(pending.pk)).count() == 1


def test_it_keeps_the_admins_page_working_when_the_mail_server_is_down(
        admin: Client, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    from tests.smtp import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/students/new", {"email": "down@alpha.test", "full_name": "Dee", "password": ""})
    assert response.status_code == 302  # the student exists; their invite can be sent again later
    assert User.objects.filter(email="down@alpha.test").exists()


def request_reset(email: str, client: Client | None = None) -> Any:
    return (client or Client()).post("/accounts/password-reset/", {"email": email})


def test_it_mails_a_reset_link_that_sets_a_new_password(
        tenant_a: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = request_reset("Student@Alpha.test")
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"

    message = smtp_server.only("student@alpha.test")
    assert message["Subject"] == "Reset your Alpha College password on OpenProctor"
    link = link_in(message)
    assert link.startswith("http://testserver/accounts/reset/")
    set_password_from(link)
    assert signs_in("student@alpha.test", NEW_PASSWORD) and not signs_in("student@alpha.test", PASSWORD)


def test_it_answers_the_same_page_for_an_unknown_email_and_sends_nothing(
        tenant_a: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        known, unknown = request_reset("student@alpha.test"), request_reset("nobody@alpha.test")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert smtp_server.recipients == [["student@alpha.test"]]


def test_it_mails_each_institutions_account_of_one_email_its_own_link(
        tenant_a: Tenant, tenant_b: Tenant, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    twin = services.user_create(institution=tenant_b.institution, email=tenant_a.student.email, role=Role.STUDENT,
                                password=PASSWORD + "-b")
    with django_capture_on_commit_callbacks(execute=True):
        request_reset(tenant_a.student.email)
    messages = smtp_server.to(tenant_a.student.email)
    by_institution = {("Alpha" in m["Subject"]): m for m in messages}
    assert len(messages) == 2 and set(by_institution) == {True, False}

    set_password_from(link_in(by_institution[False]))  # the Beta College message
    twin.refresh_from_db()
    tenant_a.student.refresh_from_db()
    assert twin.check_password(NEW_PASSWORD) and tenant_a.student.check_password(PASSWORD)


def test_it_rate_limits_reset_requests_per_address_and_quietly_per_email(
        tenant_a: Tenant, settings: Any, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    settings.PASSWORD_RESET_EMAIL_LIMIT, settings.PASSWORD_RESET_ADDRESS_LIMIT = 2, 4
    with django_capture_on_commit_callbacks(execute=True):
        answers = [request_reset("student@alpha.test").status_code for _ in range(3)]
    assert answers == [302, 302, 302]  # the third looks the same, but sends nothing
    assert len(smtp_server.to("student@alpha.test")) == 2

    assert request_reset("nobody@alpha.test").status_code == 302
    refused = request_reset("proctor@alpha.test")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many reset requests" in refused.content.decode()
    assert smtp_server.to("proctor@alpha.test") == []


def test_an_invite_queued_before_the_person_chose_a_password_sends_nothing(
        tenant_a: Tenant, smtp_server: Mailbox) -> None:
    from accounts.mail import invite_deliver

    pending = services.user_create(institution=tenant_a.institution, email="quick@alpha.test", role=Role.STUDENT)
    pending.set_password(NEW_PASSWORD)
    pending.save()  # chose it from an earlier link while this invite waited in the queue
    assert invite_deliver(user_id=pending.pk, base_url="http://testserver") is False
    assert smtp_server.messages == []


def test_a_person_added_without_a_password_in_the_admin_site_is_emailed_an_invite(
        admin: Client, smtp_server: Mailbox, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/manage/accounts/user/add/", {"email": "Pia@Alpha.test", "full_name": "Pia",
                                                             "student_number": "", "role": "proctor",
                                                             "is_active": "on", "password": ""})
    assert response.status_code == 302
    assert link_in(smtp_server.only("pia@alpha.test")).startswith("http://testserver/accounts/set-password?uid=")
