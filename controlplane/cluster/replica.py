"""Admin changes as an op log every process applies: the same state everywhere.

Matching stays in each process's memory. Every admin write (a request other than
GET, HEAD or OPTIONS to an admin endpoint; `LOCAL` lists the exceptions) is not
applied where it arrives: `Replica.middleware` appends it, as an `Op` (method, path
and query, the headers that matter, the body), to one Redis Stream, `cp:{*}:oplog`.
Every process follows that stream and applies each op in stream order, one at a
time, by dispatching it through its own admin application (`_request` builds the
request; ids drawn meanwhile derive from the op's id, see `controlplane.ids`). The
process whose client sent the op answers with the response of its own application,
once every live member (`controlplane.cluster.members`) has applied it too.

A process starting later replays the whole log before it joins and serves.

Some changes are not admin requests: a callback's WebSocket opening in one process
(`controlplane.callbacks`) must be known by all. They go through the same log as
internal ops (`submit_internal`), named by a method starting with `@`, each applied
by the function registered under its name (`internal`).

An answer that counts what each process did (a push's `delivered`, a close's
`closed`: `controlplane.ids.tally`) is the sum of every process's part: the others
add theirs to the hash `cp:{*}:tally:{op id}` before they acknowledge the op, and
the process that answers adds them to its own once every live process has applied it.

Redis lost while running: writes answer 503 `state_unavailable` (so do reads, see
`controlplane.admin.shared_reads`; mock traffic is served from this process's copy);
the follower retries with a bounded backoff and catches up when Redis is back
(`state_lost`, `state_recovered`, logged once each per outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
from aiohttp import hdrs, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http import HttpVersion11
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict, CIMultiDictProxy
from redis.exceptions import RedisError
from yarl import URL

from controlplane import ids
from controlplane.cluster import Cluster, StateUnavailable, StateUnreachable
from controlplane.cluster.forward import Relay
from controlplane.cluster.members import MEMBER_TTL_MS, Members, stream_id
from controlplane.errors import ControlplaneError
from controlplane.logs import get_logger

__all__ = ["ACK_TIMEOUT_S", "LOCAL", "Op", "Replica"]

#: Seconds an admin write waits for every live process to apply it (then 503).
ACK_TIMEOUT_S = 5.0
#: Writes that change nothing shared, answered by the process they reach (by the
#: ending of their route's path): reads sent as POST (verify, WireMock's count, find
#: and near misses), and what acts on this machine (shutdown; the WireMock root's
#: files and `mappings/save` write the disk, which the processes of one machine share).
LOCAL = (
    "/handlers/{name}/verify",
    "/__admin/mappings/find-by-metadata",
    "/__admin/requests/count",
    "/__admin/requests/find",
    "/__admin/near-misses/request",
    "/__admin/near-misses/request-pattern",
    "/__admin/shutdown",
    "/__admin/mappings/save",
    "/__admin/files/{name}",
)
#: Headers an op keeps: how its body is read, and which session a dialect call names.
KEPT_HEADERS = frozenset({"content-type", "x-controlplane-session", "host"})
_READS = frozenset({hdrs.METH_GET, hdrs.METH_HEAD, hdrs.METH_OPTIONS})
_BATCH = 200
_BLOCK_MS = 1000
_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0)
#: Seconds an op's tallies stay in Redis (long past the answer that sums them).
_TALLY_TTL_S = 60
_log = get_logger("cluster")

Handle = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: How an internal op is applied: from its body, its answer to the process that sent it.
Apply = Callable[[bytes], Awaitable[object]]
_INTERNAL = "@"


class Op(msgspec.Struct, array_like=True, frozen=True):
    """One admin write as it travels through the log."""

    method: str
    path: str  # encoded, with its query
    headers: list[tuple[str, str]]
    body: bytes
    origin: str  # the process id of the one whose client sent it
    nonce: str  # which of the origin's waiting requests it answers


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Op).decode


class _NoConnection(BaseProtocol):
    """What an op has instead of a connection: no TLS, no peer, no socket."""

    ssl_context = None
    peername = None
    sockname = None

    # The whole body is in memory already: a body past the reader's high-water mark
    # (128 KiB) has no socket to hold back.
    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def _request(op: Op, loop: asyncio.AbstractEventLoop, max_size: int) -> web.Request:
    """`op` as the `web.Request` its client had sent, body included.

    Built with the constructor aiohttp's own server uses (as `server._MockServer`
    does for mock requests): the admin application then routes and answers it exactly
    as it answers a socket's request, middlewares and errors included.
    """
    headers = CIMultiDictProxy(CIMultiDict(op.headers))
    raw_headers = tuple((name.encode(), value.encode()) for name, value in op.headers)
    path, _, query = op.path.partition("?")
    url = URL.build(path=path, query_string=query, encoded=True)
    message = RawRequestMessage(
        op.method, op.path, HttpVersion11, headers, raw_headers, False, None, False, False, url
    )
    protocol = _NoConnection(loop)
    payload = StreamReader(protocol, 2**16, loop=loop)
    if op.body:
        payload.feed_data(op.body)
    payload.feed_eof()
    return web.Request(
        message,
        payload,
        cast(RequestHandler, protocol),
        cast(Any, None),  # never written to: the answer is taken, not sent
        cast("asyncio.Task[None]", asyncio.current_task()),
        loop,
        client_max_size=max_size,
        host=headers.get(hdrs.HOST, "controlplane"),
        remote="op-log",
    )


class Replica:
    """This process's copy of the admin state, kept in step with the op log."""

    def __init__(self, cluster: Cluster, max_body: int) -> None:
        self.cluster = cluster
        self.members = Members(cluster)
        self.relay = Relay(cluster, self.members)
        self.applied = "0-0"
        self._redis = cluster.redis
        self._log_key = Cluster.shared_key("oplog")
        self._max_body = max_body
        self._handle: Handle | None = None
        self._internal: dict[str, Apply] = {}
        self._waiting: dict[str, asyncio.Future[tuple[object, dict[str, int]]]] = {}
        self._follower: asyncio.Task[None] | None = None
        #: Since when (monotonic) and why Redis does not answer the follower.
        self._lost_since: float | None = None
        self._lost_because = ""
        #: Loop time before which, after Redis came back, writes wait: until then a
        #: live process may not have beaten yet, and would not be waited for.
        self._settled_at = 0.0

    # ------------------------------------------------------------ following the log

    async def start(self, app: web.Application) -> None:
        """Replay the log into `app` (the admin application, frozen by its runner, with
        `middleware` among its middlewares), join the members, then follow the log in
        the background."""
        self._handle = cast(Handle, app._handle)
        started = time.monotonic()
        try:
            replayed = await self._catch_up()
            await self.members.join(self.applied)
            # Ops appended while joining were not waited for us: apply them before serving.
            replayed += await self._catch_up()
        except (RedisError, OSError) as exc:
            await self.members.leave()
            raise StateUnreachable(
                f"lost the shared state at {self.cluster.safe_url} while reading its op log: "
                f"{exc}; check that Redis runs there, then start again"
            ) from None
        _log.info(
            "state_joined",
            process=self.cluster.process_id,
            state=self.cluster.safe_url,
            replayed_ops=replayed,
            applied=self.applied,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        self._follower = asyncio.create_task(self._follow(), name="controlplane-oplog")

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        await self.relay.close()
        await self.members.leave()

    @property
    def following(self) -> bool:
        """Whether this process follows the log (started, not stopped): a change it
        submits now is applied."""
        return self._follower is not None

    def internal(self, name: str, apply: Apply) -> None:
        """Apply the internal ops `name` with `apply` (before `start`, which replays)."""
        self._internal[name] = apply

    async def _catch_up(self) -> int:
        """Apply every op up to the end of the log as it is now; how many."""
        newest = await cast(
            Awaitable[list[tuple[bytes, Any]]], self._redis.xrevrange(self._log_key, count=1)
        )
        if not newest:
            return 0
        end = stream_id(newest[0][0])
        count = 0
        while stream_id(self.applied) < end:
            count += await self._read(block=None)
        return count

    async def _read(self, block: int | None) -> int:
        """Apply the next batch of ops (waiting up to `block` ms for one); how many."""
        reply = await cast(
            Awaitable[list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]],
            self._redis.xread({self._log_key: self.applied}, count=_BATCH, block=block),
        )
        count = 0
        for _, entries in reply or ():
            for op_id, fields in entries:
                await self._apply(op_id.decode(), fields.get(b"op", b""))
                count += 1
        if count:
            await self.members.acknowledge(self.applied)
        return count

    async def _follow(self) -> None:
        failures = 0
        while True:  # ends when `stop` cancels it
            try:
                await self._read(block=_BLOCK_MS)
            except (RedisError, OSError) as exc:
                self._state_lost(exc)
                await asyncio.sleep(_BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)])
                failures += 1
                continue
            except Exception:  # a bug of ours: say so, and keep following
                _log.exception("op_log_follower_failed", applied=self.applied)
                await asyncio.sleep(_BACKOFF_S[-1])
                continue
            failures = 0
            if self._lost_since is not None:
                await self._state_recovered()

    def _state_lost(self, exc: Exception) -> None:
        if self._lost_since is not None:
            return
        self._lost_since = time.monotonic()
        self._lost_because = str(exc)
        _log.error(
            "state_lost",
            state=self.cluster.safe_url,
            error=str(exc),
            applied=self.applied,
            effect="admin calls answer 503 state_unavailable; mock traffic is served from "
            "this process's copy; retrying",
        )

    async def _state_recovered(self) -> None:
        lost_since, self._lost_since = self._lost_since, None
        assert lost_since is not None
        self._settled_at = asyncio.get_running_loop().time() + MEMBER_TTL_MS / 1000
        # Redis may have come back empty (restarted without persistence): the log then
        # starts after what this process applied, and processes started from now on
        # will not see the changes made before.
        oldest = await cast(
            Awaitable[list[tuple[bytes, Any]]], self._redis.xrange(self._log_key, count=1)
        )
        kept = bool(oldest) and stream_id(oldest[0][0]) <= stream_id(self.applied)
        with contextlib.suppress(RedisError, OSError):
            await self.members.beat()
        _log.warning(
            "state_recovered",
            state=self.cluster.safe_url,
            lost_for_s=round(time.monotonic() - lost_since, 1),
            applied=self.applied,
            log_kept=kept or self.applied == "0-0",
        )

    async def _apply(self, op_id: str, raw: bytes) -> None:
        try:
            op = _decode(raw)
        except msgspec.DecodeError as exc:  # written by something else than controlplane
            _log.error("op_unreadable", op=op_id, error=str(exc))
            self.applied = op_id
            return
        mine = op.origin == self.cluster.process_id
        loop = asyncio.get_running_loop()
        answer: object
        assert self._handle is not None  # `start` set it before reading the log
        with ids.applying(op_id, originator=mine):
            try:
                if op.method.startswith(_INTERNAL):
                    apply = self._internal.get(op.method.removeprefix(_INTERNAL))
                    answer = None if apply is None else await apply(op.body)
                else:
                    answer = await self._handle(_request(op, loop, self._max_body))
            except Exception as exc:  # the error middleware renders ours; this is a bug
                _log.exception("op_failed", op=op_id, method=op.method, path=op.path)
                answer = exc
            counted = dict(ids.tallies())
        self.applied = op_id
        if not mine and any(counted.values()):
            await self._report(op_id, counted)
        waiting = self._waiting.get(op.nonce) if mine else None
        if waiting is not None and not waiting.done():
            if isinstance(answer, BaseException):
                waiting.set_exception(
                    ControlplaneError("internal error in controlplane (a bug): see the log")
                )
            else:
                waiting.set_result((answer, counted))

    async def _report(self, op_id: str, counted: dict[str, int]) -> None:
        """Add this process's part of the op's answer for its sender to sum."""
        key = Cluster.shared_key("tally", op_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, count in counted.items():
                    if count:
                        pipe.hincrby(key, name, count)
                pipe.expire(key, _TALLY_TTL_S)
                await pipe.execute()
        except (RedisError, OSError) as exc:  # the sum lacks this part; the op is applied
            _log.warning("tally_lost", op=op_id, error=str(exc) or type(exc).__name__)

    async def _summed(self, op_id: str, answer: object, counted: dict[str, int]) -> object:
        """`answer` with every other process's part of its `counted` fields added."""
        body = answer.body if isinstance(answer, web.Response) else None
        if not isinstance(body, bytes):
            return answer
        key = Cluster.shared_key("tally", op_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(key)
                pipe.delete(key)
                others, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StateUnavailable(
                f"the change was made (op {op_id}) but what the other processes counted "
                f"cannot be read: the shared state at {self.cluster.safe_url} does not "
                f"answer ({exc})"
            ) from None
        if not others:
            return answer
        document = msgspec.json.decode(body)
        for name in counted:
            if isinstance(document.get(name), int):
                document[name] += int(others.get(name.encode(), 0))
        assert isinstance(answer, web.Response)
        answer.body = msgspec.json.encode(document)
        return answer

    # ------------------------------------------------------------ the admin side

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handle) -> web.StreamResponse:
        """Send admin writes through the log; let everything else through."""
        if (
            request.method in _READS
            or ids.current_op() is not None  # being applied from the log
            or request.match_info.http_exception is not None  # no such endpoint
            or _is_local(request)
        ):
            return await handler(request)
        return await self.submit(request)

    async def submit(self, request: web.Request) -> web.StreamResponse:
        """Append `request` to the log; its answer once every live process applied it."""
        op = Op(
            method=request.method,
            path=request.rel_url.raw_path_qs,
            headers=[(str(k), v) for k, v in request.headers.items() if k.lower() in KEPT_HEADERS],
            body=await request.read(),
            origin=self.cluster.process_id,
            nonce=secrets.token_hex(8),
        )
        return cast(web.StreamResponse, await self._submit(op))

    async def submit_internal(self, name: str, body: bytes) -> object:
        """Append the internal op `name`; what its `apply` answered here, once every live
        process applied it."""
        op = Op(_INTERNAL + name, "", [], body, self.cluster.process_id, secrets.token_hex(8))
        return await self._submit(op)

    async def _submit(self, op: Op) -> object:
        loop = asyncio.get_running_loop()
        if self._lost_since is not None:
            raise self._unavailable(self._lost_because)
        if (settling := self._settled_at - loop.time()) > 0:
            await asyncio.sleep(settling)
        deadline = loop.time() + ACK_TIMEOUT_S
        answered: asyncio.Future[tuple[object, dict[str, int]]] = loop.create_future()
        self._waiting[op.nonce] = answered
        try:
            try:
                op_id = (await self._redis.xadd(self._log_key, {"op": _encode(op)})).decode()
            except (RedisError, OSError) as exc:
                raise self._unavailable(str(exc)) from None
            try:
                async with asyncio.timeout_at(deadline):
                    answer, counted = await answered
            except TimeoutError:
                raise StateUnavailable(
                    f"the change was logged (op {op_id}) but this process "
                    f"({self.cluster.label}) did not apply it within {ACK_TIMEOUT_S:g} s: "
                    "it is catching up with the shared state"
                ) from None
            await self.members.wait_applied(op_id, deadline)
            return await self._summed(op_id, answer, counted) if counted else answer
        finally:
            del self._waiting[op.nonce]

    def _unavailable(self, reason: str) -> StateUnavailable:
        return self.cluster.unavailable(reason)


def _is_local(request: web.Request) -> bool:
    route = request.match_info.route
    canonical = route.resource.canonical if route.resource is not None else ""
    return canonical.endswith(LOCAL)
