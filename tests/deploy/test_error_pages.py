"""With DEBUG off, a server error answers a plain page (or the API's envelope) that leaks nothing."""

from __future__ import annotations

from typing import Any

from django.test import Client


def test_it_answers_a_server_error_without_leaking_the_exception_or_settings(db: Any, settings: Any) -> None:
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.deploy.boom_urls"
    client = Client(raise_request_exception=False)
    page = client.get("/boom")
    api = client.get("/api/v1/boom")
    assert page.status_code == api.status_code == 500
    assert "Something went wrong on our side" in page.content.decode()
    assert api.json()["error"]["code"] == "server_error"
    for body in (page.content.decode(), api.content.decode()):
        for leak in ("hunter2", "DATABASE_URL", "RuntimeError", "Traceback", "SECRET_KEY", "settings"):
            assert leak not in body
