"""Helpers shared by every app's server-rendered pages (in accounts, so that all apps can import them)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.decorators import role_required
from accounts.errors import AppError
from accounts.models import Role


def admin_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (else the login page), then the admin role (else 403), before any object lookup.

    Platform superusers have no institution to write into: they are sent away with a 403 too.
    """

    @wraps(view)
    def in_an_institution(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request.user, "institution_id", None) is None:
            raise PermissionDenied("These pages belong to an institution's admins.")
        return view(request, *args, **kwargs)

    return login_required(role_required(Role.ADMIN)(in_an_institution))


def form_data(request: HttpRequest) -> Any:
    """A form's data: bound on POST even when the body is empty (an empty QueryDict is falsy)."""
    return request.POST if request.method == "POST" else None


def form_files(request: HttpRequest) -> Any:
    return request.FILES if request.method == "POST" else None


def show_error(form: forms.Form, error: AppError) -> None:
    """Put a service's error on the form: on its fields when the details name them, else on top."""
    placed = False
    if isinstance(error.details, dict):
        for field, problems in error.details.items():
            if field in form.fields:
                for problem in problems if isinstance(problems, list) else [problems]:
                    form.add_error(field, str(problem))
                placed = True
    if not placed:
        form.add_error(None, error.message)
