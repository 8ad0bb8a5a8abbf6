"""Answers that never change go out in one write (`controlplane.responses.one_write`).

What is pinned: the bytes on the wire are exactly what aiohttp's own `web.Response`
sends for the same answer (a bare aiohttp server in the test, built without our code,
answers the same requests), for every HTTP version, keep-alive choice and HEAD; and
every behaviour around the answer holds (pipelining, chunked request bodies, the
route's side effects, webhooks, a session's delay, HTTPS). Raw sockets throughout.
"""

from __future__ import annotations

import asyncio
import gc
import re
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from multidict import CIMultiDict

from controlplane.responses import BodyResponder
from controlplane.responses.one_write import DATE
from controlplane.server import ControlplaneServer, ServerConfig
from tests.raw_http_support import REQUEST_VARIANTS, raw_request
from tests.responses_support import responder_for
from tests.webhook_support import Receiver, finished_webhooks

#: The answers compared byte for byte: (path, status, reason, headers, body).
ANSWERS: list[tuple[str, int, str | None, list[tuple[str, str]], str]] = [
    ("/plain", 200, None, [], '{"ok":true}'),
    ("/named", 201, "Made It", [("X-A", "1"), ("X-B", "2"), ("X-B", "3")], "created"),
    ("/empty", 299, None, [], ""),
    ("/missing", 404, None, [], '{"error":"none"}'),
    (
        "/given",
        200,
        None,
        [("Connection", "close"), ("Server", "mine/1"), ("Date", "yesterday")],
        "given",
    ),
]
_DATE = re.compile(rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n")


def _spec(status: int, reason: str | None, headers: list[tuple[str, str]], body: str) -> Any:
    given: dict[str, Any] = {}
    for name, value in headers:
        given.setdefault(name, []).append(value)
    return {
        "type": "raw",
        "status": status,
        **({"reason": reason} if reason is not None else {}),
        "headers": {k: v[0] if len(v) == 1 else v for k, v in given.items()},
        "body": body,
    }


@dataclass
class Servers:
    cp: ControlplaneServer
    bare: str  # host:port of the bare aiohttp server
    http: aiohttp.ClientSession

    @property
    def mock(self) -> str:
        return self.cp.mock_url.split("//")[1]

    async def route(self, **route: Any) -> dict[str, Any]:
        async with self.http.post(f"{self.cp.admin_url}/api/routes", json=route) as answer:
            assert answer.status == 201, await answer.text()
            created: dict[str, Any] = (await answer.json())["routes"][0]
            return created

    async def journal(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.cp.admin_url}/api/requests") as answer:
            requests: list[dict[str, Any]] = (await answer.json())["requests"]
            return requests


def _bare_handler(id_header: str | None) -> Any:
    """aiohttp's own answer to the same routes: a `web.Response` per request, as the
    mock port built them before (a given `Connection` closes, the id header is set)."""
    by_path = {
        path: (status, reason, headers, body) for path, status, reason, headers, body in ANSWERS
    }

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        status, reason, headers, body = by_path[request.path]
        given = CIMultiDict(headers)
        if "Content-Type" not in given:
            given["Content-Type"] = "text/plain; charset=utf-8"
        response = web.Response(body=body.encode(), status=status, reason=reason, headers=given)
        if "Connection" in given:
            response.force_close()
        if id_header is not None:
            response.headers[id_header] = "r" + request.path.replace("/", "-")
        return response

    return handle


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    async with (
        ControlplaneServer(ServerConfig(port=0, admin_port=0)) as cp,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        yield Servers(cp, "", http)


async def _exchange(address: str, data: bytes, tls: ssl.SSLContext | None = None) -> bytes:
    """Send `data` in one packet and read until the server closes the connection."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=tls)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def _as_aiohttp_answers(
    mock: str, bare: str, method: str, path: str, version: str, extra: str
) -> tuple[bytes, str]:
    """The same request sent to `mock` and to a bare aiohttp server at `bare`; asserts
    both answer the same bytes (Date aside) and gives ours and the request's description.
    A request that keeps the connection is followed, in the same packet, by one that
    closes it: both answered (unless the answer closes)."""
    data = raw_request(method, path, version, extra)
    if (version, extra) in (("1.1", ""), ("1.0", "Connection: keep-alive\r\n")):
        data += raw_request("GET", path, "1.1", "Connection: close\r\n")
    ours, theirs = await asyncio.gather(_exchange(mock, data), _exchange(bare, data))
    where = f"{method} {path} HTTP/{version} {extra!r}"
    assert _DATE.sub(b"Date: *\r\n", ours) == _DATE.sub(b"Date: *\r\n", theirs), where
    return ours, where


async def _open(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = address.rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


async def _answer(reader: asyncio.StreamReader, head_only: bool = False) -> tuple[bytes, bytes]:
    """One answer's head and body (by its Content-Length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    found = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
    length = int(found.group(1)) if found and not head_only else 0
    body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
    return head, body


@pytest.mark.parametrize("id_header", [None, "X-Route"])
async def test_the_bytes_are_what_aiohttp_sends_for_every_variant(
    servers: Servers, id_header: str | None
) -> None:
    for path, status, reason, headers, body in ANSWERS:
        await servers.route(
            id="r" + path.replace("/", "-"),
            method="*",
            path=path,
            handler=path[1:],
            response=_spec(status, reason, headers, body),
            **({"id_header": id_header} if id_header else {}),
        )
    runner = web.ServerRunner(web.Server(_bare_handler(id_header)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bare = f"127.0.0.1:{runner.addresses[0][1]}"
    try:
        for path, status, *_ in ANSWERS:
            for method, version, extra in REQUEST_VARIANTS:
                ours, where = await _as_aiohttp_answers(
                    servers.mock, bare, method, path, version, extra
                )
                assert ours.startswith(f"HTTP/{version} {status}".encode()), where
    finally:
        await runner.cleanup()


def test_only_answers_that_never_change_are_encoded_whole() -> None:
    def compiled(**fields: Any) -> BodyResponder:
        responder = responder_for({"type": "json", "body": {"ok": True}, **fields})
        assert isinstance(responder, BodyResponder)
        return responder

    assert compiled().one_write is not None
    assert compiled(status=404, headers={"X-A": "1"}).one_write is not None
    assert compiled(delay={"fixed_ms": 5}).one_write is None
    assert compiled(delay={"fixed_ms": 0}).one_write is not None  # no delay at all
    assert compiled(template=True).one_write is None
    assert compiled(chunked_dribble={"chunks": 2, "total_ms": 10}).one_write is None
    assert compiled(status=204).one_write is None  # aiohttp drops its Content-Length
    assert compiled(status=304).one_write is None


async def test_pipelined_requests_are_answered_in_order_chunked_bodies_and_head_included(
    servers: Servers,
) -> None:
    for name in ("a", "b"):
        await servers.route(
            method="*", path=f"/{name}", handler=name, response={"type": "raw", "body": name * 3}
        )
    chunked = (
        b"POST /b HTTP/1.1\r\nHost: mock\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
    )
    packet = (
        raw_request("GET", "/a", "1.1")
        + chunked
        + raw_request("HEAD", "/a", "1.1")
        + raw_request("GET", "/b", "1.1")
        + raw_request("GET", "/a", "1.1", "Connection: close\r\n")
    )
    reader, writer = await _open(servers.mock)
    writer.write(packet)
    answers = [
        await _answer(reader),
        await _answer(reader),
        await _answer(reader, head_only=True),
        await _answer(reader),
        await _answer(reader),
    ]
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed after the last
    writer.close()
    assert [body for _, body in answers] == [b"aaa", b"bbb", b"", b"bbb", b"aaa"]
    head_of_head = answers[2][0]
    assert b"\r\nContent-Length: 3\r\n" in head_of_head
    journal = await servers.journal()
    assert [(e["method"], e["path"], e["body"]) for e in journal] == [
        ("GET", "/a", ""),
        ("POST", "/b", "abcdefg"),
        ("HEAD", "/a", ""),
        ("GET", "/b", ""),
        ("GET", "/a", ""),
    ]


async def test_http_1_0_closes_unless_it_asks_for_keep_alive(servers: Servers) -> None:
    await servers.route(method="GET", path="/a", handler="a", response={"type": "raw", "body": "x"})
    reader, writer = await _open(servers.mock)
    writer.write(raw_request("GET", "/a", "1.0", "Connection: keep-alive\r\n"))
    head, body = await _answer(reader)
    assert b"\r\nConnection: keep-alive\r\n" in head and body == b"x"
    writer.write(raw_request("GET", "/a", "1.0"))  # the same connection, now without
    head, body = await _answer(reader)
    assert b"Connection" not in head and body == b"x"
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_an_answer_that_says_connection_close_closes(servers: Servers) -> None:
    await servers.route(
        method="GET",
        path="/bye",
        handler="bye",
        response={"type": "json", "body": {}, "headers": {"Connection": "close"}},
    )
    data = raw_request("GET", "/bye", "1.1") + raw_request("GET", "/bye", "1.1")
    answered = await _exchange(servers.mock, data)
    assert answered.count(b"HTTP/1.1 200 OK") == 1


async def test_times_scenario_and_id_header_hold_on_the_one_write_path(servers: Servers) -> None:
    route = await servers.route(
        method="GET",
        path="/twice",
        handler="twice",
        times=2,
        id_header="X-Route-Id",
        scenario={"name": "s", "required_state": "Started", "new_state": "Started"},
        response={"type": "json", "body": {"n": 1}},
    )
    reader, writer = await _open(servers.mock)
    writer.write(raw_request("GET", "/twice", "1.1") * 3)
    first, second, third = [await _answer(reader) for _ in range(3)]
    writer.close()
    for head, body in (first, second):
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert f"\r\nX-Route-Id: {route['id']}\r\n".encode() in head
        assert body == b'{"n":1}'
    assert third[0].startswith(b"HTTP/1.1 404 ")
    journal = await servers.journal()
    assert [e["matched"] for e in journal] == [True, True, False]
    assert [e["response"]["status"] for e in journal] == [200, 200, 404]


async def test_a_given_header_named_like_the_id_header_is_replaced_by_the_route_id(
    servers: Servers,
) -> None:
    route = await servers.route(
        method="GET",
        path="/named",
        handler="named",
        id_header="X-Id",
        response={"type": "json", "body": {}, "headers": {"X-Id": "given"}},
    )
    answered = await _exchange(servers.mock, raw_request("GET", "/named", "1.0"))
    assert answered.count(b"X-Id:") == 1
    assert f"\r\nX-Id: {route['id']}\r\n".encode() in answered


async def test_a_route_with_webhooks_answers_once_then_calls_them(servers: Servers) -> None:
    async with Receiver() as receiver:
        await servers.route(
            method="GET",
            path="/hook",
            handler="hook",
            response={"type": "json", "body": {"hooked": True}},
            webhooks=[{"method": "POST", "url": receiver.url + "/called"}],
        )
        data = raw_request("GET", "/hook", "1.1") * 2 + raw_request(
            "GET", "/hook", "1.1", "Connection: close\r\n"
        )
        answered = await _exchange(servers.mock, data)
        assert answered.count(b"HTTP/1.1 200 OK") == 3
        assert answered.count(b'{"hooked":true}') == 3
        for _ in range(3):
            assert (await receiver.arrival()).path_qs == "/called"
        listing = await finished_webhooks(servers.http, servers.cp.admin_url + "/api", 3)
        assert [call["status"] for call in listing["webhooks"]] == [204, 204, 204]


async def test_a_session_delay_is_journaled_per_request_and_not_shared(servers: Servers) -> None:
    api = servers.cp.admin_url + "/api"
    async with servers.http.post(f"{api}/sessions", json={"id": "slow"}) as made:
        assert made.status == 201
    route = {
        "method": "GET",
        "path": "/d",
        "handler": "d",
        "response": {"type": "json", "body": {}},
    }
    for prefix in (api, f"{api}/sessions/slow"):
        async with servers.http.post(f"{prefix}/routes", json=route) as added:
            assert added.status == 201
    async with servers.http.put(
        f"{api}/sessions/slow/settings", json={"delay": {"fixed_ms": 30}}
    ) as put:
        assert put.status == 200
    base = servers.cp.mock_url
    for url in (f"{base}/_s/slow/d", f"{base}/d", f"{base}/_s/slow/d", f"{base}/d"):
        async with servers.http.get(url) as answer:
            assert answer.status == 200 and await answer.json() == {}
    async with servers.http.get(f"{api}/sessions/slow/requests") as slow:
        assert [e["response"]["delay_ms"] for e in (await slow.json())["requests"]] == [30, 30]
    assert [e["response"]["delay_ms"] for e in await servers.journal()] == [0, 0]


async def test_the_date_line_is_formatted_once_a_second_as_aiohttp_formats_it() -> None:
    from aiohttp.helpers import rfc822_formatted_time  # aiohttp's own, for comparison

    for _ in range(3):  # read within one second (a boundary between the reads: again)
        first = DATE.line()
        theirs = rfc822_formatted_time()
        if DATE.line() is first:
            break
    # The same object for the whole second (the loop's reads), aiohttp's words.
    assert first == f"Date: {theirs}\r\n".encode()
    deadline = time.monotonic() + 3
    while DATE.line() is first and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # the feature is the second's turn: wait for it
    assert DATE.line() is not first
    assert _DATE.fullmatch(DATE.line())


async def test_https_on_the_mock_port_answers_pipelined_requests(tmp_path: Any) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.private_key_pem.write_to_path(str(key))
    for index, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(cert), append=index > 0)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    config = ServerConfig(port=0, admin_port=0, tls_cert=cert, tls_key=key)
    async with (
        ControlplaneServer(config) as cp,
        aiohttp.ClientSession() as http,
    ):
        route = {
            "method": "GET",
            "path": "/s",
            "handler": "s",
            "response": {"type": "raw", "body": "tls"},
        }
        async with http.post(f"{cp.admin_url}/api/routes", json=route) as added:
            assert added.status == 201
        data = raw_request("GET", "/s", "1.1")
        data += raw_request("GET", "/s", "1.1", "Connection: close\r\n")
        answered = await _exchange(cp.mock_url.split("//")[1], data, context)
    assert answered.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert answered.endswith(b"\r\n\r\ntls")


def test_aiohttp_is_the_version_range_the_one_write_path_was_checked_against() -> None:
    # The one-write responses rely on how aiohttp finishes a request (web_protocol.py,
    # `finish_response`: `prepare`, `write_eof`, then `keep_alive` read) and on its
    # encoding (the byte comparison above). A new major version must be re-checked there.
    major, minor = (int(part) for part in aiohttp.__version__.split(".")[:2])
    assert (3, 9) <= (major, minor) < (4, 0), (
        f"aiohttp {aiohttp.__version__}: re-check controlplane/responses/one_write.py "
        "against web_protocol.py's finish_response, then widen this range"
    )


#: What the scripted origin answers: repeats, given Date and Server, a hop-by-hop header,
#: no Content-Type (aiohttp labels the body `application/octet-stream`).
_ORIGIN_HEAD = (
    b"HTTP/1.1 203 Fine Then\r\nX-One: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
    b"Content-Length: 5\r\nDate: Tue, 01 Jun 2021 15:16:17 GMT\r\n"
    b"Server: origin/1\r\nKeep-Alive: timeout=5\r\nX-Route: origin\r\n\r\n"
)
_ORIGIN_BODY = b"hello"


def _origin_answer(path: bytes) -> bytes:
    """`/typed` answers with a Content-Type too, `/latin` with a header that is not UTF-8."""
    head = _ORIGIN_HEAD
    if path.endswith(b"/typed"):
        head = head.replace(b"X-One: 1\r\n", b"X-One: 1\r\nContent-Type: text/plain\r\n")
    elif path.endswith(b"/latin"):
        head = head.replace(b"X-One: 1\r\n", b"X-One: caf\xe9\r\n")
    return head + _ORIGIN_BODY


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    """A scripted HTTP/1.1 origin answering every request with the same bytes."""

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                writer.write(_origin_answer(head.split(b" ", 2)[1]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(exchange, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


def _relayed_by_aiohttp(id_header: str | None) -> Any:
    """The answer as the proxy sent it before: a `web.Response` given the origin's
    relayable headers (less `Keep-Alive`), and the route's id header set on it."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        lines = _origin_answer(request.path.encode()).decode().split("\r\n")[1:-2]
        given = CIMultiDict(line.split(": ", 1) for line in lines if not line.startswith("Keep-"))
        response = web.Response(body=_ORIGIN_BODY, status=203, reason="Fine Then", headers=given)
        if id_header is not None:
            response.headers[id_header] = "proxied"
        return response

    return handle


@pytest.mark.parametrize(
    ("id_header", "path"),
    [(None, "/p"), (None, "/typed"), ("X-Route", "/p"), ("X-Other", "/typed")],
)
async def test_a_relayed_answer_is_the_bytes_aiohttp_sent_for_it(
    servers: Servers, origin: str, id_header: str | None, path: str
) -> None:
    await servers.route(
        id="proxied",
        method="GET",
        path=path,
        handler="p",
        response={"type": "proxy", "url": origin},
        **({"id_header": id_header} if id_header else {}),
    )
    runner = web.ServerRunner(web.Server(_relayed_by_aiohttp(id_header)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bare = f"127.0.0.1:{runner.addresses[0][1]}"
    try:
        for _, version, extra in REQUEST_VARIANTS[:4]:  # the proxy answers HEAD by its own path
            ours, _ = await _as_aiohttp_answers(servers.mock, bare, "GET", path, version, extra)
            assert ours.startswith(f"HTTP/{version} 203 Fine Then\r\nX-One: 1\r\n".encode())
    finally:
        await runner.cleanup()
    journal = await servers.journal()
    assert {e["response"]["type"] for e in journal} == {"proxy"}
    assert {e["response"]["status"] for e in journal} == {203}


async def test_a_relayed_header_that_is_not_utf_8_goes_out_as_the_origin_sent_it(
    servers: Servers, origin: str
) -> None:
    # aiohttp's serialiser dropped the byte (`X-One: caf`); the relayed lines are the
    # origin's own bytes.
    await servers.route(
        method="GET", path="/latin", handler="latin", response={"type": "proxy", "url": origin}
    )
    answered = await _exchange(servers.mock, raw_request("GET", "/latin", "1.0"))
    assert answered.startswith(b"HTTP/1.0 203 Fine Then\r\nX-One: caf\xe9\r\n")
    assert answered.endswith(b"\r\n\r\nhello")


async def test_a_proxied_request_leaves_no_cycle_for_the_garbage_collector(
    servers: Servers, origin: str
) -> None:
    # The outcome and its render closure (which holds the request) were a cycle per
    # proxied request, freed only by a collection.
    await servers.route(
        method="GET", path="/p", handler="p", response={"type": "proxy", "url": origin}
    )
    reader, writer = await _open(servers.mock)
    writer.write(raw_request("GET", "/p", "1.1"))
    await _answer(reader)  # the pool's connection made, the journal's first record
    gc.collect()
    gc.disable()
    try:
        writer.write(raw_request("GET", "/p", "1.1") * 50)
        for _ in range(50):
            await _answer(reader)
        found = gc.collect()
    finally:
        gc.enable()
        writer.close()
    assert found < 50, found
