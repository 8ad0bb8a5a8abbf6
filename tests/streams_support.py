"""Helpers for the SSE and WebSocket tests: async admin calls, reading events, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests

#: Generous: the machine is shared; nothing here waits this long when things work.
READ_TIMEOUT = 15.0


async def admin(
    client: aiohttp.ClientSession, method: str, url: str, body: Any = None, status: int = 200
) -> Any:
    """One admin call; asserts its status and returns its JSON (None for 204)."""
    async with client.request(method, url, json=body) as answer:
        text = await answer.text()
        assert answer.status == status, text
        return await answer.json() if text else None


def refused_route(api: str, route: dict[str, Any]) -> tuple[str, str]:
    """POSTs a route that must be refused: its 422's (location, message)."""
    answer = requests.post(f"{api}/routes", json=route, timeout=10)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    return error["location"], error["message"]


async def next_event(stream: aiohttp.ClientResponse) -> bytes:
    """The next event of an open event stream, blank line included."""
    return await asyncio.wait_for(stream.content.readuntil(b"\n\n"), READ_TIMEOUT)


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 10.0) -> None:
    """Poll `check` until it holds (a server-side effect of a client leaving), bounded."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def stalled(url: str, *, upgrade: bool = False) -> AsyncIterator[None]:
    """A client of `url` (an SSE stream, or a WebSocket with `upgrade`) that reads its
    answer's headers and then nothing, with a small receive buffer: what is sent to it
    soon waits in the server."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    headers = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    if upgrade:
        headers += (
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        )
    writer.write(headers.encode() + b"\r\n")
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        yield
    finally:
        writer.close()
