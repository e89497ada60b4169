"""The API keeps its own OpenAPI contract under generated input (issue 8 §5).

schemathesis derives requests from the schema that drf-spectacular serves at /api/v1/schema/ and sends
them through the WSGI application as each role, with valid (positive) and invalid (negative) data, a
fixed seed and a bounded number of examples. Every answer must be a non-5xx whose status and body
the schema declares (4xx bodies are the error envelope). Figures: ``-s`` prints the totals.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services
from tests.conftest import Tenant

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Examples per operation, role and mode; SCHEMA_EXAMPLES raises it for a longer run.
EXAMPLES = int(os.environ.get("SCHEMA_EXAMPLES", "6"))
# Deleting runs last so that the other operations still find the tenant's objects.
ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)

    def report(self) -> str:
        server_errors = sum(n for status, n in self.statuses.items() if status >= 500)
        return (f"schemathesis: {self.requests} requests, {server_errors} server errors, "
                f"{len(self.failures)} check failures; statuses {dict(sorted(self.statuses.items()))}; "
                f"no invalid case possible for {len(self.unsatisfiable)} operation(s)")


def _pk_for(path: str, tenant: Tenant) -> int:
    """The tenant's own object for a path, so that generated cases also reach past the 404."""
    for prefix, obj in (("/api/v1/exams", tenant.exam), ("/api/v1/users", tenant.student),
                        ("/api/v1/sessions", tenant.session), ("/api/v1/frames", tenant.frame),
                        ("/api/v1/incidents", tenant.incident),
                        ("/api/v1/speech", tenant.frame),  # no clip in the fixture: the id answers 404
                        # No appeal, and no decided incident, in the fixture: 404 (tests/proctoring/test_appeals).
                        ("/api/v1/appeals", tenant.incident), ("/api/v1/record/frames", tenant.frame),
                        ("/api/v1/messages", tenant.frame),  # no message in the fixture: the id answers 404
                        ("/api/v1/students", tenant.student)):
        if path.startswith(prefix):
            return obj.pk
    if path.startswith("/api/v1/answers"):  # a short-text answer of the (scheduled) session: grading answers 409
        from tests.accounts.test_tenancy import answer

        return answer(tenant)
    raise AssertionError(path)


def _exercise(operation: Any, mode: GenerationMode, headers: dict[str, str], tally: Tally,
              path_parameters: dict[str, Any] | None) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:  # noqa: BLE001 - every failed check is recorded, then reported together
            tally.failures.append(f"{operation.label} [{mode.value}] {response.status_code}: "
                                  f"{str(exc).strip()[:600]}")

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (e.g. GET /me has no parameters)
        tally.unsatisfiable.append(f"{operation.label} [{mode.value}]")


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """The real WSGI application, kept from closing the test's database connection after each request
    (as Django's test client does)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)


@pytest.mark.one_database("postgresql")  # the stricter database (NUL bytes, 32-bit integers): Makefile
@pytest.mark.parametrize("role", ["admin", "proctor", "student", "anonymous"])
def test_it_answers_every_generated_request_as_its_schema_says(tenant_a: Tenant, tenant_b: Tenant, wsgi_app: Any,
                                                               role: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app)
    headers = {} if role == "anonymous" else {
        "Authorization": f"Token {services.user_api_token(user=tenant_a.user(role))}"}
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (ORDER.get(op.method.upper(), 9), op.path))
    tally = Tally()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _exercise(operation, mode, headers, tally, None)
            names = {p.name for p in operation.path_parameters}
            if names and mode is GenerationMode.POSITIVE:
                own = {"external_image_id": str(tenant_a.face.external_image_id)} if "external_image_id" in names \
                    else {"id": _pk_for(operation.path, tenant_a)}
                _exercise(operation, mode, headers, tally, own)
    print(f"\n[{role}] {tally.report()}")
    assert tally.requests > 0
    assert tally.failures == [], "\n".join(tally.failures[:20])
