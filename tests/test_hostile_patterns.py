"""What a careless test registers or a hostile client sends never freezes the server.

Every session shares one event loop: a user's regex that backtracks, a JSONPath that
walks megabytes, or JSON nested a thousand deep must neither stall another session's
traffic nor earn a 5xx. Timing tests send the expensive request first on a raw socket,
then time requests to another session while it is evaluated; the bounds are wide (the
machine is shared), and the old behaviour took seconds.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
import requests

from tests.conftest import SessionHandle, ThreadedServer
from tests.matching_support import route, table, view

#: Python's `re` takes seconds on `(a+)+` against this many `a`s and a `!`.
EVIL_LENGTH = 26
EVIL = "a" * EVIL_LENGTH + "!"
#: Another session's request is answered within this while the bad one is evaluated.
PROMPT = 0.3
#: The same while a 2.4 MB JSON body is read and decoded, which takes 0.1-0.4 s here
#: (evaluating `$..x` over it took 2.4 s, twice: once to match, once for near misses).
PROMPT_BIG_BODY = 1.0
PROBES = 5
RE2_SYNTAX_URL = "https://github.com/google/re2/wiki/Syntax"


@pytest.fixture
def other(cp_server: ThreadedServer) -> Iterator[SessionHandle]:
    """A second session with a `/ping` route: the bystander whose latency is measured."""
    answer = requests.post(f"{cp_server.admin_url}/api/sessions", json={}, timeout=10)
    body = answer.json()
    handle = SessionHandle(id=body["id"], mock_url=body["mock_url"], api=body["admin_url"])
    handle.add_route(
        method="GET", path="/ping", handler="ping", response={"type": "raw", "body": "pong"}
    )
    yield handle
    requests.delete(f"{cp_server.admin_url}/api/sessions/{body['id']}", timeout=10)


def send_raw(
    url: str, method: str, path: str, headers: dict[str, str], body: bytes
) -> socket.socket:
    """Send one request on a new connection and return the socket, the answer unread."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    head = [f"{method} {parts.path}{path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return sock


def read_status(sock: socket.socket) -> int:
    with sock:
        received = b""
        while data := sock.recv(65536):
            received += data
    assert received.startswith(b"HTTP/1.1 "), received[:200]
    return int(received.split(b" ", 2)[1])


def slowest_probe(other: SessionHandle) -> float:
    """The longest of a few sequential requests to the bystander session, in seconds."""
    slowest = 0.0
    with requests.Session() as client:
        for _ in range(PROBES):
            started = time.perf_counter()
            answer = client.get(f"{other.mock_url}/ping", timeout=60)
            slowest = max(slowest, time.perf_counter() - started)
            assert answer.text == "pong"
    return slowest


def register_error(cp: SessionHandle, route: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=10)
    assert answer.status_code == 422, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


# ------------------------------------------------------------------ regexes


CATASTROPHIC = [
    pytest.param({"path_regex": "/r/(a+)+"}, f"/r/{EVIL}", {}, id="path_regex"),
    pytest.param({"path": "/r/{x:(a+)+}"}, f"/r/{EVIL}", {}, id="template-param-regex"),
    pytest.param({"path": "/r/{id}/{x:(a+)+}"}, f"/r/1/{EVIL}", {}, id="template-tail-regex"),
    pytest.param(
        {"path": "/r", "match": {"headers": {"X-Evil": {"matches": "(a+)+"}}}},
        "/r",
        {"X-Evil": EVIL},
        id="header-matches",
    ),
    pytest.param(
        {"path": "/r", "match": {"query": {"q": {"not": {"not_matches": "(a+)+"}}}}},
        f"/r?q={EVIL}",
        {},
        id="query-not-matches",
    ),
]


@pytest.mark.parametrize(("route", "path", "headers"), CATASTROPHIC)
def test_a_backtracking_regex_does_not_stall_other_sessions(
    cp: SessionHandle,
    other: SessionHandle,
    route: dict[str, Any],
    path: str,
    headers: dict[str, str],
) -> None:
    cp.add_route(method="GET", handler="evil", response={"type": "raw", "body": "x"}, **route)
    sock = send_raw(cp.mock_url, "GET", path, headers, b"")
    assert slowest_probe(other) < PROMPT
    assert read_status(sock) == 404  # evaluated (and near misses explained), not skipped


def test_a_backtracking_wiremock_url_pattern_does_not_stall_other_sessions(
    cp: SessionHandle, other: SessionHandle
) -> None:
    mapping = {"request": {"urlPattern": "/w/(a+)+"}, "response": {"status": 200}}
    answer = requests.post(f"{cp.api}/__admin/mappings", json=mapping, timeout=10)
    assert answer.status_code == 201, answer.text
    sock = send_raw(cp.mock_url, "GET", f"/w/{EVIL}", {}, b"")
    assert slowest_probe(other) < PROMPT
    assert read_status(sock) == 404


def test_user_regexes_still_match_and_name_path_params(cp: SessionHandle) -> None:
    ok = {"type": "raw", "body": "ok"}
    cp.add_route(method="GET", path_regex=r"/é/(?P<word>\w+)-(?P<n>\d+)", handler="re", response=ok)
    cp.add_route(method="GET", path="/ü/{id}/v{n:[0-9]+}", handler="tail", response=ok)
    cp.add_route(
        method="GET",
        path="/h",
        handler="header",
        match={"headers": {"X-Id": {"matches": "[a-z]+-[0-9]{2,3}"}}},
        response=ok,
    )
    assert requests.get(f"{cp.mock_url}/é/abc-12", timeout=10).status_code == 200
    assert requests.get(f"{cp.mock_url}/ü/ä/v7", timeout=10).status_code == 200
    assert requests.get(f"{cp.mock_url}/ü/ä/vx", timeout=10).status_code == 404
    assert requests.get(f"{cp.mock_url}/h", headers={"X-Id": "ab-123"}, timeout=10).text == "ok"
    assert (
        requests.get(f"{cp.mock_url}/h", headers={"X-Id": "ab-1234"}, timeout=10).status_code == 404
    )
    assert [c["path_params"] for c in cp.calls("re")] == [{"word": "abc", "n": "12"}]
    assert [c["path_params"] for c in cp.calls("tail")] == [{"id": "ä", "n": "7"}]


def _refusal(construct: str, pattern: str, detail: str) -> str:
    return (
        f"is not a valid regular expression ({pattern!r}: {construct} ({detail})); "
        f"controlplane uses RE2 syntax, which has no backreferences or lookaround: "
        f"{RE2_SYNTAX_URL}"
    )


REFUSED = [
    pytest.param(
        {"path_regex": r"/(a)\1"},
        "$.path_regex",
        "`path_regex` "
        + _refusal(
            "backreferences such as `\\1` are not supported",
            r"/(a)\1",
            r"invalid escape sequence: \1",
        ),
        id="backreference",
    ),
    pytest.param(
        {"path_regex": "/(?P<x>a)(?P=x)"},
        "$.path_regex",
        "`path_regex` "
        + _refusal(
            "backreference `(?P=name)` is not supported",
            "/(?P<x>a)(?P=x)",
            "invalid perl operator: (?P=",
        ),
        id="named-backreference",
    ),
    pytest.param(
        {"path_regex": "a{99999999999}"},
        "$.path_regex",
        "`path_regex` "
        + _refusal(
            "repetition counts above 1000 are not supported",
            "a{99999999999}",
            "invalid repetition size: {99999999999}",
        ),
        id="huge-repetition",
    ),
    pytest.param(
        {"path": "/n/{n:[0-9]{1,1001}}"},
        "$.path",
        "`path` "
        + _refusal(
            "repetition counts above 1000 are not supported",
            "[0-9]{1,1001}",
            "invalid repetition size: {1,1001}",
        ),
        id="template-repetition",
    ),
    pytest.param(
        {"path": "/x", "match": {"query": {"q": {"matches": "a(?=b)"}}}},
        "$.match.query.q.matches",
        "`matches` "
        + _refusal("lookahead `(?=...)` is not supported", "a(?=b)", "invalid perl operator: (?="),
        id="lookahead",
    ),
    pytest.param(
        {"path": "/x", "match": {"headers": {"H": {"any_of": [{"not_matches": "(?<!a)b"}]}}}},
        "$.match.headers.H.any_of[0].not_matches",
        "`not_matches` "
        + _refusal(
            "negative lookbehind `(?<!...)` is not supported",
            "(?<!a)b",
            "invalid perl operator: (?<!",
        ),
        id="lookbehind",
    ),
]


@pytest.mark.parametrize(("route", "location", "message"), REFUSED)
def test_constructs_re2_refuses_are_a_422_at_the_field(
    cp: SessionHandle, route: dict[str, Any], location: str, message: str
) -> None:
    error = register_error(cp, {"method": "GET", "handler": "h", **route})
    assert (error["location"], error["message"]) == (location, message)


def test_largest_repetition_re2_allows_is_accepted(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path_regex="/a{1000}", handler="h", response={"type": "raw"})
    assert requests.get(f"{cp.mock_url}/{'a' * 1000}", timeout=10).status_code == 200


def test_wiremock_lookahead_is_a_422_at_its_pointer(cp: SessionHandle) -> None:
    mapping = {"request": {"urlPathPattern": "/a(?!b)"}, "response": {"status": 200}}
    answer = requests.post(f"{cp.api}/__admin/mappings", json=mapping, timeout=10)
    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    assert error["source"]["pointer"] == "/request/urlPathPattern"
    assert "negative lookahead `(?!...)` is not supported" in error["detail"]
    assert RE2_SYNTAX_URL in error["detail"]


def post_json(url: str, body: bytes) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    return requests.post(url, data=body, headers=headers, timeout=60)


def closest_diff(answer: requests.Response) -> dict[str, Any]:
    """The one difference of the closest near miss in a 404."""
    assert answer.status_code == 404, answer.text
    [diff] = answer.json()["near_misses"][0]["diffs"]
    assert isinstance(diff, dict)
    return diff


# ------------------------------------------------------------------ JSONPath on large bodies

SCAN_LIMIT = 10_000
TOO_LARGE = (
    "<not evaluated: the JSON body holds more than 10000 values, "
    "too many for a JSONPath with .., *, a filter, a slice or a union>"
)


def big_json() -> bytes:
    """About 2.4 MB of JSON: 30,000 items of 12 values each."""
    items = [
        {"id": i, "name": f"item-{i}", "tags": ["a", "b", "c"], "meta": {"x": i, "y": [1, 2]}}
        for i in range(30_000)
    ]
    return json_bytes({"items": items})


def json_bytes(value: Any) -> bytes:
    return msgspec.json.encode(value)


def test_a_scanning_json_path_over_a_big_body_does_not_stall_other_sessions(
    cp: SessionHandle, other: SessionHandle
) -> None:
    cp.add_route(
        method="POST",
        path="/big",
        handler="big",
        match={"json_path": [{"expression": "$..x", "matcher": "nope"}]},
        response={"type": "raw"},
    )
    body = big_json()
    assert len(body) > 2_400_000
    sock = send_raw(cp.mock_url, "POST", "/big", {"Content-Type": "application/json"}, body)
    assert slowest_probe(other) < PROMPT_BIG_BODY
    assert read_status(sock) == 404


@pytest.mark.parametrize(
    ("expression", "zeros", "status"),
    [
        pytest.param("$..x", SCAN_LIMIT - 2, 200, id="descendants-at-the-limit"),
        pytest.param("$..x", SCAN_LIMIT - 1, 404, id="descendants-over-the-limit"),
        pytest.param("$.*", SCAN_LIMIT - 1, 404, id="wildcard-over-the-limit"),
        pytest.param("$.a[?(@ == 0)]", SCAN_LIMIT - 1, 404, id="filter-over-the-limit"),
        pytest.param("$.x", SCAN_LIMIT * 10, 200, id="plain-path-on-any-body"),
        pytest.param("$.a[5]", SCAN_LIMIT * 10, 200, id="index-on-any-body"),
    ],
)
def test_json_paths_that_scan_hold_only_up_to_the_value_budget(
    cp: SessionHandle, expression: str, zeros: int, status: int
) -> None:
    cp.add_route(
        method="POST",
        path="/scan",
        handler="scan",
        match={"json_path": [{"expression": expression}]},
        response={"type": "raw", "body": "found"},
    )
    # Values at all depths: `x`, `a`, and the zeros in `a`.
    answer = post_json(f"{cp.mock_url}/scan", json_bytes({"x": 1, "a": [0] * zeros}))
    assert answer.status_code == status, answer.text
    if status == 404:
        assert closest_diff(answer) == {
            "field": f"json_path {expression}",
            "expected": "exists",
            "actual": TOO_LARGE,
        }


# ------------------------------------------------------------------ arrays in any order


def test_an_unordered_array_comparison_does_not_stall_other_sessions(
    cp: SessionHandle, other: SessionHandle
) -> None:
    expected = [1, 1, 1, 1, 2]  # no 2 in the body: every assignment of the 1s fails
    cp.add_route(
        method="POST",
        path="/set",
        handler="set",
        match={
            "json_compare": [
                {"value": expected, "ignore_array_order": True, "ignore_extra_items": True}
            ]
        },
        response={"type": "raw"},
    )
    sock = send_raw(cp.mock_url, "POST", "/set", {}, json_bytes([1] * 30))
    assert slowest_probe(other) < PROMPT
    assert read_status(sock) == 404


@pytest.mark.parametrize(
    ("expected", "actual", "holds"),
    [
        # The first expected item fits both actual ones; only one order works.
        pytest.param(
            [{"a": 1}, {"a": 1, "b": 2}], [{"a": 1, "b": 2}, {"a": 1}], True, id="reassigns"
        ),
        pytest.param([{"a": 1}, {"a": 1}], [{"a": 1, "b": 2}, {"c": 1}], False, id="one-short"),
        pytest.param([2, 1, 1], [1, 3, 1, 2], True, id="extra-item"),
        pytest.param([1, 1], [1, 2, 3], False, id="repeats-need-repeats"),
        pytest.param([], [5], True, id="empty"),
    ],
)
def test_unordered_arrays_match_as_multisets(expected: Any, actual: Any, holds: bool) -> None:
    spec = [
        {
            "value": expected,
            "ignore_array_order": True,
            "ignore_extra_fields": True,
            "ignore_extra_items": True,
        }
    ]
    t = table(route("set", 0, method="POST", path="/s", match={"json_compare": spec}))
    assert (t.find(view("POST", "/s", json=actual)) is not None) is holds


# ------------------------------------------------------------------ over-deep JSON

MAX_DEPTH = 200


def nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[1]" + b"}" * (depth - 1)


