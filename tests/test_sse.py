"""The `sse` response: real clients (aiohttp streaming reads, httpx) over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests

from controlplane.server import ControlplaneServer, ServerConfig
from tests.conftest import SessionHandle
from tests.streams_support import (
    READ_TIMEOUT,
    admin,
    next_event,
    refused_route,
    stalled,
    until,
)


def sse(cp: SessionHandle, handler: str = "feed", **response: Any) -> str:
    """Route GET /feed of the session to an `sse` response; the stream's URL."""
    cp.add_route(
        method="GET", path=f"/{handler}", handler=handler, response={"type": "sse", **response}
    )
    return f"{cp.mock_url}/{handler}"


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        yield session


def test_events_are_framed_as_an_event_stream(cp: SessionHandle) -> None:
    url = sse(
        cp,
        events=[
            {"data": "plain", "event": "greeting", "id": "1", "retry": 2500},
            {"data": "line one\nline two\r\nline three\rfour"},
            {"data": {"token": "Hel", "n": [1, 2]}},
            {"comment": "a note\nover two lines", "data": ""},
            {"data": " leading space kept"},
            {"comment": "only a comment"},
        ],
    )
    with httpx.stream("GET", url, timeout=READ_TIMEOUT) as answer:
        body = answer.read()
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/event-stream"
    assert answer.headers["cache-control"] == "no-cache"
    assert body == (
        b"event: greeting\nid: 1\nretry: 2500\ndata: plain\n\n"
        b"data: line one\ndata: line two\ndata: line three\ndata: four\n\n"
        b'data: {"token":"Hel","n":[1,2]}\n\n'
        b": a note\n: over two lines\ndata: \n\n"
        b"data:  leading space kept\n\n"
        b": only a comment\n\n"
    )


def test_headers_of_the_response_are_sent_and_may_replace_the_defaults(cp: SessionHandle) -> None:
    url = sse(
        cp,
        events=[{"data": "x"}],
        headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"},
    )
    answer = requests.get(url, timeout=READ_TIMEOUT)
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Content-Type"] == "text/event-stream"


async def test_each_event_is_flushed_when_sent(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    # The second event is due in ten minutes: reading the first proves it was not held.
    url = sse(cp, events=[{"data": "now"}, {"data": "much later", "delay_ms": 600_000}])
    async with client.get(url) as stream:
        assert await next_event(stream) == b"data: now\n\n"


async def test_events_wait_their_delay_after_the_previous_one(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(
        cp, events=[{"data": "a"}, {"data": "b", "delay_ms": 300}, {"data": "c", "delay_ms": 300}]
    )
    async with client.get(url) as stream:
        started = time.monotonic()
        await next_event(stream)
        await next_event(stream)
        second = time.monotonic() - started
        await next_event(stream)
        third = time.monotonic() - started
        assert await stream.content.read() == b""  # and then the stream ends
    assert second >= 0.29
    assert third >= 0.59


async def test_a_pushed_event_reaches_every_open_stream_of_the_handler_in_the_session(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, events=[{"data": "hello"}], keep_open=True)
    sse(cp, handler="other", keep_open=True)
    async with client.get(url) as one, client.get(url) as two, client.get(f"{cp.mock_url}/other"):
        assert await next_event(one) == b"data: hello\n\n"
        assert await next_event(two) == b"data: hello\n\n"
        answer = await admin(
            client,
            "POST",
            f"{cp.api}/handlers/feed/events",
            {"data": {"n": 1}, "event": "tick", "id": "7"},
        )
        assert answer == {"delivered": 2}
        assert await next_event(one) == b'event: tick\nid: 7\ndata: {"n":1}\n\n'
        assert await next_event(two) == b'event: tick\nid: 7\ndata: {"n":1}\n\n'


async def test_a_push_reaches_a_stream_as_soon_as_its_call_is_journaled(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, keep_open=True)
    async with client.get(url) as stream:  # the headers are in: the call is journaled
        calls = await admin(client, "GET", f"{cp.api}/handlers/feed/calls")
        assert len(calls["calls"]) == 1
        pushed = await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "1"})
        assert pushed == {"delivered": 1}
        assert await next_event(stream) == b"data: 1\n\n"


