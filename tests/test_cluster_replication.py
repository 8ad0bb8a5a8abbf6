"""`serve --state`: several real processes on one real Redis serve one admin state.

Every admin write goes through the shared op log and returns once every live process
applied it: the tests call the other processes right after the write returns, with no
polling in between.
"""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from controlplane.wiremock.diff_report import NO_STUBS
from tests.process import ServerProcess, serve_process
from tests.redis_support import RedisProcess, redis_server, redis_url

__all__ = ["redis_server", "redis_url"]

SESSION = "X-Controlplane-Session"


@contextlib.contextmanager
def processes(tmp_path: Path, state: str, count: int, *args: str) -> Iterator[list[ServerProcess]]:
    """`count` serve processes on free ports sharing `state`, logging JSON."""
    with contextlib.ExitStack() as stack:
        started = []
        for index in range(count):
            ready = tmp_path / f"ready-{index}-{time.monotonic_ns()}.json"
            started.append(
                stack.enter_context(
                    serve_process(
                        tmp_path, "--state", state, "--log-format", "json", *args, ready_file=ready
                    )
                )
            )
        yield started


def _route(path: str, body: Any) -> dict[str, Any]:
    return {
        "method": "GET",
        "path": path,
        "handler": "h",
        "response": {"type": "json", "body": body},
    }


def _mock(server: ServerProcess, path: str, session: str | None = None) -> requests.Response:
    headers = {SESSION: session} if session else {}
    return requests.get(f"{server.mock_url}{path}", headers=headers, timeout=10)


def test_a_write_whose_body_is_past_128_kib_is_applied_everywhere(
    tmp_path: Path, redis_url: str
) -> None:
    big = "x" * 300_000  # past the op request's reader high-water mark (128 KiB)
    with processes(tmp_path, redis_url, 2) as (a, b):
        added = requests.post(f"{a.admin_url}/api/routes", json=_route("/big", big), timeout=10)
        assert added.status_code == 201, added.text
        assert [_mock(server, "/big").json() for server in (a, b)] == [big, big]


def test_three_processes_serve_what_any_of_them_was_told(tmp_path: Path, redis_url: str) -> None:
    with processes(tmp_path, redis_url, 3) as (a, b, c):
        created = requests.post(f"{a.admin_url}/api/sessions", json={"name": "shared"}, timeout=10)
        assert created.status_code == 201
        sid = created.json()["id"]
        added = requests.post(
            f"{a.admin_url}/api/sessions/{sid}/routes", json=_route("/hi", {"v": 1}), timeout=10
        )
        assert added.status_code == 201
        route_id = added.json()["routes"][0]["id"]
        for server in (b, c):
            answer = _mock(server, "/hi", sid)
            assert (answer.status_code, answer.json()) == (200, {"v": 1})

        # The same ids everywhere: sessions, routes.
        sessions = [
            requests.get(f"{s.admin_url}/api/sessions", timeout=10).json() for s in (a, b, c)
        ]
        assert [sorted(x["id"] for x in listing["sessions"]) for listing in sessions] == [
            sorted(["default", sid])
        ] * 3
        routes = [
            requests.get(f"{s.admin_url}/api/sessions/{sid}/routes", timeout=10).json()
            for s in (a, b, c)
        ]
        assert routes[0]["routes"][0]["id"] == route_id
        assert routes[1] == routes[0] and routes[2] == routes[0]

        replaced = requests.put(
            f"{c.admin_url}/api/sessions/{sid}/routes/{route_id}",
            json=_route("/hi", {"v": 2}),
            timeout=10,
        )
        assert replaced.status_code == 200
        assert _mock(a, "/hi", sid).json() == {"v": 2}
        deleted = requests.delete(f"{c.admin_url}/api/sessions/{sid}/routes/{route_id}", timeout=10)
        assert deleted.status_code == 204
        assert _mock(a, "/hi", sid).status_code == 404

        # The WireMock dialect, through B, served by A; its stub ids the same everywhere.
        stub = requests.post(
            f"{b.admin_url}/__admin/mappings",
            json={"request": {"method": "GET", "url": "/wm"}, "response": {"body": "from B"}},
            timeout=10,
        )
        assert stub.status_code == 201
        answer = _mock(a, "/wm")
        assert (answer.status_code, answer.text) == (200, "from B")
        mappings = [
            requests.get(f"{s.admin_url}/__admin/mappings", timeout=10).json() for s in (a, b, c)
        ]
        assert mappings[0]["mappings"][0]["id"] == stub.json()["id"]
        assert mappings[1] == mappings[0] and mappings[2] == mappings[0]


