"""The OpenAPI 3.1 document of the native admin API, generated from the wire types.

Schemas come from `msgspec.json.schema_components` over the same Structs that validate
admin input, so the document cannot drift from what the server accepts. Only the list
of operations is written here.
"""

from __future__ import annotations

import inspect
import json
from functools import cache
from typing import Any

import msgspec

from controlplane import wire
from controlplane._version import __version__

__all__ = ["openapi_document", "openapi_spec"]

_REF = "#/components/schemas/{name}"

# (method, path, summary, request schema, {status: (description, response schema)})
_Op = tuple[str, str, str, Any, dict[int, tuple[str, Any]]]

_ERR = wire.ErrorBody
_SESSION_SCOPED: list[_Op] = [
    (
        "post",
        "/routes",
        "Add one route or a list of routes",
        wire.Route | list[wire.Route],
        {
            201: ("The routes, with ids", wire.RouteList),
            400: ("Not JSON", _ERR),
            409: ("Route id taken", _ERR),
            422: ("Wrong shape", _ERR),
        },
    ),
    ("get", "/routes", "List routes in declaration order", None, {200: ("Routes", wire.RouteList)}),
    (
        "delete",
        "/routes",
        "Remove every route (and their handlers' responses)",
        None,
        {204: ("Removed", None)},
    ),
    (
        "get",
        "/routes/{route_id}",
        "One route",
        None,
        {200: ("The route", wire.Route), 404: ("Unknown route", _ERR)},
    ),
    (
        "put",
        "/routes/{route_id}",
        "Replace a route, keeping its place in declaration order",
        wire.Route,
        {200: ("The route", wire.Route), 404: ("Unknown route", _ERR), 422: ("Wrong shape", _ERR)},
    ),
    (
        "delete",
        "/routes/{route_id}",
        "Remove a route",
        None,
        {204: ("Removed", None), 404: ("Unknown route", _ERR)},
    ),
    (
        "put",
        "/handlers/{name}/response",
        "Register the response of a handler (last write wins)",
        wire.AnyResponse,
        {
            200: ("Registered", wire.AnyResponse),
            404: ("No route declares this handler", _ERR),
            422: ("Wrong shape", _ERR),
        },
    ),
    (
        "get",
        "/handlers",
        "Handlers with their routes, call counts and responses",
        None,
        {200: ("Handlers", wire.HandlerList)},
    ),
    (
        "get",
        "/handlers/{name}/calls",
        "The journaled calls of one handler",
        None,
        {200: ("Calls, oldest first", wire.CallList), 404: ("Unknown handler", _ERR)},
    ),
    (
        "post",
        "/handlers/{name}/verify",
        "Count matching calls and check the count",
        wire.VerifyRequest,
        {
            200: ("Holds", wire.VerifyResult),
            409: ("Does not hold; `message` explains", wire.VerifyResult),
            404: ("Unknown handler", _ERR),
            422: ("Wrong shape", _ERR),
        },
    ),
    (
        "get",
        "/requests",
        "The journal, filtered (handler, matched, method, path, limit)",
        None,
        {200: ("Requests, oldest first", wire.RequestList), 422: ("Bad filter", _ERR)},
    ),
    (
        "get",
        "/requests/unmatched",
        "Requests no route matched, with their near misses",
        None,
        {200: ("Unmatched requests", wire.UnmatchedRequestList)},
    ),
    ("delete", "/requests", "Clear the journal", None, {204: ("Cleared", None)}),
    (
        "get",
        "/scenarios",
        "Scenarios with their current and possible states and their routes",
        None,
        {200: ("Scenarios", wire.ScenarioList)},
    ),
    (
        "post",
        "/scenarios/reset",
        "Every scenario back to `Started`",
        None,
        {204: ("Reset", None)},
    ),
    (
        "put",
        "/scenarios/{name}/state",
        "Put one scenario in a state (an empty body or no `state`: `Started`)",
        wire.ScenarioStateUpdate,
        {
            200: ("The scenario", wire.ScenarioInfo),
            404: ("No route names this scenario", _ERR),
            422: ("Wrong shape", _ERR),
        },
    ),
    (
        "get",
        "/settings",
        "Session-wide settings (an extra `delay` on every answer)",
        None,
        {200: ("Settings", wire.Settings)},
    ),
    (
        "put",
        "/settings",
        "Replace the session-wide settings",
        wire.Settings,
        {200: ("Settings", wire.Settings), 422: ("Wrong shape", _ERR)},
    ),
    (
        "post",
        "/reset",
        "Remove routes, responses, scenarios, settings and journal of the session",
        None,
        {204: ("Reset", None)},
    ),
]

