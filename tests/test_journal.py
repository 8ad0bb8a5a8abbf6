"""The journal: what each RecordedRequest holds, the filters, clearing and eviction."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests

from controlplane.server import ServerConfig
from tests.conftest import SessionHandle, ThreadedServer

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def journal(api: str, query: str = "") -> dict[str, Any]:
    answer = requests.get(f"{api}/requests{query}", timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def only(cp: SessionHandle) -> dict[str, Any]:
    [entry] = journal(cp.api)["requests"]
    assert isinstance(entry, dict)
    return entry


# ----------------------------------------------------------------- RecordedRequest


def test_recorded_request_has_every_documented_field(cp: SessionHandle) -> None:
    route = cp.add_route(
        method="PUT",
        path="/users/{id}",
        handler="put_user",
        response={"type": "json", "status": 201, "body": {}},
    )
    before = datetime.now(UTC)
    httpx.put(
        f"{cp.mock_url}/users/42?b=2&a=1&b=3&empty=",
        content=b'{"name": "Tom", "tags": [1, 2]}',
        headers=[("Content-Type", "application/json"), ("X-Dup", "one"), ("x-dup", "two")],
    )
    entry = only(cp)
    assert set(entry) == {
        "id",
        "seq",
        "time",
        "session",
        "handler",
        "route_id",
        "method",
        "path",
        "query",
        "headers",
        "path_params",
        "body",
        "body_base64",
        "body_size",
        "body_truncated",
        "json",
        "response",
        "matched",
        "proxied",
    }
    assert uuid.UUID(entry["id"]) and entry["seq"] >= 1
    assert ISO_UTC.fullmatch(entry["time"]), entry["time"]
    recorded_at = datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= recorded_at <= datetime.now(UTC)
    assert entry["session"] == cp.id
    assert (entry["handler"], entry["route_id"]) == ("put_user", route["id"])
    assert (entry["method"], entry["path"]) == ("PUT", "/users/42")  # no /_s/{id} prefix
    assert entry["query"] == {"b": ["2", "3"], "a": ["1"], "empty": [""]}
    assert list(entry["query"]) == ["b", "a", "empty"]
    dup = [(name, value) for name, value in entry["headers"] if name.lower() == "x-dup"]
    assert dup == [("X-Dup", "one"), ("x-dup", "two")]  # order, repeats and spelling kept
    assert entry["path_params"] == {"id": "42"}
    assert entry["body"] == '{"name": "Tom", "tags": [1, 2]}'
    assert base64.b64decode(entry["body_base64"]) == b'{"name": "Tom", "tags": [1, 2]}'
    assert entry["json"] == {"name": "Tom", "tags": [1, 2]}
    assert (entry["body_size"], entry["body_truncated"]) == (31, False)
    assert entry["response"] == {"status": 201, "type": "json", "delay_ms": 0, "error": None}
    assert entry["matched"] is True


def test_non_utf8_body_is_null_text_with_exact_base64(cp: SessionHandle) -> None:
    cp.add_route(method="POST", path="/upload", handler="upload", response={"type": "json"})
    payload = bytes(range(256))
    requests.post(f"{cp.mock_url}/upload", data=payload, timeout=10)
    entry = only(cp)
    assert entry["body"] is None
    assert base64.b64decode(entry["body_base64"]) == payload
    assert "json" not in entry


@pytest.mark.parametrize(
    ("body", "has_json", "value"),
    [
        (b"null", True, None),
        (b"0", True, 0),
        (b'"text"', True, "text"),
        (b"[]", True, []),
        (b"plain words", False, None),
        (b"", False, None),
        (b"{broken", False, None),
    ],
    ids=["null", "zero", "string", "empty-array", "text", "empty", "broken"],
)
def test_json_field_is_present_only_when_the_body_is_json(
    cp: SessionHandle, body: bytes, has_json: bool, value: Any
) -> None:
    cp.add_route(method="POST", path="/j", handler="j", response={"type": "json"})
    requests.post(f"{cp.mock_url}/j", data=body, timeout=10)
    entry = only(cp)
    assert ("json" in entry) is has_json
    if has_json:
        assert entry["json"] == value


def test_response_records_delay_and_sequence_exhaustion(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/slow",
        handler="slow",
        response={"type": "json", "delay": {"fixed_ms": 30}},
    )
    cp.add_route(
        method="GET",
        path="/once",
        handler="once",
        response={"type": "sequence", "responses": [{"type": "raw", "body": "1"}]},
    )
    requests.get(f"{cp.mock_url}/slow", timeout=10)
    requests.get(f"{cp.mock_url}/once", timeout=10)
    requests.get(f"{cp.mock_url}/once", timeout=10)
    slow, first, exhausted = journal(cp.api)["requests"]
    assert slow["response"] == {"status": 200, "type": "json", "delay_ms": 30, "error": None}
    assert first["response"]["status"] == 200 and first["response"]["error"] is None
    assert exhausted["response"]["status"] == 500
    assert exhausted["response"]["error"] == "sequence_exhausted"


def test_unmatched_request_is_journaled_without_handler(cp: SessionHandle) -> None:
    requests.delete(f"{cp.mock_url}/missing?x=1", timeout=10)
    entry = only(cp)
    assert entry["matched"] is False
    assert entry["handler"] is None and entry["route_id"] is None
    assert entry["path"] == "/missing" and entry["query"] == {"x": ["1"]}
    assert entry["response"]["status"] == 404


def test_requests_are_oldest_first_with_increasing_seq_and_unique_ids(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/n/{n}", handler="n", response={"type": "json"})
    for n in range(5):
        requests.get(f"{cp.mock_url}/n/{n}", timeout=10)
    entries = journal(cp.api)["requests"]
    assert [e["path"] for e in entries] == [f"/n/{n}" for n in range(5)]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert len({e["id"] for e in entries}) == 5


# ----------------------------------------------------------------- filters


@pytest.fixture
def mixed(cp: SessionHandle) -> SessionHandle:
    """a: GET /a twice, b: POST /b once, one unmatched GET /zzz; in that order."""
    cp.add_route(method="GET", path="/a", handler="a", response={"type": "json"})
    cp.add_route(method="POST", path="/b", handler="b", response={"type": "json"})
    requests.get(f"{cp.mock_url}/a?n=1", timeout=10)
    requests.post(f"{cp.mock_url}/b", timeout=10)
    requests.get(f"{cp.mock_url}/zzz", timeout=10)
    requests.get(f"{cp.mock_url}/a?n=2", timeout=10)
    return cp


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["/a?1", "/b", "/zzz", "/a?2"]),
        ("?handler=a", ["/a?1", "/a?2"]),
        ("?handler=nobody", []),
        ("?matched=true", ["/a?1", "/b", "/a?2"]),
        ("?matched=false", ["/zzz"]),
        ("?method=POST", ["/b"]),
        ("?method=get", ["/a?1", "/zzz", "/a?2"]),
        ("?path=/a", ["/a?1", "/a?2"]),
        ("?path=/a/", []),
        ("?limit=2", ["/zzz", "/a?2"]),
        ("?limit=10", ["/a?1", "/b", "/zzz", "/a?2"]),
        ("?limit=0", []),
        ("?method=GET&matched=true&limit=1", ["/a?2"]),
    ],
)
def test_request_filters(mixed: SessionHandle, query: str, expected: list[str]) -> None:
    entries = journal(mixed.api, query)["requests"]
    shown = [e["path"] + ("?" + e["query"]["n"][0] if e["query"] else "") for e in entries]
    assert shown == expected


@pytest.mark.parametrize(
    ("query", "location"),
    [
        ("?limit=-1", "?limit"),
        ("?limit=ten", "?limit"),
        ("?limit=1.5", "?limit"),
        ("?matched=maybe", "?matched"),
    ],
)
def test_bad_filter_values_are_422_with_location(
    cp: SessionHandle, query: str, location: str
) -> None:
    answer = requests.get(f"{cp.api}/requests{query}", timeout=10)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["location"] == location
    assert query.split("=")[1] in error["message"]


def test_delete_requests_clears_the_journal(mixed: SessionHandle) -> None:
    assert requests.delete(f"{mixed.api}/requests", timeout=10).status_code == 204
    assert journal(mixed.api) == {"requests": [], "evicted": 0, "next": None}
    assert requests.get(f"{mixed.api}/handlers/a/calls", timeout=10).json()["calls"] == []
    # Routes stay.
    assert requests.get(f"{mixed.mock_url}/a", timeout=10).status_code == 200
    assert len(journal(mixed.api)["requests"]) == 1


def test_unmatched_endpoint_lists_only_unmatched_with_near_misses(mixed: SessionHandle) -> None:
    answer = requests.get(f"{mixed.api}/requests/unmatched", timeout=10).json()
    [entry] = answer["requests"]
    assert entry["path"] == "/zzz" and entry["matched"] is False
    assert isinstance(entry["near_misses"], list)
    assert answer["evicted"] == 0


# ----------------------------------------------------------------- eviction


@pytest.fixture(scope="module")
def small_server() -> Iterator[ThreadedServer]:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, journal_size=3)).start()
    yield server
    server.stop()


@pytest.fixture
def small(small_server: ThreadedServer) -> Iterator[SessionHandle]:
    body = requests.post(f"{small_server.admin_url}/api/sessions", timeout=10).json()
    yield SessionHandle(id=body["id"], mock_url=body["mock_url"], api=body["admin_url"])
    requests.delete(body["admin_url"], timeout=10)


def test_journal_keeps_the_newest_and_counts_the_evicted(small: SessionHandle) -> None:
    small.add_route(method="GET", path="/n/{n}", handler="n", response={"type": "json"})
    for n in range(5):
        requests.get(f"{small.mock_url}/n/{n}", timeout=10)

    listed = journal(small.api)
    assert [e["path"] for e in listed["requests"]] == ["/n/2", "/n/3", "/n/4"]
    assert listed["evicted"] == 2
    calls = requests.get(f"{small.api}/handlers/n/calls", timeout=10).json()
    assert len(calls["calls"]) == 3 and calls["evicted"] == 2
    handlers = requests.get(f"{small.api}/handlers", timeout=10).json()["handlers"]
    assert handlers[0]["calls"] == 3

    ok = requests.post(f"{small.api}/handlers/n/verify", json={"at_least": 3}, timeout=10)
    assert ok.status_code == 200
    ok_body = ok.json()
    assert ok_body["ok"] is True and (ok_body["count"], ok_body["evicted"]) == (3, 2)
    assert "2 earlier requests were evicted" in ok_body["message"]  # warned even when it holds

    short = requests.post(f"{small.api}/handlers/n/verify", json={"times": 5}, timeout=10)
    assert short.status_code == 409
    body = short.json()
    assert body["count"] == 3 and body["evicted"] == 2
    assert "2 earlier requests were evicted" in body["message"]
    assert "count may be short" in body["message"]


def test_clearing_resets_evicted(small: SessionHandle) -> None:
    for _ in range(4):
        requests.get(f"{small.mock_url}/nothing", timeout=10)
    assert journal(small.api)["evicted"] == 1
    requests.delete(f"{small.api}/requests", timeout=10)
    assert journal(small.api) == {"requests": [], "evicted": 0, "next": None}
    requests.get(f"{small.mock_url}/nothing", timeout=10)
    assert journal(small.api)["evicted"] == 0
    # Reset clears it too.
    for _ in range(4):
        requests.get(f"{small.mock_url}/nothing", timeout=10)
    requests.post(f"{small.api}/reset", timeout=10)
    assert journal(small.api)["evicted"] == 0


def test_journal_size_applies_to_each_session(
    small_server: ThreadedServer, small: SessionHandle
) -> None:
    other = requests.post(f"{small_server.admin_url}/api/sessions", timeout=10).json()
    try:
        for _ in range(3):
            requests.get(f"{small.mock_url}/x", timeout=10)
            requests.get(f"{other['mock_url']}/x", timeout=10)
        assert journal(small.api)["evicted"] == 0
        assert journal(other["admin_url"])["evicted"] == 0
    finally:
        requests.delete(other["admin_url"], timeout=10)
