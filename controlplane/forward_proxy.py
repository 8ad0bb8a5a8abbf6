"""The mock port as a client's HTTP proxy: absolute-form requests and CONNECT tunnels.

A client whose `HTTP_PROXY` points at the mock port sends `GET http://api.test/x`
(absolute-form) for plain HTTP and `CONNECT api.test:443` for HTTPS. The contract
(DESIGN.md, "Talking to real services"; docs/reference/forward-proxy.md):

- Session: `X-Controlplane-Session` names it; without that header, the user name of
  the request's Basic `Proxy-Authorization` does when a session has that id (so
  `HTTP_PROXY=http://{session}:{password}@127.0.0.1:8080` reaches a session from any
  client); otherwise `default`. There is no path prefix: the path is the target's.
- `proxy_auth` (a session setting, `user:password`): a proxy request without exactly
  those Basic credentials is a 407 with `Proxy-Authenticate: Basic realm="controlplane"`,
  journaled, and goes no further.
- An absolute-form request is then matched like any other, `match.host` seeing its
  target host; unmatched, it is a 404 with near misses, or, with the session setting
  `passthrough_unmatched`, it goes on to its real destination through the `proxy`
  response's machinery (the same shared client sessions, hop-by-hop headers and
  `Proxy-Authorization` dropped, nothing added) and is journaled with type `proxy`.
- `CONNECT host:port` is tunnelled without interception: connect, answer
  `200 Connection established`, then copy bytes both ways until either side closes.
  The journal records the CONNECT (path `host:port`, type `tunnel`), not what flows
  inside; a destination that cannot be reached is a 502 (`proxy_unreachable`), one
  that does not accept within 10 s a 504 (`proxy_timeout`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from typing import TYPE_CHECKING, NamedTuple

from aiohttp import web
from aiohttp.streams import StreamReader
from multidict import CIMultiDict
from yarl import URL

from controlplane import wire
from controlplane.logs import get_logger
from controlplane.request_view import RequestView
from controlplane.responses.hop import split_url
from controlplane.responses.outcome import Outcome, error_body
from controlplane.responses.proxy import ProxyResponder
from controlplane.sessions import SESSION_HEADER, SessionState

if TYPE_CHECKING:
    from controlplane.mock_app import MockHandler

__all__ = ["PROXY_REALM", "ForwardProxy"]

_log = get_logger("forward_proxy")

#: The realm of the 407's `Proxy-Authenticate` challenge.
PROXY_REALM = "controlplane"
_CHALLENGE = f'Basic realm="{PROXY_REALM}"'
#: Seconds a CONNECT waits for its destination to accept.
_CONNECT_TIMEOUT = 10.0
_CHUNK = 65_536
_JSON = CIMultiDict({"Content-Type": "application/json"})


class _Credentials(NamedTuple):
    user: str
    #: `user:password` as the client sent it (bytes, compared in constant time).
    pair: bytes


def _credentials(header: str | None) -> _Credentials | None:
    """Basic credentials from a `Proxy-Authorization` value; None when absent or not Basic."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user = pair.partition(b":")[0].decode("utf-8", "replace")
    return _Credentials(user, pair)


class _PassThrough(ProxyResponder):
    """A `proxy` response whose origin is the request's own absolute target."""

    def destination(self, request: web.BaseRequest, view: RequestView) -> tuple[str, str]:
        return split_url(str(request.url))


class _Feed:
    """The protocol's payload parser while tunnelling: every byte goes to `inbound`."""

    def __init__(self, inbound: StreamReader) -> None:
        self._inbound = inbound

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._inbound.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self._inbound.feed_eof()


