"""Every operation of the OpenAPI schema, swept with the input that used to answer 500 (issue 8 §5).

Where tests/test_schema.py lets schemathesis explore, this sweep is exhaustive and deterministic: each
JSON body, string property and query parameter the schema declares gets the values that broke the
API before (non-object bodies, deep nesting, NUL, lone surrogates, over-long text, non-integers and
out-of-range integers), as every role, at the tenant's own objects. Each answer is a 4xx in the
error envelope (or, for an over-long text with no declared limit, any non-5xx). It also pins the
schema's own promises: list pages, bounded paging, limits on text, the envelope on every 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import Tenant, api_client_for

ROLES = ("admin", "proctor", "student")
BAD_BODIES = ["[]", '["x"]', '"x"', "1", "null", '{"a": ' + "[" * 1000 + "]" * 1000 + "}"]
BAD_TEXT = ['"a\\u0000b"', '"\\ud800"', '"\\udfff x"']
BAD_QUERY = {"integer": ["abc", "-1", "1.5", str(10**30), "%00", "1%00"], "string": ["%00", "a%00b"],
             "number": ["abc", "%00", "nan"]}
# Text without a maxLength, each with its reason (the others are bounded by their column).
UNBOUNDED_TEXT = {"image": "base64 image, bounded by the request body limit", "description": "TextField",
                  "id_photo": "base64 image, as image", "live_photo": "base64 image, as image"}


@pytest.fixture
def schema(db: Any) -> dict[str, Any]:
    response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def body_properties(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return {}
    properties = resolve(schema, content["schema"]).get("properties", {})
    return {name: resolve(schema, prop) for name, prop in properties.items()}


def concrete(path: str, tenant: Tenant) -> str:
    """The path at the tenant's own object, so that the request reaches the code past the 404."""
    objects = {"/api/v1/exams/": tenant.exam, "/api/v1/users/": tenant.student, "/api/v1/sessions/": tenant.session,
               "/api/v1/frames/": tenant.frame, "/api/v1/incidents/": tenant.incident,
               "/api/v1/students/": tenant.student,
               # No appeal, and no decided incident, in the fixture: 404 (tests/proctoring/test_appeals).
               "/api/v1/appeals/": tenant.incident, "/api/v1/record/": tenant.frame}
    if "{external_image_id}" in path:
        return path.replace("{external_image_id}", str(tenant.face.external_image_id))
    for prefix, obj in objects.items():
        if path.startswith(prefix):
            return path.replace("{id}", str(obj.pk))
    if path.startswith("/api/v1/answers/"):
        from tests.accounts.test_tenancy import answer

        return path.replace("{id}", str(answer(tenant)))
    assert "{" not in path, path
    return path


def assert_client_error(response: Any, what: str) -> None:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.content[:300]!r}"
    assert set(response.json()["error"]) == {"code", "message", "details"}, what


def test_it_refuses_every_malformed_body_on_every_operation(schema: dict[str, Any], tenant_a: Tenant) -> None:
    sent = 0
    for path, method, operation in operations(schema):
        if "requestBody" not in operation:
            continue
        properties = body_properties(schema, operation)
        texts = [name for name, prop in properties.items() if prop.get("type") == "string"]
        bodies = BAD_BODIES + [f'{{"{name}": {bad}}}' for name in texts for bad in BAD_TEXT]
        bodies += [f'{{"{bad}": 1}}' for bad in BAD_TEXT]
        for role in ROLES:
            client = api_client_for(tenant_a.user(role))
            for body in bodies:
                response = client.generic(method, concrete(path, tenant_a), body.encode(), "application/json")
                assert_client_error(response, f"{role} {method} {path} {body[:60]}")
                sent += 1
    assert sent > 300


def test_it_refuses_every_malformed_query_value(schema: dict[str, Any], tenant_a: Tenant) -> None:
    sent = 0
    for path, method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            for role in ROLES:
                client = api_client_for(tenant_a.user(role))
                for value in BAD_QUERY[parameter["schema"]["type"]]:
                    url = f"{concrete(path, tenant_a)}?{parameter['name']}={value}"
                    response = client.generic(method, url, b"{}", "application/json")
                    assert_client_error(response, f"{role} {method} {url}")
                    sent += 1
    assert sent > 100


def test_it_holds_text_up_to_each_declared_limit_and_refuses_more(schema: dict[str, Any], tenant_a: Tenant) -> None:
    for path, method, operation in operations(schema):
        for name, prop in body_properties(schema, operation).items():
            if prop.get("type") != "string" or prop.get("format") or prop.get("enum"):
                continue
            limit = prop.get("maxLength", 20_000)
            for role in ROLES:
                client = api_client_for(tenant_a.user(role))
                for length in (limit, limit + 1):  # at the limit: the column must hold it (PostgreSQL checks)
                    response = client.generic(method, concrete(path, tenant_a),
                                              f'{{"{name}": "{"x" * length}"}}'.encode(), "application/json")
                    what = f"{role} {method} {path} {name} x{length}"
                    assert response.status_code < 500, f"{what}: {response.content[:300]!r}"
                    if length > limit and "maxLength" in prop:
                        assert_client_error(response, what)


def test_it_bounds_every_text_property_it_stores(schema: dict[str, Any]) -> None:
    unbounded = {
        f"{method} {path} {name}"
        for path, method, operation in operations(schema)
        for name, prop in body_properties(schema, operation).items()
        if prop.get("type") == "string" and "maxLength" not in prop and "enum" not in prop
        and prop.get("format") not in ("date-time", "email") and name not in UNBOUNDED_TEXT
    }
    assert unbounded == set()


def test_it_documents_pages_bounds_and_the_error_envelope(schema: dict[str, Any]) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for path, method, operation in operations(schema):
        assert operation["responses"]["4XX"]["content"]["application/json"]["schema"] == envelope, (method, path)
        parameters = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
        if "limit" in parameters:
            assert parameters["limit"]["minimum"] == 1 and parameters["limit"]["maximum"] == 200
            assert parameters["offset"]["minimum"] == 0 and "maximum" in parameters["offset"]
            page = resolve(schema, operation["responses"]["200"]["content"]["application/json"]["schema"])
            assert set(page["properties"]) == {"count", "next", "previous", "results"}, path
    process = schema["paths"]["/process"]["post"]["responses"]
    item = resolve(schema, process["200"]["content"]["application/json"]["schema"]["items"])
    assert set(item["properties"]) == {"TestName", "Success", "Details"}
    assert {"type": "integer"} in item["properties"]["Details"]["oneOf"]
    envelope_schema = resolve(schema, envelope)
    assert set(resolve(schema, envelope_schema["properties"]["error"])["properties"]) == {"code", "message", "details"}
