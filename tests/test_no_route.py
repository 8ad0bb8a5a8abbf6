"""The native 404 of an unmatched request (`controlplane.no_route`): a request that
misses again on the same path, near routes without conditions or `times`, gets the
answer kept from the time before, byte for byte what a fresh one would be, for every
HTTP version, keep-alive choice and HEAD; near misses that can change are ranked
afresh. Raw sockets, real server."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from controlplane.matching.near_miss import Pool
from controlplane.server import ControlplaneServer, ServerConfig
from tests.matching_support import route, table, view
from tests.raw_http_support import REQUEST_VARIANTS, raw_request

_DATE = re.compile(rb"Date: [^\r]*\r\n")


@pytest.fixture
async def server() -> AsyncIterator[tuple[ControlplaneServer, aiohttp.ClientSession]]:
    async with (
        ControlplaneServer(ServerConfig(port=0, admin_port=0)) as cp,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        yield cp, http


async def _add(http: aiohttp.ClientSession, admin_url: str, **spec: Any) -> None:
    async with http.post(f"{admin_url}/api/routes", json=spec) as answer:
        assert answer.status == 201, await answer.text()


async def _ask(mock_url: str, method: str, path: str, version: str, extra: str = "") -> bytes:
    """One request on a new connection; its whole answer, the Date line blanked."""
    host, port = mock_url.split("//")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(raw_request(method, path, version, extra))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        found = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
        length = int(found.group(1)) if found and method != "HEAD" else 0
        body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
    finally:
        writer.close()
    return _DATE.sub(b"Date: -\r\n", head) + body


async def test_a_miss_again_is_answered_the_same_bytes_for_every_variant(
    server: tuple[ControlplaneServer, aiohttp.ClientSession],
) -> None:
    cp, http = server
    for i in range(3):
        await _add(http, cp.admin_url, id=f"r{i}", method="GET", path=f"/items/{i}", handler="h")
    for method, version, extra in REQUEST_VARIANTS:
        answers = [await _ask(cp.mock_url, method, "/items/1x", version, extra) for _ in range(3)]
        # The first two are built fresh (the second keeps the pool); the third is the
        # kept answer.
        assert answers[1] == answers[0] and answers[2] == answers[0], (method, version, extra)
    head = answers[0].partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.0 404 Not Found\r\n")
    get = await _ask(cp.mock_url, "GET", "/items/1x", "1.1")
    message = json.loads(get.partition(b"\r\n\r\n")[2])
    assert message["message"] == (
        "no route matched GET /items/1x: closest route r1 (handler 'h') differed in path"
    )
    assert [miss["route_id"] for miss in message["near_misses"]] == ["r1", "r0", "r2"]
    async with http.get(f"{cp.admin_url}/api/requests/unmatched") as answer:
        journaled = (await answer.json())["requests"]
    assert len(journaled) == 3 * len(REQUEST_VARIANTS) + 1
    gets = [entry["near_misses"] for entry in journaled if entry["method"] == "GET"]
    assert len(gets) == 3 * 4 + 1
    assert all(misses == message["near_misses"] for misses in gets)


async def test_near_misses_that_read_the_request_are_answered_afresh(
    server: tuple[ControlplaneServer, aiohttp.ClientSession],
) -> None:
    cp, http = server
    await _add(
        http,
        cp.admin_url,
        id="tenant",
        method="GET",
        path="/orders",
        handler="h",
        match={"query": {"tenant": "a"}},
    )
    actual = []
    for tenant in ("b", "c", "b"):
        answer = await _ask(cp.mock_url, "GET", f"/orders?tenant={tenant}", "1.1")
        [miss] = json.loads(answer.partition(b"\r\n\r\n")[2])["near_misses"]
        actual.append([diff["actual"] for diff in miss["diffs"]])
    assert actual == [["b"], ["c"], ["b"]]


async def test_a_route_used_up_since_the_last_miss_shows_in_the_next(
    server: tuple[ControlplaneServer, aiohttp.ClientSession],
) -> None:
    cp, http = server
    await _add(http, cp.admin_url, id="once", method="GET", path="/once", handler="h", times=1)
    await _add(http, cp.admin_url, id="h", method="PUT", path="/h", handler="h2")

    async def fields() -> list[str]:
        answer = await _ask(cp.mock_url, "GET", "/oncex", "1.1")
        misses = json.loads(answer.partition(b"\r\n\r\n")[2])["near_misses"]
        return [diff["field"] for diff in misses[0]["diffs"]]

    assert await fields() == ["path"]
    assert await fields() == ["path"]
    async with http.put(
        f"{cp.admin_url}/api/handlers/h/response", json={"type": "json", "body": {}}
    ) as answer:
        assert answer.status == 200
    assert (await _ask(cp.mock_url, "GET", "/once", "1.1")).startswith(b"HTTP/1.1 200")
    assert await fields() == ["path", "times"]


def test_a_ranking_that_read_no_condition_and_no_times_is_given_again_as_it_was() -> None:
    t = table(*(route(f"r{i}", i, path=f"/items/{i}") for i in range(60)))
    request = view("GET", "/items/7x")
    t.near_misses(request)  # a path that misses once keeps no pool
    first = t.near_misses(request)
    assert t.near_misses(request) is first
    assert [miss.route_id for miss in first] == ["r7", "r57", "r6"]


@pytest.mark.parametrize(
    "near",
    [
        route("near", 0, path="/items/7", times=2),
        route("near", 0, path="/items/7", match={"headers": {"X-A": "1"}}),
    ],
    ids=["times", "conditions"],
)
def test_a_ranking_that_read_times_or_conditions_is_made_again(near: Any) -> None:
    pool = Pool("GET", "/items/7x", [near, route("far", 1, path="/elsewhere")])
    request = view("GET", "/items/7x")
    first = pool.rank(request, 3)
    again = pool.rank(request, 3)
    assert again is not first and again == first
