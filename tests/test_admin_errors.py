"""Bad admin input: 400 for broken JSON, 422 with a JSON location, 404/405/409 by name.

Every answer here is a JSON error body (`{"error": {"code","message","location"}}`) and
none is a 5xx. The admin token guard runs on its own in-process server.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
import requests

from controlplane.server import ControlplaneServer, ServerConfig
from tests.conftest import SessionHandle, ThreadedServer

ROUTE: dict[str, Any] = {"method": "GET", "path": "/things", "handler": "things"}


def error_of(answer: requests.Response, status: int) -> dict[str, Any]:
    """The `error` object of an answer that must have `status`."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) == {"code", "message", "location"}
    return error


def post_routes(cp: SessionHandle, body: Any) -> requests.Response:
    return requests.post(f"{cp.api}/routes", json=body, timeout=10)


def route_ids(cp: SessionHandle) -> list[str]:
    answer = requests.get(f"{cp.api}/routes", timeout=10)
    return [route["id"] for route in answer.json()["routes"]]


# ----------------------------------------------------------------- 400: not JSON


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"method": "GET"', b"\xff\xfe\x00", b"[1, 2,]"], ids=repr
)
def test_malformed_json_is_400_invalid_json(cp: SessionHandle, raw: bytes) -> None:
    answer = requests.post(f"{cp.api}/routes", data=raw, timeout=10)
    error = error_of(answer, 400)
    assert error["code"] == "invalid_json"
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize("raw", [b"", b"  \n "], ids=["empty", "blank"])
def test_empty_body_where_one_is_needed_is_400(cp: SessionHandle, raw: bytes) -> None:
    cp.add_route(**ROUTE)
    for url, method in (
        (f"{cp.api}/routes", "POST"),
        (f"{cp.api}/handlers/things/response", "PUT"),
    ):
        error = error_of(requests.request(method, url, data=raw, timeout=10), 400)
        assert error["code"] == "invalid_json"
        assert "empty" in error["message"]


# ----------------------------------------------------------------- 422: wrong shape


