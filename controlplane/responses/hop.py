"""The hop: HTTP/1.1 from a `proxy` response to its origin, over pooled keep-alive connections.

A proxied request already has everything a client library would work out per request
(the target, the headers to send, the whole body), so the hop only writes it and parses
the answer: one `asyncio.Protocol` per connection, the request written as one buffer,
the answer parsed by httptools (llhttp, the parser Node.js uses; decisions.md, "The
proxy's hop client"). The contract:

- `Upstreams.pool(origin, tls_key, tls)` is the pool of one origin (`scheme://authority`)
  with one TLS configuration. It keeps idle keep-alive connections, the most recently
  used first, at most `MAX_IDLE`; one idle for `IDLE_SECONDS` is closed, as is one the
  origin closes, and every connection, busy or idle, at `Upstreams.close()`.
- `Pool.send(request, head_only, retry, timeout, whole_limit)` writes `request` (head and body)
  and returns the `Answer` once its head has arrived; a body of a known length up to
  `whole_limit` is read whole first (`Answer.body`), any other is read with
  `Answer.read()` as it arrives (reading from the origin pauses while more than
  `_HIGH_WATER` bytes wait for the client).
- Interim 1xx answers are skipped; the answer to a HEAD ends with its head (its
  `Content-Length` describes a body that is not sent), 204 and 304 carry none, and one
  with neither a length nor chunking ends when the origin closes. A connection is reused
  unless the answer says `Connection: close` (or is HTTP/1.0 without keep-alive), or
  ended at close.
- A request with `retry` (the caller's word that its method is idempotent, RFC 9110
  §9.2.2) sent on a reused connection that the origin closes before any byte of the
  answer (it closed the idle connection as we sent) is sent once more, on a fresh
  connection. Nothing else is retried: a proxy must not retry other requests (RFC 9112
  §9.3.1), and the same close without an answer is `Unreachable` for them.
- `timeout` bounds the connect (TLS handshake included) and each wait for the origin's
  next bytes while it owes some; not the time the client takes to read.

Errors (all `HopError`, whose text says what happened):

    HopError
     +-- Unreachable   no connection, TLS refused, or closed or garbled before the head
     +-- TimedOut      no connection or no head within `timeout`
     +-- Broken        after the head: closed early, silent for `timeout`, or garbled
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import cast

import httptools
from yarl import URL

__all__ = [
    "HOP_BY_HOP",
    "IDLE_SECONDS",
    "MAX_IDLE",
    "Answer",
    "Broken",
    "HopError",
    "Pool",
    "TimedOut",
    "TlsKey",
    "Unreachable",
    "Upstreams",
    "split_url",
]

#: Connection-specific headers (RFC 9110 §7.6.1), never forwarded either way.
HOP_BY_HOP = frozenset(
    name.lower()
    for name in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)
#: Idle keep-alive connections kept per pool; more are closed when released.
MAX_IDLE = 100
#: An idle connection is closed after this long unused.
IDLE_SECONDS = 30.0
#: Body bytes waiting for the client above which reading from the origin pauses.
_HIGH_WATER = 256 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: (insecure, ca_file, client_cert, client_key): what makes two proxies' TLS differ.
TlsKey = tuple[bool, str | None, str | None, str | None]


class HopError(Exception):
    """The request to the origin failed; the message says how."""


class Unreachable(HopError):
    """No connection, a refused TLS handshake, or no valid answer head on a connection."""


class TimedOut(HopError):
    """The connection or the answer's head did not come within the timeout."""


class Broken(HopError):
    """The answer broke off after its head: the origin closed, went silent, or garbled it."""


class _Stale(Exception):
    """A reused connection closed before any byte of the answer: worth one more try."""


def split_url(url: str) -> tuple[str, str]:
    """`http://h:1/a?b` -> (`http://h:1`, `/a?b`): the pool's origin and the request target."""
    slash = url.find("/", url.index("://") + 3)
    if slash < 0:
        return url, "/"
    return url[:slash], url[slash:]


class _Names(dict[bytes, str]):
    """Header names as they arrive -> their lower-case text, shared: an origin sends the
    same few names again and again. Emptied when full."""

    def __missing__(self, raw: bytes) -> str:
        if len(self) >= _NAMES_LIMIT:
            self.clear()
        name = self[raw] = raw.decode("latin-1").lower()
        return name


