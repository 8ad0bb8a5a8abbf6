"""A real aiohttp server on 127.0.0.1:0 that answers with whatever responder a test sets.

It does what the mock app's hot path does with a responder: build a `RequestView`,
call `answer`, sleep `delay_ms` without blocking the loop, return the response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import msgspec
from aiohttp import web

from controlplane import wire
from controlplane.request_view import RequestView
from controlplane.responses import Outcome, Responder, compile_response

__all__ = ["ResponderServer", "get_request", "raw_exchange", "responder_for", "serve"]


def responder_for(spec: dict[str, Any]) -> Responder:
    """Decode a JSON-shaped response spec the way the admin API does, then compile it."""
    return compile_response(msgspec.convert(spec, wire.AnyResponse))


class ResponderServer:
    """The running server: `url`, `port`, the responder in use and every outcome so far."""

    def __init__(self, responder: Responder, port: int) -> None:
        self.responder = responder
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.outcomes: list[Outcome] = []

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        view = RequestView(
            request.method,
            request.path,
            request.query_string,
            request.headers,
            await request.read(),
        )
        outcome = self.responder.answer(view)
        self.outcomes.append(outcome)
        if outcome.delay_ms > 0:
            await asyncio.sleep(outcome.delay_ms / 1000)
        return outcome.response


@asynccontextmanager
async def serve(responder: Responder | dict[str, Any]) -> AsyncIterator[ResponderServer]:
    """Run a server answering with `responder` (a compiled one or a JSON-shaped spec)."""
    if isinstance(responder, dict):
        responder = responder_for(responder)
    state = ResponderServer(responder, 0)
    runner = web.ServerRunner(web.Server(state.handle))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    _, port = runner.addresses[0][:2]
    state.port = port
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


async def raw_exchange(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send `request` bytes on a fresh socket; return everything read until the peer closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        chunks: list[bytes] = []
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
        return b"".join(chunks)
    finally:
        writer.close()
        # The peer may already have reset the connection; closing our end still works.
        with suppress(ConnectionError, OSError):
            await writer.wait_closed()


def get_request(path: str = "/") -> bytes:
    """A minimal HTTP/1.1 GET for `raw_exchange`."""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
