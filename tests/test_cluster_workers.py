"""`serve --workers N`: one supervisor, N real worker processes on the same ports."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import requests

from controlplane.workers import MAX_RESTARTS, RESTART_WINDOW_S
from tests.process import STOP_TIMEOUT, serve_process
from tests.redis_support import redis_server, redis_url

__all__ = ["redis_server", "redis_url"]

#: Fresh connections tried before concluding that a worker answers none: the kernel
#: spreads connections over the workers by a hash, so each misses one worker with
#: probability 1/2.
TRIES = 64


def _pids_answering(admin_url: str, wanted: set[int]) -> set[int]:
    """Which workers answer `GET /health`, each over a new connection, stopping once
    all of `wanted` did."""
    seen: set[int] = set()
    for _ in range(TRIES):
        seen.add(requests.get(f"{admin_url}/health", timeout=10).json()["pid"])
        if wanted <= seen:
            break
    return seen


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_workers_share_the_ports_and_the_state(tmp_path: Path, redis_url: str) -> None:
    with serve_process(
        tmp_path, "--state", redis_url, "--workers", "2", "--log-format", "json"
    ) as server:
        assert server.ready["pid"] == server.proc.pid
        workers = server.ready["workers"]
        assert len(set(workers)) == 2 and server.proc.pid not in workers
        assert _pids_answering(server.admin_url, set(workers)) == set(workers)

        added = requests.post(
            f"{server.admin_url}/api/routes",
            json={
                "method": "GET",
                "path": "/hi",
                "handler": "h",
                "response": {"type": "json", "body": "hello"},
            },
            timeout=10,
        )
        assert added.status_code == 201
        for _ in range(16):  # new connections: both workers serve the route
            assert requests.get(f"{server.mock_url}/hi", timeout=10).json() == "hello"

        killed = workers[0]
        os.kill(killed, signal.SIGKILL)
        exited = server.wait_for_event(lambda e: e["event"] == "worker_exited")
        assert (exited["pid"], exited["exit_code"], exited["worker"]) == (killed, -9, 0)
        ready = server.wait_for_event(
            lambda e: (
                e["event"] == "ready"
                and e.get("subsystem") == "workers"
                and killed not in e["workers"]
            )
        )
        replacement = ready["workers"][0]
        assert ready["workers"][1] == workers[1]
        restarted = server.wait_for_event(lambda e: e["event"] == "worker_restarted")
        assert restarted["pid"] == replacement
        # The replacement replayed the log: it serves the route too.
        assert _pids_answering(server.admin_url, {replacement}) >= {replacement}
        for _ in range(16):
            assert requests.get(f"{server.mock_url}/hi", timeout=10).json() == "hello"

        assert server.stop() == 0
        assert _gone(replacement) and _gone(workers[1])
        assert not server.ready_file.exists()


def test_workers_need_state(tmp_path: Path) -> None:
    from tests.process import run_cli

    done = run_cli("serve", "--workers", "2")
    assert done.returncode == 2
    assert "--workers needs --state redis://host:port/db" in done.stderr


def test_workers_that_cannot_start_stop_the_supervisor(tmp_path: Path) -> None:
    import socket

    from tests.process import run_cli

    with socket.socket() as probe:  # a port where no Redis listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_cli(
        "serve",
        "--port",
        "0",
        "--admin-port",
        "0",
        "--log-format",
        "json",
        "--state",
        f"redis://127.0.0.1:{port}/0",
        "--workers",
        "2",
        "--ready-file",
        str(tmp_path / "ready.json"),
    )
    assert done.returncode == 2
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    supervisor = [e for e in events if e["event"] == "cannot_start" and e["subsystem"] == "workers"]
    assert len(supervisor) == 1
    assert supervisor[0]["message"].startswith("worker 0 (pid ")
    assert supervisor[0]["message"].endswith(") did not become ready: see its log above")
    assert supervisor[0]["exit_code"] == 2
    worker = next(e for e in events if e["event"] == "cannot_start" and e["subsystem"] == "server")
    assert worker["code"] == "state_unreachable"
    assert not (tmp_path / "ready.json").exists()


def test_a_worker_dying_again_and_again_stops_everything(tmp_path: Path, redis_url: str) -> None:
    with serve_process(
        tmp_path, "--state", redis_url, "--workers", "2", "--log-format", "json"
    ) as server:
        survivor, victim = server.ready["workers"][1], server.ready["workers"][0]
        replacements: set[int] = set()
        for kills in range(1, MAX_RESTARTS + 2):
            os.kill(victim, signal.SIGKILL)
            if kills > MAX_RESTARTS:
                break
            restarted = server.wait_for_event(
                lambda e: e["event"] == "worker_restarted" and e["pid"] not in replacements
            )
            victim = restarted["pid"]
            replacements.add(victim)
        failing = server.wait_for_event(lambda e: e["event"] == "workers_failing")
        assert failing["message"] == (
            f"more than {MAX_RESTARTS} worker restarts within {RESTART_WINDOW_S:g} s: "
            "stopping; see the workers' logs above"
        )
        assert server.proc.wait(STOP_TIMEOUT) == 1
        assert _gone(survivor)
        assert not server.ready_file.exists()


def test_wiremock_shutdown_through_one_worker_stops_them_all(
    tmp_path: Path, redis_url: str
) -> None:
    with serve_process(
        tmp_path, "--state", redis_url, "--workers", "2", "--log-format", "json"
    ) as server:
        workers = server.ready["workers"]
        answer = requests.post(f"{server.admin_url}/__admin/shutdown", timeout=10)
        assert answer.status_code == 200
        assert server.proc.wait(STOP_TIMEOUT) == 0
        stopped = server.wait_for_event(lambda e: e["event"] == "worker_stopped")
        assert stopped["pid"] in workers
        assert all(_gone(pid) for pid in workers)
        assert not server.ready_file.exists()
