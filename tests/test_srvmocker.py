"""asyncly's `srvmocker` API, as asyncly's suites use it, against a real controlplane server."""

from __future__ import annotations

import asyncio
import logging
import ssl
import tomllib
from datetime import datetime
from typing import Any

import aiohttp
import controlplane_client as native
import msgspec
import pytest
import requests
import trustme
import yaml
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from yarl import URL

from controlplane.srvmocker import (
    BaseMockResponse,
    ContentResponse,
    DisconnectResponse,
    JsonResponse,
    LatencyResponse,
    Match,
    MissingResponseError,
    MockRoute,
    MockService,
    MsgpackResponse,
    RawResponse,
    RecordedRequest,
    RequestHistory,
    SequenceExhausted,
    SequenceResponse,
    SrvMockerError,
    TomlResponse,
    TruncatedResponse,
    UnknownHandlerError,
    YamlResponse,
    start_service,
)
from controlplane.srvmocker.serialization.json import JsonSerializer

WHEN = datetime(2025, 1, 4, 12, 15)


async def fetch(
    http: aiohttp.ClientSession, method: str, url: URL, **kwargs: Any
) -> tuple[int, str, bytes]:
    async with http.request(method, url, **kwargs) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), await answer.read()


def handler_response(service: MockService, name: str) -> Any:
    """What the admin API shows as handler `name`'s response."""
    listed = requests.get(f"{service.server.admin_url}/api/handlers", timeout=10).json()
    return next(h["response"] for h in listed["handlers"] if h["name"] == name)


class EchoResponse(BaseMockResponse):
    """A custom response, as asyncly documents them: it reads the request."""

    async def response(self, request: web.Request) -> web.Response:
        payload = await request.json() if request.body_exists else None
        return web.json_response({"id": request.match_info["item_id"], "got": payload}, status=201)


class BrokenResponse(BaseMockResponse):
    async def response(self, request: web.Request) -> web.Response:
        raise LookupError("no such cat")


# ------------------------------------------------------------------ routes


async def test_fetch_fact() -> None:
    # The seed's example, as written.
    routes = [MockRoute("GET", "/fact", "fact")]
    async with start_service(routes) as service:
        service.register("fact", JsonResponse({"fact": "Meow.", "length": 5}))
        async with aiohttp.ClientSession() as http, http.get(service.url / "fact") as answer:
            assert await answer.json() == {"fact": "Meow.", "length": 5}
        service.assert_called("fact", times=1)
    assert isinstance(service.url, URL)


async def test_routes_are_tried_in_declaration_order_and_the_first_that_holds_wins() -> None:
    routes = [
        MockRoute("POST", "/pay", "big", match=Match(json={"amount": 1000})),
        MockRoute(
            "POST", "/pay", "tenant", match=Match(headers={"x-tenant": "a"}, query={"v": "2"})
        ),
        MockRoute("POST", "/pay", "raw", match=Match(body=b"\x00\x01")),
        MockRoute("POST", "/pay", "also_big", match=Match(json={"amount": 1000})),
        MockRoute("POST", "/pay", "fallback"),  # no match, declared last: the fallback
    ]
    async with start_service(routes) as service:
        for name in ("fallback", "big", "tenant", "raw", "also_big"):
            service.register(name, JsonResponse(name))
        async with aiohttp.ClientSession() as http:

            async def pay(**kwargs: Any) -> Any:
                return msgspec.json.decode(
                    (await fetch(http, "POST", service.url / "pay", **kwargs))[2]
                )

            assert await pay(json={"amount": 1000}) == "big"
            assert await pay(json={"amount": 1}, headers={"X-Tenant": "a"}, params={"v": "2"}) == (
                "tenant"
            )
            assert await pay(data=b"\x00\x01") == "raw"
            assert await pay(json={"amount": 1}) == "fallback"
        service.assert_not_called("also_big")
        call = service.last_call("tenant")
        assert call.headers["X-TENANT"] == "a" and call.query["v"] == "2"
        assert call.url.path == "/pay" and call.json() == {"amount": 1}


async def test_a_route_without_match_declared_first_shadows_the_specific_ones() -> None:
    routes = [
        MockRoute("POST", "/items", "any"),
        MockRoute("POST", "/items", "kind_a", match=Match(json={"kind": "a"})),
    ]
    async with start_service(routes) as service:
        service.register("any", JsonResponse("any"))
        service.register("kind_a", JsonResponse("kind_a"))
        async with aiohttp.ClientSession() as http:
            _, _, body = await fetch(http, "POST", service.url / "items", json={"kind": "a"})
        assert body == b'"any"'
        service.assert_called("any", times=1)
        service.assert_not_called("kind_a")


