"""`GET /api/openapi.json`: OpenAPI 3.1 from the wire types, and the committed copy matches."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import requests

from tests.conftest import SessionHandle, ThreadedServer

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "reference" / "openapi.json"
REGENERATE = "make generate"

#: Every admin path of DESIGN.md's table (session-scoped ones exist twice).
SESSION_SCOPED = {
    "/routes": {"get", "post", "delete"},
    "/routes/{route_id}": {"get", "put", "delete"},
    "/handlers": {"get"},
    "/handlers/{name}/response": {"put"},
    "/handlers/{name}/calls": {"get"},
    "/handlers/{name}/verify": {"post"},
    "/requests": {"get", "delete"},
    "/requests/unmatched": {"get"},
    "/scenarios": {"get"},
    "/handlers/{name}/events": {"post"},
    "/handlers/{name}/messages": {"get", "post"},
    "/handlers/{name}/connections": {"delete"},
    "/requests/stream": {"get"},
    "/scenarios/reset": {"post"},
    "/scenarios/{name}/state": {"put"},
    "/settings": {"get", "put"},
    "/reset": {"post"},
    "/recordings": {"get", "post"},
    "/recordings/stop": {"post"},
    "/recordings/snapshot": {"post"},
    "/webhooks": {"get", "delete"},
}
GLOBAL = {
    "/health": {"get"},
    "/api/sessions": {"get", "post"},
    "/api/sessions/{sid}": {"get", "delete"},
    "/api/openapi.json": {"get"},
}


@pytest.fixture(scope="module")
def served(cp_server: ThreadedServer) -> bytes:
    answer = requests.get(f"{cp_server.admin_url}/api/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.content


@pytest.fixture(scope="module")
def document(served: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(served)
    return parsed


def test_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]


def test_document_lists_every_admin_path_of_the_design(document: dict[str, Any]) -> None:
    expected = dict(GLOBAL)
    for path, methods in SESSION_SCOPED.items():
        expected["/api" + path] = methods
        expected["/api/sessions/{sid}" + path] = methods
    paths = document["paths"]
    assert {path: set(operations) for path, operations in paths.items()} == expected


def test_path_parameters_and_journal_filters_are_declared(document: dict[str, Any]) -> None:
    put_route = document["paths"]["/api/sessions/{sid}/routes/{route_id}"]["put"]
    assert {p["name"] for p in put_route["parameters"]} == {"sid", "route_id"}
    requests_op = document["paths"]["/api/requests"]["get"]
    filters = {p["name"]: p for p in requests_op["parameters"] if p["in"] == "query"}
    assert set(filters) == {"handler", "matched", "method", "path", "limit", "after"}
    whole_or_empty = {"anyOf": [{"type": "integer", "minimum": 0}, {"const": ""}]}
    assert filters["limit"]["schema"] == whole_or_empty
    assert filters["after"]["schema"] == whole_or_empty
    for listing in ("/api/requests/unmatched", "/api/handlers/{name}/calls"):
        declared = document["paths"][listing]["get"]["parameters"]
        assert {p["name"] for p in declared if p["in"] == "query"} == {"limit", "after"}


def test_components_include_route_match_matchers_and_responses(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in (
        "Route",
        "Match",
        "StringMatcher",
        "JsonPathCondition",
        "Delay",
        "JsonResponse",
        "RawResponse",
        "MsgpackResponse",
        "YamlResponse",
        "TomlResponse",
        "SequenceResponse",
        "FaultResponse",
        "ProxyResponse",
        "RecordedRequest",
        "VerifyRequest",
        "VerifyResult",
        "ErrorBody",
        "Session",
    ):
        assert name in schemas, name
    route = schemas["Route"]
    assert set(route["required"]) == {"method", "handler"}
    assert route["additionalProperties"] is False
    assert set(schemas["StringMatcher"]["properties"]) >= {"equals", "contains", "absent", "not"}
    assert schemas["JsonResponse"]["properties"]["type"] == {"enum": ["json"]}


def test_every_reference_resolves(served: bytes, document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    refs = {part.split('"')[0] for part in served.decode().split(f'"$ref": "{prefix}')[1:]}
    assert refs and refs <= set(schemas)


def test_add_routes_accepts_one_route_or_a_list(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/routes"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/Route"} in schema["anyOf"]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/Route"}} in schema["anyOf"]


def test_committed_copy_equals_what_the_server_serves(served: bytes) -> None:
    committed = COMMITTED.read_bytes() if COMMITTED.exists() else b""
    assert json.loads(committed or b"null") == json.loads(served), (
        f"{COMMITTED.relative_to(ROOT)} is out of date; regenerate it from the repository "
        f"root with:\n    {REGENERATE}"
    )
    assert committed == served, f"formatting differs; regenerate with: {REGENERATE}"


def test_an_empty_body_is_accepted_exactly_where_the_document_says_so(
    cp_server: ThreadedServer, document: dict[str, Any]
) -> None:
    # The table renders `requestBody.required`; the handlers decide what an empty body
    # gets. Send one to every operation that takes a body and compare.
    admin = cp_server.admin_url
    sid = requests.post(f"{admin}/api/sessions", json={}, timeout=10).json()["id"]
    route = {"method": "GET", "path": "/x", "handler": "h", "scenario": {"name": "s"}}
    created = requests.post(f"{admin}/api/sessions/{sid}/routes", json=route, timeout=10)
    route_id = created.json()["routes"][0]["id"]
    checked = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/api/sessions/{sid}") and path != "/api/sessions":
            continue
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            name = "s" if "/scenarios/" in path else "h"
            url = admin + path.format(sid=sid, route_id=route_id, name=name)
            answer = requests.request(method, url, data=b"", timeout=10)
            required = operation["requestBody"]["required"]
            assert (answer.status_code == 400) == required, (method, path, answer.text)
            checked += 1
    # POST sessions, routes, verify, recordings, snapshot, events, messages;
    # PUT route, response, state, settings
    assert checked == 11


def _descriptions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == "description" and isinstance(v, str)]
        return found + [d for v in node.values() for d in _descriptions(v)]
    if isinstance(node, list):
        return [d for item in node for d in _descriptions(item)]
    return []


def test_descriptions_do_not_depend_on_how_docstrings_are_indented(
    document: dict[str, Any],
) -> None:
    # Python 3.13 dedents docstrings and 3.11 does not: the document must read the same.
    descriptions = _descriptions(document)
    multi_line = [d for d in descriptions if "\n" in d]
    assert multi_line, "some docstring descriptions span lines"
    assert [d for d in descriptions if d != inspect.cleandoc(d)] == []
    scenario = document["components"]["schemas"]["Scenario"]["description"]
    assert scenario.splitlines()[2].startswith("The route matches only while")


def test_every_operation_lists_the_errors_it_can_give(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            where = f"{method.upper()} {path}"
            if "{sid}" in path:
                assert "404" in statuses, where
            if "requestBody" in operation:
                assert {"400", "422"} <= statuses, where
    put_route = document["paths"]["/api/sessions/{sid}/routes/{route_id}"]["put"]
    assert put_route["responses"]["404"]["description"] == "Unknown route, or unknown session"


def test_constraints_the_server_checks_are_in_the_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Delay"]["oneOf"] == [
        {"required": ["fixed_ms"], "properties": {"fixed_ms": {"type": "number"}}},
        {"required": ["uniform_ms"], "properties": {"uniform_ms": {"type": "array"}}},
        {"required": ["lognormal"], "properties": {"lognormal": {"type": "object"}}},
    ]
    route = schemas["Route"]
    assert [alt["required"] for alt in route["oneOf"]] == [["path"], ["path_regex"]]
    assert route["properties"]["handler"] == {"minLength": 1, "type": "string"}
    assert schemas["Scenario"]["properties"]["name"] == {"minLength": 1, "type": "string"}
    session_id = schemas["SessionCreate"]["properties"]["id"]["anyOf"][0]
    assert session_id["pattern"] == "^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$"
    status = schemas["JsonResponse"]["properties"]["status"]
    assert (status["minimum"], status["maximum"]) == (200, 599)
    fixed = schemas["Delay"]["properties"]["fixed_ms"]["anyOf"][0]
    assert (fixed["minimum"], fixed["maximum"]) == (0, 600_000)
    sigma = schemas["LognormalDelay"]["properties"]["sigma"]
    assert (sigma["minimum"], sigma["maximum"]) == (0, 10)


def test_a_method_of_non_ascii_letters_is_refused_as_the_schema_says(
    cp_server: ThreadedServer,
) -> None:
    route = {"method": "GÉT", "path": "/x", "handler": "h"}
    answer = requests.post(f"{cp_server.admin_url}/api/sessions/default/routes", json=route,
                           timeout=10)  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_input",
        "message": "`method` must be an HTTP method or '*', got 'GÉT'",
        "location": "$.method",
    }


PUSHED = [
    # (operation, body): the schema and the server must agree on each.
    ("events", {"data": "x"}),
    ("events", {"data": None}),  # null is data too (sent as `null`)
    ("events", {"comment": "idle"}),
    ("events", {"retry": 0}),
    ("events", {"event": "tick", "id": "7", "delay_ms": 0}),
    ("events", {}),
    ("events", {"event": None, "id": None}),
    ("events", {"data": "x", "delay_ms": 5}),
    ("events", {"id": "a\nb"}),
    ("events", {"event": "a\rb"}),
    ("events", {"retry": -1}),
    ("messages", {"text": "hi"}),
    ("messages", {"json": {"a": 1}}),
    ("messages", {"json": False}),
    ("messages", {"binary_base64": "AAE="}),
    ("messages", {"text": "hi", "delay_ms": 0}),
    ("messages", {}),
    ("messages", {"json": None}),
    ("messages", {"text": None, "binary_base64": None}),
    ("messages", {"text": "hi", "json": 1}),
    ("messages", {"text": "hi", "delay_ms": 1}),
    ("messages", {"binary_base64": "AAE"}),
    ("messages", {"binary_base64": "AA E="}),
]


@pytest.mark.parametrize(("operation", "body"), PUSHED, ids=[json.dumps(p) for p in PUSHED])
def test_a_pushed_event_or_message_is_refused_exactly_when_its_schema_says(
    cp: SessionHandle, document: dict[str, Any], operation: str, body: dict[str, Any]
) -> None:
    path = f"/api/sessions/{{sid}}/handlers/{{name}}/{operation}"
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    valid = jsonschema_rs.validator_for(
        {**schema["schema"], "components": document["components"]}
    ).is_valid(body)
    cp.add_route(method="GET", path="/pushed", handler="pushed")
    answer = requests.post(f"{cp.api}/handlers/pushed/{operation}", json=body, timeout=10)
    assert answer.status_code == (200 if valid else 422), answer.text