class ForwardProxy:
    """Serves the mock port's proxy requests for `handler` (its sessions, its journal)."""

    def __init__(self, handler: MockHandler) -> None:
        self._handler = handler
        self._store = handler.store
        self._pass_through = _PassThrough(
            wire.ProxyResponse(url="http://pass-through.invalid"), handler.store.upstreams
        )
        #: Open tunnels' destination connections, closed by `close()`.
        self._tunnels: set[asyncio.StreamWriter] = set()

    def close(self) -> None:
        """End every open tunnel (the server is stopping): each handler then returns."""
        for writer in self._tunnels:
            writer.transport.abort()

    async def serve(self, request: web.BaseRequest) -> web.StreamResponse:
        """Pick the session, check `proxy_auth`, then tunnel, or match and answer."""
        credentials = _credentials(request.headers.get("Proxy-Authorization"))
        session_id = request.headers.get(SESSION_HEADER)
        if session_id is not None:
            session = self._store.get(session_id)
            if session is None:
                return self._handler.unknown_session(session_id)
        else:
            named = None if credentials is None else self._store.get(credentials.user)
            session = named if named is not None else self._store.default
        expected = session.proxy_credentials
        if expected is not None and (
            credentials is None or not hmac.compare_digest(credentials.pair, expected)
        ):
            return await self._refuse(request, session, credentials is not None)
        url = request.url
        if request.method == "CONNECT":
            return await self._tunnel(request, session, url)
        return await self._handler.answer(request, session, request.path, url.host or "")

    async def pass_through(
        self, request: web.BaseRequest, session: SessionState, view: RequestView
    ) -> web.StreamResponse:
        """An unmatched proxy request, sent on to its destination (`passthrough_unmatched`)."""
        outcome = self._pass_through.answer(view)
        assert outcome.render is not None
        outcome = await outcome.render(request, {})
        await self._handler.record(session, view, request.raw_headers, outcome)
        _log.debug(
            "proxy_passed_through",
            session=session.id,
            method=view.method,
            url=str(request.url),
            status=outcome.status,
            error=outcome.error,
        )
        return outcome.response

    async def _refuse(
        self, request: web.BaseRequest, session: SessionState, sent: bool
    ) -> web.Response:
        body = await request.read() if request.body_exists else b""
        view = _view(request, body)
        if sent:
            message = (
                f"wrong proxy credentials for session {session.id!r}: "
                "send the user and password of its `proxy_auth` setting"
            )
        else:
            message = (
                f"session {session.id!r} requires proxy authentication: send "
                "Proxy-Authorization: Basic credentials matching its `proxy_auth` setting"
            )
        response = web.Response(
            status=407,
            body=error_body("proxy_auth_required", message),
            headers={"Content-Type": "application/json", "Proxy-Authenticate": _CHALLENGE},
        )
        if request.method == "CONNECT":
            response.force_close()  # the client may already be sending tunnel bytes
        outcome = Outcome(response, 407, "proxy_auth", 0.0, "proxy_auth_required")
        await self._handler.record(session, view, request.raw_headers, outcome)
        _log.info(
            "proxy_auth_refused",
            session=session.id,
            method=request.method,
            target=request.raw_path,
            credentials_sent=sent,
        )
        return response

    async def _tunnel(
        self, request: web.BaseRequest, session: SessionState, url: URL
    ) -> web.StreamResponse:
        view = _view(request, b"")
        host, port = url.raw_host or "", url.port or 443
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            message = f"{host}:{port} did not accept within {_CONNECT_TIMEOUT:g} s"
            return await self._tunnel_failed(request, session, view, 504, "proxy_timeout", message)
        except OSError as exc:
            message = f"cannot reach {host}:{port}: {exc.strerror or exc}"
            return await self._tunnel_failed(
                request, session, view, 502, "proxy_unreachable", message
            )
        response = web.StreamResponse(status=200, reason="Connection established")
        response.force_close()  # the connection ends with the tunnel
        self._tunnels.add(writer)
        try:
            outcome = Outcome(response, 200, "tunnel")
            await self._handler.record(session, view, request.raw_headers, outcome)
            # aiohttp sends a 2xx answer to CONNECT without a body's framing.
            await response.prepare(request)
            inbound = StreamReader(request.protocol, _CHUNK, loop=asyncio.get_running_loop())
            # Bytes after the CONNECT head (and any the parser kept back) come to us raw.
            request.protocol.set_parser(_Feed(inbound))  # type: ignore[arg-type]
            _log.debug("proxy_tunnel_opened", session=session.id, target=f"{host}:{port}")
            sent, received = await _pipe(inbound, response, reader, writer)
        finally:
            self._tunnels.discard(writer)
            writer.close()
        _log.debug(
            "proxy_tunnel_closed",
            session=session.id,
            target=f"{host}:{port}",
            bytes_sent=sent,
            bytes_received=received,
        )
        return response

    async def _tunnel_failed(
        self,
        request: web.BaseRequest,
        session: SessionState,
        view: RequestView,
        status: int,
        code: str,
        message: str,
    ) -> web.Response:
        _log.info(code, session=session.id, target=view.path, message=message)
        response = web.Response(status=status, body=error_body(code, message), headers=_JSON)
        response.force_close()
        await self._handler.record(
            session, view, request.raw_headers, Outcome(response, status, "tunnel", 0.0, code)
        )
        return response


def _view(request: web.BaseRequest, body: bytes) -> RequestView:
    """A proxy request as the journal keeps it: CONNECT's path is its `host:port`."""
    url = request.url
    path = request.raw_path if request.method == "CONNECT" else request.path
    return RequestView(
        request.method,
        path,
        request.query_string,
        request.headers,
        body,
        url.host or "",
        peer=request,
    )


async def _pipe(
    inbound: StreamReader,
    response: web.StreamResponse,
    origin: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> tuple[int, int]:
    """Copy client -> destination and destination -> client until either side ends.

    Returns the bytes sent each way; the caller closes the destination.
    """
    counts = [0, 0]

    async def up() -> None:
        while chunk := await inbound.readany():
            counts[0] += len(chunk)
            writer.write(chunk)
            await writer.drain()

    async def down() -> None:
        while chunk := await origin.read(_CHUNK):
            counts[1] += len(chunk)
            await response.write(chunk)

    tasks = (asyncio.ensure_future(up()), asyncio.ensure_future(down()))
    try:
        # Either direction ending (a close, a reset) ends the tunnel: TLS inside it
        # does not half-close.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return counts[0], counts[1]