def test_json_nested_thousands_deep_is_not_json_and_the_journal_stays_readable(
    cp: SessionHandle,
) -> None:
    cp.add_route(
        method="POST",
        path="/deep",
        handler="deep",
        match={"json_subset": {"a": {}}},
        response={"type": "raw"},
    )
    cp.add_route(method="POST", path="/any", handler="any", response={"type": "raw", "body": "ok"})
    body = b"[" * 5000 + b"]" * 5000
    diff = closest_diff(post_json(f"{cp.mock_url}/deep", body))
    assert diff["field"] == "json_subset"
    assert diff["actual"].startswith("<not JSON> ")
    assert post_json(f"{cp.mock_url}/any", body).text == "ok"
    for read in ("/requests", "/requests/unmatched", "/handlers/any/calls"):
        answer = requests.get(f"{cp.api}{read}", timeout=10)
        assert answer.status_code == 200, (read, answer.text)
    journal = requests.get(f"{cp.api}/requests", timeout=10).json()["requests"]
    assert [("json" in entry, entry["body"] == body.decode()) for entry in journal] == [
        (False, True),
        (False, True),
    ]
    verify = requests.post(f"{cp.api}/handlers/any/verify", json={"times": 1}, timeout=10)
    assert verify.status_code == 200, verify.text


