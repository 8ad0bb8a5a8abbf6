"""Recording: a real origin, real requests through the mock port, routes built from them."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from controlplane_client import (
    AsyncClient,
    Client,
    JsonResponse,
    Match,
    RecordingResult,
    RecordingStatus,
    StringMatcher,
)

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle
from tests.origins import GZIPPED, Origin


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


def start(cp: SessionHandle, target: str, **fields: Any) -> dict[str, Any]:
    answer = requests.post(f"{cp.api}/recordings", json={"target": target, **fields}, timeout=10)
    assert answer.status_code == 201, answer.text
    started: dict[str, Any] = answer.json()
    return started


def stop(cp: SessionHandle) -> dict[str, Any]:
    answer = requests.post(f"{cp.api}/recordings/stop", timeout=10)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def status(cp: SessionHandle) -> dict[str, Any]:
    answer = requests.get(f"{cp.api}/recordings", timeout=10)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def journal(cp: SessionHandle) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = requests.get(f"{cp.api}/requests", timeout=10).json()[
        "requests"
    ]
    return entries


def test_status_says_stopped_before_any_recording(cp: SessionHandle) -> None:
    assert status(cp) == {"status": "stopped", "target": None, "captured": 0}


def test_a_recording_proxies_unmatched_requests_and_stop_returns_one_route_each(
    cp: SessionHandle, origin: Origin
) -> None:
    assert start(cp, origin.url) == {"status": "recording", "target": origin.url, "captured": 0}
    live = requests.get(f"{cp.mock_url}/json/cat?a=1", timeout=10)
    assert live.status_code == 200
    assert live.json()["name"] == "cat"
    assert status(cp) == {"status": "recording", "target": origin.url, "captured": 1}
    [entry] = journal(cp)
    assert (entry["proxied"], entry["matched"], entry["response"]["type"]) == (True, False, "proxy")
    # No route matched it, but the origin answered: it is not an unmatched request.
    assert requests.get(f"{cp.api}/requests/unmatched", timeout=10).json()["requests"] == []

    result = stop(cp)
    assert status(cp) == {"status": "stopped", "target": origin.url, "captured": 1}
    assert result["skipped"] == []
    [route] = result["routes"]
    assert route["method"] == "GET"
    assert route["path"] == "/json/cat"
    assert route["match"] == {"query": {"a": "1"}}
    assert route["id"] is not None
    response = route["response"]
    assert response["type"] == "json"
    assert response["status"] == 200
    assert response["body"] == live.json()
    assert response["headers"]["X-Origin"] == "yes"
    assert "Content-Length" not in response["headers"]

    # The route was added: the session answers without the origin now.
    again = requests.get(f"{cp.mock_url}/json/cat?a=1", timeout=10)
    assert again.json() == live.json()
    assert again.headers["Content-Type"].startswith("application/json")
    assert journal(cp)[-1]["handler"] == route["handler"]
    assert journal(cp)[-1]["proxied"] is False


def test_distinct_query_headers_and_bodies_become_distinct_routes(
    cp: SessionHandle, origin: Origin
) -> None:
    start(cp, origin.url, capture_headers=["X-Tenant"])
    sent = [
        ("GET", "/json/q?a=1", None, {}),
        ("GET", "/json/q?a=1&b=2", None, {}),
        ("GET", "/json/q?a=1&a=2", None, {}),
        ("GET", "/json/q", None, {"X-Tenant": "a"}),
        ("POST", "/json/q", b'{"n": 1}', {"Content-Type": "application/json"}),
        ("POST", "/json/q", b'{"n": 2}', {"Content-Type": "application/json"}),
        ("POST", "/json/q", b"plain text", {}),
        ("POST", "/json/q", b"", {}),
    ]
    live = [
        requests.request(m, f"{cp.mock_url}{p}", data=b, headers=h, timeout=10).json()
        for m, p, b, h in sent
    ]
    routes = stop(cp)["routes"]
    assert len(routes) == len(sent)
    # The fuller query comes first, so `?a=1` does not answer `?a=1&b=2`.
    queries = [r["match"].get("query") for r in routes if r["method"] == "GET"]
    assert queries[0] == {"a": "1", "b": "2"}
    assert {"a": {"has_exactly": ["1", "2"]}} in queries
    posts = [r["match"] for r in routes if r["method"] == "POST"]
    assert {"json": {"n": 1}, "headers": {"X-Tenant": {"absent": True}}} in posts
    assert {"body": "plain text", "headers": {"X-Tenant": {"absent": True}}} in posts
    assert {"body": "", "headers": {"X-Tenant": {"absent": True}}} in posts
    for (method, path, body, headers), expected in zip(sent, live, strict=True):
        played = requests.request(
            method, f"{cp.mock_url}{path}", data=body, headers=headers, timeout=10
        )
        assert played.json() == expected, (method, path, body)
    assert all(e["handler"] is not None for e in journal(cp)[len(sent) :])


def test_different_answers_to_one_request_become_a_sequence_ending_on_the_last(
    cp: SessionHandle, origin: Origin
) -> None:
    start(cp, origin.url)
    live = [requests.get(f"{cp.mock_url}/count", timeout=10).text for _ in range(2)]
    [route] = stop(cp)["routes"]
    response = route["response"]
    assert response["type"] == "sequence"
    assert response["on_exhausted"] == "last"
    assert [r["body"] for r in response["responses"]] == live
    assert [r["type"] for r in response["responses"]] == ["raw", "raw"]
    played = [requests.get(f"{cp.mock_url}/count", timeout=10).text for _ in range(3)]
    assert played == [*live, live[-1]]


def test_the_same_answer_twice_is_one_response(cp: SessionHandle, origin: Origin) -> None:
    start(cp, origin.url)
    for _ in range(2):
        requests.get(f"{cp.mock_url}/json/same", timeout=10)
    [route] = stop(cp)["routes"]
    assert route["response"]["type"] == "json"


def test_answers_that_differ_only_in_their_date_are_one_response(
    cp: SessionHandle, origin: Origin
) -> None:
    """An origin dates every answer; two a second apart are still the same answer, and
    the route plays back with the server's own `Date`, not the recorded one."""
    start(cp, origin.url)
    for second in ("00", "01"):
        date = f"Mon, 07 Dec 2026 10:00:{second} GMT"
        relayed = requests.get(
            f"{cp.mock_url}/json/dated", headers={"X-Answer-Date": date}, timeout=10
        )
        assert relayed.headers["Date"] == date  # the client being recorded gets it as it came
    [route] = stop(cp)["routes"]
    assert route["response"]["type"] == "json"
    assert {name.lower() for name in route["response"]["headers"]} == {
        "content-type",
        "x-origin",
        "server",
    }
    played = requests.get(f"{cp.mock_url}/json/dated", timeout=10)
    assert played.headers["Date"] != "Mon, 07 Dec 2026 10:00:01 GMT"