def test_refused_write_is_refused_alike_and_changes_nothing(tmp_path: Path, redis_url: str) -> None:
    with processes(tmp_path, redis_url, 2) as (a, b):
        refused = requests.post(f"{b.admin_url}/api/routes", json={"path": "/x"}, timeout=10)
        assert refused.status_code == 422
        assert refused.json()["error"]["location"] == "$.method"
        assert requests.get(f"{a.admin_url}/api/routes", timeout=10).json() == {"routes": []}


def test_a_process_started_later_replays_the_log(tmp_path: Path, redis_url: str) -> None:
    with processes(tmp_path, redis_url, 1) as (a,):
        sid = requests.post(f"{a.admin_url}/api/sessions", json={}, timeout=10).json()["id"]
        for index in range(5):
            requests.post(
                f"{a.admin_url}/api/sessions/{sid}/routes",
                json=_route(f"/r{index}", index),
                timeout=10,
            ).raise_for_status()
        requests.delete(f"{a.admin_url}/api/sessions/{sid}/routes", timeout=10).raise_for_status()
        requests.post(
            f"{a.admin_url}/api/sessions/{sid}/routes", json=_route("/late", "kept"), timeout=10
        ).raise_for_status()
        with processes(tmp_path, redis_url, 1) as (d,):
            joined = d.wait_for_event(lambda e: e["event"] == "state_joined")
            assert joined["replayed_ops"] == 8
            assert _mock(d, "/late", sid).json() == "kept"
            assert _mock(d, "/r0", sid).status_code == 404
            listing = [
                requests.get(f"{s.admin_url}/api/sessions/{sid}/routes", timeout=10).json()
                for s in (a, d)
            ]
            assert listing[1] == listing[0]


def test_routes_from_mappings_get_the_same_ids_in_every_process(
    tmp_path: Path, redis_url: str
) -> None:
    mappings = tmp_path / "mocks"
    mappings.mkdir()
    (mappings / "r.json").write_text(
        '{"method": "GET", "path": "/m", "handler": "m", "response": {"type": "json", "body": 1}}'
    )
    with processes(tmp_path, redis_url, 2, "--mappings", str(mappings)) as (a, b):
        listing = [requests.get(f"{s.admin_url}/api/routes", timeout=10).json() for s in (a, b)]
        assert len(listing[0]["routes"]) == 1
        assert listing[1] == listing[0]


_LOST = re.compile(
    r"admin calls are refused while the shared state at redis://127\.0\.0\.1:(\d+)/0 "
    r"does not answer \((.+)\): journals, verify and counters need every process's "
    r"part\. Mock traffic is served from each process's copy meanwhile\. Retry once "
    r"Redis is back"
)


