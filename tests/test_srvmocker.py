"""asyncly's `srvmocker` API, unchanged, against a real controlplane server."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import pytest
import trustme
from yarl import URL

from controlplane.srvmocker import (
    DisconnectResponse,
    JsonResponse,
    LatencyResponse,
    Match,
    MockRoute,
    RawResponse,
    SequenceResponse,
    UnknownHandlerError,
    start_service,
)


async def test_fetch_fact() -> None:
    # The seed's example, as written.
    routes = [MockRoute("GET", "/fact", "fact")]
    async with start_service(routes) as service:
        service.register("fact", JsonResponse({"fact": "Meow.", "length": 5}))
        async with aiohttp.ClientSession() as http, http.get(service.url / "fact") as answer:
            assert await answer.json() == {"fact": "Meow.", "length": 5}
        service.assert_called("fact", times=1)


async def test_match_distinguishes_routes_sharing_method_and_path() -> None:
    routes = [
        MockRoute("POST", "/pay", "fallback"),  # no match: tried after the others
        MockRoute("POST", "/pay", "big", match=Match(json={"amount": 1000})),
        MockRoute(
            "POST", "/pay", "tenant", match=Match(headers={"x-tenant": "a"}, query={"v": "2"})
        ),
        MockRoute("POST", "/pay", "raw", match=Match(body=b"\x00\x01")),
    ]
    async with start_service(routes) as service:
        for name in ("fallback", "big", "tenant", "raw"):
            service.register(name, JsonResponse(name))
        async with aiohttp.ClientSession() as http:

            async def pay(**kwargs: object) -> str:
                async with http.post(service.url / "pay", **kwargs) as answer:  # type: ignore[arg-type]
                    return str(await answer.json())

            assert await pay(json={"amount": 1000}) == "big"
            assert (
                await pay(json={"amount": 1}, headers={"X-Tenant": "a"}, params={"v": "2"})
                == "tenant"
            )
            assert await pay(data=b"\x00\x01") == "raw"
            assert await pay(json={"amount": 1}) == "fallback"
        call = service.last_call("raw")
        assert call.body == b"\x00\x01" and call.handler_name == "raw"
        tenant = service.last_call("tenant")
        assert tenant.headers["X-TENANT"] == "a" and tenant.query["v"] == "2"
        assert tenant.url.path == "/pay" and tenant.json() == {"amount": 1}
        service.assert_called("big", json={"amount": 1000})
        service.assert_called("fallback", times=1)


async def test_sequence_latency_and_re_registering_mid_test() -> None:
    routes = [MockRoute("GET", "/retry", "retry"), MockRoute("GET", "/slow", "slow")]
    async with start_service(routes) as service:
        service.register(
            "retry", SequenceResponse([RawResponse(b"busy", status=503), JsonResponse("ok")])
        )
        service.register("slow", LatencyResponse(JsonResponse("late"), 0.2))
        async with aiohttp.ClientSession() as http:
            statuses = []
            for _ in range(3):
                async with http.get(service.url / "retry") as answer:
                    statuses.append(answer.status)
            assert statuses == [503, 200, 500]  # on_exhausted="raise"

            # The slow answer does not hold up the loop, nor other requests.
            slow = asyncio.ensure_future(http.get(service.url / "slow"))
            service.register("retry", JsonResponse("again"))  # sync call, from the test's loop
            async with http.get(service.url / "retry") as answer:
                assert await answer.json() == "again"
            assert not slow.done()
            async with await slow as answer:
                assert await answer.json() == "late"
        assert len(service.get_calls("retry")) == 4


async def test_unknown_handler_and_disconnect() -> None:
    routes = [MockRoute("GET", "/gone", "gone"), MockRoute("GET", "/idle", "idle")]
    async with start_service(routes) as service:
        with pytest.raises(UnknownHandlerError, match="'nope'"):
            service.register("nope", JsonResponse(1))
        service.register("gone", DisconnectResponse())
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await http.get(service.url / "gone")
        service.assert_called("gone")  # aiohttp retries a GET once on a dropped connection
        service.assert_not_called("idle")
        with pytest.raises(AssertionError, match="never called"):
            service.last_call("idle")
    assert isinstance(service.url, URL)


def test_empty_sequence_is_refused() -> None:
    with pytest.raises(ValueError):
        SequenceResponse([])


async def test_ssl_context_serves_https(tmp_path: Path) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with start_service([MockRoute("GET", "/s", "s")], ssl_context=server_context) as service:
        assert service.url.scheme == "https"
        service.register("s", JsonResponse({"secure": True}))
        async with (
            aiohttp.ClientSession() as http,
            http.get(service.url / "s", ssl=client_context) as answer,
        ):
            assert await answer.json() == {"secure": True}
        service.assert_called("s", times=1)
