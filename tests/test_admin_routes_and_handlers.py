"""Routes, handlers, sessions and reset through the native admin API, over real sockets."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from controlplane._version import __version__
from controlplane.server import ServerConfig
from tests.conftest import SessionHandle, ThreadedServer


def get(url: str) -> Any:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def mock_get(cp: SessionHandle, path: str) -> requests.Response:
    return requests.get(cp.mock_url + path, timeout=10)


@pytest.fixture
def default_api(cp_server: ThreadedServer) -> Iterator[str]:
    """The un-prefixed `/api` of session default, emptied before and after the test."""
    api = f"{cp_server.admin_url}/api"
    requests.post(f"{api}/reset", timeout=10)
    yield api
    requests.post(f"{api}/reset", timeout=10)


# ----------------------------------------------------------------- routes


def test_post_one_route_answers_201_with_its_id(cp: SessionHandle) -> None:
    answer = requests.post(
        f"{cp.api}/routes", json={"method": "get", "path": "/a", "handler": "a"}, timeout=10
    )
    assert answer.status_code == 201
    [route] = answer.json()["routes"]
    assert route["id"] and route["method"] == "GET" and route["handler"] == "a"
    assert get(f"{cp.api}/routes/{route['id']}") == route


def test_post_a_list_answers_201_with_ids_in_order(cp: SessionHandle) -> None:
    body = [{"method": "GET", "path": f"/n/{n}", "handler": f"h{n}"} for n in range(3)]
    answer = requests.post(f"{cp.api}/routes", json=body, timeout=10)
    assert answer.status_code == 201
    routes = answer.json()["routes"]
    assert [r["path"] for r in routes] == ["/n/0", "/n/1", "/n/2"]
    assert len({r["id"] for r in routes}) == 3
    assert get(f"{cp.api}/routes")["routes"] == routes


def test_client_given_route_id_is_honoured_and_a_duplicate_is_409(cp: SessionHandle) -> None:
    route = cp.add_route(method="GET", path="/a", handler="a", id="route-a")
    assert route["id"] == "route-a"
    again = requests.post(
        f"{cp.api}/routes",
        json={"method": "GET", "path": "/b", "handler": "b", "id": "route-a"},
        timeout=10,
    )
    assert again.status_code == 409
    assert [r["id"] for r in get(f"{cp.api}/routes")["routes"]] == ["route-a"]


def test_an_empty_route_id_is_refused(cp: SessionHandle) -> None:
    # An empty id would be a route no URL can name (GET /routes/ is the list).
    answer = requests.post(
        f"{cp.api}/routes",
        json={"method": "GET", "path": "/e", "handler": "e", "id": ""},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_input",
        "message": "`id` must not be empty: give one, or leave it out to have one assigned",
        "location": "$.id",
    }
    assert get(f"{cp.api}/routes")["routes"] == []


def test_put_route_replaces_it_in_place_keeping_declaration_order(cp: SessionHandle) -> None:
    # Same path and priority: the first declared wins, so the order is observable.
    first = cp.add_route(
        method="GET", path="/x", handler="first", response={"type": "raw", "body": "first"}
    )
    cp.add_route(
        method="GET", path="/x", handler="second", response={"type": "raw", "body": "second"}
    )
    assert mock_get(cp, "/x").text == "first"

    answer = requests.put(
        f"{cp.api}/routes/{first['id']}",
        timeout=10,
        json={
            "method": "GET",
            "path": "/x",
            "handler": "replaced",
            "response": {"type": "raw", "body": "replaced"},
        },
    )
    assert answer.status_code == 200
    assert answer.json()["id"] == first["id"] and answer.json()["handler"] == "replaced"
    assert mock_get(cp, "/x").text == "replaced"  # still ahead of "second"
    assert [r["handler"] for r in get(f"{cp.api}/routes")["routes"]] == ["replaced", "second"]
    assert "first" not in [h["name"] for h in get(f"{cp.api}/handlers")["handlers"]]


def test_delete_one_route_then_it_is_404(cp: SessionHandle) -> None:
    route = cp.add_route(method="GET", path="/a", handler="a", response={"type": "json"})
    assert requests.delete(f"{cp.api}/routes/{route['id']}", timeout=10).status_code == 204
    assert requests.get(f"{cp.api}/routes/{route['id']}", timeout=10).status_code == 404
    assert mock_get(cp, "/a").status_code == 404


def test_delete_routes_removes_all_and_their_responses(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/a", handler="a", response={"type": "json"})
    cp.add_route(method="GET", path="/b", handler="b", response={"type": "json"})
    assert requests.delete(f"{cp.api}/routes", timeout=10).status_code == 204
    assert get(f"{cp.api}/routes") == {"routes": []}
    assert get(f"{cp.api}/handlers") == {"handlers": []}
    assert mock_get(cp, "/a").status_code == 404


# ----------------------------------------------------------------- handlers


def test_get_handlers_shows_name_route_ids_calls_and_response(cp: SessionHandle) -> None:
    one = cp.add_route(
        method="GET",
        path="/users/{id}",
        handler="get_user",
        response={"type": "json", "body": {"id": 1}},
    )
    two = cp.add_route(method="HEAD", path="/users/{id}", handler="get_user")
    cp.add_route(method="POST", path="/users", handler="create_user")
    for user in (1, 2):
        mock_get(cp, f"/users/{user}")

    handlers = get(f"{cp.api}/handlers")["handlers"]
    assert handlers == [
        {
            "name": "create_user",
            "route_ids": [handlers[0]["route_ids"][0]],
            "calls": 0,
            "response": None,
        },
        {
            "name": "get_user",
            "route_ids": [one["id"], two["id"]],
            "calls": 2,
            "response": {
                "type": "json",
                "status": 200,
                "headers": {},
                "body": {"id": 1},
                "delay": None,
            },
        },
    ]


def test_put_response_registers_and_last_write_wins(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/a", handler="a")
    assert mock_get(cp, "/a").status_code == 500  # no response registered yet
    assert "'a'" in mock_get(cp, "/a").text

    answer = requests.put(
        f"{cp.api}/handlers/a/response",
        timeout=10,
        json={"type": "raw", "status": 202, "body": "put"},
    )
    assert answer.status_code == 200 and answer.json()["body"] == "put"
    assert (mock_get(cp, "/a").status_code, mock_get(cp, "/a").text) == (202, "put")

    # A route's inline response is a write too.
    cp.add_route(method="GET", path="/b", handler="a", response={"type": "raw", "body": "inline"})
    assert mock_get(cp, "/a").text == "inline"


def test_removing_the_last_route_of_a_handler_drops_its_response(cp: SessionHandle) -> None:
    one = cp.add_route(method="GET", path="/a", handler="h", response={"type": "raw", "body": "1"})
    two = cp.add_route(method="GET", path="/b", handler="h")
    requests.delete(f"{cp.api}/routes/{one['id']}", timeout=10)
    assert mock_get(cp, "/b").text == "1"  # one route still declares h
    requests.delete(f"{cp.api}/routes/{two['id']}", timeout=10)
    assert get(f"{cp.api}/handlers") == {"handlers": []}

    # Declaring h again starts without the old response.
    cp.add_route(method="GET", path="/b", handler="h")
    assert get(f"{cp.api}/handlers")["handlers"][0]["response"] is None
    assert mock_get(cp, "/b").status_code == 500


# ----------------------------------------------------------------- sessions and scope


def test_api_acts_on_default_and_sessions_path_on_the_session(
    cp_server: ThreadedServer, cp: SessionHandle, default_api: str
) -> None:
    requests.post(
        f"{default_api}/routes",
        timeout=10,
        json={
            "method": "GET",
            "path": "/where",
            "handler": "where",
            "response": {"type": "raw", "body": "default"},
        },
    )
    cp.add_route(
        method="GET", path="/where", handler="where", response={"type": "raw", "body": "session"}
    )

    assert requests.get(f"{cp_server.mock_url}/where", timeout=10).text == "default"
    assert mock_get(cp, "/where").text == "session"
    assert len(get(f"{default_api}/routes")["routes"]) == 1
    assert len(get(f"{cp.api}/routes")["routes"]) == 1
    assert get(f"{default_api}/sessions/default/routes") == get(f"{default_api}/routes")
    assert len(get(f"{default_api}/handlers/where/calls")["calls"]) == 1
    assert len(get(f"{cp.api}/handlers/where/calls")["calls"]) == 1


def test_post_reset_empties_routes_responses_and_journal(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/a", handler="a", response={"type": "json"})
    mock_get(cp, "/a")
    mock_get(cp, "/nothing")
    assert requests.post(f"{cp.api}/reset", timeout=10).status_code == 204
    assert get(f"{cp.api}/routes") == {"routes": []}
    assert get(f"{cp.api}/handlers") == {"handlers": []}
    assert get(f"{cp.api}/requests") == {"requests": [], "evicted": 0, "next": None}
    assert mock_get(cp, "/a").status_code == 404


def test_reset_of_default_leaves_other_sessions_alone(cp: SessionHandle, default_api: str) -> None:
    cp.add_route(method="GET", path="/a", handler="a", response={"type": "json"})
    requests.post(f"{default_api}/reset", timeout=10)
    assert mock_get(cp, "/a").status_code == 200


@pytest.mark.single_process("GET /health names the worker that answered, not the test's process")
def test_health_answers_ok_and_version(cp_server: ThreadedServer) -> None:
    assert get(f"{cp_server.admin_url}/health") == {
        "status": "ok",
        "version": __version__,
        "pid": os.getpid(),  # the server runs in this process (a thread of it)
    }


def test_get_sessions_lists_default_too(cp_server: ThreadedServer, cp: SessionHandle) -> None:
    sessions = get(f"{cp_server.admin_url}/api/sessions")["sessions"]
    by_id = {s["id"]: s for s in sessions}
    counts = by_id["default"].pop("counts")  # other tests use `default` too
    assert by_id["default"] == {
        "id": "default",
        "name": None,
        "mock_url": cp_server.mock_url,
        "admin_url": f"{cp_server.admin_url}/api/sessions/default",
    }
    assert sorted(counts) == ["evicted", "requests", "routes", "unmatched"]
    assert cp.id in by_id


def test_session_counts_follow_the_journal_through_eviction_and_removal() -> None:
    config = ServerConfig(port=0, admin_port=0, journal_size=3)
    with ThreadedServer(config) as server:
        admin = server.admin_url
        answer = requests.post(
            f"{admin}/api/routes",
            json={"method": "GET", "path": "/known", "handler": "known"},
            timeout=10,
        )
        assert answer.status_code == 201

        def counts() -> dict[str, int]:
            (session,) = get(f"{admin}/api/sessions")["sessions"]
            assert get(f"{admin}/api/sessions/default")["counts"] == session["counts"]
            found: dict[str, int] = session["counts"]
            return found

        assert counts() == {"routes": 1, "requests": 0, "unmatched": 0, "evicted": 0}
        for path in ("/lost-1", "/known", "/lost-2", "/lost-3"):
            requests.get(f"{server.mock_url}{path}", timeout=10)
        # /lost-1 was evicted: of the 3 kept, 2 are unmatched.
        assert counts() == {"routes": 1, "requests": 3, "unmatched": 2, "evicted": 1}
        assert len(get(f"{admin}/api/requests/unmatched")["requests"]) == 2
        lost_3 = get(f"{admin}/api/requests")["requests"][-1]
        removed = requests.delete(f"{admin}/__admin/requests/{lost_3['id']}", timeout=10)
        assert removed.status_code == 200
        assert counts() == {"routes": 1, "requests": 2, "unmatched": 1, "evicted": 1}
        requests.get(f"{server.mock_url}/known", timeout=10)
        requests.get(f"{server.mock_url}/known", timeout=10)  # evicts the first /known
        assert counts() == {"routes": 1, "requests": 3, "unmatched": 1, "evicted": 2}
        requests.get(f"{server.mock_url}/known", timeout=10)  # evicts /lost-2
        assert counts() == {"routes": 1, "requests": 3, "unmatched": 0, "evicted": 3}
        assert requests.delete(f"{admin}/api/requests", timeout=10).status_code == 204
        assert counts() == {"routes": 1, "requests": 0, "unmatched": 0, "evicted": 0}


def test_session_urls_have_the_documented_shape(cp_server: ThreadedServer) -> None:
    api = f"{cp_server.admin_url}/api/sessions"
    answer = requests.post(api, json={"name": "shape", "id": "shape-1"}, timeout=10)
    try:
        assert answer.status_code == 201
        session = answer.json()
        assert session == {
            "id": "shape-1",
            "name": "shape",
            "mock_url": f"{cp_server.mock_url}/_s/shape-1",
            "admin_url": f"{cp_server.admin_url}/api/sessions/shape-1",
            "counts": {"routes": 0, "requests": 0, "unmatched": 0, "evicted": 0},
        }
        assert get(f"{api}/shape-1") == session
        # Without a body the server picks the id.
        anonymous = requests.post(api, timeout=10).json()
        assert re.fullmatch(r"[0-9a-f]{12}", anonymous["id"]) and anonymous["name"] is None
        requests.delete(f"{api}/{anonymous['id']}", timeout=10)
    finally:
        requests.delete(f"{api}/shape-1", timeout=10)


def test_deleted_session_is_gone_with_everything_in_it(cp_server: ThreadedServer) -> None:
    api = f"{cp_server.admin_url}/api/sessions"
    session = requests.post(api, json={}, timeout=10).json()
    requests.post(
        f"{session['admin_url']}/routes",
        timeout=10,
        json={"method": "GET", "path": "/a", "handler": "a", "response": {"type": "json"}},
    )
    assert requests.get(f"{session['mock_url']}/a", timeout=10).status_code == 200
    assert requests.delete(f"{api}/{session['id']}", timeout=10).status_code == 204
    assert requests.get(f"{session['admin_url']}/routes", timeout=10).status_code == 404
    assert requests.get(f"{session['mock_url']}/a", timeout=10).status_code == 404
    assert session["id"] not in [s["id"] for s in get(api)["sessions"]]
