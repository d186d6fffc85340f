"""GET /api/v1/openapi.json describes every /api/v1 route and method, in OpenAPI 3.1."""

from __future__ import annotations

import re

import jsonschema_rs
from starlette.routing import Route, WebSocketRoute

from connect.openapi import API_PREFIX, OPERATIONS


def served_operations(app) -> set[tuple[str, str]]:
    """(method, path template) for every route under /api/v1, straight from the router."""
    found = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith(API_PREFIX):
            continue
        template = re.sub(r"{(\w+):\w+}", r"{\1}", path)  # {thread_id:int} -> {thread_id}
        if isinstance(route, WebSocketRoute):
            found.add(("GET", template))
        elif isinstance(route, Route):
            found.update((m, template) for m in route.methods or () if m != "HEAD")
    return found


def test_every_api_route_and_method_is_in_the_document(client, app):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["openapi"].startswith("3.1")
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = served_operations(app)
    assert served - listed == set(), "routes missing from the OpenAPI document"
    assert listed - served == set(), "the document lists operations nobody serves"
    undocumented = sorted(
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("x-undocumented")
    )
    assert undocumented == [], "describe these in connect/openapi.py OPERATIONS"
    assert set(OPERATIONS) == listed, "OPERATIONS describes routes that do not exist"


def test_errors_security_and_bodies_are_described(client):
    document = client.get("/api/v1/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["csrfToken"]["name"] == "X-CSRF-Token"
    assert schemes["sessionCookie"]["in"] == "cookie"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = operation["responses"]
            assert any(s.startswith(("1", "2")) for s in statuses), (method, path)
            for status, response in statuses.items():
                if status.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
            if method in ("post", "put", "patch") and "requestBody" in operation:
                assert operation["requestBody"]["content"], (method, path)
    create = document["paths"]["/api/v1/communities/{slug}/threads"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["title", "body"]
    assert {"bearerAuth": []} in create["security"]
    assert {"sessionCookie": [], "csrfToken": []} in create["security"]
    thread = document["paths"]["/api/v1/threads/{thread_id}"]["get"]
    assert thread["parameters"][0]["schema"]["type"] == "integer"


def test_real_error_answers_match_the_error_schema(client):
    document = client.get("/api/v1/openapi.json").json()
    schema = {**document["components"]["schemas"]["Error"], "$defs": {}}
    validator = jsonschema_rs.validator_for(schema)
    for response in (
        client.get("/api/v1/threads/987654"),
        client.get("/api/v1/me"),
        client.post("/api/v1/auth/register", json={"username": "?"}),
        client.post(
            "/api/v1/auth/token", content=b"{not json", headers={"content-type": "application/json"}
        ),
    ):
        assert 400 <= response.status_code < 500
        validator.validate(response.json())
