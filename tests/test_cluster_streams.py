"""`serve --state`: pushes, closes and frame logs count every process's connections.

Two real processes on one real Redis, each on its own ports: one SSE stream (or
WebSocket) is held by A and one by B, and the admin calls go to either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

from tests.process import ServerProcess
from tests.redis_support import redis_server, redis_url
from tests.test_cluster_replication import processes

__all__ = ["redis_server", "redis_url"]

READ_TIMEOUT = 10.0


@pytest.fixture
def pair(tmp_path: Path, redis_url: str) -> Any:
    with processes(tmp_path, redis_url, 2) as (a, b):
        for path, kind in (("/feed", "sse"), ("/chat", "websocket")):
            route = {"method": "GET", "path": path, "handler": path[1:], "response": {"type": kind}}
            if kind == "sse":
                route["response"]["keep_open"] = True
            else:  # sent once the connection is registered: pushes reach it then
                route["response"]["on_connect"] = [{"text": "hello"}]
            added = requests.post(f"{a.admin_url}/api/routes", json=route, timeout=10)
            assert added.status_code == 201, added.text
        yield a, b


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        yield session


async def _call(
    client: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> dict[str, Any]:
    async with client.request(method, url, **kwargs) as answer:
        assert answer.status == 200, await answer.text()
        body: dict[str, Any] = await answer.json()
        return body


async def _event(stream: aiohttp.ClientResponse) -> bytes:
    return await stream.content.readuntil(b"\n\n")


async def test_a_push_and_a_close_count_the_streams_of_every_process(
    pair: tuple[ServerProcess, ServerProcess], client: aiohttp.ClientSession
) -> None:
    a, b = pair
    async with client.get(f"{a.mock_url}/feed") as one, client.get(f"{b.mock_url}/feed") as two:
        pushed = await _call(
            client, "POST", f"{b.admin_url}/api/handlers/feed/events", json={"data": "hi"}
        )
        assert pushed == {"delivered": 2}
        assert [await _event(stream) for stream in (one, two)] == [b"data: hi\n\n"] * 2
        closed = await _call(client, "DELETE", f"{a.admin_url}/api/handlers/feed/connections")
        assert closed == {"closed": 2}


async def test_frames_of_every_process_are_listed_as_one_log(
    pair: tuple[ServerProcess, ServerProcess], client: aiohttp.ClientSession
) -> None:
    a, b = pair
    one = await client.ws_connect(f"{a.mock_url}/chat")
    two = await client.ws_connect(f"{b.mock_url}/chat")
    for ws in (one, two):
        assert (await ws.receive(READ_TIMEOUT)).data == "hello"
    await one.send_str("from A")
    await two.send_str("from B")
    pushed = await _call(
        client, "POST", f"{a.admin_url}/api/handlers/chat/messages", json={"text": "all"}
    )
    assert pushed == {"delivered": 2}
    for ws in (one, two):
        assert (await ws.receive(READ_TIMEOUT)).data == "all"
    listings = [
        await _call(client, "GET", f"{server.admin_url}/api/handlers/chat/messages")
        for server in (a, b)
    ]
    assert listings[0] == listings[1]
    frames = listings[0]["messages"]
    assert listings[0]["evicted"] == 0
    assert [f["seq"] for f in frames] == sorted({f["seq"] for f in frames})
    by_connection: dict[str, list[tuple[str, str]]] = {}
    for frame in frames:
        by_connection.setdefault(frame["connection"], []).append(
            (frame["direction"], frame["text"])
        )
    # (whether a sent text or the push came first to the server is not fixed)
    assert sorted(sorted(frames) for frames in by_connection.values()) == [
        [("in", "from A"), ("out", "all"), ("out", "hello")],
        [("in", "from B"), ("out", "all"), ("out", "hello")],
    ]
    page = await _call(
        client, "GET", f"{b.admin_url}/api/handlers/chat/messages", params={"after": 0, "limit": 3}
    )
    assert (page["messages"], page["next"]) == (frames[:3], frames[2]["seq"])
    await one.close()
    await two.close()
