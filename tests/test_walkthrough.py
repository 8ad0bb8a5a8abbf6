"""The issue's user story, step by step, over real sockets with `requests`."""

from __future__ import annotations

import httpx
import requests

from tests.conftest import SessionHandle, ThreadedServer


def test_route_answers_then_reregistered_response_answers_next_call(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/users/{id}",
        handler="get_user",
        response={"type": "json", "body": {"id": 7, "name": "Whiskers"}},
    )
    first = requests.get(f"{cp.mock_url}/users/7", timeout=10)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("application/json")
    assert first.json() == {"id": 7, "name": "Whiskers"}

    cp.register("get_user", {"type": "json", "status": 404, "body": {"error": "gone"}})
    second = requests.get(f"{cp.mock_url}/users/7?verbose=1", timeout=10)
    assert second.status_code == 404
    assert second.json() == {"error": "gone"}


def test_calls_record_request_and_answer(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/users/{id}",
        handler="update_user",
        response={"type": "json", "status": 201, "body": {"ok": True}},
    )
    # httpx sends repeated headers as given (requests cannot).
    httpx.post(
        f"{cp.mock_url}/users/42?x=1&x=2&flag=",
        content=b'{"name": "Tom"}',
        headers=[("Content-Type", "application/json"), ("X-Trace", "a"), ("X-Trace", "b")],
    )
    [call] = cp.calls("update_user")
    assert call["method"] == "POST"
    assert call["path"] == "/users/42"
    assert call["path_params"] == {"id": "42"}
    assert call["query"] == {"x": ["1", "2"], "flag": [""]}
    assert [v for k, v in call["headers"] if k.lower() == "x-trace"] == ["a", "b"]
    assert call["json"] == {"name": "Tom"}
    assert call["body"] == '{"name": "Tom"}'
    assert call["response"] == {"status": 201, "type": "json", "delay_ms": 0, "error": None}
    assert call["matched"] is True
    assert call["session"] == cp.id
    assert call["handler"] == "update_user"


def test_verify_ok_and_409_with_counts_and_closest_calls(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET", path="/users/{id}", handler="get_user", response={"type": "json", "body": {}}
    )
    for user in (1, 2):
        requests.get(f"{cp.mock_url}/users/{user}", headers={"Accept": "*/*"}, timeout=10)

    ok = requests.post(
        f"{cp.api}/handlers/get_user/verify",
        json={"times": 2, "headers": {"accept": "*/*"}},
        timeout=10,
    )
    assert ok.status_code == 200
    assert ok.json() == {"ok": True, "count": 2, "evicted": 0}

    wrong = requests.post(f"{cp.api}/handlers/get_user/verify", json={"times": 3}, timeout=10)
    assert wrong.status_code == 409
    body = wrong.json()
    assert body["ok"] is False and body["count"] == 2
    assert "exactly 3" in body["message"] and "2 calls matched" in body["message"]
    assert "GET /users/1" in body["message"]

    header = requests.post(
        f"{cp.api}/handlers/get_user/verify",
        json={"headers": {"Accept": "application/json"}},
        timeout=10,
    )
    assert header.status_code == 409
    message = header.json()["message"]
    assert "Closest calls" in message and "*/*" in message and "application/json" in message


def test_unmatched_request_gets_404_with_near_misses_and_is_journaled(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/users",
        handler="create_user",
        match={"headers": {"X-Tenant": "a"}, "json": {"name": "Whiskers"}},
        response={"type": "json", "status": 201, "body": {}},
    )
    answer = requests.post(
        f"{cp.mock_url}/users", json={"name": "Tom"}, headers={"X-Tenant": "b"}, timeout=10
    )
    assert answer.status_code == 404
    body = answer.json()
    [miss] = body["near_misses"]
    assert miss["handler"] == "create_user"
    fields = {diff["field"] for diff in miss["diffs"]}
    assert any("X-Tenant" in f for f in fields)
    assert "json" in fields

    wrong_method = requests.get(f"{cp.mock_url}/users", timeout=10)
    assert wrong_method.status_code == 404
    diffs = wrong_method.json()["near_misses"][0]["diffs"]
    assert {"field": "method", "expected": "POST", "actual": "GET"} in diffs

    unmatched = requests.get(f"{cp.api}/requests/unmatched", timeout=10).json()["requests"]
    assert [(r["method"], r["path"]) for r in unmatched] == [("POST", "/users"), ("GET", "/users")]
    assert unmatched[0]["near_misses"][0]["handler"] == "create_user"
    assert unmatched[0]["matched"] is False


def test_sessions_are_isolated_by_prefix_and_header(cp_server: ThreadedServer) -> None:
    api = f"{cp_server.admin_url}/api/sessions"
    a = requests.post(api, json={"name": "a"}, timeout=10).json()
    b = requests.post(api, json={"name": "b"}, timeout=10).json()
    for session, text in ((a, "from a"), (b, "from b")):
        requests.post(
            f"{session['admin_url']}/routes",
            timeout=10,
            json={
                "method": "GET",
                "path": "/who",
                "handler": "who",
                "response": {"type": "raw", "body": text},
            },
        )

    assert requests.get(f"{a['mock_url']}/who", timeout=10).text == "from a"
    assert requests.get(f"{b['mock_url']}/who", timeout=10).text == "from b"
    by_header = requests.get(
        f"{cp_server.mock_url}/who", headers={"X-Controlplane-Session": b["id"]}, timeout=10
    )
    assert by_header.text == "from b"
    # The default session knows no /who.
    assert requests.get(f"{cp_server.mock_url}/who", timeout=10).status_code == 404

    a_calls = requests.get(f"{a['admin_url']}/handlers/who/calls", timeout=10).json()["calls"]
    b_calls = requests.get(f"{b['admin_url']}/handlers/who/calls", timeout=10).json()["calls"]
    assert len(a_calls) == 1 and len(b_calls) == 2

    assert requests.delete(f"{api}/{a['id']}", timeout=10).status_code == 204
    gone = requests.get(f"{a['mock_url']}/who", timeout=10)
    assert gone.status_code == 404 and a["id"] in gone.json()["message"]
    assert requests.get(f"{api}/{a['id']}", timeout=10).status_code == 404
    requests.delete(f"{api}/{b['id']}", timeout=10)
    requests.post(f"{cp_server.admin_url}/api/reset", timeout=10)
