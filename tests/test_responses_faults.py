"""Faults as real clients observe them, and a server that keeps serving afterwards."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import pytest
import uvloop

from tests.responses_support import Served, get_request, raw_exchange, serve

# fault -> (aiohttp exception, httpx exception, message fragment httpx gives)
CLIENT_VIEW: dict[str, tuple[type[Exception], type[Exception], str]] = {
    "disconnect": (
        aiohttp.ServerDisconnectedError,
        httpx.RemoteProtocolError,
        "without sending a response",
    ),
    "empty_response": (
        aiohttp.ServerDisconnectedError,
        httpx.RemoteProtocolError,
        "without sending a response",
    ),
    "connection_reset": (aiohttp.ClientOSError, httpx.ReadError, ""),
    "truncated": (
        aiohttp.ClientPayloadError,
        httpx.RemoteProtocolError,
        "received 32 bytes, expected 1024",
    ),
    # aiohttp reports a broken chunk size line as a (400) ClientResponseError from its parser.
    "malformed_chunk": (aiohttp.ClientResponseError, httpx.RemoteProtocolError, "chunk"),
    "random_data_then_close": (aiohttp.ClientResponseError, httpx.RemoteProtocolError, ""),
}
FAULTS = list(CLIENT_VIEW)


async def _aiohttp_get(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return await resp.read()


async def _httpx_get(url: str) -> bytes:
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).content


STILL_SERVING = {"type": "json", "body": {"still": "serving"}}


async def _answer_after_the_fault(srv: Served) -> tuple[int, object]:
    """Status and JSON body of the next request, once the handler answers normally again."""
    await srv.register(STILL_SERVING)
    async with httpx.AsyncClient() as client:
        answer = await client.get(srv.url)
    return answer.status_code, answer.json()


def _warnings_or_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("fault", FAULTS)
async def test_aiohttp_client_sees_the_fault(fault: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    expected, _, _ = CLIENT_VIEW[fault]
    async with serve({"type": "fault", "fault": fault}) as srv:
        with pytest.raises(expected):
            await _aiohttp_get(srv.url)
        after = await _answer_after_the_fault(srv)
    assert after == (200, {"still": "serving"})
    assert _warnings_or_errors(caplog) == []


@pytest.mark.parametrize("fault", FAULTS)
async def test_httpx_client_sees_the_fault(fault: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _, expected, fragment = CLIENT_VIEW[fault]
    async with serve({"type": "fault", "fault": fault}) as srv:
        async with httpx.AsyncClient() as client:
            with pytest.raises(expected, match=re.escape(fragment) if fragment else None):
                await client.get(srv.url)
        after = await _answer_after_the_fault(srv)
    assert after == (200, {"still": "serving"})
    assert _warnings_or_errors(caplog) == []


@pytest.mark.parametrize("fault", ["disconnect", "empty_response"])
async def test_disconnect_closes_without_sending_a_byte(fault: str) -> None:
    async with serve({"type": "fault", "fault": fault}) as srv:
        assert await raw_exchange(srv.port, get_request()) == b""


async def test_connection_reset_is_a_tcp_reset_on_a_raw_socket() -> None:
    async with serve({"type": "fault", "fault": "connection_reset"}) as srv:
        with pytest.raises(ConnectionResetError):
            await raw_exchange(srv.port, get_request())


async def test_truncated_declares_more_bytes_than_it_sends() -> None:
    async with serve({"type": "fault", "fault": "truncated"}) as srv:
        data = await raw_exchange(srv.port, get_request())
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    declared = re.search(rb"Content-Length: (\d+)", head)
    assert declared is not None
    assert 0 < len(body) < int(declared.group(1))


async def test_malformed_chunk_starts_a_chunked_body_then_breaks_it() -> None:
    async with serve({"type": "fault", "fault": "malformed_chunk"}) as srv:
        data = await raw_exchange(srv.port, get_request())
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    first, _, rest = body.partition(b"\r\n")
    assert first == b"5"
    size_line = rest.split(b"\r\n")[1]
    with pytest.raises(ValueError):
        int(size_line, 16)


async def test_random_data_is_not_a_status_line() -> None:
    async with serve({"type": "fault", "fault": "random_data_then_close"}) as srv:
        data = await raw_exchange(srv.port, get_request())
    assert len(data) > 0
    assert not data.startswith(b"HTTP/")


async def test_keep_alive_client_recovers_on_a_new_connection_after_a_fault() -> None:
    spec = {
        "type": "sequence",
        "responses": [
            {"type": "json", "body": 1},
            {"type": "fault", "fault": "connection_reset"},
            {"type": "json", "body": 3},
        ],
    }
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        assert (await client.get(srv.url)).json() == 1
        with pytest.raises(httpx.ReadError):
            await client.get(srv.url)
        assert (await client.get(srv.url)).json() == 3


async def test_fault_is_journaled_as_status_zero_with_the_fault_name() -> None:
    spec = {"type": "fault", "fault": "truncated", "delay": {"fixed_ms": 30}}
    async with serve(spec) as srv:
        with pytest.raises(httpx.RemoteProtocolError):
            async with httpx.AsyncClient() as client:
                await client.get(srv.url)
        journal = await srv.journal()
    assert journal == [{"status": 0, "type": "fault", "delay_ms": 30.0, "error": "truncated"}]


async def _fault_matrix() -> tuple[list[str], list[tuple[int, object]]]:
    """Each fault once against aiohttp, httpx and a raw socket: what was seen, and what
    a normal request got after each fault."""
    seen: list[str] = []
    after: list[tuple[int, object]] = []
    for fault in FAULTS:
        aiohttp_exc, httpx_exc, _ = CLIENT_VIEW[fault]
        async with serve({"type": "fault", "fault": fault}) as srv:
            clients: list[tuple[Callable[[str], Awaitable[bytes]], type[Exception]]] = [
                (_aiohttp_get, aiohttp_exc),
                (_httpx_get, httpx_exc),
            ]
            for get, expected in clients:
                try:
                    await get(srv.url)
                except expected:
                    seen.append(f"{fault}:{expected.__name__}")
            if fault == "connection_reset":
                # uvloop's pseudo-socket must accept SO_LINGER for this to be a real RST.
                try:
                    await raw_exchange(srv.port, get_request())
                except ConnectionResetError:
                    seen.append("connection_reset:raw RST")
            after.append(await _answer_after_the_fault(srv))
    return seen, after


def test_faults_look_the_same_under_uvloop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
        seen, after = runner.run(_fault_matrix())
    assert len(seen) == 2 * len(FAULTS) + 1, seen
    assert after == [(200, {"still": "serving"})] * len(FAULTS)
    assert _warnings_or_errors(caplog) == []