@pytest.mark.parametrize(
    ("body", "location", "words"),
    [
        pytest.param(
            {**ROUTE, "priority": "high"},
            "$.priority",
            "expected an integer, got a string",
            id="string-priority",
        ),
        pytest.param(
            [ROUTE, {**ROUTE, "response": {"type": "json", "status": 99}}],
            "$[1].response.status",
            "200-599",
            id="status-99-second-in-list",
        ),
        pytest.param(
            {**ROUTE, "match": {"headers": {"X-Tenant": {"contanis": "a"}}}},
            '$.match.headers["X-Tenant"].contanis',
            "did you mean `contains`",
            id="unknown-matcher-operator-in-header",
        ),
        pytest.param(
            {**ROUTE, "match": {"headers": {"Accept": "a", "X-Tenant": 7}}},
            '$.match.headers["X-Tenant"]',
            "expected a string or an object",
            id="header-value-a-number",
        ),
        pytest.param(
            {**ROUTE, "match": {"query": {"q": {"equals": "a", "contains": "b"}}}},
            "$.match.query.q",
            "exactly one of",
            id="matcher-with-two-operators",
        ),
        pytest.param(
            {**ROUTE, "match": {"query": {"q": {"matches": "(["}}}},
            "$.match.query.q.matches",
            "not a valid regular expression",
            id="bad-regex-in-matcher",
        ),
        pytest.param(
            {"method": "GET", "path": "/things"},
            "$.handler",
            "`handler` is required",
            id="missing-handler",
        ),
        pytest.param(
            {**ROUTE, "path_regex": "/things"},
            "$",
            "exactly one of `path` and `path_regex`",
            id="both-path-and-path-regex",
        ),
        pytest.param(
            {"method": "GET", "handler": "h"},
            "$",
            "exactly one of `path` and `path_regex`",
            id="neither-path-nor-path-regex",
        ),
        pytest.param(
            {**ROUTE, "prority": 1}, "$.prority", "did you mean `priority`", id="unknown-field"
        ),
        pytest.param(
            {"method": "GET", "path_regex": "/items/(?P<id", "handler": "h"},
            "$.path_regex",
            "not a valid regular expression",
            id="bad-path-regex",
        ),
        pytest.param(
            {**ROUTE, "path": "/n/{n:[0-9}"},
            "$.path",
            "not a valid regular expression",
            id="bad-regex-in-path-template",
        ),
        pytest.param(
            {**ROUTE, "path": "things"}, "$.path", "must start with '/'", id="path-without-slash"
        ),
        pytest.param({**ROUTE, "times": 0}, "$.times", ">= 1", id="times-zero"),
        pytest.param({**ROUTE, "method": "GE T"}, "$.method", "HTTP method", id="bad-method"),
        pytest.param(
            {**ROUTE, "response": {"type": "raw", "body": "a", "body_base64": "YQ=="}},
            "$.response",
            "not both",
            id="raw-with-body-and-body-base64",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "raw", "body_base64": "%%%"}},
            "$.response.body_base64",
            "not valid base64",
            id="raw-with-bad-base64",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "toml", "body": {"owner": None}}},
            "$.response.body",
            "TOML has no null",
            id="toml-body-with-null",
        ),
        pytest.param(
            {
                **ROUTE,
                "response": {
                    "type": "sequence",
                    "responses": [{"type": "json"}, {"type": "toml", "body": {"a": None}}],
                },
            },
            "$.response.responses[1].body",
            "cannot be encoded",
            id="sequence-item-body-cannot-be-encoded",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "json", "headers": {"X-A": "1\r\nX-Injected: 2"}}},
            '$.response.headers["X-A"]',
            "CR, LF",
            id="response-header-value-with-crlf",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "raw", "headers": {"Bad Name": "x"}}},
            '$.response.headers["Bad Name"]',
            "invalid header name",
            id="response-header-name-with-space",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "sequence", "responses": []}},
            "$.response.responses",
            "at least one",
            id="sequence-without-responses",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "json", "delay": {"fixed_ms": -5}}},
            "$.response.delay.fixed_ms",
            ">= 0",
            id="negative-delay",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "json", "delay": {}}},
            "$.response.delay",
            "exactly one of",
            id="empty-delay",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "json", "delay": {"uniform_ms": [9, 1]}}},
            "$.response.delay.uniform_ms",
            "lo <= hi",
            id="uniform-delay-upside-down",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "jsn"}},
            "$.response.type",
            "did you mean `json`",
            id="unknown-response-type",
        ),
        pytest.param(
            {**ROUTE, "response": {"status": 200}},
            "$.response.type",
            "`type` is required",
            id="response-without-type",
        ),
        pytest.param(
            {
                **ROUTE,
                "response": {
                    "type": "sequence",
                    "responses": [{"type": "json"}],
                    "on_exhausted": "loop",
                },
            },
            "$.response.on_exhausted",
            "allowed values: cycle, last, raise",
            id="bad-on-exhausted",
        ),
        pytest.param(
            {**ROUTE, "response": {"type": "fault", "fault": "explode"}},
            "$.response.fault",
            "connection_reset",
            id="unknown-fault",
        ),
        pytest.param(42, "$", "expected an object or an array, got an integer", id="a-number"),
    ],
)
def test_wrong_shape_is_422_with_location(
    cp: SessionHandle, body: Any, location: str, words: str
) -> None:
    error = error_of(post_routes(cp, body), 422)
    assert error["code"] == "invalid_input"
    assert error["location"] == location
    assert words in error["message"]
    assert route_ids(cp) == []


def test_422_messages_read_as_plain_english(cp: SessionHandle) -> None:
    error = error_of(post_routes(cp, {**ROUTE, "times": "twice"}), 422)
    # msgspec's own words ("Expected `int | null`, got `str`") are rewritten.
    assert error["message"] == "expected an integer or null, got a string"
    unknown = error_of(post_routes(cp, {**ROUTE, "handlr": "x"}), 422)
    assert unknown["message"].startswith("unknown field `handlr`; known fields: method, handler")


def test_list_with_one_bad_route_adds_none_of_them(cp: SessionHandle) -> None:
    good = [{**ROUTE, "path": f"/ok/{n}"} for n in range(3)]
    error = error_of(post_routes(cp, [*good, {**ROUTE, "times": -1}]), 422)
    assert error["location"] == "$[3].times"
    assert route_ids(cp) == []
    assert requests.get(f"{cp.mock_url}/ok/0", timeout=10).status_code == 404


