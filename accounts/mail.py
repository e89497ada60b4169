"""Email through Django's mail framework: invites and password resets (exam reminders: exams.reminders).

Each message is rendered from ``templates/emails/<name>.txt`` with an HTML alternative from
``<name>.html``, with times in the recipient's zone. Views and services never send: they queue a
Celery task on commit (``queue_invite``, ``queue_password_reset``), which takes ids, makes the
one-time link with Django's token generator, and sends; SMTP trouble is retried by the task.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.timezones import zone_for

LINK_DAYS = max(1, settings.PASSWORD_RESET_TIMEOUT // (24 * 3600))


def site_url(request: HttpRequest | None = None) -> str:
    """Where links in emails point: the site the request came to (its host is one of ALLOWED_HOSTS,
    as for Django's own reset form), else SITE_URL (emails sent without a request: reminders)."""
    if request is None:
        return str(settings.SITE_URL)
    return request.build_absolute_uri("/").rstrip("/")


def send_templated(*, to: User, name: str, subject: str, context: dict[str, Any]) -> None:
    """Render ``emails/<name>.txt`` and ``.html`` in the recipient's zone and send them to ``to``."""
    context = {"user": to, "institution": to.institution, "site_url": settings.SITE_URL, **context}
    with timezone.override(zone_for(to)):
        context["time_zone"] = timezone.get_current_timezone_name()
        text = render_to_string(f"emails/{name}.txt", context)
        html = render_to_string(f"emails/{name}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to.email])
    message.attach_alternative(html, "text/html")
    message.send()


def token_query(user: User) -> dict[str, str]:
    return {"uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)}


def invite_link(*, user: User, base_url: str) -> str:
    """The one-time link to choose a first password (Django's token: it dies once a password is set)."""
    return f"{base_url}{reverse('password-set')}?{urlencode(token_query(user))}"


# --- invites ---------------------------------------------------------------------------------------


def queue_invite(*, user: User, base_url: str) -> None:
    """Mail the person their invite once the current transaction commits."""
    from accounts.tasks import send_invite

    user_id = user.pk
    transaction.on_commit(lambda: send_invite.delay(user_id, base_url), robust=True)


def invite_deliver(*, user_id: int, base_url: str) -> bool:
    """Send the invite; answers False (nothing sent) when the person is gone, inactive or already has a password."""
    user = User.objects.select_related("institution").filter(pk=user_id, is_active=True).first()
    if user is None or user.has_usable_password() or user.institution is None:
        return False
    send_templated(to=user, name="invite", subject=f"Your {user.institution.name} account on OpenProctor",
                   context={"link": invite_link(user=user, base_url=base_url), "days": LINK_DAYS})
    return True


# --- password reset --------------------------------------------------------------------------------


def queue_password_reset(*, user: User, base_url: str) -> None:
    from accounts.tasks import send_password_reset

    user_id = user.pk
    transaction.on_commit(lambda: send_password_reset.delay(user_id, base_url), robust=True)


def password_reset_deliver(*, user_id: int, base_url: str) -> bool:
    """Send the reset link of one account (an email may have an account at several institutions:
    each gets its own message, naming its institution)."""
    user = User.objects.select_related("institution").filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    query = token_query(user)
    link = base_url + reverse("password_reset_confirm", kwargs={"uidb64": query["uid"], "token": query["token"]})
    name = user.institution.name if user.institution else "OpenProctor"
    send_templated(to=user, name="password_reset", subject=f"Reset your {name} password on OpenProctor",
                   context={"link": link, "days": LINK_DAYS})
    return True