async def test_a_push_reaches_no_stream_of_another_session(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, keep_open=True)
    other = await admin(client, "POST", cp.api.rsplit("/", 1)[0], {}, status=201)
    try:
        await admin(
            client,
            "POST",
            f"{other['admin_url']}/routes",
            {"method": "GET", "path": "/feed", "handler": "feed", "response": {"type": "sse"}},
            status=201,
        )
        async with client.get(url) as stream:
            assert stream.status == 200
            pushed = await admin(
                client, "POST", f"{other['admin_url']}/handlers/feed/events", {"data": "x"}
            )
            assert pushed == {"delivered": 0}
    finally:
        await admin(client, "DELETE", other["admin_url"], status=204)


async def test_a_push_while_the_script_waits_goes_out_at_once(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, events=[{"data": "first"}, {"data": "last", "delay_ms": 600_000}])
    async with client.get(url) as stream:
        await next_event(stream)
        await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "between"})
        assert await next_event(stream) == b"data: between\n\n"


async def test_without_keep_open_the_stream_ends_after_the_last_event(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, events=[{"data": "only"}])
    async with client.get(url) as stream:
        assert await asyncio.wait_for(stream.content.read(), READ_TIMEOUT) == b"data: only\n\n"


async def test_an_idle_stream_sends_heartbeat_comments(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, keep_open=True, heartbeat_ms=50)
    async with client.get(url) as stream:
        assert await next_event(stream) == b": heartbeat\n\n"
        assert await next_event(stream) == b": heartbeat\n\n"


async def test_heartbeats_fill_a_long_wait_for_the_next_event(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, events=[{"data": "a"}, {"data": "b", "delay_ms": 600_000}], heartbeat_ms=50)
    async with client.get(url) as stream:
        assert await next_event(stream) == b"data: a\n\n"
        assert await next_event(stream) == b": heartbeat\n\n"


def test_drop_after_breaks_the_stream_mid_body(cp: SessionHandle) -> None:
    url = sse(cp, events=[{"data": "1"}, {"data": "2"}, {"data": "3"}], drop_after=2)
    received = b""
    with (
        httpx.stream("GET", url, timeout=READ_TIMEOUT) as answer,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        for chunk in answer.iter_raw():
            received += chunk
    assert received == b"data: 1\n\ndata: 2\n\n"


def test_drop_after_zero_breaks_the_stream_before_any_event(cp: SessionHandle) -> None:
    url = sse(cp, events=[{"data": "1"}], drop_after=0)
    with httpx.stream("GET", url, timeout=READ_TIMEOUT) as answer:
        assert answer.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            answer.read()


async def received_until_broken(chunks: AsyncIterator[bytes]) -> bytes:
    """What a stream sent before it broke off (it must break)."""
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async for chunk in chunks:
            received += chunk
    return received


async def test_drop_after_counts_pushed_events(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, events=[{"data": "1"}], keep_open=True, drop_after=2)
    async with httpx.AsyncClient(timeout=READ_TIMEOUT) as http, http.stream("GET", url) as stream:
        chunks = stream.aiter_raw()
        first = await anext(chunks)
        await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "2"})
        assert first + await received_until_broken(chunks) == b"data: 1\n\ndata: 2\n\n"


async def test_a_push_that_reaches_drop_after_breaks_the_stream_and_is_recorded(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, keep_open=True, drop_after=1)
    async with httpx.AsyncClient(timeout=READ_TIMEOUT) as http, http.stream("GET", url) as stream:
        await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "1"})
        assert await received_until_broken(stream.aiter_raw()) == b"data: 1\n\n"

    async def recorded() -> bool:
        return bool(await closes(client, cp))

    await until(recorded, "the drop is recorded")
    listed = await admin(client, "GET", f"{cp.api}/handlers/feed/messages")
    assert [
        (f["direction"], f["kind"], f.get("text"), f.get("reason")) for f in listed["messages"]
    ] == [
        ("out", "event", "1", None),
        ("out", "close", None, "drop_after"),
    ]
    pushed = await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "2"})
    assert pushed == {"delivered": 0}