def test_gzip_is_decoded_for_the_stored_copy_and_its_encoding_dropped(
    cp: SessionHandle, origin: Origin
) -> None:
    start(cp, origin.url)
    relayed = requests.get(f"{cp.mock_url}/gzip", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert relayed.headers["Content-Encoding"] == "gzip"  # the client got it as it was
    [route] = stop(cp)["routes"]
    response = route["response"]
    assert response["type"] == "raw"  # fifty JSON objects in a row are not one JSON document
    assert "Content-Encoding" not in response["headers"]
    assert response["body"] == gzip.decompress(GZIPPED).decode()
    played = requests.get(f"{cp.mock_url}/gzip", timeout=10)
    assert "Content-Encoding" not in played.headers


def test_an_encoding_not_decoded_keeps_its_header_and_bytes(
    cp: SessionHandle, origin: Origin
) -> None:
    start(cp, origin.url)
    requests.get(f"{cp.mock_url}/brotli", timeout=10)
    requests.get(f"{cp.mock_url}/bytes", timeout=10)
    routes = {r["path"]: r["response"] for r in stop(cp)["routes"]}
    assert routes["/brotli"]["headers"]["Content-Encoding"] == "br"
    assert routes["/brotli"]["body"] == "not really brotli"
    assert routes["/bytes"]["type"] == "raw"
    assert base64.b64decode(routes["/bytes"]["body_base64"]) == b"\xff\xfe\x00bytes"
    played = requests.get(f"{cp.mock_url}/bytes", timeout=10)
    assert played.content == b"\xff\xfe\x00bytes"
    assert played.headers["Content-Type"] == "application/octet-stream"


def test_requests_a_route_answers_are_not_proxied_nor_recorded(
    cp: SessionHandle, origin: Origin
) -> None:
    cp.add_route(
        method="GET", path="/json/stubbed", handler="stub", response={"type": "raw", "body": "s"}
    )
    start(cp, origin.url)
    assert requests.get(f"{cp.mock_url}/json/stubbed", timeout=10).text == "s"
    assert stop(cp)["routes"] == []


def test_match_limits_what_is_recorded(cp: SessionHandle, origin: Origin) -> None:
    start(cp, origin.url, match={"url": {"starts_with": "/json/"}})
    assert requests.get(f"{cp.mock_url}/json/in", timeout=10).status_code == 200
    outside = requests.get(f"{cp.mock_url}/count", timeout=10)
    assert outside.status_code == 404
    assert outside.json()["path"] == "/count"
    assert [r["path"] for r in stop(cp)["routes"]] == ["/json/in"]


def test_add_routes_false_returns_routes_without_adding_them(
    cp: SessionHandle, origin: Origin
) -> None:
    start(cp, origin.url, add_routes=False)
    requests.get(f"{cp.mock_url}/json/kept-out", timeout=10)
    [route] = stop(cp)["routes"]
    assert route["id"] is None
    assert requests.get(f"{cp.api}/routes", timeout=10).json() == {"routes": []}
    assert requests.get(f"{cp.mock_url}/json/kept-out", timeout=10).status_code == 404


def test_snapshot_builds_routes_from_the_journals_proxied_exchanges(
    cp: SessionHandle, origin: Origin
) -> None:
    cp.add_route(
        method="*",
        path="/api/{rest:.*}",
        handler="upstream",
        priority=9,
        response={"type": "proxy", "url": origin.url, "strip_prefix": "/api"},
    )
    cp.add_route(method="GET", path="/local", handler="local", response={"type": "json"})
    live = requests.get(f"{cp.mock_url}/api/json/snap?x=1", timeout=10).json()
    requests.get(f"{cp.mock_url}/local", timeout=10)
    assert [e["proxied"] for e in journal(cp)] == [True, False]
    answer = requests.post(f"{cp.api}/recordings/snapshot", timeout=10)
    assert answer.status_code == 200, answer.text
    [route] = answer.json()["routes"]
    assert (route["path"], route["match"]) == ("/api/json/snap", {"query": {"x": "1"}})
    # Added at priority 5, ahead of the proxy: the snapshot answers now.
    assert requests.get(f"{cp.mock_url}/api/json/snap?x=1", timeout=10).json() == live
    assert journal(cp)[-1]["handler"] == route["handler"]
    # A second snapshot does not record what a route answers now.
    again = requests.post(f"{cp.api}/recordings/snapshot", json={}, timeout=10)
    assert again.json() == {"routes": [], "skipped": []}


def test_snapshot_match_and_add_routes(cp: SessionHandle, origin: Origin) -> None:
    cp.add_route(
        method="*",
        path="/{rest:.*}",
        handler="upstream",
        priority=9,
        response={"type": "proxy", "url": origin.url},
    )
    requests.get(f"{cp.mock_url}/json/one", timeout=10)
    requests.get(f"{cp.mock_url}/json/two", timeout=10)
    body = {"match": {"url": {"ends_with": "two"}}, "add_routes": False}
    answer = requests.post(f"{cp.api}/recordings/snapshot", json=body, timeout=10)
    assert [r["path"] for r in answer.json()["routes"]] == ["/json/two"]
    assert len(requests.get(f"{cp.api}/routes", timeout=10).json()["routes"]) == 1


def test_recording_errors_are_409_and_422_with_their_location(
    cp: SessionHandle, origin: Origin
) -> None:
    not_recording = requests.post(f"{cp.api}/recordings/stop", timeout=10)
    assert not_recording.status_code == 409
    assert not_recording.json()["error"]["message"] == (
        f"session {cp.id!r} is not recording; start with POST .../recordings "
        '{"target": "http://origin"}'
    )
    start(cp, origin.url)
    twice = requests.post(f"{cp.api}/recordings", json={"target": origin.url}, timeout=10)
    assert twice.status_code == 409
    assert twice.json()["error"]["message"] == (
        f"session {cp.id!r} is already recording (to {origin.url}); "
        "stop it first with POST .../recordings/stop"
    )
    bad = requests.post(f"{cp.api}/recordings", json={"target": "ftp://x"}, timeout=10)
    assert bad.status_code == 422
    assert bad.json()["error"]["location"] == "$.target"
    assert "`target` must be an absolute http:// or https:// URL" in bad.json()["error"]["message"]
    header = requests.post(
        f"{cp.api}/recordings",
        json={"target": origin.url, "capture_headers": ["bad name"]},
        timeout=10,
    )
    assert header.status_code == 422
    assert header.json()["error"]["location"] == "$.capture_headers"
    snap = requests.post(f"{cp.api}/recordings/snapshot", json={"add_routes": 1}, timeout=10)
    assert snap.status_code == 422
    assert snap.json()["error"]["location"] == "$.add_routes"


def test_an_unreachable_target_is_a_502_and_not_recorded(cp: SessionHandle) -> None:
    start(cp, "http://127.0.0.1:9")
    answer = requests.get(f"{cp.mock_url}/gone", timeout=10)
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "proxy_unreachable"
    [entry] = journal(cp)
    assert (entry["proxied"], entry["response"]["error"]) == (False, "proxy_unreachable")
    assert status(cp)["captured"] == 0
    assert stop(cp)["routes"] == []


def test_an_answer_no_route_could_give_is_skipped_with_its_reason(
    cp: SessionHandle, origin: Origin
) -> None:
    start(cp, origin.url)
    relayed = requests.get(f"{cp.mock_url}/odd", timeout=10)
    assert (relayed.status_code, relayed.text) == (600, "odd")  # relayed as it was
    requests.get(f"{cp.mock_url}/json/fine", timeout=10)
    result = stop(cp)
    assert [r["path"] for r in result["routes"]] == ["/json/fine"]
    assert result["skipped"] == [
        {
            "method": "GET",
            "path": "/odd",
            "reason": "the origin's answer cannot be a response: "
            "`status` must be an HTTP status code 200-599, not 600",
        }
    ]


def test_reset_forgets_the_recording(cp: SessionHandle, origin: Origin) -> None:
    start(cp, origin.url)
    assert requests.post(f"{cp.api}/reset", timeout=10).status_code == 204
    assert status(cp) == {"status": "stopped", "target": None, "captured": 0}
    assert requests.get(f"{cp.mock_url}/json/x", timeout=10).status_code == 404


def test_an_answer_still_streaming_is_skipped_with_its_reason(cp: SessionHandle) -> None:
    with Origin() as streaming:
        start(cp, streaming.url)
        with requests.get(f"{cp.mock_url}/events", stream=True, timeout=10) as events:
            assert next(events.iter_lines()) == b"data: first"
            result = stop(cp)
            streaming.release()
    assert result == {
        "routes": [],
        "skipped": [
            {
                "method": "GET",
                "path": "/events",
                "reason": "the origin's answer was not relayed whole "
                "(still streaming, or it broke off)",
            }
        ],
    }


@pytest.fixture(scope="module")
def small_journal() -> Iterator[ThreadedServer]:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, journal_body_limit=16)).start()
    yield server
    server.stop()


