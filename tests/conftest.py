"""Real servers on port 0; tests talk to them over sockets.

`cp_server` is one controlplane server for the whole run, in a background thread with
its own event loop, so sync clients (`requests`, `http.client`) and async ones can both
drive it without blocking the loop that serves them. Each test that uses `cp` gets its
own session on it: isolation is the product's promise, so the suite relies on it too.

`make test-deployment` runs the tests that use `cp_server` (directly, or through `cp`
and `wm`) once more against a deployment: `controlplane serve --workers 2 --state
redis://...` in a subprocess, so that every admin call and mock request may land on
either worker (`CONTROLPLANE_TEST_DEPLOYMENT=workers`). The other tests are deselected
then: they start their own servers and ran already. A test whose promise cannot hold
across processes says so with `@pytest.mark.single_process("why")` and is skipped,
with its reason, in that run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.process import serve_process
from tests.redis_support import flushed_database, redis_server

__all__ = ["SessionHandle", "ThreadedServer", "redis_server"]

#: `workers`: the contract run against `serve --workers 2 --state redis://...`.
DEPLOYMENT = os.environ.get("CONTROLPLANE_TEST_DEPLOYMENT", "")
#: Workers of that deployment.
DEPLOYMENT_WORKERS = 2


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "single_process(reason): the test's promise holds within one process only; "
        "skipped in the deployment run (make test-deployment)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DEPLOYMENT != "workers":
        return
    kept, dropped = [], []
    for item in items:
        (kept if "cp_server" in getattr(item, "fixturenames", ()) else dropped).append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept
    for item in kept:
        marker = item.get_closest_marker("single_process")
        if marker is not None:
            reason = marker.args[0] if marker.args else "holds within one process only"
            item.add_marker(pytest.mark.skip(reason=f"single process: {reason}"))


@pytest.fixture(scope="session")
def cp_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadedServer]:
    """The server most tests share; in the deployment run, `--workers 2` on Redis (it
    offers the same `admin_url` and `mock_url`, all these tests use of it)."""
    if DEPLOYMENT == "workers":
        redis_base: str = request.getfixturevalue("redis_server")
        with flushed_database(redis_base) as url:
            folder: Path = tmp_path_factory.mktemp("deployment")
            workers = ("--workers", str(DEPLOYMENT_WORKERS), "--state", url)
            with serve_process(folder, *workers) as deployed:
                yield deployed  # type: ignore[misc]  # the two URLs, as ThreadedServer's
        return
    server = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    yield server
    server.stop()


@dataclass
class SessionHandle:
    """One test's session: where to send mock traffic and where its admin API lives."""

    id: str
    mock_url: str
    api: str  # the session's native admin base, e.g. http://127.0.0.1:P/api/sessions/ab12

    def add_route(self, **route: Any) -> dict[str, Any]:
        answer = requests.post(f"{self.api}/routes", json=route, timeout=10)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()["routes"][0]
        return created

    def register(self, handler: str, response: dict[str, Any]) -> None:
        answer = requests.put(f"{self.api}/handlers/{handler}/response", json=response, timeout=10)
        assert answer.status_code == 200, answer.text

    def calls(self, handler: str) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.api}/handlers/{handler}/calls", timeout=10)
        assert answer.status_code == 200, answer.text
        calls: list[dict[str, Any]] = answer.json()["calls"]
        return calls


@pytest.fixture
def cp(cp_server: ThreadedServer) -> Iterator[SessionHandle]:
    """A fresh session on the shared server, deleted after the test."""
    answer = requests.post(f"{cp_server.admin_url}/api/sessions", json={}, timeout=10)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    yield SessionHandle(id=body["id"], mock_url=body["mock_url"], api=body["admin_url"])
    requests.delete(f"{cp_server.admin_url}/api/sessions/{body['id']}", timeout=10)


@pytest.fixture
def wm(cp: SessionHandle) -> Iterator[SessionHandle]:
    """A fresh session, with WireMock's own Python client pointed at its dialect.

    The client keeps its base URL in a global (`Config.base_url`): set for the test,
    put back after it.
    """
    from wiremock.constants import Config  # only the dialect's tests need the client

    previous = Config.base_url
    Config.base_url = cp.api + "/__admin"
    try:
        yield cp
    finally:
        Config.base_url = previous