def test_redis_lost_while_running_refuses_writes_serves_the_rest_and_recovers(
    tmp_path: Path,
) -> None:
    with RedisProcess() as store, processes(tmp_path, f"{store.url}/0", 2) as (a, b):
        requests.post(f"{a.admin_url}/api/routes", json=_route("/hi", "before"), timeout=10)
        store.stop()

        refused = requests.post(f"{b.admin_url}/api/routes", json=_route("/x", 1), timeout=10)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "state_unavailable"
        assert error["location"] is None
        matched = _LOST.fullmatch(error["message"])
        assert matched is not None, error["message"]
        assert matched[1] == str(store.port)
        assert "Error" in matched[2] or "closed" in matched[2]
        # WireMock's dialect says the same in its own shape.
        stub = requests.post(
            f"{a.admin_url}/__admin/mappings", json={"request": {"url": "/w"}}, timeout=10
        )
        assert stub.status_code == 503
        assert _LOST.fullmatch(stub.json()["errors"][0]["detail"]) is not None

        # Mock traffic is served; reads and a verify (a read sent as POST) are refused
        # as well: this process's copy lacks what the other served meanwhile.
        for server in (a, b):
            assert _mock(server, "/hi").json() == "before"
            for read in (
                requests.get(f"{server.admin_url}/api/routes", timeout=10),
                requests.post(f"{server.admin_url}/api/handlers/h/verify", timeout=10),
            ):
                assert read.status_code == 503
                assert _LOST.fullmatch(read.json()["error"]["message"]) is not None
        for server in (a, b):
            lost = server.wait_for_event(lambda e: e["event"] == "state_lost")
            assert lost["state"] == f"{store.url}/0"

        store.start()
        for server in (a, b):
            recovered = server.wait_for_event(lambda e: e["event"] == "state_recovered")
            assert recovered["log_kept"] is False  # this Redis came back empty
        added = requests.post(f"{b.admin_url}/api/routes", json=_route("/after", 2), timeout=10)
        assert added.status_code == 201
        assert _mock(a, "/after").json() == 2
        assert [e["event"] for e in a.events()].count("state_lost") == 1


def test_a_process_that_stopped_beating_is_not_waited_for(tmp_path: Path, redis_url: str) -> None:
    with processes(tmp_path, redis_url, 2) as (a, b):
        b.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            added = requests.post(f"{a.admin_url}/api/routes", json=_route("/hi", 1), timeout=15)
            took = time.monotonic() - started
        finally:
            b.proc.send_signal(signal.SIGCONT)
        assert added.status_code == 201
        assert took < 5.0  # B's last beat expires after 3 s; the wait would end at 5 s
        b.wait_for_event(lambda e: e["event"] == "route_added")  # and B catches up
        assert _mock(b, "/hi").json() == 1