def test_bodies_over_the_journal_body_limit_are_skipped_with_their_reason(
    small_journal: ThreadedServer, origin: Origin
) -> None:
    api = f"{small_journal.admin_url}/api"
    mock = small_journal.mock_url
    requests.post(f"{api}/reset", timeout=10)
    answer = requests.post(f"{api}/recordings", json={"target": origin.url}, timeout=10)
    assert answer.status_code == 201
    requests.post(f"{mock}/json/a", data=b"x" * 17, timeout=10)
    requests.get(f"{mock}/json/long-enough-to-pass-sixteen-bytes", timeout=10)
    requests.get(f"{mock}/bytes", timeout=10)  # 9 bytes: kept whole
    result = requests.post(f"{api}/recordings/stop", timeout=10).json()
    reasons = [(s["path"], s["reason"]) for s in result["skipped"]]
    assert reasons[0] == (
        "/json/a",
        "the request body (17 bytes) is longer than the journal keeps (--journal-body-limit)",
    )
    assert reasons[1][0] == "/json/long-enough-to-pass-sixteen-bytes"
    assert reasons[1][1].startswith("the origin's body (")
    assert reasons[1][1].endswith(" bytes) is longer than the journal keeps (--journal-body-limit)")
    assert [r["path"] for r in result["routes"]] == ["/bytes"]
    requests.post(f"{api}/reset", timeout=10)


