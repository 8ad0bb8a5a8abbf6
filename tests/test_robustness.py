"""The server survives hostile and careless clients, and never answers them with a 5xx.

Raw sockets send what no HTTP library would: non-HTTP bytes, oversized headers,
half requests, a byte at a time. Every such client gets a 4xx or a closed connection,
and the next well-behaved request is still answered. Everything stays on loopback and
is bounded (sizes, counts, time).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from urllib.parse import urlsplit

import aiohttp
import pytest
import requests

from tests.conftest import SessionHandle, ThreadedServer

FLOOD = 500


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url} names no host and port")
    return parts.hostname, parts.port


def exchange(url: str, chunks: list[bytes], *, pause: float = 0.0, timeout: float = 10) -> bytes:
    """Send `chunks` on a fresh connection, then read until the server closes or goes quiet."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may hang up mid-send; that is an allowed answer
        received = b""
        try:
            while data := sock.recv(65536):
                received += data
                if b"\r\n\r\n" in received and b"Connection: close" not in received:
                    break  # one full head of a kept-alive answer is enough
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def status_of(raw: bytes) -> int | None:
    """The status of the first answer in `raw`; None when `raw` is not an HTTP/1 answer."""
    if not raw.startswith(b"HTTP/1."):
        return None
    return int(raw.split(b" ", 2)[1])


def is_4xx_or_closed(raw: bytes) -> bool:
    """Whether `raw`, what the server sent, is a 4xx answer or nothing (it hung up)."""
    status = status_of(raw)
    return raw == b"" or (status is not None and 400 <= status < 500)


def ping(session: SessionHandle) -> tuple[int, str]:
    """Status and text of `GET /ping`: whether the server still serves the session."""
    answer = requests.get(f"{session.mock_url}/ping", timeout=10)
    return answer.status_code, answer.text


@pytest.fixture
def alive(cp: SessionHandle) -> SessionHandle:
    """A session with one route, `GET /ping` -> `pong`; tests check it still answers."""
    cp.add_route(
        method="GET", path="/ping", handler="ping", response={"type": "raw", "body": "pong"}
    )
    return cp


# ----------------------------------------------------------------- mock port


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02\xff\xfe garbage \r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),  # a TLS ClientHello start
        b"NOT AN HTTP REQUEST\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\n\r\n",
        b"GET /ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
        b"GET /ping HTTP/1.1\r\nBad Header Line\r\n\r\n",
        b"\r\n" * 1000 + b"\x00 garbage\r\n\r\n",
    ],
    ids=[
        "binary",
        "tls-hello",
        "words",
        "http-9",
        "negative-length",
        "bad-chunk",
        "bad-header",
        "blank-lines",
    ],
)
def test_non_http_bytes_get_a_4xx_or_a_closed_connection(
    alive: SessionHandle, garbage: bytes
) -> None:
    raw = exchange(alive.mock_url, [garbage])
    assert is_4xx_or_closed(raw), raw[:300]
    assert ping(alive) == (200, "pong")


def test_huge_header_gets_a_4xx(alive: SessionHandle) -> None:
    request = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    raw = exchange(alive.mock_url, [request])
    assert is_4xx_or_closed(raw), raw[:300]
    assert ping(alive) == (200, "pong")


def test_huge_request_line_gets_a_4xx(alive: SessionHandle) -> None:
    raw = exchange(alive.mock_url, [b"GET /" + b"p" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert is_4xx_or_closed(raw), raw[:300]
    assert ping(alive) == (200, "pong")


def test_incomplete_request_then_close_leaves_the_server_serving(alive: SessionHandle) -> None:
    host, port = address(alive.mock_url)
    for partial in (b"GET /pi", b"POST /ping HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"):
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(partial)
    # The truncated POST was never complete, so nothing half-read is journaled as a call.
    calls = requests.get(f"{alive.api}/handlers/ping/calls", timeout=10).json()["calls"]
    assert calls == []
    assert ping(alive) == (200, "pong")


def test_slow_client_sending_headers_byte_by_byte_is_answered(alive: SessionHandle) -> None:
    path = urlsplit(alive.mock_url).path
    request = f"GET {path}/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    raw = exchange(alive.mock_url, [bytes([b]) for b in request], pause=0.002)
    assert status_of(raw) == 200, raw[:300]
    assert raw.endswith(b"pong")
    assert ping(alive) == (200, "pong")


def test_many_connections_opened_and_abandoned(alive: SessionHandle) -> None:
    host, port = address(alive.mock_url)
    sockets = [socket.create_connection((host, port), timeout=10) for _ in range(50)]
    for sock in sockets:
        sock.close()
    assert ping(alive) == (200, "pong")


async def test_flood_of_concurrent_requests_is_all_answered_and_journaled(
    alive: SessionHandle,
) -> None:
    connector = aiohttp.TCPConnector(limit=FLOOD)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def one(n: int) -> tuple[int, str]:
            async with client.get(f"{alive.mock_url}/ping", params={"n": str(n)}) as answer:
                return answer.status, await answer.text()

        answers = await asyncio.gather(*(one(n) for n in range(FLOOD)))
    assert answers == [(200, "pong")] * FLOOD
    journal = requests.get(f"{alive.api}/requests?handler=ping", timeout=10).json()
    assert len(journal["requests"]) == FLOOD and journal["evicted"] == 0
    assert sorted(int(e["query"]["n"][0]) for e in journal["requests"]) == list(range(FLOOD))
    assert ping(alive) == (200, "pong")


def test_large_mock_body_is_received_whole(alive: SessionHandle) -> None:
    alive.add_route(
        method="POST", path="/upload", handler="upload", response={"type": "json", "status": 202}
    )
    payload = os.urandom(5 * 1024 * 1024)
    assert requests.post(f"{alive.mock_url}/upload", data=payload, timeout=30).status_code == 202
    [call] = alive.calls("upload")
    # Read whole (its full length is counted); the journal keeps --journal-body-limit of it.
    assert (call["body_size"], call["body_truncated"]) == (len(payload), True)
    assert base64.b64decode(call["body_base64"]) == payload[: 64 * 1024]
    assert ping(alive) == (200, "pong")


# ----------------------------------------------------------------- admin port


def test_admin_rejects_5mb_of_random_bytes_with_400(cp: SessionHandle) -> None:
    payload = b"\xff" + os.urandom(5 * 1024 * 1024)  # \xff: never the start of valid JSON
    for method, path in (("POST", "/routes"), ("POST", "/handlers/x/verify"), ("PUT", "/routes/x")):
        answer = requests.request(method, cp.api + path, data=payload, timeout=30)
        assert 400 <= answer.status_code < 500, answer.text[:200]
    answer = requests.post(f"{cp.api}/routes", data=payload, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"


def test_admin_body_over_the_size_cap_is_a_json_4xx(cp: SessionHandle) -> None:
    payload = b"[" + b" " * (65 * 1024 * 1024) + b"]"
    answer = requests.post(f"{cp.api}/routes", data=payload, timeout=60)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "request_entity_too_large"


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02 garbage\r\n\r\n",
        b"GET /api/routes HTTP/1.1\r\nX: " + b"a" * 100_000 + b"\r\n\r\n",
    ],
    ids=["binary", "huge-header"],
)
def test_admin_port_survives_garbage(cp_server: ThreadedServer, garbage: bytes) -> None:
    raw = exchange(cp_server.admin_url, [garbage])
    assert is_4xx_or_closed(raw), raw[:300]
    assert requests.get(f"{cp_server.admin_url}/health", timeout=10).status_code == 200
