"""Route `webhooks`: HTTP calls made after the mock response, to a real receiving server.

Each test runs a controlplane server and a `Receiver` in its own event loop and talks
to both over sockets.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from controlplane_client import (
    AsyncClient,
    Client,
    JsonResponse,
    Route,
    Webhook,
    WebhookList,
    fixed_delay,
)
from multidict import CIMultiDict

from controlplane import wire
from controlplane.pytest_plugin import ServerInfo
from controlplane.request_view import RequestView
from controlplane.server import ControlplaneServer, ServerConfig
from controlplane.webhooks import MAX_IN_FLIGHT, WebhookLog, Webhooks, compile_webhooks
from tests.origins import Origin
from tests.webhook_support import Receiver, closed_port, finished_webhooks


@dataclass
class Setup:
    server: ControlplaneServer
    receiver: Receiver
    http: aiohttp.ClientSession

    @property
    def api(self) -> str:
        return self.server.admin_url + "/api"

    async def route(self, **route: Any) -> None:
        async with self.http.post(f"{self.api}/routes", json=route) as answer:
            assert answer.status == 201, await answer.text()


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server,
        Receiver() as receiver,
        aiohttp.ClientSession(timeout=timeout) as http,
    ):
        yield Setup(server, receiver, http)


def order_route(webhooks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/orders",
        "handler": "create_order",
        "response": {"type": "json", "status": 201, "body": {"ok": True}},
        "webhooks": webhooks,
        **extra,
    }


async def test_the_webhook_arrives_with_its_rendered_method_url_headers_and_body(
    setup: Setup,
) -> None:
    hook = {
        "method": "put",
        "url": setup.receiver.url + "/orders/{{jsonPath originalRequest.body '$.id'}}?via="
        "{{request.method}}",
        "headers": {"X-Order": "{{originalRequest.headers.X-Customer}}", "X-Fixed": "1"},
        "body": "order {{jsonPath originalRequest.body '$.id'}} for {{request.query.shop}}",
    }
    json_hook = {
        "method": "POST",
        "url": setup.receiver.url + "/events",
        "json": {"event": "created", "id": "{{jsonPath originalRequest.body '$.id'}}", "n": 1},
    }
    await setup.route(**order_route([hook, json_hook]))
    async with setup.http.post(
        setup.server.mock_url + "/orders?shop=north",
        json={"id": "A7"},
        headers={"X-Customer": "ann"},
    ) as answer:
        assert answer.status == 201
        assert await answer.json() == {"ok": True}

    first, second = await setup.receiver.arrival(), await setup.receiver.arrival()
    by_path = {first.path_qs: first, second.path_qs: second}
    put = by_path["/orders/A7?via=POST"]
    assert put.method == "PUT"
    assert put.body == b"order A7 for north"
    assert put.headers["X-Order"] == "ann"
    assert put.headers["X-Fixed"] == "1"
    event = by_path["/events"]
    assert event.method == "POST"
    assert event.headers["Content-Type"] == "application/json"
    assert event.body == b'{"event":"created","id":"A7","n":1}'

    listing = await finished_webhooks(setup.http, setup.api, 2)
    assert listing["evicted"] == 0
    calls = sorted(listing["webhooks"], key=lambda call: call["webhook"])
    assert [c["seq"] for c in listing["webhooks"]] == [1, 2]
    for call in calls:
        assert call["session"] == "default"
        assert call["handler"] == "create_order"
        assert call["status"] == 204
        assert call["error"] is None and call["message"] is None
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", call["time"]), call["time"]
        assert call["duration_ms"] >= 0
    assert calls[0]["method"] == "PUT"
    assert calls[0]["url"] == setup.receiver.url + "/orders/A7?via=POST"
    assert calls[1]["url"] == setup.receiver.url + "/events"


async def test_a_slow_receiver_does_not_delay_the_mock_response(setup: Setup) -> None:
    setup.receiver.hold()
    await setup.route(**order_route([{"method": "POST", "url": setup.receiver.url + "/slow"}]))
    # The receiver answers nothing until released, after the mock response was read.
    async with setup.http.post(setup.server.mock_url + "/orders", json={}) as answer:
        assert answer.status == 201
        assert await answer.json() == {"ok": True}
    arrived = await setup.receiver.arrival()
    assert arrived.path_qs == "/slow"
    async with setup.http.get(f"{setup.api}/webhooks") as pending:
        assert (await pending.json()) == {"webhooks": [], "pending": 1, "evicted": 0}
    setup.receiver.release()
    listing = await finished_webhooks(setup.http, setup.api, 1)
    assert listing["webhooks"][0]["status"] == 204


async def test_a_receiver_slower_than_the_timeout_is_recorded_as_timeout(setup: Setup) -> None:
    setup.receiver.hold()
    hook = {"method": "POST", "url": setup.receiver.url + "/stall", "timeout_ms": 200}
    await setup.route(**order_route([hook]))
    async with setup.http.post(setup.server.mock_url + "/orders", json={}) as answer:
        assert answer.status == 201
    [call] = (await finished_webhooks(setup.http, setup.api, 1))["webhooks"]
    assert call["status"] is None
    assert call["error"] == "timeout"
    assert call["message"] == "no answer within 200 ms"
    assert call["duration_ms"] >= 150
    assert len(setup.receiver.received) == 1  # it did arrive; its answer did not


async def test_an_unreachable_target_is_recorded_as_unreachable(setup: Setup) -> None:
    url = f"http://127.0.0.1:{closed_port()}/gone"
    await setup.route(**order_route([{"method": "POST", "url": url}]))
    async with setup.http.post(setup.server.mock_url + "/orders", json={}) as answer:
        assert answer.status == 201
    [call] = (await finished_webhooks(setup.http, setup.api, 1))["webhooks"]
    assert call["url"] == url
    assert call["status"] is None
    assert call["error"] == "unreachable"
    assert call["message"].startswith("cannot connect: ")


async def test_a_url_that_renders_to_no_url_is_recorded_as_invalid_url(setup: Setup) -> None:
    hook = {"method": "POST", "url": "{{originalRequest.headers.X-Target}}"}
    await setup.route(**order_route([hook]))
    async with setup.http.post(
        setup.server.mock_url + "/orders", headers={"X-Target": "ftp://x/y"}
    ) as answer:
        assert answer.status == 201
    [call] = (await finished_webhooks(setup.http, setup.api, 1))["webhooks"]
    assert call["error"] == "invalid_url"
    assert call["message"] == ("`url` must be an absolute http:// or https:// URL, got 'ftp://x/y'")
    assert call["url"] == ""


async def test_a_render_past_its_bounds_is_recorded_and_not_sent(setup: Setup) -> None:
    body = "{{#each (range 0 20000)}}x{{/each}}"
    await setup.route(**order_route([{"method": "POST", "url": setup.receiver.url, "body": body}]))
    async with setup.http.post(setup.server.mock_url + "/orders") as answer:
        assert answer.status == 201
    [call] = (await finished_webhooks(setup.http, setup.api, 1))["webhooks"]
    assert call["error"] == "template_limit"
    assert call["message"] == "`range 0 20000` has 20001 numbers; at most 10000"
    assert setup.receiver.received == []


async def test_the_delay_is_waited_before_the_call(setup: Setup) -> None:
    hook = {"method": "POST", "url": setup.receiver.url, "delay": {"fixed_ms": 400}}
    await setup.route(**order_route([hook]))
    async with setup.http.post(setup.server.mock_url + "/orders") as answer:
        assert answer.status == 201
        answered = time.monotonic()
    await setup.receiver.arrival()
    waited = time.monotonic() - answered
    assert 0.3 <= waited < 8, waited


async def test_at_most_max_in_flight_calls_are_on_the_wire_at_once(setup: Setup) -> None:
    count = MAX_IN_FLIGHT + 4
    setup.receiver.hold()
    await setup.route(**order_route([{"method": "POST", "url": setup.receiver.url}]))
    for _ in range(count):
        async with setup.http.post(setup.server.mock_url + "/orders") as answer:
            assert answer.status == 201
    for _ in range(MAX_IN_FLIGHT):
        await setup.receiver.arrival()
    async with setup.http.get(f"{setup.api}/webhooks") as listing:
        assert (await listing.json())["pending"] == count
    await asyncio.sleep(0.2)  # room for a call beyond the bound to arrive, were there one
    assert len(setup.receiver.received) == MAX_IN_FLIGHT
    setup.receiver.release()
    listing_done = await finished_webhooks(setup.http, setup.api, count)
    assert [c["status"] for c in listing_done["webhooks"]] == [204] * count
    assert setup.receiver.most_at_once == MAX_IN_FLIGHT


async def test_webhooks_follow_a_fault_too(setup: Setup) -> None:
    route = order_route([{"method": "POST", "url": setup.receiver.url + "/after-fault"}])
    route["response"] = {"type": "fault", "fault": "connection_reset"}
    await setup.route(**route)
    with pytest.raises(aiohttp.ClientError):
        async with setup.http.post(setup.server.mock_url + "/orders") as answer:
            await answer.read()
    assert (await setup.receiver.arrival()).path_qs == "/after-fault"


@pytest.mark.parametrize(
    ("hook", "location", "message"),
    [
        (
            {"body": "{{#if}}"},
            "$.webhooks[1].body",
            "template syntax error",
        ),
        (
            {"headers": {"X-A": "{{nosuchhelper 1}}"}},
            '$.webhooks[1].headers["X-A"]',
            "unknown helper `nosuchhelper`",
        ),
        (
            {"url": "http://x/{{#each}}"},
            "$.webhooks[1].url",
            "template syntax error",
        ),
        (
            {"json": {"a": ["{{#if}}"]}},
            "$.webhooks[1].json.a[0]",
            "template syntax error",
        ),
    ],
)
async def test_a_template_syntax_error_is_a_422_at_its_field(
    setup: Setup, hook: dict[str, Any], location: str, message: str
) -> None:
    good = {"method": "POST", "url": setup.receiver.url}
    async with setup.http.post(
        f"{setup.api}/routes", json=order_route([good, {**good, **hook}])
    ) as refused:
        assert refused.status == 422
        error = (await refused.json())["error"]
    assert error["location"] == location
    assert message in error["message"]
    async with setup.http.get(f"{setup.api}/routes") as routes:
        assert (await routes.json())["routes"] == []


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ({"url": "/relative"}, "`url` must be an absolute http:// or https:// URL"),
        ({"body": "a", "json": {}}, "give `body` and `json`, not both"),
        ({"timeout_ms": 0}, "`timeout_ms` must be > 0 and at most 60000"),
        ({"method": "GE T"}, "`method` must be an HTTP method"),
        ({"headers": {"X-A": "a\r\nb"}}, "control character"),
        ({"headers": {"X-A": ["ok", "a\x00"]}}, "control character"),
        ({"headers": {"X A": "1"}}, "'X A' is an invalid header name"),
        ({"body_base64": "AAE"}, "`body_base64` is not valid base64"),
    ],
)
async def test_a_bad_webhook_is_a_422_at_it(
    setup: Setup, hook: dict[str, Any], message: str
) -> None:
    spec = {"method": "POST", "url": setup.receiver.url, **hook}
    async with setup.http.post(
        f"{setup.api}/routes", json=[order_route([]), order_route([spec], path="/b")]
    ) as refused:
        assert refused.status == 422
        error = (await refused.json())["error"]
    assert error["location"].startswith("$[1].webhooks[0]"), error
    assert message in error["message"]


async def test_the_log_is_per_session_and_cleared_by_delete_and_reset(setup: Setup) -> None:
    await setup.route(**order_route([{"method": "POST", "url": setup.receiver.url}]))
    async with setup.http.post(f"{setup.api}/sessions", json={"id": "other"}) as created:
        other = (await created.json())["admin_url"]
    async with setup.http.post(setup.server.mock_url + "/orders") as answer:
        assert answer.status == 201
    await finished_webhooks(setup.http, setup.api, 1)
    async with setup.http.get(f"{other}/webhooks") as listing:
        assert await listing.json() == {"webhooks": [], "pending": 0, "evicted": 0}
    async with setup.http.delete(f"{setup.api}/webhooks") as cleared:
        assert cleared.status == 204
    async with setup.http.get(f"{setup.api}/webhooks") as listing:
        assert (await listing.json())["webhooks"] == []
    async with setup.http.post(setup.server.mock_url + "/orders") as answer:
        assert answer.status == 201
    await finished_webhooks(setup.http, setup.api, 1)
    async with setup.http.post(f"{setup.api}/reset") as reset:
        assert reset.status == 204
    async with setup.http.get(f"{setup.api}/webhooks") as listing:
        assert (await listing.json())["webhooks"] == []


async def test_a_route_echoes_its_webhooks_and_replacing_it_drops_them(setup: Setup) -> None:
    hook = {"method": "POST", "url": setup.receiver.url, "delay": {"fixed_ms": 5}}
    await setup.route(id="r1", **order_route([hook]))
    async with setup.http.get(f"{setup.api}/routes/r1") as got:
        assert (await got.json())["webhooks"] == [
            {"method": "POST", "url": setup.receiver.url, "delay": {"fixed_ms": 5}}
        ]
    replacement = order_route([])
    del replacement["webhooks"]
    async with setup.http.put(f"{setup.api}/routes/r1", json=replacement) as put:
        assert put.status == 200
        assert "webhooks" not in await put.json()
    async with setup.http.post(setup.server.mock_url + "/orders") as answer:
        assert answer.status == 201
    async with setup.http.get(f"{setup.api}/webhooks") as listing:
        assert await listing.json() == {"webhooks": [], "pending": 0, "evicted": 0}


def order(*webhooks: Webhook) -> Route:
    return Route(
        method="POST",
        path="/orders",
        handler="create_order",
        response=JsonResponse({"ok": True}, status=201),
        webhooks=list(webhooks),
    )


def test_the_python_client_adds_webhooks_and_lists_their_calls(controlplane: Client) -> None:
    with Origin() as origin:
        hook = Webhook(method="GET", url=origin.url + "/count", delay=fixed_delay(1))
        route = controlplane.add_route(order(hook))
        assert route.webhooks == [hook]
        assert requests.post(f"{controlplane.mock_url}/orders", timeout=10).status_code == 201
        for _ in range(5000):  # bounded: each round is one admin round trip
            listing = controlplane.webhooks()
            if listing.pending == 0 and listing.webhooks:
                break
    [call] = listing.webhooks
    assert (call.method, call.url, call.status, call.error) == (
        "GET",
        origin.url + "/count",
        200,
        None,
    )
    controlplane.clear_webhooks()
    assert controlplane.webhooks() == WebhookList(webhooks=[], pending=0, evicted=0)


async def test_the_async_client_lists_and_clears_webhook_calls(
    controlplane_server: ServerInfo,
) -> None:
    async with AsyncClient(controlplane_server.admin_url) as client:
        session = await client.create_session()
        try:
            hook = Webhook(method="POST", url=f"http://127.0.0.1:{closed_port()}/x")
            await session.add_route(order(hook))
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{session.mock_url}/orders") as answer,
            ):
                assert answer.status == 201
            for _ in range(5000):  # bounded: each round is one admin round trip
                listing = await session.webhooks()
                if listing.pending == 0 and listing.webhooks:
                    break
            assert [c.error for c in listing.webhooks] == ["unreachable"]
            await session.clear_webhooks()
            assert (await session.webhooks()).webhooks == []
        finally:
            await session.delete_session()


def cookbook_blocks() -> list[str]:
    """The JSON blocks of templating.md's "Webhook after order creation" entry."""
    doc = (Path(__file__).resolve().parent.parent / "docs/reference/templating.md").read_text()
    entry = doc.split("### Webhook after order creation\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```json\n(.*?)^```$", entry, re.M | re.S)


