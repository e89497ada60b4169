from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from accounts import throttle


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
