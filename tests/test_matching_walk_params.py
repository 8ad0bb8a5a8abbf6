"""Path params as the route table reads them while it finds the route (no second match),
and the conditions compiled for the hot path: each agrees with its reference."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from multidict import CIMultiDict

from controlplane.matching import compile_path
from controlplane.matching.json_equality import subset_test
from controlplane.request_view import MAX_JSON_DEPTH, NOT_JSON, RequestView, parse_query
from tests.conftest import SessionHandle
from tests.matching_support import route, table, view
from tests.origins import Origin

# (template or path_regex, request path, the params) for every shape a path can take.
SHAPES: list[tuple[str, str, dict[str, str]]] = [
    ("/users/{id}", "/users/42", {"id": "42"}),
    ("/users/{id}/", "/users/42/", {"id": "42"}),
    ("/users/{id}/orders/{order}", "/users/7/orders/x-1", {"id": "7", "order": "x-1"}),
    ("/{a}/{b}/{c}", "/1/2/3", {"a": "1", "b": "2", "c": "3"}),
    ("/svc9/items/{id}", "/svc9/items/42", {"id": "42"}),
    # A parameter with its own regex starts the tail: the tail's match gives it.
    ("/n/{n:[0-9]+}", "/n/123", {"n": "123"}),
    ("/n/{n:[0-9]{2}}/x", "/n/12/x", {"n": "12"}),
    ("/users/{id}/n/{n:[0-9]+}", "/users/u1/n/5", {"id": "u1", "n": "5"}),
    # Tail segments: a regex that spans slashes, alone or after parameters.
    ("/files/{path:.*}", "/files/a/b/c.txt", {"path": "a/b/c.txt"}),
    ("/files/{path:.*}", "/files/", {"path": ""}),
    ("/{tenant}/files/{path:.+}", "/acme/files/x/y", {"tenant": "acme", "path": "x/y"}),
    ("/{rest:.*}", "/anything/at/all", {"rest": "anything/at/all"}),
    # Prefix routes: a static prefix, then everything under it.
    ("/api/v1/{rest:.*}", "/api/v1/users/42", {"rest": "users/42"}),
    # Mixed segments: parameters inside a segment are the tail's too.
    ("/v{version}/x", "/v2/x", {"version": "2"}),
    ("/a/{x}/b/{y}.{ext}", "/a/1/b/report.pdf", {"x": "1", "y": "report", "ext": "pdf"}),
    ("/items/{id}/v{n}", "/items/42/v7", {"id": "42", "n": "7"}),
    # Paths arrive percent-decoded: a parameter holds the decoded text.
    ("/search/{q}", "/search/a b%", {"q": "a b%"}),
    ("/users/{name}", "/users/café", {"name": "café"}),
    ("/files/{path:.*}", "/files/a b/ü.txt", {"path": "a b/ü.txt"}),
    # A parameter's own regex may define groups: only the declared name is a param.
    ("/g/{x:(?P<inner>a)b}", "/g/ab", {"x": "ab"}),
]


@pytest.mark.parametrize(("source", "path", "params"), SHAPES)
def test_params_from_the_walk_are_the_params_of_a_full_match(
    source: str, path: str, params: dict[str, str]
) -> None:
    t = table(route("r", 1, path=source))
    found = t.find(view("GET", path))
    assert found is not None
    assert found[1] == params
    assert compile_path(source, None).match(path) == params


@pytest.mark.parametrize(
    ("regex", "path", "params"),
    [
        (r"/orders/(?P<id>\d+)(?:/(?P<part>[a-z]+))?", "/orders/7", {"id": "7"}),
        (r"/orders/(?P<id>\d+)(?:/(?P<part>[a-z]+))?", "/orders/7/x", {"id": "7", "part": "x"}),
        (r"/plain/[0-9]+", "/plain/12", {}),
    ],
)
def test_path_regex_params_come_from_the_index_match(
    regex: str, path: str, params: dict[str, str]
) -> None:
    t = table(route("r", 1, path_regex=regex))
    found = t.find(view("GET", path))
    assert found is not None and found[1] == params
    assert compile_path(None, regex).match(path) == params


def test_routes_sharing_a_trie_node_name_their_params_each_their_own_way() -> None:
    t = table(
        route("post", 1, method="POST", path="/users/{id}"),
        route("get", 2, path="/users/{uid}"),
        route("tail", 3, method="PUT", path="/users/{who}/{rest:.*}"),
        route("tail2", 4, method="DELETE", path="/users/{other}/{rest:.*}"),
    )
    assert t.find(view("POST", "/users/9")) == (t.get("post"), {"id": "9"})
    assert t.find(view("GET", "/users/9")) == (t.get("get"), {"uid": "9"})
    assert t.find(view("PUT", "/users/9/a/b")) == (t.get("tail"), {"who": "9", "rest": "a/b"})
    assert t.find(view("DELETE", "/users/9/a")) == (t.get("tail2"), {"other": "9", "rest": "a"})


@pytest.mark.parametrize(
    ("priorities", "winner", "params"),
    [
        ((5, 5, 5), "static-then-param", {"y": "c"}),
        ((5, 1, 5), "param-then-static", {"x": "b"}),
        ((5, 5, 1), "regex", {"whole": "b/c"}),
    ],
)
def test_several_branches_match_the_winner_keeps_its_own_params(
    priorities: tuple[int, int, int], winner: str, params: dict[str, str]
) -> None:
    # `/a/b/c` is found three ways: the static `b` branch, the parameter branch and a
    # path_regex; the walk keeps the other branch on its stack and visits it too.
    first, second, third = priorities
    t = table(
        route("static-then-param", 1, path="/a/b/{y}", priority=first),
        route("param-then-static", 2, path="/a/{x}/c", priority=second),
        route("regex", 3, path_regex="/a/(?P<whole>.*)", priority=third),
    )
    assert t.find(view("GET", "/a/b/c")) == (t.get(winner), params)


def test_a_route_that_fails_its_conditions_hands_over_with_the_right_params() -> None:
    t = table(
        route("tenant", 1, path="/a/{x}/c", match={"headers": {"X-Tenant": "acme"}}),
        route("any", 2, path="/a/b/{y}"),
    )
    assert t.find(view("GET", "/a/b/c")) == (t.get("any"), {"y": "c"})
    assert t.find(view("GET", "/a/b/c", headers=[("x-tenant", "acme")])) == (
        t.get("tenant"),
        {"x": "b"},
    )


def test_an_empty_segment_is_no_parameter_and_the_walk_ends_there() -> None:
    t = table(route("r", 1, path="/a/{x}/c"), route("s", 2, path="/a//{y}"))
    assert t.find(view("GET", "/a//c")) == (t.get("s"), {"y": "c"})
    assert t.find(view("GET", "/a/")) is None


def test_percent_encoded_params_arrive_decoded_over_the_mock_port(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/users/{name}", handler="user")
    cp.add_route(method="GET", path="/{tenant}/files/{path:.*}", handler="files")
    cp.register("user", {"type": "json", "body": {"ok": True}})
    cp.register("files", {"type": "json", "body": {"ok": True}})
    assert requests.get(f"{cp.mock_url}/users/caf%C3%A9%20x", timeout=10).status_code == 200
    assert requests.get(f"{cp.mock_url}/t%201/files/a%2Fb/c.txt", timeout=10).status_code == 200
    assert cp.calls("user")[0]["path_params"] == {"name": "café x"}
    assert cp.calls("files")[0]["path_params"] == {"tenant": "t 1", "path": "a/b/c.txt"}


#: Request targets as sent on the request line, each with something to decode, to cut
#: off, or that a decoder could be tempted to normalise (aiohttp's parser refuses
#: anything but ASCII there: non-ASCII arrives percent-encoded).
REQUEST_TARGETS = [
    b"/p/plain",
    b"/p/a%2Fb",
    b"/p/a%20b",
    b"/p/caf%C3%A9",
    b"/p/%25",
    b"/p/%zz",
    b"/p/a+b",
    b"/p/../q",
    b"/p/./q",
    b"//p//q/",
    b"/p/a:b",
    b"/p/x?q=1",
    b"/p/x%3Fy?q=%20",
    b"/p/x#frag",
    b"/p/x?q#frag",
]


def _get_target(url: str, target: bytes, headers: bytes = b"") -> bytes:
    """GET `target` as the request line has it (`headers`: whole lines); the answer."""
    parts = urlsplit(url)
    head = b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET " + target + head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_path_matched_and_journaled_is_aiohttps_decoded_path(cp: SessionHandle) -> None:
    # The mock port reads the request line's path as it is when there is nothing to
    # decode or cut off, else aiohttp's `request.path`: the same path either way, with
    # the session named by its header or by its path prefix.
    cp.add_route(method="GET", path="/{rest:.*}", handler="all")
    cp.register("all", {"type": "json", "body": {"ok": True}})
    prefix = urlsplit(cp.mock_url).path.encode()
    assert prefix.startswith(b"/_s/")
    by_header = f"X-Controlplane-Session: {cp.id}\r\n".encode()
    with Origin() as origin:
        for target in REQUEST_TARGETS:
            answer = _get_target(origin.url, b"/echo" + target)
            echoed = json.loads(answer.partition(b"\r\n\r\n")[2])
            assert echoed["path"].startswith("/echo/"), target
            path = echoed["path"].removeprefix("/echo")
            for sent in (
                _get_target(cp.mock_url, target, by_header),
                _get_target(cp.mock_url, prefix + target),
            ):
                assert sent.startswith(b"HTTP/1.1 200"), target
                call = cp.calls("all")[-1]
                assert (call["path"], call["path_params"]) == (path, {"rest": path[1:]}), target
        raw_utf8 = "/p/café".encode()
        assert _get_target(origin.url, b"/echo" + raw_utf8).startswith(b"HTTP/1.0 400")
        assert _get_target(cp.mock_url, raw_utf8, by_header).startswith(b"HTTP/1.0 400")


# ------------------------------------------------------------------ conditions


@pytest.mark.parametrize(
    "query",
    [
        *("", "a", "a=", "=", "&&", "a=1&a=2&b", "a=b=c", "&a=1&", "é=ü", "a;b=c", "a=1&&=&b"),
        *("x=%20", "a+b=c+d", "q=%E2%82%AC&q=+"),
    ],
)
def test_the_query_parses_as_parse_qsl_keeping_blank_values(query: str) -> None:
    assert parse_query(query) == parse_qsl(query, keep_blank_values=True)


DOCUMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    "1",
    "gold",
    "",
    [],
    {},
    [1, True, "x", None],
    {"a": None},
    {"a": "gold", "b": 1, "c": True, "d": [1, 2], "e": {"f": "g"}},
    {"a": "gold", "b": 1.0, "c": 1, "d": [1, 2, 3], "e": {"f": "g", "h": None}},
    {"a": 1, "b": True},
    {"a": True, "b": 1},
    {"customer": {"id": 42, "tier": "gold"}, "items": [{"sku": "a1", "qty": 2}]},
    {"customer": {"tier": None}},
    {"customer": "gold"},
]

EXPECTED: list[Any] = [
    *DOCUMENTS,
    {"customer": {"tier": "gold"}},
    {"items": [{"sku": "a1"}]},
    {"items": [{}]},
    {"a": "gold", "e": {}},
    {"missing": None},
]


def _subset(expected: Any, actual: Any) -> bool:
    """`json_subset` as the design states it, spelled out as the test's reference."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(map(_subset, expected, actual))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


