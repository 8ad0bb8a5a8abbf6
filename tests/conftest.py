"""Real servers on port 0; tests talk to them over sockets.

`cp_server` is one controlplane server for the whole run, in a background thread with
its own event loop, so sync clients (`requests`, `http.client`) and async ones can both
drive it without blocking the loop that serves them. Each test that uses `cp` gets its
own session on it: isolation is the product's promise, so the suite relies on it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer

__all__ = ["SessionHandle", "ThreadedServer"]


@pytest.fixture(scope="session")
def cp_server() -> Iterator[ThreadedServer]:
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
