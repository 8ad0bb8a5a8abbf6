"""Native API: scenarios, session settings, and the core capabilities the WireMock
dialect needed (reason phrases, repeated headers, chunked dribble, `json_compare`,
`includes`/`has_exactly`, `url`, `path_params`, `id_header`)."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import requests

from tests.conftest import SessionHandle


def raw(body: str, **extra: object) -> dict[str, object]:
    return {"type": "raw", "body": body, **extra}


def test_native_scenario_routes_and_endpoints(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/cart",
        handler="add",
        scenario={"name": "cart", "required_state": "Started", "new_state": "full"},
        response=raw("added"),
    )
    cp.add_route(
        method="GET",
        path="/cart",
        handler="full",
        scenario={"name": "cart", "required_state": "full"},
        response=raw("full"),
    )
    assert requests.get(f"{cp.mock_url}/cart", timeout=5).status_code == 404
    assert requests.post(f"{cp.mock_url}/cart", timeout=5).text == "added"
    assert requests.get(f"{cp.mock_url}/cart", timeout=5).text == "full"
    listed = requests.get(f"{cp.api}/scenarios", timeout=5).json()["scenarios"]
    assert listed == [
        {
            "name": "cart",
            "state": "full",
            "possible_states": ["Started", "full"],
            "route_ids": [
                r["id"] for r in requests.get(f"{cp.api}/routes", timeout=5).json()["routes"]
            ],
        }
    ]
    assert requests.post(f"{cp.api}/scenarios/reset", timeout=5).status_code == 204
    assert requests.get(f"{cp.mock_url}/cart", timeout=5).status_code == 404
    put = requests.put(f"{cp.api}/scenarios/cart/state", json={"state": "full"}, timeout=5)
    assert put.json()["state"] == "full"
    assert requests.get(f"{cp.mock_url}/cart", timeout=5).text == "full"
    missing = requests.put(f"{cp.api}/scenarios/nope/state", json={}, timeout=5)
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def test_a_scenario_is_forgotten_with_its_last_route(cp: SessionHandle) -> None:
    def scenario_names() -> list[str]:
        answer = requests.get(f"{cp.api}/scenarios", timeout=5)
        return [s["name"] for s in answer.json()["scenarios"]]

    plain = cp.add_route(method="GET", path="/plain", handler="plain", response=raw("p"))
    first, second = (
        cp.add_route(method="GET", path=f"/s{i}", handler=f"s{i}", response=raw("s"),
                     scenario={"name": "flow", "new_state": f"step{i}"})
        for i in (1, 2)
    )  # fmt: skip
    requests.delete(f"{cp.api}/routes/{plain['id']}", timeout=5)
    assert scenario_names() == ["flow"]
    requests.delete(f"{cp.api}/routes/{first['id']}", timeout=5)
    assert scenario_names() == ["flow"]
    requests.delete(f"{cp.api}/routes/{second['id']}", timeout=5)
    assert scenario_names() == []
    gone = requests.put(f"{cp.api}/scenarios/flow/state", json={"state": "x"}, timeout=5)
    assert gone.status_code == 404


def test_scenario_near_miss_names_the_state(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET", path="/s", handler="h", scenario={"name": "x", "required_state": "B"}
    )
    body = requests.get(f"{cp.mock_url}/s", timeout=5).json()
    diff = body["near_misses"][0]["diffs"][0]
    assert diff == {"field": "scenario x", "expected": "state 'B'", "actual": "state 'Started'"}


def test_session_settings_delay_every_answer(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/d", handler="d", response=raw("d"))
    put = requests.put(f"{cp.api}/settings", json={"delay": {"fixed_ms": 80}}, timeout=5)
    proxy_defaults = {"passthrough_unmatched": False, "proxy_auth": None}
    assert put.json() == {"delay": {"fixed_ms": 80}, **proxy_defaults}
    started = time.monotonic()
    requests.get(f"{cp.mock_url}/d", timeout=5)
    assert time.monotonic() - started >= 0.08
    assert requests.get(f"{cp.api}/settings", timeout=5).json() == {
        "delay": {"fixed_ms": 80},
        **proxy_defaults,
    }
    requests.post(f"{cp.api}/reset", timeout=5)
    assert requests.get(f"{cp.api}/settings", timeout=5).json() == {"delay": None, **proxy_defaults}


def test_reason_phrase_and_repeated_headers(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/r",
        handler="r",
        response=raw("x", status=299, reason="Quite Fine", headers={"X-Many": ["1", "2"]}),
    )
    parts = urlsplit(cp.mock_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    connection.request("GET", parts.path + "/r")
    answer = connection.getresponse()
    assert (answer.status, answer.reason) == (299, "Quite Fine")
    assert answer.headers.get_all("X-Many") == ["1", "2"]
    connection.close()


def test_reason_with_newline_is_refused(cp: SessionHandle) -> None:
    route = {"method": "GET", "path": "/r", "handler": "r", "response": raw("x", reason="a\r\nb")}
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=5)
    assert answer.status_code == 422
    assert answer.json()["error"]["location"] == "$.response.reason"


def test_json_compare_with_leniencies(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/j",
        handler="j",
        response=raw("ok"),
        match={
            "json_compare": [
                {"value": {"a": [1, 2]}, "ignore_array_order": True, "ignore_extra_fields": True}
            ]
        },
    )
    assert requests.post(f"{cp.mock_url}/j", json={"a": [2, 1], "b": 0}, timeout=5).ok
    assert requests.post(f"{cp.mock_url}/j", json={"a": [2, 1, 3]}, timeout=5).status_code == 404


def test_includes_has_exactly_url_and_path_params(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/u/{id}",
        handler="u",
        response=raw("ok"),
        match={
            "query": {"t": {"includes": ["a", {"starts_with": "b"}]}},
            "url": {"contains": "t=a"},
            "path_params": {"id": {"matches": "[0-9]+"}},
        },
    )
    assert requests.get(f"{cp.mock_url}/u/7?t=a&t=bee&t=c", timeout=5).ok
    assert requests.get(f"{cp.mock_url}/u/x?t=a&t=bee", timeout=5).status_code == 404
    assert requests.get(f"{cp.mock_url}/u/7?t=a", timeout=5).status_code == 404
    cp.add_route(
        method="GET",
        path="/e",
        handler="e",
        response=raw("ok"),
        match={"query": {"t": {"has_exactly": ["a", "b"]}}},
    )
    assert requests.get(f"{cp.mock_url}/e?t=b&t=a", timeout=5).ok
    assert requests.get(f"{cp.mock_url}/e?t=b&t=a&t=a", timeout=5).status_code == 404


def test_path_params_must_name_a_path_parameter(cp: SessionHandle) -> None:
    route = {"method": "GET", "path": "/x", "handler": "x", "match": {"path_params": {"id": "1"}}}
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=5)
    assert answer.status_code == 422 and "does not declare" in answer.json()["error"]["message"]


def test_id_header_and_body_file_without_files_dir(cp: SessionHandle) -> None:
    route = cp.add_route(
        method="GET", path="/i", handler="i", id_header="X-Route", response=raw("i")
    )
    assert requests.get(f"{cp.mock_url}/i", timeout=5).headers["X-Route"] == route["id"]
    bad = {
        "method": "GET",
        "path": "/f",
        "handler": "f",
        "response": {"type": "raw", "body_file": "a.txt"},
    }
    answer = requests.post(f"{cp.api}/routes", json=bad, timeout=5)
    assert answer.status_code == 422 and "--mappings" in answer.json()["error"]["message"]


def test_new_fields_stay_out_of_echoes_until_set(cp: SessionHandle) -> None:
    route = cp.add_route(method="GET", path="/p", handler="p", response=raw("p"))
    assert "scenario" not in route and "id_header" not in route
    assert set(route["response"]) == {
        "type",
        "status",
        "headers",
        "delay",
        "body",
        "body_base64",
        "content_type",
    }
