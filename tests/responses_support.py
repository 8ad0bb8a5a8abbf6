"""Helpers for the response tests: a real server answering one response, and builders.

`serve(spec)` starts a real `ControlplaneServer` (both ports 0) in the test's own event
loop and declares, through its admin API, one route that every request matches, with
`spec` as its handler's response. Requests then go to the real mock port: session,
route lookup, the compiled responder, the journal and the delay are the server's own.
The server stops when the block ends, so anything it logs about a request is logged
by then.

`responder_for` and `view` build what the mock port would, for the unit tests of the
compiled responders; `raw_exchange` sends bytes no HTTP library would send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
from multidict import CIMultiDict

from controlplane import ControlplaneServer, ServerConfig, wire
from controlplane.request_view import RequestView
from controlplane.responses import Responder, compile_response

__all__ = ["Served", "get_request", "raw_exchange", "responder_for", "serve", "view"]


class Served:
    """A running server whose route for handler `handler` answers every request."""

    def __init__(self, server: ControlplaneServer, admin: aiohttp.ClientSession, handler: str):
        self.url = server.mock_url
        port = urlsplit(server.mock_url).port
        if port is None:
            raise ValueError(f"{server.mock_url} names no port")
        self.port = port
        self.handler = handler
        self._api = f"{server.admin_url}/api"
        self._admin = admin

    async def register(self, spec: dict[str, Any]) -> None:
        """Make `spec` the handler's response (`PUT /api/handlers/{name}/response`)."""
        url = f"{self._api}/handlers/{self.handler}/response"
        async with self._admin.put(url, json=spec) as answer:
            if answer.status != 200:
                raise RuntimeError(f"PUT {url}: {answer.status} {await answer.text()}")

    async def journal(self) -> list[dict[str, Any]]:
        """Each journaled request's `response` (status, type, delay_ms, error), oldest first."""
        async with self._admin.get(f"{self._api}/requests") as answer:
            entries: list[dict[str, Any]] = (await answer.json())["requests"]
        return [entry["response"] for entry in entries]


@asynccontextmanager
async def serve(spec: dict[str, Any] | None, *, handler: str = "answer") -> AsyncIterator[Served]:
    """A real server answering every request with `spec` (None: no response registered)."""
    route: dict[str, Any] = {"method": "*", "path_regex": ".*", "handler": handler}
    if spec is not None:
        route["response"] = spec
    async with (
        ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server,
        aiohttp.ClientSession() as admin,
        admin.post(f"{server.admin_url}/api/routes", json=route) as answer,
    ):
        if answer.status != 201:
            raise RuntimeError(f"POST /api/routes: {answer.status} {await answer.text()}")
        yield Served(server, admin, handler)


def responder_for(spec: dict[str, Any]) -> Responder:
    """A JSON-shaped response spec, decoded into its wire type and compiled."""
    return compile_response(msgspec.convert(spec, wire.AnyResponse))


def view() -> RequestView:
    """A bodiless `GET /`, as the mock port hands it to a responder."""
    return RequestView("GET", "/", "", CIMultiDict(), b"")


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