@pytest.mark.parametrize("dialect", ["native", "wiremock"])
async def test_the_cookbook_webhook_after_order_creation_works(setup: Setup, dialect: str) -> None:
    native, stub = cookbook_blocks()
    block = native if dialect == "native" else stub
    spec = json.loads(block.replace("http://127.0.0.1:9000", setup.receiver.url))
    where = (
        f"{setup.api}/routes"
        if dialect == "native"
        else f"{setup.server.admin_url}/__admin/mappings"
    )
    async with setup.http.post(where, json=spec) as added:
        assert added.status == 201, await added.text()
    async with setup.http.post(
        setup.server.mock_url + "/orders", json={"id": "o-1", "total": 30}
    ) as answer:
        assert answer.status == 201
        assert await answer.json() == {"id": "o-1", "status": "accepted"}
    got = await setup.receiver.arrival()
    assert (got.method, got.path_qs) == ("POST", "/hooks/orders")
    assert got.headers["X-Order-Id"] == "o-1"
    assert got.headers["Content-Type"] == "application/json"
    expected = {"event": "order.created", "id": "o-1"}
    if dialect == "native":
        expected["total"] = "30"
    assert json.loads(got.body) == expected
    [call] = (await finished_webhooks(setup.http, setup.api, 1))["webhooks"]
    assert call["status"] == 204