@pytest.mark.parametrize(
    ("depth", "status"),
    [pytest.param(MAX_DEPTH, 200, id="at-the-limit"), pytest.param(MAX_DEPTH + 1, 404, id="over")],
)
def test_json_deeper_than_the_limit_is_not_json(cp: SessionHandle, depth: int, status: int) -> None:
    cp.add_route(
        method="POST",
        path="/depth",
        handler="depth",
        match={"json_path": [{"expression": "$"}]},  # holds for any JSON body
        response={"type": "raw", "body": "json"},
    )
    answer = post_json(f"{cp.mock_url}/depth", nested(depth))
    assert answer.status_code == status, answer.text
    [entry] = requests.get(f"{cp.api}/requests", timeout=10).json()["requests"]
    assert ("json" in entry) == (status == 200)
    if status == 404:
        assert closest_diff(answer)["actual"].startswith('<not JSON> {"a":{"a":')


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param("json", id="json"),
        pytest.param("json_subset", id="json_subset"),
        pytest.param("json_compare", id="json_compare"),
    ],
)
def test_json_conditions_hold_and_explain_at_the_depth_limit(condition: str) -> None:
    deepest = msgspec.json.decode(nested(MAX_DEPTH))
    expected = (
        [{"value": deepest, "ignore_array_order": True}] if condition == "json_compare" else deepest
    )
    t = table(route("deep", 0, method="POST", path="/d", match={condition: expected}))
    assert t.find(view("POST", "/d", json=deepest)) is not None
    other_leaf = msgspec.json.decode(nested(MAX_DEPTH).replace(b"[1]", b"[2]"))
    [miss] = t.near_misses(view("POST", "/d", json=other_leaf))
    assert [d.field.split()[0] for d in miss.diffs] == [condition]
