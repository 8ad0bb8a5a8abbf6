"""Real servers on port 0; tests talk to them over sockets.

`cp_server` is one controlplane server for the whole run, in a background thread with
its own event loop, so sync clients (`requests`, `http.client`) and async ones can both
drive it without blocking the loop that serves them. Each test that uses `cp` gets its
own session on it: isolation is the product's promise, so the suite relies on it too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from controlplane.server import ControlplaneServer, ServerConfig


class ThreadedServer:
    """A ControlplaneServer running in its own thread and event loop."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.server: ControlplaneServer | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="controlplane", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            self.server = ControlplaneServer(self.config)
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await self.server.stop()

    def start(self) -> ThreadedServer:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("controlplane did not start within 30 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=30)
        self._loop.close()

    @property
    def mock_url(self) -> str:
        assert self.server is not None
        return self.server.mock_url

    @property
    def admin_url(self) -> str:
        assert self.server is not None
        return self.server.admin_url


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