async def test_a_client_that_reads_nothing_holds_up_no_other_stream(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, keep_open=True)
    big = "x" * (1 << 18)  # a few of these fill what the stalled client's socket holds
    async with stalled(url), client.get(url) as reader:
        for _ in range(32):
            pushed = await asyncio.wait_for(
                admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": big}),
                READ_TIMEOUT,
            )
            assert pushed == {"delivered": 2}
            assert await next_event(reader) == f"data: {big}\n\n".encode()


async def test_a_push_puts_off_the_next_heartbeat(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, keep_open=True, heartbeat_ms=500)
    async with client.get(url) as stream:
        assert await next_event(stream) == b": heartbeat\n\n"
        # Half-way to the next heartbeat (spacing, not synchronisation): a push then
        # makes the stream busy, and the next heartbeat comes 500 ms after it.
        await asyncio.sleep(0.25)
        before_push = time.monotonic()
        await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "x"})
        assert await next_event(stream) == b"data: x\n\n"
        assert await next_event(stream) == b": heartbeat\n\n"
        assert time.monotonic() - before_push >= 0.49


def test_a_reconnect_with_last_event_id_resumes_after_that_event_and_is_journaled(
    cp: SessionHandle,
) -> None:
    events = [{"data": "1", "id": "e1"}, {"data": "2", "id": "e2"}, {"data": "3", "id": "e3"}]
    url = sse(cp, events=events)
    first = requests.get(url, timeout=READ_TIMEOUT)
    resumed = requests.get(url, headers={"Last-Event-ID": "e2"}, timeout=READ_TIMEOUT)
    unknown = requests.get(url, headers={"Last-Event-ID": "nope"}, timeout=READ_TIMEOUT)
    assert first.content.count(b"data:") == 3
    assert resumed.content == b"id: e3\ndata: 3\n\n"
    assert unknown.content == first.content  # an id the script does not have: from the start
    calls = cp.calls("feed")
    assert [call["response"]["type"] for call in calls] == ["sse"] * 3
    assert ["Last-Event-ID", "e2"] in calls[1]["headers"]


async def test_drop_then_reconnect_walks_through_the_script(cp: SessionHandle) -> None:
    url = sse(cp, events=[{"data": str(n), "id": str(n)} for n in range(1, 6)], drop_after=2)
    bodies: list[bytes] = []
    async with httpx.AsyncClient(timeout=READ_TIMEOUT) as http:
        for last in (None, "2", "4"):
            headers = {} if last is None else {"Last-Event-ID": last}
            async with http.stream("GET", url, headers=headers) as stream:
                if last == "4":  # one event left: the script ends before drop_after
                    bodies.append(await stream.aread())
                else:
                    bodies.append(await received_until_broken(stream.aiter_raw()))
    assert bodies == [
        b"id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n",
        b"id: 3\ndata: 3\n\nid: 4\ndata: 4\n\n",
        b"id: 5\ndata: 5\n\n",
    ]


async def closes(client: aiohttp.ClientSession, cp: SessionHandle) -> list[dict[str, Any]]:
    listed = await admin(client, "GET", f"{cp.api}/handlers/feed/messages")
    return [frame for frame in listed["messages"] if frame["kind"] == "close"]


async def test_a_client_that_leaves_an_idle_stream_is_forgotten_at_once(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    # Nothing is written to the idle stream, so only the socket's close can tell the server.
    url = sse(cp, events=[{"data": "hi"}], keep_open=True)
    async with client.get(url) as stream:
        await next_event(stream)

    async def recorded() -> bool:
        return bool(await closes(client, cp))

    await until(recorded, "the stream's end is recorded once its client closed it")
    [close] = await closes(client, cp)
    assert (close["direction"], close["reason"]) == ("in", "client left")
    assert "code" not in close
    pushed = await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "x"})
    assert pushed == {"delivered": 0}