def test_recorded_routes_saved_as_a_file_play_back_on_a_new_server(tmp_path: Path) -> None:
    """The round trip: real origin -> record -> stop -> file -> --mappings -> same answers."""
    paths = ["/json/a?x=1", "/json/b", "/count", "/count", "/gzip", "/bytes"]
    with Origin() as real:
        recorder = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
        try:
            api = f"{recorder.admin_url}/api"
            body = {"target": real.url, "add_routes": False}
            assert requests.post(f"{api}/recordings", json=body, timeout=10).status_code == 201
            live = [requests.get(f"{recorder.mock_url}{p}", timeout=10) for p in paths]
            posted = requests.post(f"{recorder.mock_url}/json/p", json={"k": [1, 2]}, timeout=10)
            result = requests.post(f"{api}/recordings/stop", timeout=10).json()
        finally:
            recorder.stop()
    assert result["skipped"] == []
    (tmp_path / "recorded.json").write_text(json.dumps(result))  # the answer, as it is

    player = ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path)).start()
    try:
        played = [requests.get(f"{player.mock_url}{p}", timeout=10) for p in paths]
        replayed_post = requests.post(f"{player.mock_url}/json/p", json={"k": [1, 2]}, timeout=10)
        wrong_body = requests.post(f"{player.mock_url}/json/p", json={"k": [2]}, timeout=10)
    finally:
        player.stop()
    for path, before, after in zip(paths, live, played, strict=True):
        assert after.status_code == before.status_code, path
        assert after.headers["Content-Type"] == before.headers["Content-Type"], path
        if path.startswith("/json/"):  # stored as JSON: the same document, re-encoded
            assert after.json() == before.json(), path
        else:
            assert after.content == before.content, path
    assert replayed_post.json() == posted.json()
    assert wrong_body.status_code == 404