@pytest.mark.parametrize("expected", EXPECTED, ids=repr)
def test_the_compiled_json_subset_agrees_with_its_definition(expected: Any) -> None:
    holds = subset_test(expected)
    for actual in DOCUMENTS:
        assert holds(actual) == _subset(expected, actual), (expected, actual)


@pytest.mark.parametrize(
    ("spec", "values", "holds"),
    [
        ("acme", [], False),
        ("acme", ["acme"], True),
        ("acme", ["other", "acme"], True),
        ("acme", ["ACME"], False),
        ({"starts_with": "Bearer "}, [], False),
        ({"starts_with": "Bearer "}, ["Basic x", "Bearer y"], True),
        ({"starts_with": "Bearer "}, ["Basic x"], False),
        ({"contains": "ea"}, [], False),
        ({"contains": "ea"}, ["Bearer"], True),
        ({"contains": "ea"}, ["x", "y"], False),
        ({"absent": True}, [], True),
        ({"absent": True}, [""], False),
        ({"absent": True}, ["1"], False),
    ],
)
def test_header_conditions_over_repeated_values(spec: Any, values: list[str], holds: bool) -> None:
    t = table(route("r", 1, path="/x", match={"headers": {"X-Tenant": spec}}))
    request = view("GET", "/x", headers=[("x-TENANT", value) for value in values])
    assert (t.find(request) is not None) is holds