async def test_a_request_no_route_matches_gets_a_404_and_stays_out_of_history() -> None:
    routes = [MockRoute("POST", "/items", "specific", match=Match(json={"kind": "a"}))]
    async with start_service(routes) as service:
        service.register("specific", JsonResponse({}))
        async with aiohttp.ClientSession() as http:
            status, _, _ = await fetch(http, "POST", service.url / "items", json={"kind": "b"})
        assert status == 404
        assert service.history == [] and service.get_calls("specific") == []
        assert len(service.client.unmatched().requests) == 1


# ------------------------------------------------------------------ history


async def test_history_history_map_and_handlers_for_zero_one_and_many_calls() -> None:
    routes = [MockRoute("GET", "/a", "a"), MockRoute("GET", "/b", "b"), MockRoute("GET", "/c", "c")]
    async with start_service(routes) as service:
        assert service.history == [] and dict(service.history_map) == {}
        assert service.handlers == {}
        a, b = JsonResponse("a"), RawResponse(b"b")
        service.register("a", a)
        service.register("b", b)
        assert service.handlers == {"a": a, "b": b}
        async with aiohttp.ClientSession() as http:
            await fetch(http, "GET", service.url / "b")
            for _ in range(3):
                await fetch(http, "GET", service.url / "a")
        history = service.history
        assert [call.handler_name for call in history] == ["b", "a", "a", "a"]
        assert all(isinstance(call, RecordedRequest) for call in history)
        assert list(service.history_map) == ["b", "a"] and len(service.history_map) == 2
        assert len(service.history_map["a"]) == 3 and len(service.history_map["b"]) == 1
        assert service.history_map["c"] == [] and service.history_map["undeclared"] == []
        replaced = JsonResponse("again")
        service.register("a", replaced)
        assert service.handlers["a"] is replaced


async def test_recorded_requests_are_immutable_snapshots() -> None:
    routes = [MockRoute("POST", "/items/{item_id}", "create_item")]
    async with start_service(routes) as service:
        service.register("create_item", RawResponse())
        async with aiohttp.ClientSession() as http:
            await fetch(
                http,
                "POST",
                service.url / "items/42",
                params={"preview": "yes"},
                headers={"X-Request-ID": "request-1"},
                data=b"payload",
            )
        call = service.last_call("create_item")
    assert (call.method, call.path, call.url.path_qs) == (
        "POST",
        "/items/42",
        "/items/42?preview=yes",
    )
    assert call.headers["x-request-id"] == "request-1" and call.query["preview"] == "yes"
    assert dict(call.path_params) == {"item_id": "42"} and call.body == b"payload"
    assert call.handler_name == "create_item"
    with pytest.raises(TypeError):
        call.headers["x-request-id"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError):
        call.path_params["item_id"] = "7"  # type: ignore[index]
    assert RequestHistory is RecordedRequest


# ------------------------------------------------------------------ errors and assertions


async def test_register_refuses_an_undeclared_handler_with_asyncly_words() -> None:
    async with start_service(
        [MockRoute("GET", "/x", "known"), MockRoute("GET", "/y", "b")]
    ) as service:
        with pytest.raises(UnknownHandlerError) as caught:
            service.register("typo", JsonResponse({}))
        assert str(caught.value) == (
            "register() called with unknown handler_name 'typo'; declared handlers: ['b', 'known']"
        )
        assert isinstance(caught.value, SrvMockerError) and caught.value.name == "typo"
        assert "typo" not in service.handlers
        with pytest.raises(TypeError) as wrong:
            service.register("known", {"type": "json"})  # type: ignore[arg-type]
        assert str(wrong.value) == (
            "register() takes a srvmocker response (JsonResponse(...), a BaseMockResponse "
            "subclass), a controlplane_client response or a function of the request, not dict"
        )


def test_every_srvmocker_error_derives_from_one_base() -> None:
    for error in (SequenceExhausted, UnknownHandlerError, MissingResponseError):
        assert issubclass(error, SrvMockerError) and issubclass(error, Exception)
    assert not issubclass(UnknownHandlerError, KeyError)


