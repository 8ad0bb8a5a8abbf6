"""`start_service`: a real controlplane server with asyncly's routes, in its own thread."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager

from controlplane.server import ServerConfig
from controlplane.srvmocker.models import MockRoute, MockService
from controlplane.testing import ThreadedServer

__all__ = ["running_service", "start_service"]


@contextmanager
def running_service(
    routes: Iterable[MockRoute], *, ssl_context: ssl.SSLContext | None = None
) -> Iterator[MockService]:
    """`start_service` for synchronous code (the `mock_service` fixture uses it)."""
    declared = list(routes)
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, ssl_context=ssl_context))
    server.start()
    service = None
    try:
        service = MockService(server, declared)
        service._declare(declared)
        yield service
    finally:
        if service is not None:
            service.freeze()  # asyncly's tests assert after the `async with` too
        server.stop()


@asynccontextmanager
async def start_service(
    routes: Iterable[MockRoute], *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[MockService]:
    """A controlplane server serving `routes`; HTTPS with `ssl_context`.

    The server runs in its own thread with its own event loop, serving the `default`
    session at the root of `service.url`; starting and stopping it waits on that
    thread, off the test's loop.
    """
    manager = running_service(routes, ssl_context=ssl_context)
    service = await asyncio.to_thread(manager.__enter__)
    try:
        yield service
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
