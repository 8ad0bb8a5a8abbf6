"""A real server receiving webhooks, and a wait for a session's webhook calls to finish.

`Receiver` is an aiohttp app on 127.0.0.1:0 in the test's own event loop. It keeps
every request it gets (method, path with query, headers, body) and a queue of them;
with `hold()` it answers nothing until `release()`, and counts how many requests it
holds at once (`most_at_once`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import requests
from aiohttp import web

__all__ = [
    "Received",
    "Receiver",
    "ThreadedReceiver",
    "closed_port",
    "finished_webhooks",
    "finished_webhooks_sync",
]


@dataclass
class Received:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.received: list[Received] = []
        self.arrivals: asyncio.Queue[Received] = asyncio.Queue()
        self.url = ""
        self._gate: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.at_once = 0
        self.most_at_once = 0

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()
        assert self._runner is not None
        await self._runner.cleanup()

    def hold(self) -> None:
        """Answer nothing until `release()`."""
        self._gate = asyncio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()

    async def arrival(self, timeout: float = 10) -> Received:
        return await asyncio.wait_for(self.arrivals.get(), timeout)

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(request.method, request.path_qs, dict(request.headers), await request.read())
        self.received.append(got)
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            self.arrivals.put_nowait(got)
            if self._gate is not None:
                await self._gate.wait()
            return web.Response(status=self.status)
        finally:
            self.at_once -= 1


class ThreadedReceiver:
    """A `Receiver` in a background thread with its own loop, for synchronous tests."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._receiver: Receiver | None = None

    def _run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __enter__(self) -> ThreadedReceiver:
        self._thread.start()

        async def start() -> Receiver:
            return await Receiver().__aenter__()

        self._receiver = self._run(start())
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._receiver is not None
        self._run(self._receiver.__aexit__())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def url(self) -> str:
        assert self._receiver is not None
        return self._receiver.url

    def arrival(self, timeout: float = 10) -> Received:
        assert self._receiver is not None
        got: Received = self._run(self._receiver.arrival(timeout), timeout + 1)
        return got


def finished_webhooks_sync(api: str, count: int, rounds: int = 5000) -> dict[str, Any]:
    """`finished_webhooks` for synchronous tests (`requests`)."""
    for _ in range(rounds):
        answer = requests.get(f"{api}/webhooks", timeout=10)
        assert answer.status_code == 200, answer.text
        listing: dict[str, Any] = answer.json()
        if listing["pending"] == 0 and len(listing["webhooks"]) >= count:
            return listing
    raise AssertionError(f"webhook calls did not finish: {listing}")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def finished_webhooks(
    http: aiohttp.ClientSession, api: str, count: int, rounds: int = 5000
) -> dict[str, Any]:
    """`GET {api}/webhooks` once `count` calls are logged and none is under way.

    Each round is a real admin round trip (no sleeping); the number of rounds is bounded.
    """
    for _ in range(rounds):
        async with http.get(f"{api}/webhooks") as answer:
            assert answer.status == 200, await answer.text()
            listing: dict[str, Any] = await answer.json()
        if listing["pending"] == 0 and len(listing["webhooks"]) >= count:
            return listing
        await asyncio.sleep(0)
    raise AssertionError(f"webhook calls did not finish: {listing}")