def test_the_python_client_records_stops_and_snapshots(
    controlplane: Client, origin: Origin
) -> None:
    started = controlplane.start_recording(
        origin.url, match=Match(url=StringMatcher(starts_with="/json/")), capture_headers=["X-T"]
    )
    assert started == RecordingStatus(status="recording", target=origin.url, captured=0)
    live = requests.get(f"{controlplane.mock_url}/json/c", headers={"X-T": "1"}, timeout=10)
    assert controlplane.recording_status().captured == 1
    result = controlplane.stop_recording()
    assert isinstance(result, RecordingResult) and result.skipped == []
    [route] = result.routes
    assert isinstance(route.response, JsonResponse)
    assert route.response.body == live.json()
    assert route.match == Match(headers={"X-T": "1"})
    assert controlplane.recording_status().status == "stopped"
    snap = controlplane.snapshot_recording(add_routes=False)
    assert snap == RecordingResult(routes=[], skipped=[])  # a route answers it now


async def test_the_async_client_records_stops_and_snapshots(
    controlplane: Client, origin: Origin
) -> None:
    async with AsyncClient(controlplane.admin_url, session=controlplane.session_id) as client:
        started = await client.start_recording(origin.url, add_routes=False)
        assert started.status == "recording"
        async with httpx.AsyncClient() as http:
            live = await http.get(f"{controlplane.mock_url}/json/async")
        assert (await client.recording_status()).captured == 1
        [route] = (await client.stop_recording()).routes
        assert route.id is None and isinstance(route.response, JsonResponse)
        assert route.response.body == live.json()
        assert await client.routes() == []
        snap = await client.snapshot_recording(match=Match(url="/json/async"), add_routes=False)
        assert [r.path for r in snap.routes] == ["/json/async"]