async def test_a_handler_without_response_answers_500_and_logs_missing_response_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="controlplane.srvmocker")
    async with start_service([MockRoute("GET", "/x", "known")]) as service:
        async with aiohttp.ClientSession() as http:
            status, _, body = await fetch(http, "GET", service.url / "x")
        service.assert_called("known", times=1)
    assert status == 500
    message = "no response registered for handler 'known'; call service.register('known', response)"
    assert msgspec.json.decode(body)["error"]["code"] == "in_process_error"
    assert message in msgspec.json.decode(body)["error"]["message"]
    records = [r for r in caplog.records if r.name == "controlplane.srvmocker"]
    assert records[0].getMessage() == f"MissingResponseError: {message}"
    assert records[0].levelno == logging.ERROR


async def test_assertion_messages_start_with_asyncly_words_then_show_the_calls() -> None:
    routes = [MockRoute("POST", "/n", "n"), MockRoute("GET", "/idle", "idle")]
    async with start_service(routes) as service:
        service.register("n", JsonResponse({}))
        with pytest.raises(AssertionError) as none_yet:
            service.assert_called("n")
        assert (
            str(none_yet.value).splitlines()[0] == "handler 'n': expected at least one call, got 0"
        )
        async with aiohttp.ClientSession() as http:
            await fetch(http, "POST", service.url / "n", json={"k": 1})
            await fetch(http, "POST", service.url / "n", json={"k": 2})
        with pytest.raises(AssertionError) as count:
            service.assert_called("n", times=3)
        lines = str(count.value).splitlines()
        assert lines[0] == "handler 'n': expected 3 call(s), got 2"
        assert lines[1] == "expected handler 'n' to be called 3 times, but it was called 2 times."
        with pytest.raises(AssertionError) as criteria:
            service.assert_called("n", json={"k": 3})
        lines = str(criteria.value).splitlines()
        assert lines[0] == "handler 'n': none of 2 call(s) matched the given criteria"
        assert "Closest calls (- expected, + actual):" in lines
        service.assert_called("n", times=2, json={"k": 2})
        with pytest.raises(AssertionError) as called:
            service.assert_not_called("n")
        assert str(called.value).splitlines()[0] == "handler 'n': expected no calls, got 2"
        service.assert_not_called("idle")
        with pytest.raises(AssertionError) as last:
            service.last_call("idle")
        assert str(last.value) == "no calls recorded for handler 'idle'"
        # asyncly: a name no route declares has no calls (no error).
        assert service.get_calls("undeclared") == []
        service.assert_not_called("undeclared")


# ------------------------------------------------------------------ responses


async def test_format_responses_encode_datetimes_as_their_format_writes_them() -> None:
    body = {"fact": "f", "created_at": WHEN, "colors": ["red"]}
    routes = [MockRoute("GET", f"/{k}", k) for k in ("msgpack", "yaml", "toml")]
    async with start_service(routes) as service:
        service.register("msgpack", MsgpackResponse(body))
        service.register("yaml", YamlResponse(body, status=201, headers={"X-Kind": "yaml"}))
        service.register("toml", TomlResponse(body))
        async with aiohttp.ClientSession() as http:
            got = {
                k: await fetch(http, "GET", service.url / k) for k in ("msgpack", "yaml", "toml")
            }
    assert got["msgpack"][:2] == (200, "application/msgpack")
    assert msgspec.msgpack.decode(got["msgpack"][2]) == {
        **body,
        "created_at": "2025-01-04T12:15:00",
    }
    assert got["yaml"][:2] == (201, "application/yaml")
    assert yaml.safe_load(got["yaml"][2]) == body
    assert got["toml"][:2] == (200, "application/toml")
    assert tomllib.loads(got["toml"][2].decode()) == body


async def test_content_response_with_and_without_a_serializer() -> None:
    routes = [MockRoute("GET", f"/{k}", k) for k in ("text", "json", "empty", "typed")]
    async with start_service(routes) as service:
        service.register("text", ContentResponse(body="plain"))
        service.register("json", ContentResponse(body={"a": [1]}, serializer=JsonSerializer))
        service.register("empty", ContentResponse(status=500))
        service.register(
            "typed", ContentResponse(body='{"a": 1}', headers={"Content-Type": "application/json"})
        )
        async with aiohttp.ClientSession() as http:
            got = {
                k: await fetch(http, "GET", service.url / k)
                for k in ("text", "json", "empty", "typed")
            }
    assert got["text"] == (200, "text/plain; charset=utf-8", b"plain")
    assert got["json"] == (200, "application/json", b'{"a": [1]}')  # json.dumps, as asyncly
    assert (got["empty"][0], got["empty"][2]) == (500, b"")
    assert got["typed"] == (200, "application/json", b'{"a": 1}')


