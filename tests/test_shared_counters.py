"""`serve --state`: `times`, scenarios and sequences counted exactly across processes."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import requests

from tests.redis_support import redis_server, redis_url
from tests.shared_support import fire, prepare, serve_many

__all__ = ["redis_server", "redis_url"]


def raw(body: str) -> dict[str, object]:
    return {"type": "raw", "body": body}


def scenario_chain(
    name: str, method: str, path: str, states: list[str], *, answer_new_state: bool
) -> list[dict[str, object]]:
    """One route per step of `states` (`step-0`, ...), each moving scenario `name` from
    a state to the next and answering the state it moves to, or the one it leaves."""
    return [
        {
            "id": f"step-{index}",
            "method": method,
            "path": path,
            "handler": f"step-{index}",
            "scenario": {"name": name, "required_state": old, "new_state": new},
            "response": raw(new if answer_new_state else old),
        }
        for index, (old, new) in enumerate(itertools.pairwise(states))
    ]


def test_times_is_spent_exactly_across_processes_under_concurrency(
    tmp_path: Path, redis_url: str
) -> None:
    routes = [
        {
            "id": "limited",
            "method": "GET",
            "path": "/x",
            "handler": "limited",
            "times": 50,
            "priority": 1,
            "response": raw("limited"),
        },
        {
            "id": "fallback",
            "method": "GET",
            "path": "/x",
            "handler": "fallback",
            "response": raw("fallback"),
        },
    ]
    with serve_many(tmp_path, redis_url, 3) as servers:
        urls = prepare(servers, "s1", routes)
        answers = fire(urls, ["/x"] * 1000, concurrency=150)
        assert Counter(answers) == {(200, "limited"): 50, (200, "fallback"): 950}
        for server in servers:
            verified = requests.post(
                f"{server.admin_url}/api/sessions/s1/handlers/limited/verify",
                json={"times": 50},
                timeout=10,
            ).json()
            assert verified["ok"], verified
        # Spent everywhere: no process answers with it any more.
        assert Counter(fire(urls, ["/x"] * 6)) == {(200, "fallback"): 6}
        # Replacing the route through one process starts it over for all.
        replaced = requests.put(
            f"{servers[0].admin_url}/api/sessions/s1/routes/limited",
            json={**routes[0], "times": 2},
            timeout=10,
        )
        assert replaced.status_code == 200, replaced.text
        assert Counter(fire(urls, ["/x"] * 9)) == {(200, "limited"): 2, (200, "fallback"): 7}


def test_times_left_reads_redis_in_near_misses(tmp_path: Path, redis_url: str) -> None:
    routes = [
        {
            "id": "once",
            "method": "GET",
            "path": "/once",
            "handler": "once",
            "times": 1,
            "response": raw("once"),
        }
    ]
    with serve_many(tmp_path, redis_url, 2) as servers:
        urls = prepare(servers, "s1", routes)
        assert requests.get(f"{urls[0]}/once", timeout=10).text == "once"
        refused = requests.get(f"{urls[1]}/once", timeout=10)
        assert refused.status_code == 404
        near = refused.json()["near_misses"][0]
        assert near["route_id"] == "once"
        assert {"field": "times", "expected": "at most 1 call(s)", "actual": "used up"} in near[
            "diffs"
        ]


def test_a_scenario_moves_exactly_once_per_transition_across_processes(
    tmp_path: Path, redis_url: str
) -> None:
    steps = ["Started", "one", "two", "three"]
    routes = scenario_chain("flip", "POST", "/flip", steps, answer_new_state=True)
    routes.append(
        {
            "id": "rest",
            "method": "POST",
            "path": "/flip",
            "handler": "rest",
            "priority": 9,
            "response": raw("rest"),
        }
    )
    with serve_many(tmp_path, redis_url, 3) as servers:
        urls = prepare(servers, "s1", routes)
        answers = fire(urls, ["/flip"] * 300, concurrency=60, method="POST")
        assert Counter(answers) == {
            (200, "one"): 1,
            (200, "two"): 1,
            (200, "three"): 1,
            (200, "rest"): 297,
        }
        for server in servers:
            listed = requests.get(
                f"{server.admin_url}/api/sessions/s1/scenarios", timeout=10
            ).json()["scenarios"]
            assert [(s["name"], s["state"]) for s in listed] == [("flip", "three")]
        # Set through one process, seen by the others' mock ports.
        put = requests.put(
            f"{servers[0].admin_url}/api/sessions/s1/scenarios/flip/state",
            json={"state": "two"},
            timeout=10,
        )
        assert put.status_code == 200
        assert requests.post(f"{urls[2]}/flip", timeout=10).text == "three"
        assert requests.post(f"{urls[1]}/flip", timeout=10).text == "rest"
        reset = requests.post(f"{servers[1].admin_url}/api/sessions/s1/scenarios/reset", timeout=10)
        assert reset.status_code == 204
        assert requests.post(f"{urls[0]}/flip", timeout=10).text == "one"


def test_a_long_scenario_chain_under_contention_serves_each_state_once(
    tmp_path: Path, redis_url: str
) -> None:
    # 40 requests race along 20 transitions: one may lose many races in a row, and is
    # never served with a transition Redis did not grant.
    states = ["Started", *(f"s{i}" for i in range(1, 20)), "done"]
    routes = scenario_chain("chain", "GET", "/step", states, answer_new_state=False)
    with serve_many(tmp_path, redis_url, 2) as servers:
        urls = prepare(servers, "s1", routes)
        answers = fire(urls, ["/step"] * 40, concurrency=40)
        served = Counter(body for status, body in answers if status == 200)
        assert served == dict.fromkeys(states[:-1], 1)
        assert [status for status, _ in answers].count(404) == 20


def test_a_required_state_set_elsewhere_is_seen_before_matching(
    tmp_path: Path, redis_url: str
) -> None:
    routes = [
        {
            "id": "open",
            "method": "POST",
            "path": "/door",
            "handler": "open",
            "scenario": {"name": "door", "required_state": "Started", "new_state": "open"},
            "response": raw("opened"),
        },
        {
            "id": "inside",
            "method": "GET",
            "path": "/room",
            "handler": "inside",
            "priority": 1,
            "scenario": {"name": "door", "required_state": "open"},
            "response": raw("inside"),
        },
        {
            "id": "outside",
            "method": "GET",
            "path": "/room",
            "handler": "outside",
            "response": raw("outside"),
        },
    ]
    with serve_many(tmp_path, redis_url, 2) as servers:
        urls = prepare(servers, "s1", routes)
        assert requests.get(f"{urls[1]}/room", timeout=10).text == "outside"
        assert requests.post(f"{urls[0]}/door", timeout=10).text == "opened"
        assert requests.get(f"{urls[1]}/room", timeout=10).text == "inside"


def test_a_sequence_hands_out_each_step_once_across_processes(
    tmp_path: Path, redis_url: str
) -> None:
    steps = [raw(f"step-{i}") for i in range(30)]
    routes = [
        {
            "id": "seq",
            "method": "GET",
            "path": "/next",
            "handler": "seq",
            "response": {"type": "sequence", "responses": steps},
        },
    ]
    with serve_many(tmp_path, redis_url, 3) as servers:
        urls = prepare(servers, "s1", routes)
        answers = fire(urls, ["/next"] * 40, concurrency=40)
        served = Counter(body for status, body in answers if status == 200)
        assert served == {f"step-{i}": 1 for i in range(30)}
        exhausted = [body for status, body in answers if status != 200]
        assert len(exhausted) == 10
        assert all("sequence_exhausted" in body for body in exhausted)
        # Registering the response again through one process starts over for all.
        requests.put(
            f"{servers[0].admin_url}/api/sessions/s1/handlers/seq/response",
            json={"type": "sequence", "responses": steps[:2], "on_exhausted": "cycle"},
            timeout=10,
        ).raise_for_status()
        bodies = [requests.get(f"{urls[i % 3]}/next", timeout=10).text for i in range(5)]
        assert bodies == ["step-0", "step-1", "step-0", "step-1", "step-0"]


def test_times_of_a_route_file_are_reset_at_start_not_at_the_first_admin_call(
    tmp_path: Path, redis_url: str
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "routes.json").write_text(
        json.dumps(
            [
                {
                    "id": "twice",
                    "method": "GET",
                    "path": "/twice",
                    "handler": "twice",
                    "times": 2,
                    "response": raw("twice"),
                }
            ]
        )
    )
    with serve_many(tmp_path, redis_url, 1, "--mappings", str(mappings)) as [server]:
        url = server.mock_url
        answers = [requests.get(f"{url}/twice", timeout=10).status_code for _ in range(3)]
        assert answers == [200, 200, 404]
        for _ in range(2):  # the second reads what the first wrote
            assert requests.get(f"{server.admin_url}/api/routes", timeout=10).status_code == 200
        assert requests.get(f"{url}/twice", timeout=10).status_code == 404


def test_a_scenario_named_again_after_its_last_route_went_starts_over(
    tmp_path: Path, redis_url: str
) -> None:
    route = {
        "id": "go",
        "method": "POST",
        "path": "/go",
        "handler": "go",
        "scenario": {"name": "s", "required_state": "Started", "new_state": "gone"},
        "response": raw("went"),
    }
    with serve_many(tmp_path, redis_url, 1) as [server]:
        [url] = prepare([server], "s1", [route])
        assert requests.post(f"{url}/go", timeout=10).text == "went"
        assert requests.post(f"{url}/go", timeout=10).status_code == 404
        api = f"{server.admin_url}/api/sessions/s1"
        assert requests.delete(f"{api}/routes/go", timeout=10).status_code == 204
        assert requests.post(f"{api}/routes", json=route, timeout=10).status_code == 201
        assert requests.post(f"{url}/go", timeout=10).text == "went"
