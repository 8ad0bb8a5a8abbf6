"""Helpers for tests that run controlplane in-process.

`ThreadedServer` runs a `ControlplaneServer` in its own thread with its own event loop.
That is what makes synchronous admin calls safe from inside async tests: the test's
loop may block for the length of one admin request, but the server never waits on it.

    with ThreadedServer(ServerConfig(port=0, admin_port=0)) as server:
        server.mock_url, server.admin_url
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from controlplane.server import ControlplaneServer, ServerConfig

__all__ = ["ThreadedServer"]

T = TypeVar("T")

START_TIMEOUT = 30.0


class ThreadedServer:
    """A ControlplaneServer running in its own thread and event loop."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig(port=0, admin_port=0)
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
        """Start the thread and wait until both sites listen (or raise why not)."""
        self._thread.start()
        if not self._ready.wait(timeout=START_TIMEOUT):
            raise RuntimeError(f"controlplane did not start within {START_TIMEOUT:.0f} s")
        if self._error is not None:
            self._thread.join(timeout=START_TIMEOUT)
            self._loop.close()
            raise self._error
        return self

    def stop(self) -> None:
        """Stop the server, then the thread and its loop."""
        if self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=START_TIMEOUT)
        if not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, function: Callable[[ControlplaneServer], T]) -> T:
        """`function(server)` run on the server's loop thread; its result or its exception.

        For in-process changes the admin API cannot express (installing an in-process
        responder): the server's state is only ever touched from its own loop.
        """
        server = self.server
        assert server is not None, "the server is not started"

        async def run() -> T:
            return function(server)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(START_TIMEOUT)

    @property
    def mock_url(self) -> str:
        assert self.server is not None, "the server is not started"
        return self.server.mock_url

    @property
    def admin_url(self) -> str:
        assert self.server is not None, "the server is not started"
        return self.server.admin_url
