"""Idle and trickling connections are closed (`--keepalive-timeout`, `--header-timeout`),
and neither timeout cuts a request being answered: a long `delay`, a slow body.

Timing is the feature here: timeouts are short (0.3 s) and bounds generous (closed
within 3 s, while the old behaviour kept connections for an hour).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.process import run_cli

SHORT = 0.3
CLOSED_WITHIN = 3.0  # seconds: ten times the timeout, for a loaded machine
TRICKLE_FOR = 6.0  # how long a trickling client keeps going when nobody closes it


def _server(header_timeout: float, keepalive_timeout: float) -> ThreadedServer:
    config = ServerConfig(
        port=0, admin_port=0, header_timeout=header_timeout, keepalive_timeout=keepalive_timeout
    )
    return ThreadedServer(config).start()


@pytest.fixture(scope="module")
def header_guarded() -> Iterator[ThreadedServer]:
    """A short header timeout; keep-alive long enough never to be the one that closes."""
    server = _server(header_timeout=SHORT, keepalive_timeout=60)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def short_keepalive() -> Iterator[ThreadedServer]:
    server = _server(header_timeout=SHORT, keepalive_timeout=SHORT)
    yield server
    server.stop()


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def _closed_by_peer(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` (EOF, or a reset) within `within` seconds."""
    readable, _, _ = select.select([sock], [], [], within)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def _read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of a body"
        body += chunk
    return head + b"\r\n\r\n" + body


def _route(server: ThreadedServer, path: str, **response: object) -> None:
    route = {
        "method": "*",
        "path": path,
        "handler": path.strip("/"),
        "response": {"type": "raw", "body": "ok", **response},
    }
    answer = requests.post(f"{server.admin_url}/api/routes", json=route, timeout=10)
    assert answer.status_code == 201, answer.text


def test_headers_trickling_slower_than_the_header_timeout_are_closed(
    header_guarded: ThreadedServer,
) -> None:
    request = b"GET /trickle HTTP/1.1\r\nHost: mock\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with _connect(header_guarded.mock_url) as sock:
        started = time.monotonic()
        closed = False
        for byte in request:  # one byte every 50 ms: the whole request would take 11 s
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if _closed_by_peer(sock, within=0.05):
                closed = True
                break
            if time.monotonic() - started > TRICKLE_FOR:
                break
        elapsed = time.monotonic() - started
    assert closed, f"still open after trickling for {elapsed:.1f} s"
    assert SHORT * 0.8 <= elapsed < CLOSED_WITHIN


def test_headers_within_the_header_timeout_are_answered(header_guarded: ThreadedServer) -> None:
    _route(header_guarded, "/split")
    with _connect(header_guarded.mock_url) as sock:
        sock.sendall(b"GET /split HTTP/1.1\r\n")
        assert not _closed_by_peer(sock, within=SHORT / 3)
        sock.sendall(b"Host: mock\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_idle_keep_alive_connection_is_closed(short_keepalive: ThreadedServer) -> None:
    _route(short_keepalive, "/idle")
    with _connect(short_keepalive.mock_url) as sock:
        for _ in range(2):  # kept alive between requests sent in time
            sock.sendall(b"GET /idle HTTP/1.1\r\nHost: mock\r\n\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200 OK\r\n")
        started = time.monotonic()
        assert _closed_by_peer(sock, within=CLOSED_WITHIN)
        assert time.monotonic() - started >= SHORT * 0.8


@pytest.mark.parametrize("port", ["mock", "admin"])
def test_a_connection_that_never_sends_is_closed(
    short_keepalive: ThreadedServer, port: str
) -> None:
    url = short_keepalive.mock_url if port == "mock" else short_keepalive.admin_url
    with _connect(url) as sock:
        assert _closed_by_peer(sock, within=CLOSED_WITHIN)


def test_a_delay_longer_than_both_timeouts_is_still_answered(
    short_keepalive: ThreadedServer,
) -> None:
    _route(short_keepalive, "/slow", delay={"fixed_ms": 2000})
    started = time.monotonic()
    answer = requests.get(f"{short_keepalive.mock_url}/slow", timeout=30)
    assert answer.status_code == 200 and answer.text == "ok"
    assert time.monotonic() - started >= 1.9


def test_a_body_sent_after_the_header_timeout_is_still_read(
    short_keepalive: ThreadedServer,
) -> None:
    _route(short_keepalive, "/upload")
    with _connect(short_keepalive.mock_url) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: mock\r\nContent-Length: 4\r\n\r\n")
        # The headers are complete: neither timeout applies while the body comes.
        assert not _closed_by_peer(sock, within=SHORT * 3)
        sock.sendall(b"body")
        assert _read_response(sock).startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize("flag", ["--header-timeout", "--keepalive-timeout"])
@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_timeout_that_is_not_positive_is_a_usage_error(flag: str, value: str) -> None:
    done = run_cli("serve", "--port", "0", "--admin-port", "0", flag, value)
    assert done.returncode == 2
    assert f"{flag} must be > 0 seconds, got {float(value)}" in done.stderr