#: Query parameters of `GET .../requests` (the journal filters).
_REQUEST_FILTERS: list[dict[str, Any]] = [
    {"name": "handler", "description": "only calls of this handler", "schema": {"type": "string"}},
    {
        "name": "matched",
        "description": "true: matched a route; false: did not",
        "schema": {"type": "boolean"},
    },
    {"name": "method", "description": "HTTP method (any case)", "schema": {"type": "string"}},
    {
        "name": "path",
        "description": "exact path, without a session prefix",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "description": "keep the newest N",
        "schema": {"type": "integer", "minimum": 0},
    },
]

_GLOBAL: list[_Op] = [
    ("get", "/health", "Liveness and version", None, {200: ("Up", wire.Health)}),
    (
        "post",
        "/api/sessions",
        "Create an isolated session",
        wire.SessionCreate,
        {201: ("The session", wire.Session), 409: ("Id taken", _ERR), 422: ("Wrong shape", _ERR)},
    ),
    (
        "get",
        "/api/sessions",
        "List sessions (default included)",
        None,
        {200: ("Sessions", wire.SessionList)},
    ),
    (
        "get",
        "/api/sessions/{sid}",
        "One session",
        None,
        {200: ("The session", wire.Session), 404: ("Unknown session", _ERR)},
    ),
    (
        "delete",
        "/api/sessions/{sid}",
        "Delete a session with everything in it",
        None,
        {204: ("Deleted", None), 404: ("Unknown session", _ERR), 409: ("`default` stays", _ERR)},
    ),
    ("get", "/api/openapi.json", "This document", None, {200: ("OpenAPI 3.1", None)}),
]


def _operations() -> list[_Op]:
    ops = list(_GLOBAL)
    for method, path, summary, request, responses in _SESSION_SCOPED:
        ops.append((method, "/api" + path, summary + " (session default)", request, responses))
        ops.append((method, "/api/sessions/{sid}" + path, summary, request, responses))
    return ops


@cache
def openapi_spec() -> dict[str, Any]:
    """The document as a dict (built once)."""
    ops = _operations()
    types: list[Any] = []
    for _, _, _, request, responses in ops:
        if request is not None:
            types.append(request)
        types.extend(schema for _, schema in responses.values() if schema is not None)
    unique = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(unique, ref_template=_REF)
    components = _clean_descriptions(components)
    schema_of = dict(zip(unique, schemas, strict=True))

    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, request, responses in ops:
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}_{path}".replace("/", "_").replace("{", "").replace("}", ""),
            "responses": {
                str(status): (
                    {"description": description}
                    | (
                        {"content": {"application/json": {"schema": schema_of[schema]}}}
                        if schema is not None
                        else {}
                    )
                )
                for status, (description, schema) in responses.items()
            },
        }
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in ("sid", "route_id", "name")
            if "{" + name + "}" in path
        ]
        if method == "get" and path.endswith("/requests"):
            params += [{"in": "query", "required": False} | p for p in _REQUEST_FILTERS]
        if params:
            operation["parameters"] = params
        if request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[request]}},
            }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "controlplane admin API",
            "version": __version__,
            "description": "Native admin API of the controlplane HTTP mock server.",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


def _clean_descriptions(node: Any) -> Any:
    """`node` with every `description` dedented as `inspect.cleandoc` does.

    Descriptions come from docstrings, whose indentation depends on the Python version
    (3.13 dedents `__doc__`, 3.11 does not) and on msgspec's handling of it: normalising
    here keeps the document the same wherever it is generated.
    """
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else _clean_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(item) for item in node]
    return node


@cache
def openapi_document() -> bytes:
    """The document as indented JSON bytes and a newline (what `GET /api/openapi.json` serves).

    Laid out by the standard library's `json` rather than a dependency's formatter, so
    the committed copy does not change with library versions.
    """
    return json.dumps(openapi_spec(), indent=2, ensure_ascii=False).encode() + b"\n"


if __name__ == "__main__":
    # `python -m controlplane.admin.openapi > docs/reference/openapi.json` refreshes the
    # committed copy; a test fails when it differs from what the server serves.
    import sys

    sys.stdout.buffer.write(openapi_document())
