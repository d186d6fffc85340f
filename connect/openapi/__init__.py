"""The OpenAPI 3.1 document of the JSON API, served at GET /api/v1/openapi.json.

Every schema lives here, in one place. The document is built by walking the app's routes,
so a route under /api/v1 is never missing from it: a route without a description below
still appears, marked `x-undocumented`, and tests/ops/test_openapi.py fails until one is
written in OPERATIONS.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.convertors import FloatConvertor, IntegerConvertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from connect import __version__
from connect.openapi.operations import (
    OPERATIONS,
    READ_ERRORS,
    WRITE_ERRORS,
    Op,
)
from connect.openapi.schemas import (
    API_PREFIX,
    DOC_PATH,
    LISTED_METHODS,
    PATH_ID,
    PATH_PARAMS,
    SCHEMAS,
    ref,
)

# Building -------------------------------------------------------------------------------------

SECURITY = {
    "none": [{}],
    "optional": [{"bearerAuth": []}, {"sessionCookie": []}, {}],
    "required": [{"bearerAuth": []}, {"sessionCookie": [], "csrfToken": []}],
}
STATUS_TEXT = {
    400: "Bad input (not JSON, wrong content type).",
    401: "Not signed in.",
    403: "Not allowed (or the CSRF token is missing for a cookie-authenticated write).",
    404: "Not found, or not visible to you.",
    409: "Conflict (it exists already).",
    413: "Too large.",
    415: "Unsupported file type (decided from the content).",
    422: "Invalid input; `fields` says which and why.",
    423: "The thread is locked.",
    429: "Rate limited; see Retry-After.",
    503: "Temporarily unavailable (the search index is being rebuilt).",
}


def _template(path: str) -> tuple[str, dict[str, dict]]:
    """/threads/{thread_id:int} -> /threads/{thread_id}, with each parameter's schema."""
    params: dict[str, dict] = {}
    for name, kind in re.findall(r"{(\w+)(?::(\w+))?}", path):
        if kind == "int":
            params[name] = PATH_ID
        elif kind == "float":
            params[name] = {"type": "number"}
        else:
            params[name] = PATH_PARAMS.get(name, {"type": "string", "pattern": "^[^/]+$"})
    return re.sub(r"{(\w+):\w+}", r"{\1}", path), params


def _route_params(route: Route | WebSocketRoute) -> dict[str, dict]:
    params = _template(route.path)[1]
    for name, convertor in route.param_convertors.items():
        if isinstance(convertor, IntegerConvertor):
            params[name] = PATH_ID
        elif isinstance(convertor, FloatConvertor):
            params[name] = {"type": "number"}
    return params


def api_routes(routes) -> list[tuple[str, str, Route | WebSocketRoute]]:
    """(method, path template, route) for every route under /api/v1, HEAD left out."""
    found = []
    for route in routes:
        if not isinstance(route, (Route, WebSocketRoute)) or not route.path.startswith(API_PREFIX):
            continue
        path = _template(route.path)[0]
        if isinstance(route, WebSocketRoute):
            found.append(("GET", path, route))
            continue
        for method in sorted(route.methods or ()):
            if method in LISTED_METHODS:
                found.append((method, path, route))
    return found


def _error_response(status: int) -> dict:
    content = {"application/json": {"schema": ref("Error")}}
    response = {"description": STATUS_TEXT.get(status, "Error."), "content": content}
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return response


def _operation(method: str, path: str, route, params: dict[str, dict]) -> dict:
    op = OPERATIONS.get((method, path))
    undocumented = op is None
    if op is None:
        op = Op(f"{method} {path}", "undocumented", answer={})
    slug = re.sub(r"[^a-z0-9]+", "_", path[len(API_PREFIX) :].lower()).strip("_") or "root"
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{slug}",
        "summary": op.summary,
        "tags": [op.tag],
        "security": SECURITY[op.auth],
    }
    if undocumented:
        operation["x-undocumented"] = True
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in params.items()
    ]
    parameters += op.params
    if parameters:
        operation["parameters"] = parameters
    content: dict[str, Any] = {}
    if op.body is not None:
        content["application/json"] = {"schema": op.body}
    if op.multipart is not None:
        content["multipart/form-data"] = {"schema": op.multipart}
    if content:
        operation["requestBody"] = {"required": op.body_required, "content": content}
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": "Done."}
    if op.ok == 101:
        success = {"description": "Switching Protocols: the WebSocket is open."}
    elif op.answer is not None:
        success["content"] = {op.answer_type: {"schema": op.answer}}
    responses[str(op.ok)] = success
    for status, text in op.extra.items():
        responses[str(status)] = {"description": text}
    errors = set(op.errors or (WRITE_ERRORS if method != "GET" else READ_ERRORS))
    if op.auth == "required":
        errors |= {401, 403}
    if op.auth == "optional":
        errors |= {401}  # an expired or revoked bearer token
    for status in sorted(errors):
        responses[str(status)] = _error_response(status)
    operation["responses"] = responses
    return operation


def build_document(routes, *, server_url: str = "") -> dict:
    """The whole document, from the app's routes and the descriptions above."""
    paths: dict[str, dict] = {}
    for method, path, route in api_routes(routes):
        operation = _operation(method, path, route, _route_params(route))
        paths.setdefault(path, {})[method.lower()] = operation
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Connect API",
            "version": __version__,
            "description": (
                "The JSON API of a Connect site (docs/api.md). Errors answer "
                '{"error": {"code", "message", "fields"?}}; lists answer '
                '{"items", "total", "page", "per_page"}. HEAD is answered for every GET.'
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "POST /api/v1/auth/token gives one.",
                },
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "connect_session"},
                "csrfToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "Required with the session cookie on writes.",
                },
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


async def openapi_json(request: Request) -> Response:
    state = request.app.state
    if not hasattr(state, "openapi_document"):
        state.openapi_document = build_document(request.app.routes)
    return JSONResponse(state.openapi_document, headers={"Cache-Control": "no-cache"})


routes = [Route(DOC_PATH, openapi_json, methods=["GET"])]
