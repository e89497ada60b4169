from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.crypto import salted_hmac
from django.views.decorators.http import require_http_methods

from accounts import services, throttle
from accounts.forms import TimeZoneForm
from accounts.mail import queue_password_reset, site_url


class LoginForm(AuthenticationForm):
    """Email and password; the institution's slug only when they fit accounts at several."""

    institution = forms.SlugField(required=False, max_length=50)
    needs_institution = False

    def clean(self) -> dict[str, Any]:
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = authenticate(self.request, username=username, password=password,
                                           institution=self.cleaned_data.get("institution") or None)
            if self.user_cache is None:
                if getattr(self.request, "login_needs_institution", False):
                    self.needs_institution = True
                    raise ValidationError("This email and password fit accounts at several institutions: enter "
                                          "your institution's short name too.", code="institution_required")
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class LoginView(auth_views.LoginView):
    """Django's login page. django-axes locks an account out from one client address after
    repeated failures (its middleware answers with accounts.throttle.axes_lockout_response); each
    further lock-out lasts longer, and a client address that fails across many accounts is refused, here."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle.account_locked_for(request, str(request.POST.get("username", "")))
        if throttle.address_blocked(request):
            wait = max(wait or 0, settings.LOGIN_ADDRESS_FAILURE_WINDOW)
        if wait:
            response = self.render_to_response(self.get_context_data(form=throttle.locked_out_form(request)),
                                               status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        throttle.record_address_failure(self.request)
        return super().form_invalid(form)


# --- password reset: Django's views and token, mailed by a Celery task ---------------------------

RESET_LIMITED_MESSAGE = "Too many reset requests from your network. Wait a while and try again."


class PasswordResetRequestForm(PasswordResetForm):
    """Django's form, queueing the mail instead of sending it in the request. ``get_users`` is Django's:
    every active account with this email and a password, at any institution (each is mailed its own link)."""

    def save(self, *, request: HttpRequest | None = None, **_: Any) -> None:  # type: ignore[override]
        for user in self.get_users(self.cleaned_data["email"]):
            queue_password_reset(user=user, base_url=site_url(request))


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link. Whether the email has an account is never told: the same page follows
    (and nothing is sent past PASSWORD_RESET_EMAIL_LIMIT requests for one address in the window).
    A client address past PASSWORD_RESET_ADDRESS_LIMIT requests is refused with a 429."""

    template_name = "accounts/password_reset.html"
    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("password_reset_done")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = throttle.window_hit(f"reset-addr:{throttle.client_address(request)}",
                                  limit=settings.PASSWORD_RESET_ADDRESS_LIMIT, window=settings.PASSWORD_RESET_WINDOW)
        if wait:
            form = self.get_form()
            form.errors.clear()
            response = self.render_to_response(self.get_context_data(form=form, limited=RESET_LIMITED_MESSAGE),
                                               status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        # Keyed by an HMAC of the address: the cache never holds the email itself.
        email_key = salted_hmac("password-reset", form.cleaned_data["email"].strip().lower()).hexdigest()
        if throttle.window_hit(f"reset-email:{email_key}", limit=settings.PASSWORD_RESET_EMAIL_LIMIT,
                               window=settings.PASSWORD_RESET_WINDOW) is None:
            form.save(request=self.request)
        return HttpResponseRedirect(self.get_success_url())


# --- the signed-in person's own time zone ----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def time_zone_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    institution_zone = user.institution.time_zone if user.institution_id else settings.TIME_ZONE
    form = TimeZoneForm(request.POST if request.method == "POST" else None,
                        initial={"time_zone": user.time_zone}, institution_zone=institution_zone)
    if request.method == "POST" and form.is_valid():
        services.user_time_zone_set(user=user, time_zone=form.cleaned_data["time_zone"])
        shown = form.cleaned_data["time_zone"] or institution_zone
        messages.success(request, f"Times are now shown in {shown.replace('_', ' ')}.")
        return redirect("account-time-zone")
    return render(request, "accounts/time_zone.html", {"form": form, "institution_zone": institution_zone})