@pytest.mark.parametrize(
    ("body", "is_json"),
    [
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, True),  # 400 bytes: by length
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), False),  # 402 bytes
        (b'{"a":' * MAX_JSON_DEPTH + b"1" + b"}" * MAX_JSON_DEPTH, True),
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), False),
        (b'["' + b"[" * 500 + b'"]', True),  # brackets in a string nest nothing
        (b'{"customer": {"tier": "gold"}, "pad": "' + b"x" * 1000 + b'"}', True),
    ],
)
def test_json_nested_past_the_limit_is_not_json_at_any_length(body: bytes, is_json: bool) -> None:
    parsed = RequestView("POST", "/x", "", CIMultiDict(), body).json
    assert (parsed is not NOT_JSON) is is_json


def test_what_the_index_read_for_a_path_is_forgotten_when_the_routes_change() -> None:
    t = table(route("wide", 5, path="/users/{id}", priority=9))
    assert t.find(view("GET", "/users/7")) == (t.get("wide"), {"id": "7"})
    t.add(route("narrow", 6, path="/users/{uid}", priority=1))  # now first for the same path
    assert t.find(view("GET", "/users/7")) == (t.get("narrow"), {"uid": "7"})
    t.add(route("exact", 7, path="/users/7", priority=0))
    assert t.find(view("GET", "/users/7")) == (t.get("exact"), {})
    t.remove("exact")
    t.remove("narrow")
    assert t.find(view("GET", "/users/7")) == (t.get("wide"), {"id": "7"})
    t.replace(route("wide", 5, path="/users/{id}/x"))
    assert t.find(view("GET", "/users/7")) is None
    assert t.find(view("GET", "/users/7/x")) == (t.get("wide"), {"id": "7"})
    t.clear()
    assert t.find(view("GET", "/users/7/x")) is None


