"""The project's URLs plus views that fail, for the error-page tests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: DATABASE_URL=postgres://user:hunter2@db/prod")


urlpatterns = [path("boom", boom), path("api/v1/boom", boom), *urlpatterns]
