"""The proxy's hop client against a scripted HTTP/1.1 origin on a raw socket.

What aiohttp-based origins cannot show: interim answers, bodies that end at close,
`Connection: close`, an origin closing a keep-alive connection under a request, and
which connection each request arrived on. Every test runs on the asyncio loop and on
uvloop (the loop `controlplane serve` uses).
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from controlplane.journal import OriginAnswer
from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
_BIG = bytes(range(256)) * 8192  # 2 MiB: more than the hop buffers before pausing


class _Exchange(socketserver.StreamRequestHandler):
    server: _RawOrigin

    def handle(self) -> None:
        number = self.server.opened()
        served = 0
        while True:
            line = self.rfile.readline()
            if not line:
                break
            method, path, _ = line.decode().split(" ", 2)
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = self.rfile.read(length)
            self.server.seen.append((number, method, path, body))
            served += 1
            answer = self.server.answer(method, path, served)
            if answer is None:
                break  # close without answering
            self.wfile.write(answer)
            if path == "/unframed":
                break
        self.server.closed.set()


class _RawOrigin(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Exchange)
        self.seen: list[tuple[int, str, str, bytes]] = []
        self.closed = threading.Event()
        self._count = 0
        self._lock = threading.Lock()

    def opened(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def answer(self, method: str, path: str, served: int) -> bytes | None:
        if path == "/silent" or (path == "/drop-second" and served > 1):
            return None
        if path == "/close":
            return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
        if path == "/early":
            return b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + _OK
        if path == "/switch":
            return (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n\r\n"
            )
        if path == "/odd":
            return (
                b"HTTP/1.1 200 Fine\r\nX-Colon: a: b\r\nX-Empty:\r\nX-Rep: 1\r\nx-rep: 2\r\n"
                b"X-Bytes: \xff\r\nKeep-Alive: timeout=5\r\n" + _OK.split(b"\r\n", 1)[1]
            )
        if path == "/unframed":
            return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close"
        if path == "/big":
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(_BIG), _BIG)
        if method == "HEAD":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        return _OK

    def connections(self, path: str) -> list[int]:
        return [number for number, _, seen, _ in self.seen if seen == path]


@pytest.fixture
def origin() -> Iterator[_RawOrigin]:
    server = _RawOrigin()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _start(loop: str) -> ThreadedServer:
    """A server on `loop` (the policy decides the loop `ThreadedServer` creates)."""
    if loop == "asyncio":
        return ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    uvloop = pytest.importorskip("uvloop")
    before = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        return ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    finally:
        asyncio.set_event_loop_policy(before)


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def server(request: pytest.FixtureRequest) -> Iterator[ThreadedServer]:
    running = _start(request.param)
    yield running
    running.stop()


def forward(server: ThreadedServer, port: int) -> str:
    """The server's default session, forwarding everything (only) to 127.0.0.1:`port`."""
    response = {"type": "proxy", "url": f"http://127.0.0.1:{port}", "timeout_ms": 5000}
    route = {"method": "*", "path": "/{rest:.*}", "handler": "hop", "response": response}
    admin = f"{server.admin_url}/api"
    requests.delete(f"{admin}/routes", timeout=10)
    assert requests.post(f"{admin}/routes", json=route, timeout=10).status_code == 201
    return server.mock_url


@pytest.fixture
def mock_url(server: ThreadedServer, origin: _RawOrigin) -> str:
    return forward(server, origin.server_address[1])


def get(url: str, method: str = "GET", **kwargs: Any) -> requests.Response:
    return requests.request(method, url, timeout=10, **kwargs)


def test_keep_alive_connections_are_reused(mock_url: str, origin: _RawOrigin) -> None:
    for _ in range(3):
        assert get(f"{mock_url}/keep").text == "ok"
    assert origin.connections("/keep") == [1, 1, 1]


def test_a_large_body_is_relayed_whole_while_the_client_reads_slowly(
    mock_url: str, origin: _RawOrigin
) -> None:
    with get(f"{mock_url}/big", stream=True) as answer:
        assert answer.headers["Content-Length"] == str(len(_BIG))
        received = b"".join(answer.iter_content(4096))
    assert received == _BIG
    assert get(f"{mock_url}/keep").text == "ok"
    assert origin.connections("/keep") == [1]


def test_a_head_answer_ends_with_its_head(mock_url: str, origin: _RawOrigin) -> None:
    head = get(f"{mock_url}/keep", "HEAD")
    assert (head.status_code, head.content) == (200, b"")
    assert get(f"{mock_url}/keep").text == "ok"  # the connection was left in step
    assert [(n, m) for n, m, _, _ in origin.seen] == [(1, "HEAD"), (1, "GET")]


def test_interim_answers_are_skipped(mock_url: str, origin: _RawOrigin) -> None:
    answer = get(f"{mock_url}/early")
    assert (answer.status_code, answer.text) == (200, "ok")
    assert "Link" not in answer.headers