async def test_the_end_of_a_stream_is_recorded_with_its_cause(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    sse(cp, events=[{"data": "1"}])
    async with client.get(f"{cp.mock_url}/feed") as stream:
        await stream.read()
    async with httpx.AsyncClient(timeout=READ_TIMEOUT) as http:
        await admin(
            client, "PUT", f"{cp.api}/handlers/feed/response", {"type": "sse", "drop_after": 0}
        )
        async with http.stream("GET", f"{cp.mock_url}/feed") as dropped:
            await received_until_broken(dropped.aiter_raw())
    await admin(
        client, "PUT", f"{cp.api}/handlers/feed/response", {"type": "sse", "keep_open": True}
    )
    async with client.get(f"{cp.mock_url}/feed") as stream:
        assert stream.status == 200
        assert await admin(client, "DELETE", f"{cp.api}/handlers/feed/connections") == {"closed": 1}
        assert await stream.read() == b""
    ends = [(c["direction"], c["reason"]) for c in await closes(client, cp)]
    assert ends == [("out", "end of events"), ("out", "drop_after"), ("out", "")]


async def test_session_reset_and_deletion_end_open_streams_cleanly(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, events=[{"data": "hi"}], keep_open=True)
    async with client.get(url) as stream:
        await next_event(stream)
        await admin(client, "POST", f"{cp.api}/reset", status=204)
        # A clean end: the chunked body is terminated, so read() returns, no error.
        assert await asyncio.wait_for(stream.content.read(), READ_TIMEOUT) == b""
    session = await admin(client, "POST", cp.api.rsplit("/", 1)[0], {}, status=201)
    await admin(
        client,
        "POST",
        f"{session['admin_url']}/routes",
        {
            "method": "GET",
            "path": "/feed",
            "handler": "feed",
            "response": {"type": "sse", "keep_open": True},
        },
        status=201,
    )
    async with client.get(f"{session['mock_url']}/feed") as stream:
        assert stream.status == 200
        await admin(client, "DELETE", session["admin_url"], status=204)
        assert await asyncio.wait_for(stream.content.read(), READ_TIMEOUT) == b""


async def test_server_shutdown_ends_open_streams_without_waiting_for_the_grace(
    client: aiohttp.ClientSession,
) -> None:
    # With a grace of a minute, an open stream left to aiohttp would hold stop() that long.
    server = ControlplaneServer(ServerConfig(port=0, admin_port=0, shutdown_grace=60))
    await server.start()
    try:
        await admin(
            client,
            "POST",
            f"{server.admin_url}/api/routes",
            {
                "method": "GET",
                "path": "/feed",
                "handler": "feed",
                "response": {"type": "sse", "keep_open": True},
            },
            status=201,
        )
        stream = await client.get(f"{server.mock_url}/feed")
        assert stream.status == 200
    finally:
        started = time.monotonic()
        await server.stop()
        took = time.monotonic() - started
    assert await asyncio.wait_for(stream.content.read(), READ_TIMEOUT) == b""
    stream.close()
    assert took < 20


async def test_messages_lists_the_events_each_stream_was_sent(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = sse(cp, events=[{"data": {"a": 1}, "event": "e", "id": "1"}], keep_open=True)
    async with client.get(url) as stream:
        await next_event(stream)
        await admin(client, "POST", f"{cp.api}/handlers/feed/events", {"data": "pushed"})
        await next_event(stream)
    listed = await admin(client, "GET", f"{cp.api}/handlers/feed/messages")
    frames = [frame for frame in listed["messages"] if frame["kind"] == "event"]
    assert listed["evicted"] == 0
    assert [
        {k: v for k, v in frame.items() if k not in ("seq", "time", "connection")}
        for frame in frames
    ] == [
        {
            "direction": "out",
            "kind": "event",
            "text": '{"a":1}',
            "json": {"a": 1},
            "event": "e",
            "id": "1",
        },
        {"direction": "out", "kind": "event", "text": "pushed"},
    ]
    assert frames[0]["connection"] == frames[1]["connection"]
    assert frames[0]["seq"] < frames[1]["seq"]


def test_an_sse_response_in_a_sequence_answers_its_turn(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/feed",
        handler="feed",
        response={
            "type": "sequence",
            "responses": [
                {"type": "sse", "events": [{"data": "first connection"}]},
                {"type": "sse", "events": [{"data": "second connection"}]},
            ],
        },
    )
    assert (
        requests.get(f"{cp.mock_url}/feed", timeout=READ_TIMEOUT).content
        == b"data: first connection\n\n"
    )
    assert (
        requests.get(f"{cp.mock_url}/feed", timeout=READ_TIMEOUT).content
        == b"data: second connection\n\n"
    )


@pytest.mark.parametrize(
    ("response", "location", "message"),
    [
        (
            {"events": [{"data": "x", "id": "a\nb"}]},
            "$.response.events[0].id",
            "`id` must be one line: CR, LF and NUL would break the event stream's framing",
        ),
        (
            {"events": [{"data": "x", "event": "a\rb"}]},
            "$.response.events[0].event",
            "`event` must be one line: CR, LF and NUL would break the event stream's framing",
        ),
        (
            {"events": [{}]},
            "$.response.events[0]",
            "an event needs at least one of data, event, id, retry, comment",
        ),
        (
            {"events": [{"data": "x", "retry": -1}]},
            "$.response.events[0].retry",
            "`retry` must be >= 0 (milliseconds), not -1",
        ),
        (
            {"events": [{"data": "x", "delay_ms": 600_001}]},
            "$.response.events[0].delay_ms",
            "`delay_ms` must be >= 0 and at most 600000 ms (10 minutes), not 600001",
        ),
        (
            {"heartbeat_ms": 0},
            "$.response.heartbeat_ms",
            "`heartbeat_ms` must be > 0 and at most 600000 ms, not 0",
        ),
        ({"drop_after": -1}, "$.response.drop_after", "`drop_after` must be >= 0 (events), not -1"),
    ],
)
def test_bad_sse_responses_are_refused_at_their_location(
    cp: SessionHandle, response: dict[str, Any], location: str, message: str
) -> None:
    route = {
        "method": "GET",
        "path": "/feed",
        "handler": "feed",
        "response": {"type": "sse", **response},
    }
    assert refused_route(cp.api, route) == (location, message)


def test_a_push_with_a_delay_or_to_an_unknown_handler_is_refused(cp: SessionHandle) -> None:
    sse(cp)
    delayed = requests.post(
        f"{cp.api}/handlers/feed/events", json={"data": "x", "delay_ms": 5}, timeout=10
    )
    assert delayed.status_code == 422
    assert delayed.json()["error"]["location"] == "$.delay_ms"
    assert delayed.json()["error"]["message"] == (
        "`delay_ms` is for a response's scripted events and messages: a push is sent at "
        "once; leave it out"
    )
    unknown = requests.post(f"{cp.api}/handlers/nope/events", json={"data": "x"}, timeout=10)
    assert unknown.status_code == 404
    assert "'nope'" in unknown.json()["error"]["message"]


def test_templated_event_data_renders_over_the_opening_request(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/chat/{room}",
        handler="chat",
        response={
            "type": "sse",
            "template": True,
            "events": [
                {"data": "hello {{request.query.user}} in {{request.pathParams.room}}", "id": "1"},
                {"data": {"room": "{{request.path.[1]}}", "n": 2, "text": "plain"}},
                {"data": 7, "event": "kept"},
            ],
        },
    )
    with httpx.stream("GET", f"{cp.mock_url}/chat/lobby?user=ann", timeout=READ_TIMEOUT) as answer:
        body = answer.read()
    assert body == (
        b"id: 1\ndata: hello ann in lobby\n\n"
        b'data: {"room":"lobby","n":2,"text":"plain"}\n\n'
        b"event: kept\ndata: 7\n\n"
    )


def test_a_bad_event_template_is_refused_at_its_event(cp: SessionHandle) -> None:
    response = {"type": "sse", "template": True, "events": [{"data": "ok"}, {"data": "{{#if}}"}]}
    answer = requests.post(
        f"{cp.api}/routes",
        json={"method": "GET", "path": "/bad", "handler": "bad", "response": response},
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["location"] == "$.response.events[1].data"


def test_without_template_event_data_is_sent_as_written(cp: SessionHandle) -> None:
    url = sse(cp, events=[{"data": "{{request.path}}"}])
    assert requests.get(url, timeout=READ_TIMEOUT).content == b"data: {{request.path}}\n\n"


def test_an_event_template_past_its_bounds_answers_500_before_the_stream(
    cp: SessionHandle,
) -> None:
    loop = "{{#each (range 1 200)}}{{#each (range 1 200)}}x{{/each}}{{/each}}"
    url = sse(cp, template=True, events=[{"data": loop}])
    answer = requests.get(url, timeout=READ_TIMEOUT)
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "template_limit"
    assert cp.calls("feed")[0]["response"]["error"] == "template_limit"
    assert cp.calls("feed")[0]["response"]["type"] == "sse"
