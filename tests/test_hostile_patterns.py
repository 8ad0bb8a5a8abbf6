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

import pytest
import requests

from tests.conftest import SessionHandle, ThreadedServer

#: Python's `re` takes seconds on `(a+)+` against this many `a`s and a `!`.
EVIL_LENGTH = 26
EVIL = "a" * EVIL_LENGTH + "!"
#: Another session's request is answered within this while the bad one is evaluated.
PROMPT = 0.3
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
