"""The exam page follows a frame's status URL as scripts/loadgen.py (make bench-scale) does: its first look
comes 200 ms after the 202. Asking at once always found the frame pending (its analysis takes longer than the
202's round trip) and cost a web node a request on every frame."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, wait_until_true
from tests.browser.test_exam_flow import TIMEOUT
from tests.browser.test_offline import running_exam
from tests.conftest import PASSWORD, Tenant

# make test runs each browser test on one database (Makefile): this module's on SQLite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database("sqlite")]
STATUS_URL = re.compile(r"/api/v1/frames/\d+/$")

# Every fetch of the page, with when it began and when its answer came (performance.now(), ms).
FETCH_LOG = """
window.__fetches = [];
const originalFetch = window.fetch;
window.fetch = function (input, init) {
  const entry = {url: typeof input === "string" ? input : input.url, method: (init && init.method) || "GET",
                 start: performance.now(), end: null};
  window.__fetches.push(entry);
  return originalFetch.apply(this, arguments).then(function (response) {
    entry.end = performance.now();
    return response;
  });
};
"""


def test_the_exam_page_first_asks_for_a_frames_result_200_ms_after_the_202(
        live_server: Any, tenant_a: Tenant, camera_browser: Any) -> None:
    session = running_exam(tenant_a)
    context = camera_browser("signer1_b.jpg").new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(FETCH_LOG)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    sign_in(page, live_server.url, tenant_a.student.email, PASSWORD)
    page.goto(f"{live_server.url}/sessions/{session.pk}/exam")
    expect(page.locator("#checks .check")).to_have_count(5)  # a frame was sent, followed and its result shown
    wait_until_true(page, "new Set(window.__fetches.filter(f => /\\/api\\/v1\\/frames\\/\\d+\\/$/.test(f.url))"
                          ".map(f => f.url)).size >= 2", TIMEOUT)  # two frames followed

    fetches = page.evaluate("window.__fetches")
    posts = [f for f in fetches if f["method"] == "POST" and f["url"].endswith("/process") and f["end"]]
    first_looks: dict[str, float] = {}
    for fetch in fetches:
        if fetch["method"] == "GET" and STATUS_URL.search(fetch["url"]):
            first_looks.setdefault(fetch["url"], fetch["start"])
    assert posts and first_looks
    for url, start in first_looks.items():
        answered = max(p["end"] for p in posts if p["end"] <= start)  # the 202 that gave this status URL
        assert start - answered >= 190, f"{url} was asked {start - answered:.0f} ms after its 202"