def test_list_with_a_route_id_taken_twice_adds_none_and_is_409(cp: SessionHandle) -> None:
    routes = [{**ROUTE, "id": "same"}, {**ROUTE, "path": "/other", "id": "same"}]
    error = error_of(post_routes(cp, routes), 409)
    assert error["location"] == "$[1].id" and "'same'" in error["message"]
    assert route_ids(cp) == []


def test_bad_response_registration_is_422_and_keeps_the_old_response(cp: SessionHandle) -> None:
    cp.add_route(**ROUTE, response={"type": "raw", "body": "old"})
    answer = requests.put(
        f"{cp.api}/handlers/things/response", json={"type": "json", "status": 1000}, timeout=10
    )
    assert error_of(answer, 422)["location"] == "$.status"
    assert requests.get(f"{cp.mock_url}/things", timeout=10).text == "old"


def test_put_route_with_bad_body_is_422_and_keeps_the_route(cp: SessionHandle) -> None:
    route = cp.add_route(**ROUTE)
    answer = requests.put(
        f"{cp.api}/routes/{route['id']}", json={**ROUTE, "priority": None}, timeout=10
    )
    assert error_of(answer, 422)["location"] == "$.priority"
    answer = requests.put(
        f"{cp.api}/routes/{route['id']}", json={**ROUTE, "id": "another"}, timeout=10
    )
    assert error_of(answer, 422)["location"] == "$.id"
    assert route_ids(cp) == [route["id"]]


def test_bad_session_create_body_is_422(cp_server: ThreadedServer) -> None:
    answer = requests.post(
        f"{cp_server.admin_url}/api/sessions", json={"id": "has space"}, timeout=10
    )
    assert error_of(answer, 422)["location"] == "$.id"


# ----------------------------------------------------------------- 404 / 405 / 409


def test_unknown_session_is_404_naming_it(cp_server: ThreadedServer) -> None:
    base = f"{cp_server.admin_url}/api/sessions/no-such-session"
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/routes"), ("POST", "/reset")):
        error = error_of(requests.request(method, base + path, timeout=10), 404)
        assert error["code"] == "not_found"
        assert "'no-such-session'" in error["message"]


def test_unknown_route_is_404_naming_it(cp: SessionHandle) -> None:
    for method in ("GET", "DELETE"):
        answer = requests.request(method, f"{cp.api}/routes/r-404", timeout=10)
        assert "'r-404'" in error_of(answer, 404)["message"]
    answer = requests.put(f"{cp.api}/routes/r-404", json=ROUTE, timeout=10)
    assert "'r-404'" in error_of(answer, 404)["message"]


def test_unknown_handler_is_404_naming_it(cp: SessionHandle) -> None:
    for method, path in (("GET", "/calls"), ("POST", "/verify")):
        answer = requests.request(method, f"{cp.api}/handlers/ghost{path}", json={}, timeout=10)
        assert "'ghost'" in error_of(answer, 404)["message"]


def test_response_for_undeclared_handler_is_404_listing_known_handlers(
    cp: SessionHandle,
) -> None:
    cp.add_route(**ROUTE)
    cp.add_route(method="POST", path="/orders", handler="create_order")
    answer = requests.put(
        f"{cp.api}/handlers/create_ordr/response", json={"type": "json"}, timeout=10
    )
    message = error_of(answer, 404)["message"]
    assert "'create_ordr'" in message
    assert "known handlers: 'create_order', 'things'" in message


def test_deleting_default_session_is_409(cp_server: ThreadedServer) -> None:
    answer = requests.delete(f"{cp_server.admin_url}/api/sessions/default", timeout=10)
    error = error_of(answer, 409)
    assert error["code"] == "conflict" and "default" in error["message"]
    assert requests.get(f"{cp_server.admin_url}/api/sessions/default", timeout=10).ok


def test_duplicate_session_id_is_409(cp_server: ThreadedServer) -> None:
    url = f"{cp_server.admin_url}/api/sessions"
    assert requests.post(url, json={"id": "dup-errors"}, timeout=10).status_code == 201
    try:
        error = error_of(requests.post(url, json={"id": "dup-errors"}, timeout=10), 409)
        assert "'dup-errors'" in error["message"] and error["location"] == "$.id"
    finally:
        requests.delete(f"{url}/dup-errors", timeout=10)


