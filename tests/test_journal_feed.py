"""`GET .../requests/stream`: the journal live, read by real SSE clients (aiohttp, httpx)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests

from controlplane.admin import journal_feed
from controlplane.server import ControlplaneServer, ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle
from tests.streams_support import READ_TIMEOUT, admin, next_event, until


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        yield session


def parse(event: bytes) -> tuple[int, dict[str, Any]]:
    """An entry event's `id` and its data."""
    lines = event.decode().rstrip("\n").split("\n")
    assert len(lines) == 2 and lines[0].startswith("id: ") and lines[1].startswith("data: "), event
    return int(lines[0][4:]), json.loads(lines[1][6:])


async def opened(stream: aiohttp.ClientResponse) -> None:
    """The feed's first write: it is following the journal from now on."""
    assert stream.status == 200, await stream.text()
    assert await next_event(stream) == b": open\n\n"


async def entries(stream: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    found = []
    for _ in range(count):
        seq, entry = parse(await next_event(stream))
        assert seq == entry["seq"]
        found.append(entry)
    return found


def journal(cp: SessionHandle) -> list[dict[str, Any]]:
    answer = requests.get(f"{cp.api}/requests", timeout=10)
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["requests"]
    return listed


def feeds_running(server: ThreadedServer) -> int:
    """Tasks of the server's loop that are inside a journal feed right now."""

    def count(_: ControlplaneServer) -> int:
        running = 0
        for task in asyncio.all_tasks():
            coro: Any = task.get_coro()
            while coro is not None:
                if getattr(coro, "cr_code", None) is journal_feed.follow.__code__:
                    running += 1
                    break
                coro = getattr(coro, "cr_await", None)
        return running

    return server.call(count)


async def test_each_new_request_arrives_as_an_event_shaped_like_the_listing(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    cp.add_route(method="POST", path="/hello", handler="hello")
    requests.get(f"{cp.mock_url}/hello?before=1", timeout=10)  # before the feed: not sent
    async with client.get(f"{cp.api}/requests/stream") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        assert stream.headers["Cache-Control"] == "no-cache"
        await opened(stream)
        async with client.post(f"{cp.mock_url}/hello", data=b'{"a": 1}'):
            pass
        async with client.get(f"{cp.mock_url}/nowhere"):
            pass
        got = await entries(stream, 2)
    listed = journal(cp)
    assert [e["seq"] for e in listed] == [1, 2, 3]
    assert got == listed[1:]
    assert (got[0]["handler"], got[0]["json"], got[1]["matched"]) == ("hello", {"a": 1}, False)


async def test_after_and_last_event_id_resume_without_a_gap(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    for n in range(5):
        requests.get(f"{cp.mock_url}/r{n}", timeout=10)
    async with client.get(f"{cp.api}/requests/stream?after=0") as stream:
        await opened(stream)
        assert [e["path"] for e in await entries(stream, 5)] == [f"/r{n}" for n in range(5)]
    async with client.get(f"{cp.api}/requests/stream?after=3") as stream:
        await opened(stream)
        assert [e["seq"] for e in await entries(stream, 2)] == [4, 5]
    # A reconnecting EventSource sends its URL again and the last id it saw: that wins.
    headers = {"Last-Event-ID": "4"}
    async with client.get(f"{cp.api}/requests/stream?after=1", headers=headers) as stream:
        await opened(stream)
        requests.get(f"{cp.mock_url}/r5", timeout=10)
        assert [e["seq"] for e in await entries(stream, 2)] == [5, 6]
    # httpx, reading lines as an SSE client library does.
    async with (
        httpx.AsyncClient(timeout=READ_TIMEOUT) as http,
        http.stream("GET", f"{cp.api}/requests/stream", headers={"Last-Event-ID": "5"}) as answer,
    ):
        lines = answer.aiter_lines()
        assert [await anext(lines) for _ in range(2)] == [": open", ""]
        assert (await anext(lines)).startswith("id: 6")


async def test_filters_are_those_of_the_listing(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    cp.add_route(method="GET", path="/a", handler="a")
    cp.add_route(method="GET", path="/b", handler="b")
    async with client.get(f"{cp.api}/requests/stream?handler=b&method=get") as stream:
        await opened(stream)
        for path in ("/a", "/b", "/a", "/a", "/b"):
            requests.get(f"{cp.mock_url}{path}", timeout=10)
        assert [e["seq"] for e in await entries(stream, 2)] == [2, 5]


async def test_an_idle_feed_sends_heartbeat_comments(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{cp.api}/requests/stream?heartbeat_ms=50") as stream:
        await opened(stream)
        assert await next_event(stream) == b": heartbeat\n\n"
        assert await next_event(stream) == b": heartbeat\n\n"
        requests.get(f"{cp.mock_url}/late", timeout=10)
        while (event := await next_event(stream)) == b": heartbeat\n\n":
            pass
        assert parse(event)[1]["path"] == "/late"


@pytest.mark.parametrize(
    ("query", "headers", "location", "message"),
    [
        ("after=-1", {}, "?after", "`after` must be a whole number >= 0, got '-1'"),
        ("heartbeat_ms=9", {}, "?heartbeat_ms", "`heartbeat_ms` must be at least 10, got 9"),
        ("matched=maybe", {}, "?matched", "`matched` must be true or false, got 'maybe'"),
        (
            "",
            {"Last-Event-ID": "abc"},
            "Last-Event-ID",
            "`Last-Event-ID` must be the `id` of an event of this stream (a journal `seq`), "
            "got 'abc'",
        ),
    ],
)
def test_bad_input_is_refused_before_the_stream_starts(
    cp: SessionHandle, query: str, headers: dict[str, str], location: str, message: str
) -> None:
    answer = requests.get(f"{cp.api}/requests/stream?{query}", headers=headers, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_input",
        "message": message,
        "location": location,
    }


def test_an_unknown_session_is_a_404(cp_server: ThreadedServer) -> None:
    answer = requests.get(f"{cp_server.admin_url}/api/sessions/nope/requests/stream", timeout=10)
    assert answer.status_code == 404
    assert "no session 'nope'" in answer.json()["error"]["message"]


async def test_the_admin_token_is_required(client: aiohttp.ClientSession) -> None:
    config = ServerConfig(port=0, admin_port=0, admin_token="s3cret")
    with ThreadedServer(config) as server:
        url = f"{server.admin_url}/api/requests/stream"
        async with client.get(url) as refused:
            assert refused.status == 401
            assert (await refused.json())["error"]["code"] == "unauthorized"
        async with client.get(url, headers={"Authorization": "Bearer s3cret"}) as stream:
            await opened(stream)
            requests.get(f"{server.mock_url}/x", timeout=10)
            assert (await entries(stream, 1))[0]["path"] == "/x"


@pytest.mark.single_process("counts the feed tasks of the server's own event loop")
async def test_many_listeners_each_get_every_entry(
    cp: SessionHandle, cp_server: ThreadedServer, client: aiohttp.ClientSession
) -> None:
    streams = [await client.get(f"{cp.api}/requests/stream") for _ in range(20)]
    try:
        for stream in streams:
            await opened(stream)
        assert feeds_running(cp_server) == 20
        for n in range(3):
            requests.get(f"{cp.mock_url}/n{n}", timeout=10)
        for stream in streams:
            assert [e["path"] for e in await entries(stream, 3)] == ["/n0", "/n1", "/n2"]
    finally:
        for stream in streams:
            stream.close()


@pytest.mark.single_process("counts the feed tasks of the server's own event loop")
async def test_a_listener_that_leaves_leaves_no_task_behind(
    cp: SessionHandle, cp_server: ThreadedServer, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{cp.api}/requests/stream?heartbeat_ms=50") as stream:
        await opened(stream)
        assert feeds_running(cp_server) == 1
        stream.close()  # the connection goes, not only the response

    async def gone() -> bool:
        return feeds_running(cp_server) == 0

    # The admin port does not cancel handlers: the next heartbeat's write finds it gone.
    await until(gone, "the feed ends once its client left")
    requests.get(f"{cp.mock_url}/after", timeout=10)  # recording still works
    assert journal(cp)[-1]["path"] == "/after"


async def test_clearing_the_journal_keeps_the_feed_and_its_numbering(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{cp.api}/requests/stream") as stream:
        await opened(stream)
        requests.get(f"{cp.mock_url}/one", timeout=10)
        assert (await entries(stream, 1))[0]["seq"] == 1
        await admin(client, "DELETE", f"{cp.api}/requests", status=204)
        requests.get(f"{cp.mock_url}/two", timeout=10)
        assert [(e["seq"], e["path"]) for e in await entries(stream, 1)] == [(2, "/two")]


async def test_deleting_the_session_ends_its_feeds_cleanly(
    cp_server: ThreadedServer, client: aiohttp.ClientSession
) -> None:
    session = await admin(client, "POST", f"{cp_server.admin_url}/api/sessions", {}, status=201)
    async with client.get(f"{session['admin_url']}/requests/stream") as stream:
        await opened(stream)
        await admin(client, "DELETE", session["admin_url"], status=204)
        # A clean end: the chunked body is terminated, so read() returns, no error.
        assert await asyncio.wait_for(stream.content.read(), READ_TIMEOUT) == b""


async def test_server_shutdown_ends_open_feeds_without_waiting_for_the_grace(
    client: aiohttp.ClientSession,
) -> None:
    # With a grace of a minute, an open feed left to aiohttp would hold stop() that long.
    server = ControlplaneServer(ServerConfig(port=0, admin_port=0, shutdown_grace=60))
    await server.start()
    try:
        stream = await client.get(f"{server.admin_url}/api/requests/stream")
        await opened(stream)
    finally:
        started = time.monotonic()
        await server.stop()
        took = time.monotonic() - started
    assert await asyncio.wait_for(stream.content.read(), READ_TIMEOUT) == b""
    stream.close()
    assert took < 20


async def test_a_backlog_comes_in_order_while_new_requests_keep_coming(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    cp.add_route(method="POST", path="/load", handler="load")
    for n in range(100):
        requests.post(f"{cp.mock_url}/load", data=str(n), timeout=10)
    async with client.get(f"{cp.api}/requests/stream?after=0") as stream:
        await opened(stream)
        first = await entries(stream, 40)
        for n in range(100, 110):
            requests.post(f"{cp.mock_url}/load", data=str(n), timeout=10)
        rest = await entries(stream, 70)
    assert [e["body"] for e in first + rest] == [str(n) for n in range(110)]