def test_a_member_that_does_not_apply_is_named_in_the_503(tmp_path: Path, redis_url: str) -> None:
    # A member as Redis sees one: beating (its last beat a minute ahead, so it stays
    # live through the test), applying nothing, as a process whose follower is stuck.
    client = redis.Redis.from_url(redis_url)
    seconds, micros = client.time()
    client.zadd("cp:{*}:members", {"stuck": seconds * 1000 + micros // 1000 + 60_000})
    client.hset("cp:{*}:labels", "stuck", "pid 4242 on elsewhere")
    with processes(tmp_path, redis_url, 1) as (a,):
        started = time.monotonic()
        refused = requests.post(f"{a.admin_url}/api/routes", json=_route("/hi", 1), timeout=15)
        took = time.monotonic() - started
        op_id = client.xrevrange("cp:{*}:oplog", count=1)[0][0].decode()
        assert refused.status_code == 503
        assert refused.json()["error"] == {
            "code": "state_unavailable",
            "message": f"the change was made (op {op_id}) but 1 of the processes sharing the "
            "state did not apply it within the wait: process stuck (pid 4242 on elsewhere, "
            "applied nothing yet). They apply it when they catch up; until then they may "
            "answer without it",
            "location": None,
        }
        assert 4.5 < took < 10
        assert _mock(a, "/hi").json() == 1  # applied here all the same
    client.close()


@pytest.mark.parametrize("path", ["/api/handlers/h/verify", "/__admin/requests/count"])
def test_reads_sent_as_post_do_not_go_through_the_log(
    tmp_path: Path, redis_url: str, path: str
) -> None:
    with processes(tmp_path, redis_url, 1) as (a,):
        requests.post(f"{a.admin_url}/api/routes", json=_route("/hi", 1), timeout=10)
        # The session's first dialect call marks it, everywhere (an op): not measured.
        requests.get(f"{a.admin_url}/__admin/mappings", timeout=10).raise_for_status()
        client = redis.Redis.from_url(redis_url)
        before = client.xlen("cp:{*}:oplog")
        answer = requests.post(f"{a.admin_url}{path}", json={}, timeout=10)
        assert answer.status_code in (200, 409)
        assert client.xlen("cp:{*}:oplog") == before
        client.close()


def test_writes_under_admin_on_mock_port_and_a_token_are_replicated(
    tmp_path: Path, redis_url: str
) -> None:
    token = {"Authorization": "Bearer sekret"}
    with processes(tmp_path, redis_url, 2, "--admin-on-mock-port", "--admin-token", "sekret") as (
        a,
        b,
    ):
        refused = requests.post(
            f"{a.mock_url}/__admin/mappings", json={"request": {"url": "/w"}}, timeout=10
        )
        assert refused.status_code == 401
        assert redis.Redis.from_url(redis_url).xlen("cp:{*}:oplog") == 0  # never logged

        stub = requests.post(
            f"{a.mock_url}/__admin/mappings",
            json={"request": {"method": "GET", "url": "/w"}, "response": {"body": "via mock"}},
            headers=token,
            timeout=10,
        )
        assert stub.status_code == 201
        assert _mock(b, "/w").text == "via mock"
        native = requests.post(
            f"{b.mock_url}/__admin/api/routes",
            json=_route("/n", "native"),
            headers=token,
            timeout=10,
        )
        assert native.status_code == 201
        assert _mock(a, "/n").json() == "native"


def test_an_unreadable_op_is_logged_and_skipped(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    garbage = client.xadd("cp:{*}:oplog", {"op": b"not msgpack of an op"}).decode()
    with processes(tmp_path, redis_url, 1) as (a,):
        skipped = a.wait_for_event(lambda e: e["event"] == "op_unreadable")
        assert skipped["op"] == garbage
        assert skipped["level"] == "error"
        added = requests.post(f"{a.admin_url}/api/routes", json=_route("/hi", 1), timeout=10)
        assert added.status_code == 201
    client.close()


def test_concurrent_writes_through_two_processes_end_alike(tmp_path: Path, redis_url: str) -> None:
    """Two clients race to add a route under the same id, one through each process:
    the log orders them, so exactly one wins everywhere and both see the same winner."""
    from concurrent.futures import ThreadPoolExecutor

    def add(server: ServerProcess, route_id: str) -> int:
        route = {**_route(f"/{route_id}", server.admin_url), "id": route_id}
        return requests.post(f"{server.admin_url}/api/routes", json=route, timeout=15).status_code

    with processes(tmp_path, redis_url, 2) as (a, b), ThreadPoolExecutor(8) as pool:
        ids = [f"race-{n}" for n in range(12)]
        statuses = list(pool.map(lambda job: add(*job), [(s, i) for i in ids for s in (a, b)]))
        for index in range(len(ids)):
            assert sorted(statuses[2 * index : 2 * index + 2]) == [201, 409]
        listings = [requests.get(f"{s.admin_url}/api/routes", timeout=10).json() for s in (a, b)]
        assert len(listings[0]["routes"]) == len(ids)
        assert listings[1] == listings[0]
        for route_id in ids:  # both processes answer with the same winner's body
            assert _mock(a, f"/{route_id}").json() == _mock(b, f"/{route_id}").json()


def test_a_dialect_read_in_one_process_makes_every_process_answer_as_wiremock(
    tmp_path: Path, redis_url: str
) -> None:
    with processes(tmp_path, redis_url, 2) as (a, b):
        native = _mock(b, "/x")
        assert (native.status_code, native.headers["Content-Type"]) == (404, "application/json")
        listed = requests.get(f"{a.admin_url}/__admin/mappings", timeout=10)  # a read
        assert listed.json()["meta"]["total"] == 0
        unmatched = _mock(b, "/x")
        assert unmatched.status_code == 404
        assert unmatched.headers["Content-Type"].startswith("text/plain")
        assert unmatched.text == NO_STUBS
