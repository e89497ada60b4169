from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils import timezone

from accounts import tenancy
from accounts.errors import AppError, error_response
from accounts.text import text_problem
from accounts.timezones import zone_for

# Paths whose clients expect JSON errors (the API and the sample-compatible endpoints).
API_PREFIXES = ("/api/", "/faces/", "/process")


class TenantScopeMiddleware:
    """Activates the signed-in user's institution for the request, and always resets it after.

    Token-authenticated API requests are scoped again by ``accounts.api.TenantAPIView`` once DRF
    has authenticated them; the reset here ends that scope too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = tenancy.activate(tenancy.scope_for_user(request.user))
        try:
            return self.get_response(request)
        finally:
            tenancy.deactivate(token)


class TimeZoneMiddleware:
    """Shows every time of the request in the user's zone (theirs, else their institution's, else
    TIME_ZONE): templates' dates, forms' datetimes (the exam schedule is typed in local time) and exports."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with timezone.override(zone_for(request.user)):
            return self.get_response(request)


class BodySizeLimitMiddleware:
    """Refuses bodies over MAX_REQUEST_BODY before anything reads them.

    DRF's parsers stream the body without Django's DATA_UPLOAD_MAX_MEMORY_SIZE check, so a huge
    JSON body would otherwise be read into memory whole.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY:
            limit_mb = settings.MAX_REQUEST_BODY / (1024 * 1024)
            message = f"The request body is too large ({length} bytes; the limit is {limit_mb:.0f} MB)."
            if request.path.startswith(API_PREFIXES):
                return error_response("too_large", message, 413)
            # A page: the site's own error page, not a bare line of text with no way back (an audit: a 17 MB photo).
            from django.template.loader import render_to_string

            page = render_to_string("error.html", {
                "title": "That file is too large",
                "message": f"{message} Choose a smaller file: a phone's photo can be saved smaller, or taken again at "
                           "a lower resolution. Nothing was saved.",
                "back": request.path})
            return HttpResponse(page, status=413)
        return self.get_response(request)


class AppErrorPageMiddleware:
    """An ``AppError`` raised from a page view renders its message with its status, never a 500.

    The API has its own handler (the JSON envelope); this covers the server-rendered pages, e.g. a
    double submit of the exam (409: already submitted) or a step the exam's rules do not allow yet.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, AppError):
            return None
        if request.path.startswith(API_PREFIXES):
            return error_response(exception.code, exception.message, exception.status_code, exception.details)
        from django.shortcuts import render

        title = "Not found" if exception.status_code == 404 else "That did not work"
        return render(request, "error.html", {"title": title, "message": exception.message},
                      status=exception.status_code)


class RejectUnstorableTextMiddleware:
    """Refuses query strings and form fields holding text the database cannot store (NUL, lone surrogates).

    One place for every view: a page that reads ``request.POST["note"]`` or an API filter that reads
    ``request.query_params["kind"]`` would otherwise pass a NUL to PostgreSQL and answer 500. JSON
    bodies are checked by ``accounts.parsers.StrictJSONParser``. Runs after ``BodySizeLimitMiddleware``
    so that an oversized form is refused before it is parsed here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            problem = _problem_in(request.GET) or (_problem_in(request.POST) if request.method == "POST" else None)
        except MultiPartParserError:
            problem = "a malformed multipart body"
        if problem is None:
            return self.get_response(request)
        message = f"The request contains {problem}."
        if request.path.startswith(API_PREFIXES):
            return error_response("malformed_request", message, 400)
        return render(request, "error.html", {"title": "Bad request", "message": message}, status=400)


def _problem_in(params: QueryDict) -> str | None:
    for key, values in params.lists():
        for text in (key, *values):
            problem = text_problem(text)
            if problem:
                return problem
    return None