async def test_fixed_responses_run_on_the_server_custom_ones_in_process() -> None:
    routes = [
        MockRoute("POST", "/items/{item_id}", "echo"),
        MockRoute("GET", "/fixed", "fixed"),
        MockRoute("GET", "/custom_json", "custom_json"),
    ]

    class LoudJson(JsonResponse):
        async def response(self, request: web.Request) -> web.Response:
            return web.Response(text="overridden")

    async with start_service(routes) as service:
        service.register("echo", EchoResponse())
        service.register("fixed", JsonResponse({"n": 1}))
        service.register("custom_json", LoudJson({"n": 1}))
        async with aiohttp.ClientSession() as http:
            echoed = await fetch(http, "POST", service.url / "items/7", json={"name": "Tom"})
            overridden = await fetch(http, "GET", service.url / "custom_json")
        assert echoed[0] == 201 and msgspec.json.decode(echoed[2]) == {
            "id": "7",
            "got": {"name": "Tom"},
        }
        assert overridden[2] == b"overridden"
        assert handler_response(service, "echo") == {
            "type": "in_process",
            "name": "tests.test_srvmocker.EchoResponse",
        }
        assert handler_response(service, "fixed")["type"] == "json"
        entry = service.client.requests(handler="echo").requests[0]
        assert (entry.response.status, entry.response.type) == (201, "in_process")
        assert service.last_call("echo").path_params == {"item_id": "7"}


async def test_an_in_process_response_that_raises_answers_500_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="controlplane.srvmocker")
    async with start_service([MockRoute("GET", "/cat", "cat")]) as service:
        service.register("cat", BrokenResponse())
        async with aiohttp.ClientSession() as http:
            status, _, body = await fetch(http, "GET", service.url / "cat")
        entry = service.client.requests(handler="cat").requests[0]
    assert status == 500 and entry.response.error == "in_process_error"
    assert msgspec.json.decode(body)["error"]["message"] == (
        "in-process response tests.test_srvmocker.BrokenResponse raised LookupError: no such cat"
    )
    record = next(r for r in caplog.records if r.name == "controlplane.srvmocker")
    assert record.getMessage() == "LookupError answering handler 'cat': no such cat"
    assert record.exc_info is not None


async def test_sequences_native_and_in_process() -> None:
    routes = [MockRoute("GET", f"/{k}", k) for k in ("raise", "cycle", "last", "mixed")]
    async with start_service(routes) as service:
        service.register(
            "raise", SequenceResponse([RawResponse(b"busy", status=503), JsonResponse("ok")])
        )
        service.register("cycle", SequenceResponse([JsonResponse(1), JsonResponse(2)], "cycle"))
        service.register("last", SequenceResponse([JsonResponse(1), JsonResponse(2)], "last"))
        service.register(
            "mixed", SequenceResponse([JsonResponse("first"), EchoResponse()], on_exhausted="raise")
        )
        async with aiohttp.ClientSession() as http:

            async def three(name: str) -> list[tuple[int, bytes]]:
                answers = [await fetch(http, "GET", service.url / name) for _ in range(3)]
                return [(status, body) for status, _, body in answers]

            raised = await three("raise")
            assert [s for s, _ in raised] == [503, 200, 500]
            assert [b for _, b in await three("cycle")] == [b"1", b"2", b"1"]
            assert [b for _, b in await three("last")] == [b"1", b"2", b"2"]
            mixed = await three("mixed")
        assert handler_response(service, "raise")["type"] == "sequence"
        assert handler_response(service, "mixed")["type"] == "in_process"
    assert mixed[0] == (200, b'"first"')
    assert mixed[1][0] == 500  # EchoResponse needs `item_id`: a KeyError, answered 500
    assert mixed[2][0] == 500 and b"SequenceExhausted" in mixed[2][1]


async def test_a_sequence_raises_sequence_exhausted_when_driven_directly() -> None:
    sequence = SequenceResponse([JsonResponse({"n": 1})])
    request = make_mocked_request("GET", "/")
    first = await sequence.response(request)
    assert first.status == 200
    with pytest.raises(SequenceExhausted) as caught:
        await sequence.response(request)
    assert str(caught.value) == "SequenceResponse exhausted after 1 response(s)"
    with pytest.raises(ValueError, match=r"^SequenceResponse requires at least one response$"):
        SequenceResponse([])


