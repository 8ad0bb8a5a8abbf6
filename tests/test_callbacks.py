"""Callbacks: the test process answers a handler's mock requests over a WebSocket.

Each test uses a real server (the shared threaded one, one with a token, or a
`controlplane serve` subprocess) and real sockets; the raw-protocol tests speak the
frames with aiohttp, as another language's client would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from controlplane_client import (
    AsyncClient,
    CallbackRequest,
    CallbackResponse,
    Client,
    InvalidInput,
    JsonResponse,
    NotFound,
    RawResponse,
    Route,
    ServerUnavailable,
    Unauthorized,
)

from controlplane.server import ServerConfig
from controlplane.srvmocker import JsonResponse as SrvJson
from controlplane.srvmocker import MockRoute, start_service
from tests.conftest import ThreadedServer
from tests.process import needs_node, run_node_test, serve_process

pytest_plugins = ["pytester"]

NODE_CALLBACK = Path(__file__).resolve().parent / "polyglot" / "callbacks.test.mjs"


@pytest.fixture
def session(cp_server: ThreadedServer) -> Iterator[Client]:
    """A Client bound to a fresh session with one route, handler `quote`, on `/quote/{n}`."""
    client = Client(cp_server.admin_url).create_session()
    client.add_route(Route(method="POST", path="/quote/{n}", handler="quote"))
    yield client
    client.close_callbacks()
    client.delete_session()


def _post(client: Client, path: str = "/quote/7", **kwargs: Any) -> requests.Response:
    return requests.post(client.mock_url + path, timeout=30, **kwargs)


def _journaled(client: Client) -> dict[str, Any]:
    [entry] = client.requests().requests
    return {
        "status": entry.response.status,
        "type": entry.response.type,
        "error": entry.response.error,
    }


def _error(answer: requests.Response) -> tuple[int, str, str]:
    detail = answer.json()["error"]
    return answer.status_code, detail["code"], detail["message"]


# ---------------------------------------------------------------- the Python client


def test_sync_function_answers_with_what_it_computed_from_the_request(session: Client) -> None:
    seen: list[CallbackRequest] = []

    def price(request: CallbackRequest) -> JsonResponse:
        seen.append(request)
        return JsonResponse({"n": request.path_params["n"], "got": request.json}, status=201)

    callback = session.on_request("quote", price)
    assert (callback.registered.handler, callback.registered.timeout_ms) == ("quote", 5000)
    answer = _post(session, "/quote/7?a=1&a=2", json={"qty": 3}, headers={"X-Id": "abc"})
    assert (answer.status_code, answer.json()) == (201, {"n": "7", "got": {"qty": 3}})
    [request] = seen
    assert (request.method, request.path, request.session, request.handler) == (
        "POST",
        "/quote/7",
        session.session_id,
        "quote",
    )
    assert request.query == {"a": ["1", "2"]}
    assert request.header("x-id") == "abc"
    assert request.body == '{"qty": 3}', request.body
    assert request.content == (request.body or "").encode()
    assert _journaled(session) == {"status": 201, "type": "callback", "error": None}


def test_binary_bodies_reach_the_callback_as_bytes(session: Client) -> None:
    session.on_request("quote", lambda r: RawResponse(body_base64=r.body_base64))
    answer = _post(session, data=b"\xff\x00\xfe")
    assert answer.content == b"\xff\x00\xfe"


async def test_async_function_with_the_async_client_as_context_manager(
    cp_server: ThreadedServer,
) -> None:
    async with AsyncClient(cp_server.admin_url) as admin:
        client = await admin.create_session()
        await client.add_route(Route(method="GET", path="/n/{n}", handler="n"))

        async def double(request: CallbackRequest) -> dict[str, Any]:
            await asyncio.sleep(0)
            return {"type": "json", "body": int(request.path_params["n"]) * 2}

        async with client.on_request("n", double) as callback:
            assert not callback.closed
            answers = await asyncio.gather(
                *(
                    asyncio.to_thread(requests.get, f"{client.mock_url}/n/{i}", timeout=30)
                    for i in range(5)
                )
            )
            assert [a.json() for a in answers] == [0, 2, 4, 6, 8]
        assert (callback.closed, callback.close_code) == (True, 1000)
        after = await asyncio.to_thread(requests.get, f"{client.mock_url}/n/1", timeout=30)
        assert (after.status_code, after.json()["error"]["code"]) == (500, "no_response")
        await client.delete_session()


async def test_awaited_registration_is_closed_by_the_clients_aclose(
    cp_server: ThreadedServer,
) -> None:
    admin = AsyncClient(cp_server.admin_url)
    client = await admin.create_session()
    await client.add_route(Route(method="GET", path="/n", handler="n"))
    callback = await client.on_request("n", lambda r: JsonResponse("sync fn, async client"))
    answer = await asyncio.to_thread(requests.get, f"{client.mock_url}/n", timeout=30)
    assert answer.json() == "sync fn, async client"
    await client.aclose()
    assert callback.closed
    await admin.delete_session(client.session_id)
    await admin.aclose()


def test_a_raising_function_answers_500_with_its_exception(session: Client) -> None:
    def broken(request: CallbackRequest) -> JsonResponse:
        raise ValueError("no price for 7")

    session.on_request("quote", broken)
    assert _error(_post(session)) == (
        500,
        "callback_error",
        "the callback for handler 'quote' failed: ValueError: no price for 7",
    )
    assert _journaled(session) == {"status": 500, "type": "callback", "error": "callback_error"}


def test_returning_something_that_is_not_a_response_is_the_callbacks_error(
    session: Client,
) -> None:
    session.on_request("quote", lambda r: 42)  # type: ignore[arg-type, return-value]
    status, code, message = _error(_post(session))
    assert (status, code) == (500, "callback_error")
    assert message.startswith(
        "the callback for handler 'quote' failed: TypeError: the callback returned int"
    )


def test_no_answer_within_timeout_ms_is_a_504_journaled_callback_timeout(session: Client) -> None:
    release = threading.Event()
    session.on_request("quote", lambda r: release.wait(30) and JsonResponse("late"), timeout_ms=150)
    try:
        answer = _post(session)
    finally:
        release.set()
    assert _error(answer) == (
        504,
        "callback_timeout",
        "the callback for handler 'quote' did not answer within 150 ms (its `timeout_ms`)",
    )
    assert _journaled(session) == {"status": 504, "type": "callback", "error": "callback_timeout"}


def test_closing_gives_the_handler_back_its_registered_response(session: Client) -> None:
    session.register("quote", JsonResponse("canned"))
    first = session.on_request("quote", lambda r: JsonResponse("first"))
    second = session.on_request("quote", lambda r: JsonResponse("second"))
    [info] = session.handlers()
    assert isinstance(info.response, CallbackResponse) and info.response.timeout_ms == 5000
    assert _post(session).json() == "second"  # the newest registration answers
    second.close()
    assert _post(session).json() == "first"
    first.close()
    assert _post(session).json() == "canned"


def test_closing_an_older_callback_keeps_the_newer_one_answering(session: Client) -> None:
    older = session.on_request("quote", lambda r: JsonResponse("older"))
    newer = session.on_request("quote", lambda r: JsonResponse("newer"))
    older.close()
    assert _post(session).json() == "newer"
    newer.close()
    assert _error(_post(session))[:2] == (500, "no_response")


def test_a_response_registered_later_replaces_the_callback(session: Client) -> None:
    session.on_request("quote", lambda r: JsonResponse("callback"))
    session.register("quote", JsonResponse("registered"))
    assert _post(session).json() == "registered"


def test_unknown_handler_and_bad_timeout_are_refused_before_the_upgrade(session: Client) -> None:
    with pytest.raises(NotFound) as unknown:
        session.on_request("nope", lambda r: JsonResponse(1))
    assert "declares handler 'nope'" in unknown.value.message
    with pytest.raises(InvalidInput) as bad:
        session.on_request("quote", lambda r: JsonResponse(1), timeout_ms=0)
    assert (bad.value.location, bad.value.message) == (
        "?timeout_ms",
        "`timeout_ms` must be between 1 and 300000, got 0",
    )


def test_a_plain_get_is_told_the_endpoint_is_a_websocket(session: Client) -> None:
    answer = requests.get(
        f"{session.admin_url}/api/sessions/{session.session_id}/handlers/quote/callback", timeout=10
    )
    assert answer.status_code == 426
    assert answer.json()["error"]["code"] == "upgrade_required"


def test_reset_and_session_deletion_close_the_callbacks(cp_server: ThreadedServer) -> None:
    client = Client(cp_server.admin_url).create_session()
    client.add_route(Route(method="GET", path="/a", handler="a"))
    callback = client.on_request("a", lambda r: JsonResponse(1))
    client.reset()
    callback._thread.join(10)
    assert (callback.closed, callback.close_code) == (True, 1001)
    client.add_route(Route(method="GET", path="/a", handler="a"))
    callback = client.on_request("a", lambda r: JsonResponse(1))
    client.delete_session()
    callback._thread.join(10)
    assert (callback.closed, callback.close_code) == (True, 1001)


def test_the_servers_shutdown_closes_its_callbacks() -> None:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    try:
        client = Client(server.admin_url)
        client.add_route(Route(method="GET", path="/s", handler="s"))
        callback = client.on_request("s", lambda r: JsonResponse("up"))
    finally:
        server.stop()
    callback._thread.join(10)
    assert (callback.closed, callback.close_code) == (True, 1001)


def test_no_server_is_server_unavailable() -> None:
    with pytest.raises(ServerUnavailable):
        Client("http://127.0.0.1:9", timeout=5).on_request("h", lambda r: JsonResponse(1))


def test_the_admin_token_is_required_on_the_upgrade() -> None:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, admin_token="s3cret")).start()
    try:
        admin = Client(server.admin_url, token="s3cret")
        admin.add_route(Route(method="GET", path="/t", handler="t"))
        with pytest.raises(Unauthorized):
            Client(server.admin_url).on_request("t", lambda r: JsonResponse("no"))
        with admin.on_request("t", lambda r: JsonResponse("yes")):
            assert requests.get(server.mock_url + "/t", timeout=30).json() == "yes"
    finally:
        server.stop()


def test_a_server_in_another_process_calls_back_into_this_one(tmp_path: Path) -> None:
    with serve_process(tmp_path) as server:
        client = Client(server.admin_url)
        client.add_route(Route(method="GET", path="/pid", handler="pid"))
        here = threading.get_ident()
        with client.on_request(
            "pid", lambda r: JsonResponse({"thread": threading.get_ident() != here})
        ):
            answer = requests.get(server.mock_url + "/pid", timeout=30)
        assert answer.json() == {"thread": True}
        assert _journaled(client) == {"status": 200, "type": "callback", "error": None}


# ---------------------------------------------------------------- the protocol, raw


@needs_node
def test_a_callback_written_in_node_answers(cp_server: ThreadedServer) -> None:
    done = run_node_test(NODE_CALLBACK, cp_server.admin_url)
    assert done.returncode == 0, done.stdout + done.stderr


async def _raw(
    session: Client, http: aiohttp.ClientSession, **query: str
) -> aiohttp.ClientWebSocketResponse:
    url = f"{session.admin_url}/api/sessions/{session.session_id}/handlers/quote/callback"
    ws = await http.ws_connect(url, params=query)
    hello = await ws.receive_json()
    assert hello == {
        "registered": {
            "session": session.session_id,
            "handler": "quote",
            "timeout_ms": int(query.get("timeout_ms", 5000)),
        }
    }
    return ws


async def test_a_socket_closed_mid_request_answers_502_callback_gone(session: Client) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await _raw(session, http)
        pending = asyncio.create_task(asyncio.to_thread(_post, session))
        call = await ws.receive_json()
        assert set(call) == {"id", "request"} and call["request"]["path_params"] == {"n": "7"}
        await ws.close()
        answer = await pending
    assert _error(answer) == (
        502,
        "callback_gone",
        "the callback for handler 'quote' disconnected before answering",
    )
    assert _journaled(session) == {"status": 502, "type": "callback", "error": "callback_gone"}


async def test_a_bad_answer_is_a_502_and_the_client_is_told_where(session: Client) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await _raw(session, http)
        pending = asyncio.create_task(asyncio.to_thread(_post, session))
        call = await ws.receive_json()
        await ws.send_json({"id": call["id"], "response": {"type": "json", "status": "ok"}})
        refusal = await ws.receive_json()
        answer = await pending
        await ws.close()
    assert refusal == {
        "id": call["id"],
        "error": {
            "code": "callback_invalid",
            "message": "expected an integer, got a string",
            "location": "$.response.status",
        },
    }, refusal
    status, code, message = _error(answer)
    assert (status, code) == (502, "callback_invalid")
    assert message == (
        "the callback for handler 'quote' answered with something that is not a valid "
        "answer at $.response.status: expected an integer, got a string"
    )
    assert _journaled(session) == {"status": 502, "type": "callback", "error": "callback_invalid"}


async def test_frames_without_a_pending_id_or_not_json_are_refused(session: Client) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await _raw(session, http, timeout_ms="2000")
        await ws.send_str("{not json")
        malformed = await ws.receive_json()
        await ws.send_json({"id": "99", "response": {"type": "json", "body": 1}})
        unknown = await ws.receive_json()
        await ws.send_json({"id": "98"})
        neither = await ws.receive_json()
        await ws.close()
    assert malformed["id"] is None and malformed["error"]["code"] == "callback_invalid"
    assert malformed["error"]["message"].startswith("the frame is not valid JSON: ")
    assert unknown == {
        "id": "99",
        "error": {
            "code": "callback_unknown_id",
            "message": "no request with id '99' is waiting for an answer (it timed out, "
            "was answered already, or was never sent)",
            "location": None,
        },
    }
    assert neither["id"] == "98"
    assert neither["error"]["message"] == "give exactly one of `response` and `error`"


async def test_a_response_that_does_not_compile_is_refused_with_its_location(
    session: Client,
) -> None:
    async with aiohttp.ClientSession() as http:
        ws = await _raw(session, http)
        pending = asyncio.create_task(asyncio.to_thread(_post, session))
        call = await ws.receive_json()
        bad = {"type": "raw", "body": "x", "template": True, "headers": {"A": "{{#if}}"}}
        await ws.send_json({"id": call["id"], "response": bad})
        refusal = await ws.receive_json()
        answer = await pending
        await ws.close()
    assert refusal["id"] == call["id"] and refusal["error"]["code"] == "callback_invalid"
    assert refusal["error"]["location"].startswith("$.response")
    assert _error(answer)[:2] == (502, "callback_invalid")


# ---------------------------------------------------------------- srvmocker and pytest


async def test_srvmocker_registers_plain_and_async_functions() -> None:
    routes = [MockRoute("GET", "/sync/{n}", "sync"), MockRoute("POST", "/async", "async")]
    async with start_service(routes) as service:
        service.register("sync", lambda request: SrvJson({"n": request.match_info["n"]}))

        async def echo(request: Any) -> Any:
            from aiohttp import web

            return web.json_response({"got": await request.json()}, status=202)

        service.register("async", echo)
        async with aiohttp.ClientSession() as http:
            async with http.get(service.url / "sync" / "4") as first:
                assert (first.status, await first.json()) == (200, {"n": "4"})
            async with http.post(service.url / "async", json={"a": 1}) as second:
                assert (second.status, await second.json()) == (202, {"got": {"a": 1}})
        service.assert_called("sync", times=1)
        [info] = [h for h in service.client.handlers() if h.name == "async"]
        assert (
            info.response.name
            == f"{__name__}.test_srvmocker_registers_plain_and_async_functions.<locals>.echo"
        )  # type: ignore[union-attr]


async def test_a_srvmocker_function_returning_no_response_answers_500_saying_so() -> None:
    async with start_service([MockRoute("GET", "/n", "n")]) as service:

        def wrong(request: Any) -> Any:
            return {"not": "a response"}

        service.register("n", wrong)
        async with aiohttp.ClientSession() as http, http.get(service.url / "n") as answer:
            status, body = answer.status, await answer.json()
    name = f"{__name__}.test_a_srvmocker_function_returning_no_response_answers_500_saying_so"
    assert (status, body["error"]["code"]) == (500, "in_process_error")
    assert body["error"]["message"] == (
        f"in-process response {name}.<locals>.wrong raised TypeError: {name}.<locals>.wrong "
        "returned dict; return an aiohttp response or a srvmocker response "
        "(JsonResponse(...), RawResponse(...))"
    )


def test_the_pytest_fixture_closes_callbacks_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
import urllib.request
from controlplane_client import JsonResponse, Route

OPEN = []

def test_registers(controlplane):
    controlplane.add_route(Route(method="GET", path="/c", handler="c"))
    OPEN.append(controlplane.on_request("c", lambda r: JsonResponse("called back")))
    assert urllib.request.urlopen(controlplane.mock_url + "/c").read() == b'"called back"'

def test_after(controlplane):
    [callback] = OPEN
    assert callback.closed
"""
    )
    pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly").assert_outcomes(passed=2)