def test_duplicate_route_id_is_409(cp: SessionHandle) -> None:
    cp.add_route(**ROUTE, id="mine")
    error = error_of(post_routes(cp, {**ROUTE, "path": "/else", "id": "mine"}), 409)
    assert "'mine'" in error["message"]
    assert route_ids(cp) == ["mine"]


@pytest.mark.parametrize("path", ["/api/nothing", "/nothing", "/api/sessions/x/y/z", "/__nope"])
def test_unknown_admin_path_is_404_json(cp_server: ThreadedServer, path: str) -> None:
    error = error_of(requests.get(cp_server.admin_url + path, timeout=10), 404)
    assert path in error["message"] and "openapi.json" in error["message"]


@pytest.mark.parametrize(
    ("method", "path"), [("PATCH", "/api/routes"), ("POST", "/health"), ("PUT", "/api/requests")]
)
def test_wrong_method_is_405_json(cp_server: ThreadedServer, method: str, path: str) -> None:
    error = error_of(requests.request(method, cp_server.admin_url + path, timeout=10), 405)
    assert error["code"] == "method_not_allowed"
    assert f"{method} is not allowed on {path}" in error["message"]
    assert "allowed: " in error["message"]


# ----------------------------------------------------------------- never a 5xx


def test_no_bad_input_yields_a_5xx(cp_server: ThreadedServer, cp: SessionHandle) -> None:
    route = cp.add_route(**ROUTE)
    garbage: list[Any] = [
        None,
        True,
        "route",
        [],
        [None],
        [[]],
        {"method": None},
        {"match": []},
        {**ROUTE, "match": None},
        {**ROUTE, "match": {"json_path": [{"expression": "$$["}]}},
        {**ROUTE, "priority": 10**40},
        {**ROUTE, "response": {"type": "toml", "body": {"a": None}}},
        {**ROUTE, "match": {"headers": {"a": {"any_of": []}}}},
        {"\u0000": "\ud7ff"},
    ]
    targets = [
        ("POST", f"{cp.api}/routes"),
        ("PUT", f"{cp.api}/routes/{route['id']}"),
        ("PUT", f"{cp.api}/handlers/things/response"),
        ("POST", f"{cp.api}/handlers/things/verify"),
        ("POST", f"{cp_server.admin_url}/api/sessions"),
    ]
    for method, url in targets:
        for body in garbage:
            raw = json.dumps(body).encode()  # `null` too: requests sends no body for json=None
            answer = requests.request(method, url, data=raw, timeout=10)
            assert answer.status_code < 500, (method, url, body, answer.text)
            if answer.status_code >= 400:
                assert "error" in answer.json()


# ----------------------------------------------------------------- --admin-token


async def test_admin_token_guards_everything_but_health() -> None:
    config = ServerConfig(port=0, admin_port=0, admin_token="s3cret")
    async with ControlplaneServer(config) as server, aiohttp.ClientSession() as client:
        routes = f"{server.admin_url}/api/routes"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            async with client.get(routes, headers=headers) as answer:
                assert answer.status == 401
                error = (await answer.json())["error"]
                assert error["code"] == "unauthorized" and "Bearer" in error["message"]
        async with client.post(routes, json=ROUTE) as answer:
            assert answer.status == 401
        async with client.get(f"{server.admin_url}/api/nothing") as answer:
            assert answer.status == 401  # the guard comes before telling what exists

        good = {"Authorization": "Bearer s3cret"}
        async with client.post(routes, json=ROUTE, headers=good) as answer:
            assert answer.status == 201
        async with client.get(routes, headers=good) as answer:
            assert answer.status == 200
            assert [r["handler"] for r in (await answer.json())["routes"]] == ["things"]
        async with client.get(f"{server.admin_url}/health") as answer:
            assert answer.status == 200
            assert (await answer.json())["status"] == "ok"
        # The token guards the admin port only; mock traffic is never asked for it.
        async with client.get(f"{server.mock_url}/things") as answer:
            assert answer.status == 500  # a route without a response, not a 401