async def test_latency_delays_one_answer_without_holding_up_others() -> None:
    routes = [MockRoute("GET", "/slow", "slow"), MockRoute("GET", "/fast", "fast")]
    async with start_service(routes) as service:
        service.register("slow", LatencyResponse(JsonResponse("late"), 0.3))
        service.register("fast", LatencyResponse(ContentResponse(body="now"), latency=0))
        async with aiohttp.ClientSession() as http:
            slow = asyncio.ensure_future(fetch(http, "GET", service.url / "slow"))
            assert (await fetch(http, "GET", service.url / "fast"))[2] == b"now"
            assert not slow.done()
            with pytest.raises(asyncio.TimeoutError):
                await fetch(
                    http, "GET", service.url / "slow", timeout=aiohttp.ClientTimeout(total=0.05)
                )
            assert (await slow)[2] == b'"late"'


async def test_faults_disconnect_and_truncate() -> None:
    routes = [MockRoute("GET", "/gone", "gone"), MockRoute("GET", "/cut", "cut")]
    async with start_service(routes) as service:
        service.register("gone", DisconnectResponse())
        service.register(
            "cut", TruncatedResponse(b"12345", declared_length=10, headers={"X-A": "1"})
        )
        assert handler_response(service, "gone") == {
            "type": "fault",
            "fault": "disconnect",
            "delay": None,
        }
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await fetch(http, "GET", service.url / "gone")
            async with http.get(service.url / "cut") as answer:
                assert answer.headers["Content-Length"] == "10" and answer.headers["X-A"] == "1"
                with pytest.raises(aiohttp.ClientPayloadError):
                    await answer.read()
        service.assert_called("cut", times=1)
    assert TruncatedResponse(b"abc").declared_length == 4
    with pytest.raises(ValueError, match=r"^declared_length must be greater than the body length$"):
        TruncatedResponse(b"abc", declared_length=3)


async def test_native_client_responses_register_too() -> None:
    async with start_service([MockRoute("GET", "/n", "n")]) as service:
        service.register("n", native.JsonResponse({"native": True}, status=202))
        async with aiohttp.ClientSession() as http:
            assert await fetch(http, "GET", service.url / "n") == (
                202,
                "application/json",
                b'{"native":true}',
            )


async def test_ssl_context_serves_https() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with start_service([MockRoute("GET", "/s", "s")], ssl_context=server_context) as service:
        assert service.url.scheme == "https"
        service.register("s", JsonResponse({"secure": True}))
        async with aiohttp.ClientSession() as http:
            status, _, body = await fetch(http, "GET", service.url / "s", ssl=client_context)
        assert (status, body) == (200, b'{"secure":true}')


async def test_assert_called_predicates_each_count() -> None:
    async with start_service([MockRoute("POST", "/p", "p")]) as service:
        service.register("p", RawResponse())
        async with aiohttp.ClientSession() as http:
            await fetch(
                http, "POST", service.url / "p", data=b"raw", params={"q": "1"}, headers={"H": "v"}
            )
        service.assert_called("p", body=b"raw", headers={"H": "v"}, query={"q": "1"})
        for wrong in ({"body": b"other"}, {"headers": {"H": "w"}}, {"query": {"q": "2"}}):
            with pytest.raises(AssertionError) as caught:
                service.assert_called("p", **wrong)  # type: ignore[arg-type]
            first = "handler 'p': none of 1 call(s) matched the given criteria"
            assert str(caught.value).splitlines()[0] == first, wrong
        with pytest.raises(AssertionError) as called:
            service.assert_not_called("p")
        assert str(called.value).splitlines()[1] == (
            "expected handler 'p' not to be called, but it was called once:"
        )


async def test_service_repr_set_url_and_what_a_missing_response_shows() -> None:
    async with start_service([MockRoute("GET", "/b", "b"), MockRoute("GET", "/a", "a")]) as service:
        assert repr(service) == f"MockService(url={str(service.url)!r}, handlers=['a', 'b'])"
        assert handler_response(service, "a") == {
            "type": "in_process",
            "name": "controlplane.srvmocker.MissingResponseError",
        }
        service.set_url(URL("http://example.invalid"))
        assert service.url == URL("http://example.invalid")


def test_a_recorded_request_copies_what_it_is_given_into_read_only_views() -> None:
    query = {"q": "1"}
    call = RecordedRequest(
        method="GET",
        url=URL("http://h/x?q=1"),
        path="/x",
        headers={"A": "1"},
        query=query,
        path_params={},
        body=bytearray(b"b"),  # type: ignore[arg-type]
        handler_name="x",
    )
    query["q"] = "2"
    assert call.query["q"] == "1" and type(call.body) is bytes
    with pytest.raises(TypeError):
        call.query["q"] = "3"  # type: ignore[index]