def test_a_body_without_length_ends_when_the_origin_closes(
    mock_url: str, origin: _RawOrigin
) -> None:
    answer = get(f"{mock_url}/unframed")
    assert (answer.status_code, answer.text) == (200, "until the close")
    assert get(f"{mock_url}/keep").text == "ok"
    assert origin.connections("/keep") == [2]


def test_connection_close_is_honoured(mock_url: str, origin: _RawOrigin) -> None:
    # The origin keeps the connection open: only the proxy's reading of the header
    # sends the next request elsewhere.
    assert get(f"{mock_url}/close").text == "ok"
    assert get(f"{mock_url}/keep").text == "ok"
    assert origin.connections("/close") + origin.connections("/keep") == [1, 2]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_idempotent_request_on_a_keep_alive_connection_closed_under_it_is_sent_again(
    mock_url: str, origin: _RawOrigin, method: str
) -> None:
    assert get(f"{mock_url}/keep").text == "ok"
    # The origin closes connection 1 on reading the request, as if it had timed it out.
    answer = get(f"{mock_url}/drop-second", method, data=b"body")
    assert (answer.status_code, answer.text) == (200, "ok")
    assert [(n, m, b) for n, m, p, b in origin.seen if p == "/drop-second"] == [
        (1, method, b"body"),
        (2, method, b"body"),
    ]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_any_other_request_is_not_sent_again(
    mock_url: str, origin: _RawOrigin, method: str
) -> None:
    assert get(f"{mock_url}/keep").text == "ok"
    answer = get(f"{mock_url}/drop-second", method, data=b"body")
    assert answer.status_code == 502
    port = origin.server_address[1]
    assert answer.json()["error"] == {
        "code": "proxy_unreachable",
        "message": f"cannot reach http://127.0.0.1:{port}/drop-second: "
        "the origin closed the connection",
        "location": None,
    }
    assert origin.connections("/drop-second") == [1]


def test_a_fresh_connection_closed_without_an_answer_is_a_502(
    mock_url: str, origin: _RawOrigin
) -> None:
    answer = get(f"{mock_url}/silent")
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "proxy_unreachable"
    port = origin.server_address[1]
    assert error["message"] == (
        f"cannot reach http://127.0.0.1:{port}/silent: the origin closed the connection"
    )
    assert origin.connections("/silent") == [1]  # not retried


def test_an_origin_switching_protocols_is_a_502(mock_url: str, origin: _RawOrigin) -> None:
    answer = get(f"{mock_url}/switch")
    assert answer.status_code == 502
    port = origin.server_address[1]
    assert answer.json()["error"]["message"] == (
        f"cannot reach http://127.0.0.1:{port}/switch: "
        "the origin switched protocols (101), which a proxied request does not"
    )


def test_pooled_connections_close_when_the_server_stops(origin: _RawOrigin) -> None:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    try:
        assert get(f"{forward(server, origin.server_address[1])}/keep").text == "ok"
        assert not origin.closed.is_set()  # idle in the pool
    finally:
        server.stop()
    assert origin.closed.wait(10)


def test_an_origin_that_is_not_http_is_a_502(server: ThreadedServer) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def garble() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        thread = threading.Thread(target=garble, daemon=True)
        thread.start()
        answer = get(f"{forward(server, port)}/garbled")
        thread.join(10)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "proxy_unreachable"
    assert error["message"].startswith(
        f"cannot reach http://127.0.0.1:{port}/garbled: the answer is not valid HTTP/1.1: "
    )


def test_header_lines_are_relayed_as_the_origin_sent_them(mock_url: str) -> None:
    port = int(mock_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /odd HTTP/1.1\r\nHost: mock\r\n\r\n")
        received = b""
        while not received.endswith(b"\r\n\r\nok"):
            chunk = client.recv(65536)
            assert chunk, received
            received += chunk
    head = received.split(b"\r\n\r\n")[0]
    assert head.startswith(
        b"HTTP/1.1 200 Fine\r\nX-Colon: a: b\r\nX-Empty: \r\nX-Rep: 1\r\nx-rep: 2\r\n"
        b"X-Bytes: \xff\r\nContent-Length: 2\r\n"
    )
    assert b"keep-alive" not in head.lower()  # hop-by-hop: dropped


def test_a_journaled_answer_decodes_its_header_lines_when_read() -> None:
    lines = (
        b"X-Colon: a: b\r\nX-Empty: \r\nX-Trail: t  \r\nX-Rep: 1\r\nx-rep: 2\r\nX-Bytes: \xff\r\n"
    )
    origin = OriginAnswer(200, "OK", lines=lines)
    assert list(origin.headers.items()) == [
        ("X-Colon", "a: b"),
        ("X-Empty", ""),
        ("X-Trail", "t  "),
        ("X-Rep", "1"),
        ("x-rep", "2"),
        ("X-Bytes", "\udcff"),
    ]
    assert origin.headers.getall("X-REP") == ["1", "2"]
