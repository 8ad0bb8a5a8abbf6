"""One-write answers: the status line, headers and body go to the transport in one call.

aiohttp finishes every request the same way (`RequestHandler.finish_response`): it
awaits `response.prepare(request)`, then `response.write_eof()`, then reads
`response.keep_alive` to decide whether the connection takes another request. A
`web.Response` pays, per request, for a header multidict copied and completed
(`Content-Length`, `Date`, `Server`, `Connection`), serialised, and written. The
responses here override those three public hooks instead: `prepare` writes bytes
encoded ahead in one `transport.write`, `write_eof` has nothing left to do, and
`keep_alive` is what the request asked for. The bytes are exactly what aiohttp's own
`web.Response` would send for the same answer (tests/test_one_write.py compares them
for every variant, so an aiohttp that changes its encoding fails there, loudly).

- `Canned`: an answer that never changes (a plain json/raw/... body, no template, no
  delay, no dribble), encoded once (on its first request: registering 10,000 routes
  stays as cheap as before). Its responses are shared: one per
  variant (HTTP/1.0 or 1.1, keep-alive or not, HEAD or not, the route's id header or
  none), made on first use, each holding its whole answer as one `bytes`, rebuilt when
  the `Date` second changes. Per request: pick the variant, write one buffer; nothing
  is allocated.
- `Relayed`: an answer built per request from parts (the reverse proxy's relayed
  answer with its whole body): the head is encoded from the parts and written with
  the body in one call.

The variant is chosen from the request before `prepare` (a shared response cannot
remember which request it served: aiohttp reads `keep_alive` after other connections
may have run). Whether this request's answer was already written (a route with
webhooks writes it before they start; aiohttp then finishes it again) is read from
the request's own writer, whose `output_size` counts what was written for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable
from email.utils import formatdate
from http import HTTPStatus
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import SERVER_SOFTWARE, HttpVersion10, HttpVersion11
from multidict import CIMultiDict

from controlplane.journal import decode_header_lines
from controlplane.responses.outcome import Outcome

__all__ = [
    "DATE",
    "Canned",
    "HttpDate",
    "OneWriteResponse",
    "Relayed",
    "encode_header_lines",
]

#: Headers aiohttp computes itself, or whose presence changes how it frames the body:
#: an answer carrying any of these is sent by a plain `web.Response` instead.
_FRAMING: Final = frozenset(("content-length", "transfer-encoding"))
#: Bytes a header value may not contain (aiohttp refuses them: header injection).
_FORBIDDEN: Final = frozenset(chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F))
_SERVER_LINE: Final = f"Server: {SERVER_SOFTWARE}\r\n".encode()
#: aiohttp's reason phrases (`web.Response(status=...)` without a reason).
_REASONS: Final = {status.value: status.phrase for status in HTTPStatus}
#: Per-route id-header variants kept per answer (routes sharing one handler); beyond it,
#: the cache starts again (routes replaced many times over one response).
_ID_VARIANTS_LIMIT: Final = 256


class HttpDate:
    """The `Date` header line, formatted at most once a second (as aiohttp caches its own).

    `line()` returns the same `bytes` object for the whole second, so a caller can tell a
    new second by identity.
    """

    __slots__ = ("_line", "_next")

    def __init__(self) -> None:
        self._line = b""
        self._next = 0.0

    def line(self) -> bytes:
        """`Date: <RFC 9110 IMF-fixdate>\\r\\n` for the current second."""
        now = time.time()
        if now >= self._next:
            second = int(now)
            self._line = f"Date: {formatdate(second, usegmt=True)}\r\n".encode("ascii")
            self._next = second + 1
        return self._line


DATE: Final = HttpDate()


def encode_header_lines(headers: Iterable[tuple[str, str]]) -> bytes | None:
    """`Name: value\\r\\n` for each header, UTF-8 as aiohttp writes them; None when a name
    or value holds a control character (aiohttp refuses to send those)."""
    lines: list[str] = []
    for name, value in headers:
        if not _FORBIDDEN.isdisjoint(name) or not _FORBIDDEN.isdisjoint(value):
            return None
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("utf-8")


def _write(request: web.BaseRequest, writer: AbstractStreamWriter, data: bytes) -> bool:
    """`data` to the client in one call, counted on the request's `writer` as aiohttp
    counts what it writes; True when the transport's buffer is over its limit (the
    caller then awaits `writer.drain()`). Not a coroutine: most writes need no wait,
    and an await of a coroutine costs a frame per request."""
    transport = request.transport
    if transport is None or transport.is_closing():
        # What aiohttp's writer raises: its request handler stops quietly on it.
        raise ConnectionResetError("Cannot write to closing transport")
    transport.write(data)
    writer.output_size += len(data)
    return bool(transport.get_write_buffer_size())


class OneWriteResponse(web.StreamResponse):
    """A response aiohttp finishes with one write: `prepare` sends `encode(request)`."""

    def __init__(self, status: int, reason: str | None, keep_alive: bool) -> None:
        super().__init__(status=status, reason=reason)
        self._keep = keep_alive

    @property
    def keep_alive(self) -> bool:
        """Whether the connection takes another request after this answer."""
        return self._keep

    def encode(self, request: web.BaseRequest) -> bytes:
        """The whole answer to `request`: status line, headers, body."""
        raise NotImplementedError

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        writer = request.writer
        if writer.output_size:
            return None  # written already for this request (before a route's webhooks)
        if _write(request, writer, self.encode(request)):
            await writer.drain()
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None  # everything went out with `prepare`


def _reason(status: int, reason: str | None) -> str:
    """The reason phrase as aiohttp words it: the given one, else its table's ("" when
    the status has no name)."""
    return _REASONS.get(status, "") if reason is None else reason


class _Head:
    """An answer's parts, encoded: all of it but the version and the per-request lines."""

    __slots__ = ("body", "close", "lines", "names", "status")

    def __init__(
        self, status: int, reason: str, lines: bytes, body: bytes, names: Container[str]
    ) -> None:
        self.status = f"{status} {reason}\r\n".encode()
        self.lines = lines
        self.body = body
        #: The names of the headers the answer gives, for `in` with a lower-case name (a
        #: collection of lower-case names, or the headers' own case-insensitive multidict).
        self.names = names
        #: The answer says `Connection` itself (the wire lets only `close` by): aiohttp
        #: adds none, and the connection closes after it.
        self.close = "connection" in names

    @classmethod
    def build(
        cls, status: int, reason: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> _Head | None:
        """The parts encoded, or None when aiohttp must send this answer itself: 1xx,
        204 and 304 (no body, and aiohttp drops their Content-Length), an answer that sets
        its own framing, a header value aiohttp would refuse."""
        pairs = [(str(name), value) for name, value in headers]
        names = {name.lower() for name, _ in pairs}
        if not _FRAMING.isdisjoint(names):
            return None
        lines = encode_header_lines(pairs)
        if lines is None or not _sendable(status, reason):
            return None
        return cls(status, reason, lines, body, names)

    def encode(
        self, version_10: bool, keep_alive: bool, head_only: bool, extra: bytes, date: bytes
    ) -> bytes:
        """The whole answer (see `_encode`)."""
        return _encode(
            self.status, self.lines, self.names, self.body,
            version_10, keep_alive, head_only, extra, date,
        )  # fmt: skip


def _encode(
    status: bytes,
    lines: bytes,
    names: Container[str],
    body: bytes,
    version_10: bool,
    keep_alive: bool,
    head_only: bool,
    extra: bytes,
    date: bytes,
) -> bytes:
    """The answer as aiohttp's `web.Response` orders it: the status line (`status`, as
    `200 OK\\r\\n`), the given headers (`lines`, named `names` in lower case) then a
    route's id header (`extra`), Content-Length, Content-Type (when none is given), Date,
    Server, Connection; then the body.

    aiohttp adds Date and Server only when they are not given; a given Content-Length
    (a relayed answer's, equal to its whole body) is kept as given; a body without a
    Content-Type is labelled `application/octet-stream`; a given `Connection` (the wire
    lets only `close` by) stands alone."""
    parts = [b"HTTP/1.0 " if version_10 else b"HTTP/1.1 ", status, lines, extra]
    if "content-length" not in names and (body or not head_only):
        parts.append(b"Content-Length: %d\r\n" % len(body))
    if body and not head_only and "content-type" not in names:
        parts.append(b"Content-Type: application/octet-stream\r\n")
    if "date" not in names:
        parts.append(date)
    if "server" not in names:
        parts.append(_SERVER_LINE)
    if "connection" not in names:
        if keep_alive:
            parts.append(b"Connection: keep-alive\r\n" if version_10 else b"")
        elif not version_10:
            parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    if not head_only:
        parts.append(body)
    return b"".join(parts)


def _sendable(status: int, reason: str) -> bool:
    # 1xx, 204 and 304 carry no body and aiohttp drops their Content-Length: leave them
    # to it; a reason with a line break it refuses.
    return status >= 200 and status not in (204, 304) and "\r" not in reason and "\n" not in reason


def _variant(request: web.BaseRequest) -> int | None:
    """4 * HTTP/1.0 + 2 * not keep-alive + HEAD; None when aiohttp must answer this
    request itself (another HTTP version, or CONNECT: no body after a 2xx)."""
    version = request.version
    if version == HttpVersion11:
        index = 0
    elif version == HttpVersion10:
        index = 4
    else:
        return None
    method = request.method
    if method == "HEAD":
        index += 1
    elif method == "CONNECT":
        return None
    if not request.keep_alive:
        index += 2
    return index


class _CannedResponse(OneWriteResponse):
    """One variant of a `Canned` answer, shared by every request of that variant."""

    def __init__(self, canned: Canned, variant: int, extra: bytes) -> None:
        head = canned.head
        super().__init__(canned.status, canned.reason, not variant & 2 and not head.close)
        self._head = head
        self._version_10 = bool(variant & 4)
        self._head_only = bool(variant & 1)
        self._extra = extra
        self._date = b""
        self._data = b""

    def encode(self, request: web.BaseRequest) -> bytes:
        date = DATE.line()
        if date is not self._date:  # a new second: the Date line changed
            self._data = self._head.encode(
                self._version_10, self._keep, self._head_only, self._extra, date
            )
            self._date = date
        return self._data


#: The responses of one answer with one extra header line, by variant, each made on
#: first use (10,000 routes would otherwise hold 80,000 responses most never send).
_Made = list[_CannedResponse | None]


#: Builds the answer as a plain `web.Response` (a fresh one per call).
PlainResponse = Callable[[], web.StreamResponse]
#: What a canned outcome holds as its `response`: never sent (`Canned.response` is).
_UNSENT: Final = web.StreamResponse(status=500)


class Canned:
    """An answer that never changes, encoded at registration.

    `outcome` is what the journal records of every request it answers (shared: never
    changed per request; its `response` is not the one sent); `response(request, ...)`
    is the response for one request.
    """

    __slots__ = ("_by_id", "_made", "_plain", "head", "outcome", "reason", "status")

    def __init__(
        self, head: _Head, status: int, reason: str, type: str, plain: PlainResponse
    ) -> None:
        self.head = head
        self.status = status
        self.reason = reason
        self._plain = plain
        self._made: _Made = [None] * 8
        self.outcome = Outcome(_UNSENT, status, type)
        #: route id -> (its id header's name, that header's line, its variants).
        self._by_id: dict[str, tuple[str, bytes, _Made]] = {}

    @classmethod
    def build(
        cls,
        type: str,
        status: int,
        reason: str | None,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        plain: PlainResponse,
    ) -> Canned | None:
        """The canned form of an answer with these parts, or None when aiohttp must send
        it (see `_Head.build`). `plain` builds the same answer as a `web.Response`, for a
        request the canned bytes do not fit (another HTTP version, CONNECT)."""
        worded = _reason(status, reason)
        head = _Head.build(status, worded, headers, body)
        return None if head is None else cls(head, status, worded, type, plain)

    def response(
        self, request: web.BaseRequest, id_header: str | None, route_id: str
    ) -> web.StreamResponse:
        """The shared response for this request's version, keep-alive and method, with
        the route's id header (`id_header: route_id`) when it has one."""
        index = _variant(request)
        if index is not None:
            made: _Made | None = self._made
            extra = b""
            if id_header is not None:
                kept = self._by_id.get(route_id)
                if kept is None or kept[0] != id_header:
                    kept = self._for_route(id_header, route_id)
                if kept is None:
                    made = None
                else:
                    extra, made = kept[1], kept[2]
            if made is not None:
                canned = made[index]
                if canned is None:
                    canned = made[index] = _CannedResponse(self, index, extra)
                return canned
        response = self._plain()
        if id_header is not None:
            response.headers[id_header] = route_id
        return response

    def _for_route(self, id_header: str, route_id: str) -> tuple[str, bytes, _Made] | None:
        if id_header.lower() in self.head.names:
            return None  # aiohttp replaces a given header in place: let it
        line = encode_header_lines([(id_header, route_id)])
        if line is None:
            return None
        if len(self._by_id) >= _ID_VARIANTS_LIMIT:
            self._by_id.clear()
        kept = self._by_id[route_id] = (id_header, line, [None] * 8)
        return kept


class Relayed(OneWriteResponse):
    """An answer built for one request from its parts, head and body written in one call:
    the reverse proxy's relayed answer when its whole body is in hand.

    The origin's header lines are relayed as the bytes it sent (less hop-by-hop ones);
    its Content-Length, Date and Server are kept, as aiohttp keeps given ones. Headers
    set on `headers` before it is sent (a route's id header) go out after them, or
    replace a given one of the same name, as on a `web.Response`.

    One is made per proxied request, so it sets only what is read of a response it is
    given (aiohttp: `prepare`, `write_eof`, `keep_alive`; the mock handler: `headers`,
    made on first use; `status` and `reason`): `StreamResponse.__init__` would build a
    state dict and a header multidict that nearly every relayed answer never uses.
    """

    _added: CIMultiDict[str] | None = None

    def __init__(
        self,
        status: int,
        reason: str,
        lines: bytes,
        names: Container[str],
        body: bytes,
        variant: int,
    ) -> None:
        # Not StreamResponse.__init__ (see the class docstring): these are all it sets
        # that a sent Relayed reads.
        self._status = status
        self._reason = reason
        self._keep = not variant & 2
        self._version_10 = bool(variant & 4)
        self._lines = lines
        self._names = names
        self._whole = body

    @property
    def headers(self) -> CIMultiDict[str]:
        """Headers set before the answer is sent (a route's id header)."""
        added = self._added
        if added is None:
            added = self._added = self._headers = CIMultiDict()
        return added

    @classmethod
    def build(
        cls,
        request: web.BaseRequest,
        status: int,
        reason: str,
        lines: bytes,
        names: Container[str],
        length: int | None,
        body: bytes,
    ) -> Relayed | None:
        """The one-write answer to `request` (not HEAD: `body` is sent), or None when
        aiohttp must send it. `lines` are the header lines as sent (decoded only if a
        header set on the response replaces one of them), `names` their names in lower
        case, `length` their Content-Length."""
        variant = _variant(request)
        if variant is None or variant & 1 or not _sendable(status, reason):
            return None
        if "transfer-encoding" in names:
            return None
        if length != len(body) and "content-length" in names:
            return None  # a length that is not the body's: aiohttp's writer cuts to it
        return cls(status, reason, lines, names, body, variant)

    def encode(self, request: web.BaseRequest) -> bytes:
        status = f"{self._status} {self._reason}\r\n".encode()
        lines, names, extra = self._lines, self._names, b""
        added = self._added
        if added:
            if not any(name.lower() in names for name in added):
                extra = encode_header_lines(added.items()) or b""  # refused: left out
            else:  # a given header replaced, in its place: aiohttp's order
                merged = decode_header_lines(self._lines)
                for name, value in added.items():
                    merged[name] = value
                encoded = encode_header_lines(merged.items())
                if encoded is not None:
                    lines, names = encoded, merged
        return _encode(
            status, lines, names, self._whole,
            self._version_10, self._keep, False, extra, DATE.line(),
        )  # fmt: skip
