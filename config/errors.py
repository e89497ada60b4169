"""Django-level error pages: JSON envelopes for API paths, plain pages for people."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.errors import error_response
from accounts.middleware import API_PREFIXES


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def _page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        if _is_api(request):
            return error_response("too_large", "The request body is too large.", 413)
        return _page(request, 413, "Too large", "The upload is too large.")
    if _is_api(request):
        return error_response("malformed_request", "The request could not be understood.", 400)
    return _page(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = "You do not have permission to do this."
    if _is_api(request):
        return error_response("forbidden", message, 403)
    return _page(request, 403, "Not allowed", message)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = "There is nothing here, or it is not yours to see."
    if _is_api(request):
        return error_response("not_found", "Not found.", 404)
    return _page(request, 404, "Not found", message)


def server_error(request: HttpRequest) -> HttpResponse:
    message = "Something went wrong on our side. It has been logged."
    if _is_api(request):
        return error_response("server_error", message, 500)
    return _page(request, 500, "Server error", message)
