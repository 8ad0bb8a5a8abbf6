"""Helpers for the SSE and WebSocket tests: async admin calls, reading events, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

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