async def test_calls_beyond_max_pending_are_logged_overloaded_and_not_made() -> None:
    # The sender itself, with small bounds (the server's are 16 and 1000).
    sender = Webhooks(max_in_flight=1, max_pending=2)
    log = WebhookLog("s", 10)
    async with Receiver() as receiver:
        receiver.hold()
        hooks = compile_webhooks([wire.Webhook(method="POST", url=receiver.url + "/h")])
        view = RequestView("POST", "/orders", "", CIMultiDict(), b"")
        for _ in range(3):
            sender.fire(log, hooks, view, {}, "r1", "h")
        [overloaded] = list(log)
        assert (overloaded.error, overloaded.url, overloaded.status) == ("overloaded", "", None)
        assert overloaded.message == (
            "2 webhook calls are under way already: this one was not made"
        )
        assert log.pending == 2
        await receiver.arrival()
        receiver.release()
        await receiver.arrival()
        await sender.close()
    assert [c.status for c in log] == [None, 204, 204]
    assert log.pending == 0 and receiver.most_at_once == 1


async def test_closing_the_sender_cancels_calls_under_way() -> None:
    sender = Webhooks()
    log = WebhookLog("s", 10)
    async with Receiver() as receiver:
        receiver.hold()
        hooks = compile_webhooks(
            [wire.Webhook(method="POST", url=receiver.url, delay=wire.Delay(fixed_ms=60_000))]
        )
        sender.fire(log, hooks, RequestView("GET", "/", "", CIMultiDict(), b""), {}, "r", "h")
        assert log.pending == 1
        await sender.close()
    assert log.pending == 0 and list(log) == [] and receiver.received == []