def test_a_path_missed_before_is_found_once_a_route_takes_it() -> None:
    t = table(route("a", 1, path="/a/{x}"))
    assert t.find(view("GET", "/b/1")) is None
    t.add(route("b", 2, path="/b/{y}"))
    assert t.find(view("GET", "/b/1")) == (t.get("b"), {"y": "1"})


def test_many_paths_and_long_paths_are_found_all_the_same() -> None:
    t = table(route("r", 1, path="/f/{name}"))
    long_name = "n" * 1000
    for i in range(600):  # past the kept paths: they are dropped, never wrong
        assert t.find(view("GET", f"/f/{i}")) == (t.get("r"), {"name": str(i)})
    for _ in range(2):
        assert t.find(view("GET", f"/f/{long_name}")) == (t.get("r"), {"name": long_name})
    assert t.find(view("GET", "/f/0")) == (t.get("r"), {"name": "0"})


def test_new_ids_under_one_prefix_follow_each_route_change() -> None:
    t = table(route("wide", 1, path="/users/{id}", priority=9))
    assert t.find(view("GET", "/users/1")) == (t.get("wide"), {"id": "1"})
    assert t.find(view("GET", "/users/2")) == (t.get("wide"), {"id": "2"})
    # A new branch under the same prefix, a new method, a branch gone.
    t.add(route("tenant", 2, path="/{tenant}/{id}", priority=1))
    assert t.find(view("GET", "/users/3")) == (t.get("tenant"), {"tenant": "users", "id": "3"})
    t.add(route("seven", 3, path="/users/{id}", priority=0, method="POST"))
    assert t.find(view("POST", "/users/4")) == (t.get("seven"), {"id": "4"})
    t.remove("tenant")
    assert t.find(view("GET", "/users/5")) == (t.get("wide"), {"id": "5"})


def test_a_tail_and_whole_segment_parameters_under_one_prefix() -> None:
    t = table(
        route("tail", 1, path="/files/{path:.*}", priority=9),
        route("one", 2, path="/files/{a}/{b}"),
        route("under", 3, path="/files/x/{name}"),
    )
    assert t.find(view("GET", "/files/a/b")) == (t.get("one"), {"a": "a", "b": "b"})
    assert t.find(view("GET", "/files/x/c")) == (t.get("one"), {"a": "x", "b": "c"})
    assert t.find(view("GET", "/files/a/b/c")) == (t.get("tail"), {"path": "a/b/c"})
    assert t.find(view("GET", "/files/")) == (t.get("tail"), {"path": ""})
    t.remove("one")
    assert t.find(view("GET", "/files/x/d")) == (t.get("under"), {"name": "d"})
    assert t.find(view("GET", "/files/y/d")) == (t.get("tail"), {"path": "y/d"})