_NAMES_LIMIT = 4096
_NAMES = _Names()
#: A header name as it arrives -> its lower-case text (one C call when seen before).
_lower = _NAMES.__getitem__


def _relayable(lines: list[bytes], names: list[str]) -> tuple[list[bytes], list[str]]:
    """The answer's header lines (`name, b": ", value, b"\r\n"` each) and lower-case
    names less hop-by-hop headers and those `Connection` names, in order."""
    skip = set(HOP_BY_HOP)
    for index, name in enumerate(names):
        if name == "connection":
            skip.update(_lower(n.strip()) for n in lines[4 * index + 2].split(b","))
    kept = [index for index, name in enumerate(names) if name not in skip]
    return [part for i in kept for part in lines[4 * i : 4 * i + 4]], [names[i] for i in kept]


class Answer:
    """The origin's answer: status, reason and relayable header lines, then the body."""

    __slots__ = ("_conn", "_done", "_error", "_queue", "_queued", "_waiter", "body", "length",
                 "lines", "names", "reason", "status")  # fmt: skip

    def __init__(
        self,
        conn: _Connection,
        status: int,
        reason: str,
        lines: bytes,
        names: frozenset[str],
        length: int | None,
    ) -> None:
        self.status = status
        self.reason = reason
        #: The relayable headers (hop-by-hop ones dropped) as the lines the origin sent
        #: them, in order (`Name: value\r\n`...); `names` are their names, lower-case.
        self.lines = lines
        self.names = names
        #: The declared body length (None when chunked or until close).
        self.length = length
        #: The whole body when it was read before the answer was handed over.
        self.body: bytes | None = None
        self._conn: _Connection | None = conn
        self._queue: deque[bytes] | None = None
        self._queued = 0
        self._done = False
        self._error: HopError | None = None
        self._waiter: asyncio.Future[None] | None = None

    async def read(self) -> bytes:
        """The next chunk of the body as it arrived; b"" at its end. Raises `Broken`."""
        while not self._queue:
            if self._error is not None:
                raise self._error
            if self._done:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._queue.popleft()
        self._queued -= len(chunk)
        if self._conn is not None and self._queued < _HIGH_WATER:
            self._conn.resume()
        return chunk

    def discard(self) -> None:
        """Stop reading (the client went away): an unfinished answer's connection is closed."""
        if self._conn is not None:
            self._conn.abort()

    def _feed(self, chunk: bytes) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(chunk)
        self._queued += len(chunk)
        if self._queued >= _HIGH_WATER and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _end(self, error: HopError | None) -> None:
        self._conn = None
        self._done = True
        self._error = error
        if self._waiter is not None:
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection to the origin, carrying one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self.reused = False
        self.idle_since = 0.0
        self._paused = False
        # The exchange in progress (see `exchange`).
        self._busy = False
        self._head_only = False
        self._whole_limit = 0
        self._waiter: asyncio.Future[Answer] | None = None
        self._answer: Answer | None = None
        self._whole: list[bytes] | None = None
        self._received = False
        self._interim = False
        self._until_close = False
        self._reason = b""
        #: The answer's header lines as they arrive: name, b": ", value, b"\r\n", ...
        self._lines: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._timeout = 0.0
        self._last = 0.0

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if not self._busy:  # bytes nobody asked for: the connection is not reusable
            self.abort()
            return
        self._received = True
        self._last = self._loop.time()
        if self._parser is None:
            self._parser = httptools.HttpResponseParser(self)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"the answer is not valid HTTP/1.1: {exc}")
            self.abort()
        except httptools.HttpParserUpgrade:  # `Upgrade` is never forwarded; all the same
            self._fail("the origin switched protocols (101), which a proxied request does not")
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pool.forget(self)
        if not self._busy:
            return
        if self._until_close and self._answer is not None:
            self.on_message_complete()  # a body without length ends at close
            return
        if not self._received and self.reused:
            waiter = self._waiter
            self._finish(None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(_Stale())
            return
        why = f": {exc}" if exc is not None else ""
        self._fail(f"the origin closed the connection{why}")

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self._last = self._loop.time()
            self.transport.resume_reading()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------ the exchange

    def exchange(
        self, request: bytes, head_only: bool, timeout: float, whole_limit: int
    ) -> asyncio.Future[Answer]:
        """Send `request`; the future is the answer, once its head (or whole body) is in."""
        assert self.transport is not None and not self._busy
        self._busy = True
        self._head_only = head_only
        self._whole_limit = whole_limit
        self._received = False
        self._reason = b""
        self._lines = []
        self._waiter = waiter = self._loop.create_future()
        self._timeout = timeout
        self._last = now = self._loop.time()
        # The timer outlives the exchange (re-armed only when it fires with one in
        # progress), so a busy connection does not set and cancel one per request.
        if self._timer is None or self._timer_at > now + timeout:
            self._arm(now + timeout)
        self.transport.write(request)
        return waiter

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._on_timer)
        self._timer_at = when

    def _on_timer(self) -> None:
        self._timer = None
        if not self._busy:
            return
        now = self._loop.time()
        if self._paused or now - self._last < self._timeout:
            self._arm((now if self._paused else self._last) + self._timeout)
            return
        if self._answer is None and not (self._waiter is None or self._waiter.done()):
            self._waiter.set_exception(TimedOut(f"no answer within {self._timeout:g} s"))
            self._finish(None)
        else:
            self._fail(f"TimeoutError: no data for {self._timeout:g} s")
        self.abort()

    def _fail(self, message: str) -> None:
        """End the exchange with an error: before the head, the caller's; after, the body's."""
        if not self._busy:
            return
        answer, waiter = self._answer, self._waiter
        self._finish(None)
        if answer is None:
            if waiter is not None and not waiter.done():
                waiter.set_exception(Unreachable(message))
        elif waiter is not None and not waiter.done():
            waiter.set_exception(Broken(message))  # a body being read whole
        else:
            answer._end(Broken(message))

    def _finish(self, answer: Answer | None) -> None:
        if self._paused:  # what the client has yet to read is the answer's, not the connection's
            self.resume()
        self._busy = False
        self._answer = None
        self._whole = None
        self._waiter = None
        self._until_close = False
        if answer is not None:
            answer._end(None)

    # ------------------------------------------------------------------ httptools callbacks

    def on_status(self, status: bytes) -> None:
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._lines += (name, b": ", value, b"\r\n")

    def on_headers_complete(self) -> None:
        assert self._parser is not None and self._waiter is not None
        status = self._parser.get_status_code()
        lines, reason = self._lines, self._reason
        self._lines, self._reason = [], b""  # for the next head (after an interim one)
        if status < 200:
            self._interim = True  # 100 Continue, 103 Early Hints: the final answer follows
            return
        head = lines
        names = list(map(_lower, lines[::4]))
        if not HOP_BY_HOP.isdisjoint(names):  # rare: most answers are relayed as they came
            lines, names = _relayable(lines, names)
        given = frozenset(names)
        length = None
        if "content-length" in given:
            value = lines[4 * names.index("content-length") + 2]
            length = int(value) if value.isdigit() else None
        answer = Answer(self, status, reason.decode("latin-1"), b"".join(lines), given, length)
        self._answer = answer
        self._whole = []
        if self._head_only:
            self.on_message_complete()
            self._parser = None  # llhttp would wait for the body the head announces
            return
        if status in (204, 304):
            return  # no body: llhttp completes the message now
        if length is None:
            self._until_close = not any(
                name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
                for name, value in zip(head[::4], head[2::4], strict=True)
            )
        if length is None or length > self._whole_limit:
            self._whole = None
            self._waiter.set_result(answer)

    def on_body(self, body: bytes) -> None:
        if self._whole is not None:
            self._whole.append(body)
        elif self._answer is not None:
            self._answer._feed(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if not self._busy:
            return
        answer, waiter, whole = self._answer, self._waiter, self._whole
        keep = (
            not self._until_close
            and self._parser is not None
            and self._parser.should_keep_alive()
            and self.transport is not None
        )
        if answer is not None and whole is not None:
            answer.body = b"".join(whole) if len(whole) != 1 else whole[0]
        self._finish(answer)
        if answer is not None and waiter is not None and not waiter.done():
            waiter.set_result(answer)
        if keep:
            self._pool.release(self)
        else:
            self.abort()


class Pool:
    """The keep-alive connections to one origin with one TLS configuration."""

    def __init__(self, origin: str, tls: ssl.SSLContext | None) -> None:
        url = URL(origin)
        #: `scheme://authority`, as given.
        self.origin = origin
        self.loop = asyncio.get_running_loop()
        self._host = url.raw_host or ""
        self._port = url.port or _DEFAULT_PORTS[url.scheme]
        self._tls = tls if url.scheme == "https" else None
        host = f"[{self._host}]" if ":" in self._host else self._host
        default = self._port == _DEFAULT_PORTS[url.scheme]
        #: The `Host` header's value for this origin.
        self.host = (host if default else f"{host}:{self._port}").encode("ascii")
        #: Set by `close()`: its `Upstreams` closed it (the server stopped).
        self.closed = False
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    async def send(
        self, request: bytes, head_only: bool, retry: bool, timeout: float, whole_limit: int
    ) -> Answer:
        """Send `request` and return the answer (module docstring); raises `HopError`."""
        while self._idle:
            conn = self._idle.pop()
            if conn.transport is None:
                continue
            try:
                return await conn.exchange(request, head_only, timeout, whole_limit)
            except _Stale:
                if not retry:
                    raise Unreachable("the origin closed the connection") from None
                break  # the origin closed it as we sent: once more on a fresh connection
            except asyncio.CancelledError:
                conn.abort()  # the client went away mid-exchange: the connection is spent
                raise
        conn = await self._connect(timeout)
        try:
            return await conn.exchange(request, head_only, timeout, whole_limit)
        except _Stale:  # pragma: no cover - a fresh connection is never `reused`
            raise Unreachable("the origin closed the connection") from None
        except asyncio.CancelledError:
            conn.abort()
            raise

    async def _connect(self, timeout: float) -> _Connection:
        try:
            async with asyncio.timeout(timeout):
                _, conn = await self.loop.create_connection(
                    lambda: _Connection(self),
                    self._host,
                    self._port,
                    ssl=self._tls,
                    server_hostname=self._host if self._tls is not None else None,
                )
        except TimeoutError:
            raise TimedOut(f"no connection within {timeout:g} s") from None
        except OSError as exc:  # ssl.SSLError included
            raise Unreachable(str(exc) or type(exc).__name__) from None
        self._open.add(conn)
        return conn

    def release(self, conn: _Connection) -> None:
        """An exchange ended with the connection reusable: keep it idle, if room."""
        if len(self._idle) >= MAX_IDLE or self.closed:
            conn.abort()
            return
        conn.reused = True
        conn.idle_since = self.loop.time()
        self._idle.append(conn)
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(IDLE_SECONDS, self._sweep)

    def forget(self, conn: _Connection) -> None:
        """`conn` closed (either side)."""
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)

    def _sweep(self) -> None:
        """Close connections idle for `IDLE_SECONDS` (the oldest are first in `_idle`)."""
        self._sweeper = None
        cutoff = self.loop.time() - IDLE_SECONDS
        stale = 0
        while stale < len(self._idle) and self._idle[stale].idle_since <= cutoff:
            stale += 1
        expired, self._idle = self._idle[:stale], self._idle[stale:]
        for conn in expired:
            conn.abort()
        if self._idle:
            wait = self._idle[0].idle_since + IDLE_SECONDS - self.loop.time()
            self._sweeper = self.loop.call_later(max(wait, 0.0), self._sweep)

    def close(self) -> None:
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._open):
            conn.abort()
        self._idle.clear()


class Upstreams:
    """Every origin's pool, keyed by origin and TLS configuration; closed at shutdown."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, TlsKey], Pool] = {}

    def pool(self, origin: str, tls_key: TlsKey, tls: ssl.SSLContext) -> Pool:
        """The pool for `origin` (`scheme://authority`), created on first use."""
        found = self._pools.get((origin, tls_key))
        if found is None:
            found = self._pools[(origin, tls_key)] = Pool(origin, tls)
        return found

    async def close(self) -> None:
        """Close every connection (the server is stopping)."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
