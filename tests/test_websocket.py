"""The `websocket` response: aiohttp's WebSocket client and our Python client, real sockets."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import requests
from controlplane_client import AsyncClient, Client, SseEvent, WsMessage

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

Frames = list[dict[str, Any]]


def websocket(cp: SessionHandle, handler: str = "chat", **response: Any) -> str:
    """Route GET /chat of the session to a `websocket` response; its URL."""
    cp.add_route(
        method="GET",
        path=f"/{handler}",
        handler=handler,
        response={"type": "websocket", **response},
    )
    return f"{cp.mock_url}/{handler}"


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        yield session


async def receive(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    return await asyncio.wait_for(ws.receive(), READ_TIMEOUT)


async def frames(client: aiohttp.ClientSession, cp: SessionHandle, handler: str = "chat") -> Frames:
    listed = await admin(client, "GET", f"{cp.api}/handlers/{handler}/messages")
    found: Frames = listed["messages"]
    return found


def brief(found: Frames) -> list[tuple[Any, ...]]:
    """(direction, kind, text or bytes or close) of each frame."""
    shown: list[tuple[Any, ...]] = []
    for frame in found:
        if frame["kind"] == "close":
            shown.append((frame["direction"], "close", frame.get("code"), frame.get("reason")))
        elif frame["kind"] == "binary":
            shown.append((frame["direction"], "binary", base64.b64decode(frame["binary_base64"])))
        else:
            shown.append((frame["direction"], frame["kind"], frame["text"]))
    return shown


async def test_on_connect_messages_come_first_in_order_text_json_and_binary(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(
        cp,
        on_connect=[
            {"text": "welcome"},
            {"json": {"type": "hello", "n": [1]}},
            {"binary_base64": base64.b64encode(b"\x00\xff").decode()},
            {"text": "ten minutes later", "delay_ms": 600_000},
        ],
    )
    async with client.ws_connect(url) as ws:
        first, second, third = await receive(ws), await receive(ws), await receive(ws)
    assert (first.type, first.data) == (aiohttp.WSMsgType.TEXT, "welcome")
    assert (second.type, second.data) == (aiohttp.WSMsgType.TEXT, '{"type":"hello","n":[1]}')
    assert (third.type, third.data) == (aiohttp.WSMsgType.BINARY, b"\x00\xff")


async def test_the_first_matching_rule_replies_and_json_subset_reads_json(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(
        cp,
        rules=[
            {"match": {"json_subset": {"op": "subscribe"}}, "reply": [{"json": {"ok": True}}]},
            {"match": "ping", "reply": [{"text": "pong"}, {"text": "pong again"}]},
            {"match": {"starts_with": "p"}, "reply": [{"text": "starts with p"}]},
            {"match": {"matches": "[0-9]+"}, "reply": [{"binary_base64": "AQI="}]},
        ],
    )
    async with client.ws_connect(url) as ws:
        await ws.send_str('{"op": "subscribe", "channel": "prices"}')
        assert (await receive(ws)).data == '{"ok":true}'
        await ws.send_str("ping")
        assert [(await receive(ws)).data for _ in range(2)] == ["pong", "pong again"]
        await ws.send_str("pear")
        assert (await receive(ws)).data == "starts with p"
        await ws.send_str("not json, matches nothing")  # no echo: no answer at all
        await ws.send_str("42")
        assert (await receive(ws)).data == b"\x01\x02"


async def test_echo_answers_what_no_rule_matched_text_and_binary(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp, rules=[{"match": "hi", "reply": [{"text": "hello"}]}], echo=True)
    async with client.ws_connect(url) as ws:
        await ws.send_str("anything")
        assert (await receive(ws)).data == "anything"
        await ws.send_bytes(b"hi")  # binary messages match no string rule
        assert (await receive(ws)).data == b"hi"
        await ws.send_str("hi")
        assert (await receive(ws)).data == "hello"


async def test_a_rule_may_close_the_connection_after_its_replies(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(
        cp,
        rules=[
            {"match": "bye", "reply": [{"text": "ciao"}], "close": {"code": 4000, "reason": "done"}}
        ],
    )
    async with client.ws_connect(url) as ws:
        await ws.send_str("bye")
        assert (await receive(ws)).data == "ciao"
        closing = await receive(ws)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert (closing.data, closing.extra) == (4000, "done")
    assert brief(await frames(client, cp)) == [
        ("in", "text", "bye"),
        ("out", "text", "ciao"),
        ("out", "close", 4000, "done"),
    ]


async def test_a_slow_reply_holds_neither_pings_nor_pushes(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp, rules=[{"match": "slow", "reply": [{"text": "late", "delay_ms": 600_000}]}])
    async with client.ws_connect(url, autoping=False) as ws:
        await ws.send_str("slow")
        await ws.ping(b"are you there")
        pong = await receive(ws)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
        pushed = await admin(client, "POST", f"{cp.api}/handlers/chat/messages", {"text": "now"})
        assert pushed == {"delivered": 1}
        assert (await receive(ws)).data == "now"


async def test_the_subprotocol_is_the_first_the_client_asks_for_that_is_offered(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp, protocols=["graphql-transport-ws", "graphql-ws"])
    async with client.ws_connect(url, protocols=("v9", "graphql-ws", "graphql-transport-ws")) as ws:
        assert ws.protocol == "graphql-ws"
    async with client.ws_connect(url, protocols=("v9",)) as ws:
        assert ws.protocol is None
    async with client.ws_connect(url) as ws:
        assert ws.protocol is None


async def test_a_pushed_message_reaches_every_open_connection_of_the_handler(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp)
    websocket(cp, handler="other")
    async with (
        client.ws_connect(url) as one,
        client.ws_connect(url) as two,
        client.ws_connect(f"{cp.mock_url}/other") as other,
    ):
        for message, expected in (
            ({"json": {"price": 3}}, '{"price":3}'),
            ({"binary_base64": "AAE="}, b"\x00\x01"),
        ):
            pushed = await admin(client, "POST", f"{cp.api}/handlers/chat/messages", message)
            assert pushed == {"delivered": 2}
            assert (await receive(one)).data == expected
            assert (await receive(two)).data == expected
        assert await admin(client, "POST", f"{cp.api}/handlers/other/messages", {"text": "x"}) == {
            "delivered": 1
        }
        assert (await receive(other)).data == "x"
    events = await admin(client, "POST", f"{cp.api}/handlers/chat/events", {"data": "x"})
    assert events == {"delivered": 0}  # an event is for sse streams only


async def test_a_client_that_reads_nothing_holds_up_neither_the_push_nor_the_others(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp)
    big = "x" * (1 << 18)  # a few of these fill what the stalled client's socket holds
    async with stalled(url, upgrade=True), client.ws_connect(url) as reader:
        for _ in range(32):
            pushed = await asyncio.wait_for(
                admin(client, "POST", f"{cp.api}/handlers/chat/messages", {"text": big}),
                READ_TIMEOUT,
            )
            assert pushed == {"delivered": 2}
            assert (await receive(reader)).data == big


async def test_a_push_reaches_a_client_that_agreed_on_compression(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp, echo=True)
    async with client.ws_connect(url, compress=15) as ws:
        assert ws.compress == 15  # permessage-deflate agreed
        pushed = await admin(client, "POST", f"{cp.api}/handlers/chat/messages", {"text": "now"})
        assert pushed == {"delivered": 1}
        assert (await receive(ws)).data == "now"  # sent uncompressed, as RFC 7692 allows
        await ws.send_str("again")
        assert (await receive(ws)).data == "again"  # an echo, compressed by aiohttp


async def test_closing_the_connections_of_a_handler_sends_the_code_and_reason(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp)
    async with client.ws_connect(url) as one, client.ws_connect(url) as two:
        closed = await admin(
            client, "DELETE", f"{cp.api}/handlers/chat/connections?code=4001&reason=maintenance"
        )
        assert closed == {"closed": 2}
        for ws in (one, two):
            closing = await receive(ws)
            assert (closing.type, closing.data, closing.extra) == (
                aiohttp.WSMsgType.CLOSE,
                4001,
                "maintenance",
            )
    assert await admin(client, "DELETE", f"{cp.api}/handlers/chat/connections") == {"closed": 0}


@pytest.mark.parametrize(
    ("query", "location", "message"),
    [
        (
            "code=1006",
            "?code",
            "`code` must be a close code a server may send (1000-1003, 1007-1014, "
            "3000-4999), not 1006",
        ),
        ("code=x", "?code", "`code` must be a whole number >= 0, got 'x'"),
        (
            "reason=" + "r" * 124,
            "?reason",
            "`reason` is at most 123 bytes (UTF-8): it must fit a control frame",
        ),
    ],
)
def test_a_bad_close_code_or_reason_is_refused(
    cp: SessionHandle, query: str, location: str, message: str
) -> None:
    websocket(cp)
    answer = requests.delete(f"{cp.api}/handlers/chat/connections?{query}", timeout=10)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["location"], error["message"]) == (location, message)


async def test_every_frame_in_and_out_is_listed_with_its_connection_oldest_first(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp, on_connect=[{"text": "hi"}], echo=True)
    async with client.ws_connect(url) as first:
        await receive(first)
        async with client.ws_connect(url) as second:
            await receive(second)
            await first.send_json({"from": "first"})
            await receive(first)
            await second.send_bytes(b"\x02")
            await receive(second)
    # The client's close frames arrive as the connections end.

    async def both_closed() -> bool:
        return sum(f["kind"] == "close" for f in await frames(client, cp)) == 2

    await until(both_closed, "both close frames are recorded")
    found = await frames(client, cp)
    assert [f["seq"] for f in found] == sorted(f["seq"] for f in found)
    by_connection: dict[str, list[tuple[Any, ...]]] = {}
    for frame, shown in zip(found, brief(found), strict=True):
        by_connection.setdefault(frame["connection"], []).append(shown)
    assert list(by_connection.values()) == [
        [
            ("out", "text", "hi"),
            ("in", "text", '{"from": "first"}'),
            ("out", "text", '{"from": "first"}'),
            ("in", "close", 1000, ""),
        ],
        [
            ("out", "text", "hi"),
            ("in", "binary", b"\x02"),
            ("out", "binary", b"\x02"),
            ("in", "close", 1000, ""),
        ],
    ]
    incoming = next(f for f in found if f["direction"] == "in" and f["kind"] == "text")
    assert incoming["json"] == {"from": "first"}
    assert found[0]["time"].endswith("Z")


async def test_the_frame_log_is_bounded_like_the_journal_and_counts_what_it_dropped(
    client: aiohttp.ClientSession,
) -> None:
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0, journal_size=3)) as server:
        api = f"{server.admin_url}/api"
        route = {
            "method": "GET",
            "path": "/chat",
            "handler": "chat",
            "response": {"type": "websocket", "echo": True},
        }
        await admin(client, "POST", f"{api}/routes", route, status=201)
        async with client.ws_connect(f"{server.mock_url}/chat") as ws:
            for n in range(3):
                await ws.send_str(str(n))
                await receive(ws)
            listed = await admin(client, "GET", f"{api}/handlers/chat/messages")
        assert listed["evicted"] == 3  # 6 frames through a log of 3: the newest 3 kept
        assert brief(listed["messages"]) == [
            ("out", "text", "1"),
            ("in", "text", "2"),
            ("out", "text", "2"),
        ]
        await admin(client, "DELETE", f"{api}/requests", status=204)
        assert await admin(client, "GET", f"{api}/handlers/chat/messages") == {
            "messages": [],
            "evicted": 0,
            "next": None,
        }


async def test_the_upgrade_is_journaled_as_a_call_answered_101(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp)
    async with client.ws_connect(url, headers={"X-Trace": "t1"}) as ws:
        await ws.close()
    [call] = cp.calls("chat")
    assert call["response"] == {"status": 101, "type": "websocket", "delay_ms": 0.0, "error": None}
    assert ["X-Trace", "t1"] in call["headers"]
    assert ["Upgrade", "websocket"] in call["headers"]


def test_a_plain_request_to_a_websocket_handler_is_answered_426(cp: SessionHandle) -> None:
    url = websocket(cp)
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 426
    assert answer.headers["Upgrade"] == "websocket"
    assert answer.json()["error"]["code"] == "websocket_upgrade_required"
    [call] = cp.calls("chat")
    assert call["response"]["error"] == "websocket_upgrade_required"
    assert call["response"]["status"] == 426


async def test_the_response_delay_holds_the_first_message_not_the_upgrade(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp, on_connect=[{"text": "late"}], delay={"fixed_ms": 1500})
    started = time.monotonic()
    async with client.ws_connect(url) as ws:
        upgraded = time.monotonic() - started
        assert (await receive(ws)).data == "late"
    first = time.monotonic() - started
    # Applied once (twice would be 3 s): the wide bound is for a loaded machine.
    assert upgraded < 1.4
    assert 1.49 <= first < 2.9
    [call] = cp.calls("chat")
    assert call["response"]["delay_ms"] == 1500


async def test_session_reset_and_deletion_close_open_connections_with_1001(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp)
    async with client.ws_connect(url) as ws:
        await admin(client, "POST", f"{cp.api}/reset", status=204)
        closing = await receive(ws)
        assert (closing.data, closing.extra) == (1001, "session reset")
    session = await admin(client, "POST", cp.api.rsplit("/", 1)[0], {}, status=201)
    route = {"method": "GET", "path": "/chat", "handler": "chat", "response": {"type": "websocket"}}
    await admin(client, "POST", f"{session['admin_url']}/routes", route, status=201)
    async with client.ws_connect(f"{session['mock_url']}/chat") as ws:
        await admin(client, "DELETE", session["admin_url"], status=204)
        closing = await receive(ws)
        assert (closing.data, closing.extra) == (1001, "session deleted")


async def test_removing_the_last_route_of_a_handler_closes_its_connections(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp)
    [route] = (await admin(client, "GET", f"{cp.api}/routes"))["routes"]
    async with client.ws_connect(url) as ws:
        await admin(client, "DELETE", f"{cp.api}/routes/{route['id']}", status=204)
        closing = await receive(ws)
        assert (closing.data, closing.extra) == (1001, "handler removed")
    websocket(cp)
    async with client.ws_connect(url) as ws:
        await admin(client, "DELETE", f"{cp.api}/routes", status=204)
        closing = await receive(ws)
        assert (closing.data, closing.extra) == (1001, "handler removed")


async def test_server_shutdown_closes_open_connections_with_1001(
    client: aiohttp.ClientSession,
) -> None:
    server = ControlplaneServer(ServerConfig(port=0, admin_port=0, shutdown_grace=60))
    await server.start()
    try:
        route = {
            "method": "GET",
            "path": "/chat",
            "handler": "chat",
            "response": {"type": "websocket"},
        }
        await admin(client, "POST", f"{server.admin_url}/api/routes", route, status=201)
        ws = await client.ws_connect(f"{server.mock_url}/chat")
        # The client must read for the close handshake to finish: read while stopping.
        closing = asyncio.ensure_future(receive(ws))
    finally:
        started = time.monotonic()
        await server.stop()
        took = time.monotonic() - started
    message = await closing
    assert (message.data, message.extra) == (1001, "server shutdown")
    await ws.close()
    assert took < 20


def test_assert_received_passes_on_a_received_message_and_explains_a_miss(
    cp: SessionHandle,
) -> None:
    url = websocket(cp)
    admin_client = Client(cp.api.rsplit("/api/", 1)[0], session=cp.id)

    async def talk() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.send_json({"op": "buy", "qty": 2})
            await ws.send_str("plain")
            assert admin_client.push_message("chat", WsMessage(text="x")) == 1
            await receive(ws)

    asyncio.run(talk())
    admin_client.assert_received("chat", json={"op": "buy", "qty": 2})
    admin_client.assert_received("chat", text="plain")
    with pytest.raises(AssertionError) as failed:
        admin_client.assert_received("chat", json={"op": "sell"})
    # Seqs are 1 and 2 in one process; with --state they follow the clock.
    one, two, *_ = (f.seq for f in admin_client.messages("chat") if f.direction == "in")
    assert str(failed.value) == (
        'expected handler \'chat\' to receive a message with json {"op": "sell"}; '
        "it received 2, none matching (latest 2):\n"
        f'  #{one} text \'{{"op": "buy", "qty": 2}}\'\n'
        f"  #{two} text 'plain'"
    )
    kinds = [(f.direction, f.kind) for f in admin_client.messages("chat")]
    assert kinds[:3] == [("in", "text"), ("in", "text"), ("out", "text")]
    assert (
        admin_client.close_connections("chat", 4000) == 0
    )  # the client left already, or closes now


@pytest.mark.parametrize(
    ("response", "location", "message"),
    [
        (
            {"on_connect": [{"text": "a", "json": 1}]},
            "$.response.on_connect[0]",
            "a message takes exactly one of text, json, binary_base64 (found: text, json)",
        ),
        (
            {"on_connect": [{}]},
            "$.response.on_connect[0]",
            "a message takes exactly one of text, json, binary_base64 (found: none)",
        ),
        (
            {"on_connect": [{"binary_base64": "***"}]},
            "$.response.on_connect[0].binary_base64",
            "`binary_base64` is not valid base64",
        ),
        (
            {"rules": [{"match": {"json_subset": {}, "contains": "x"}}]},
            "$.response.rules[0].match",
            "give `json_subset` or a string operator, not both (found: contains)",
        ),
        (
            {"rules": [{"match": "x", "close": {"code": 1005}}]},
            "$.response.rules[0].close.code",
            "`code` must be a close code a server may send (1000-1003, 1007-1014, "
            "3000-4999), not 1005",
        ),
        (
            {"protocols": ["a b"]},
            "$.response.protocols",
            "`protocols`: 'a b' is not a valid subprotocol name (a token)",
        ),
    ],
)
def test_bad_websocket_responses_are_refused_at_their_location(
    cp: SessionHandle, response: dict[str, Any], location: str, message: str
) -> None:
    route = {
        "method": "GET",
        "path": "/c",
        "handler": "c",
        "response": {"type": "websocket", **response},
    }
    assert refused_route(cp.api, route) == (location, message)


async def test_the_async_client_pushes_lists_asserts_and_closes(
    cp: SessionHandle, client: aiohttp.ClientSession
) -> None:
    url = websocket(cp, echo=True)
    sse_url = f"{cp.mock_url}/feed"
    cp.add_route(
        method="GET", path="/feed", handler="feed", response={"type": "sse", "keep_open": True}
    )
    async with AsyncClient(cp.api.rsplit("/api/", 1)[0]) as admin_client:
        session = admin_client.session(cp.id)
        async with client.ws_connect(url) as ws, client.get(sse_url) as stream:
            assert await session.push_message("chat", WsMessage(json={"a": 1})) == 1
            assert (await receive(ws)).data == '{"a":1}'
            assert await session.push_event("feed", SseEvent(data="e", event="tick")) == 1
            assert await next_event(stream) == b"event: tick\ndata: e\n\n"
            await ws.send_bytes(b"\x07")
            assert (await receive(ws)).data == b"\x07"
            await session.assert_received("chat", binary=b"\x07")
            with pytest.raises(AssertionError, match="to receive a message with text 'x'"):
                await session.assert_received("chat", text="x")
            listed = await session.messages("chat")
            assert [(f.direction, f.kind) for f in listed] == [
                ("out", "text"),
                ("in", "binary"),
                ("out", "binary"),
            ]
            assert await session.close_connections("chat", 4002, "over") == 1
            closing = await receive(ws)
            assert (closing.data, closing.extra) == (4002, "over")
