"""Content-Security-Policy: a strict header on every page, no inline scripts or style attributes in
the templates, and the API docs served from the project (drf-spectacular-sidecar), not a CDN."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.test import Client

from tests.conftest import Tenant, page_client_for

ROOT = Path(__file__).resolve().parents[2]


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def test_it_sends_a_strict_content_security_policy_on_pages(tenant_a: Tenant) -> None:
    for client, path in [(Client(), "/accounts/login/"), (page_client_for(tenant_a.admin), "/exams/"),
                         (page_client_for(tenant_a.proctor), "/review/")]:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], path
        assert policy["style-src"] == ["'self'"], path
        assert policy["default-src"] == ["'self'"]
        assert policy["connect-src"] == ["'self'"]
        assert set(policy["img-src"]) == {"'self'", "data:", "blob:"}
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_it_has_no_inline_script_event_handler_or_style_attribute_in_the_templates() -> None:
    offenders = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        name = str(path.relative_to(ROOT / "templates"))
        if name.startswith("emails/"):
            continue  # mail, not pages: mail clients drop stylesheets, and no browser applies our CSP to it
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{name}: inline {tag}")
        offenders += [f"{name}: {m}" for m in re.findall(r"<[^>]*\son[a-z]+\s*=[^>]*>", text)]
        offenders += [f"{name}: {m}" for m in re.findall(r"<[^>]*\sstyle\s*=[^>]*>", text)]
        offenders += [f"{name}: <style>" for _ in re.findall(r"<style\b", text)]
    assert offenders == []


def test_it_serves_the_api_docs_from_the_project_not_a_cdn(db: Any) -> None:
    page = Client().get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower() and "@latest" not in html and "<script>" not in html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), assets
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset  # shipped by the sidecar or the project
    script = Client().get("/api/v1/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()
    policy = _directives(page["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
