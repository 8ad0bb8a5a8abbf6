"""Journals on Redis (`--state`): one Stream per session, written by group commit.

Every process appends the entries it records to `cp:{sid}:journal` and reads every
process's entries back from it, in the stream's order.

Writing (`StreamWriter`, one per process): `SharedJournal.record` encodes the entry
(msgpack: the request's method, path, query, raw headers, kept body, the time and what
was answered; the fields of a record identical requests share are encoded once, only
the time per entry) and adds it to the batch being filled. One task writes batches:
one EVALSHA per session in it, packed here into one write on the writer's own
connection (not through redis-py's client and pool, which cost 5 times as much per
batch); while a batch is in flight, new entries wait in the next one. Every answer
waits for the batch holding its entry to be acknowledged (`committed()`; the mock
handler's `record` step waits for it, the matched path inlines that wait), so an
answered request is in Redis: a worker killed by SIGKILL loses no answered request's
entry, and a journal read after an answer sees it.

An `append` script per session and batch takes the next seqs from the session's meta
hash (`cp:{sid}:journal:meta`, field `seq`) and adds each entry under the stream ID
`0-<seq>` (`XADD ... MAXLEN ~ journal_size`), so seqs (and the request ids derived from
them) are the same through every process, and an entry's stream ID is known from its seq.

Reading (`SharedJournal.refresh`, run before every admin read by
`controlplane.admin.shared_reads`): the local journal is a cache of the stream, brought
up to date with `XRANGE` from the last seq it holds. Clearing and removing entries bump
the meta hash's `gen`; a reader that sees another `gen` reloads the whole stream. The
meta hash also keeps the seq at the last clear (`base`) and the entries removed since
(`removed`), so `evicted` counts the same through every process.

Redis lost while running: a batch that fails is kept in a bounded backlog (the requests
are answered all the same), logged once as `journal_backlog`, and written, oldest
first, when Redis answers again (`journal_backlog_flushed`). Past `BACKLOG_LIMIT`
entries the oldest are dropped and counted (`lost`): those requests are in no journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
import redis.asyncio as aioredis
from multidict import CIMultiDict
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, RedisError, ResponseError

from controlplane import wire
from controlplane.journal import Journal, JournalEntry, OriginAnswer, RawHeaders, shares
from controlplane.logs import get_logger
from controlplane.matching.paths import PathPattern

__all__ = ["BACKLOG_LIMIT", "SharedJournal", "StreamWriter", "decode_entry", "encode_entry"]

_log = get_logger("cluster")

#: Entries kept in this process while Redis does not answer; older ones are dropped.
BACKLOG_LIMIT = 100_000
#: Seconds a batch may take before Redis counts as lost (the batch goes to the backlog).
WRITE_TIMEOUT_S = 2.0
#: Seconds between attempts to write the backlog while Redis is lost.
RETRY_S = 0.5
#: Entries read per XRANGE call when a journal catches up.
_READ_COUNT = 5_000
#: Sessions whose `APPEND` command head the writer keeps encoded.
_HEADS_LIMIT = 10_000
#: Arguments of an `APPEND` before its payloads: EVALSHA sha 2 meta stream maxlen.
_APPEND_ARGS = 6
#: Milliseconds a live feed's follower blocks in XREAD.
_FOLLOW_BLOCK_MS = 1_000

# KEYS: meta hash, stream. ARGV: maxlen, entry payloads. Returns the last seq given.
_APPEND = """
local n = #ARGV - 1
local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
local first = last - n
for i = 1, n do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '0-' .. (first + i), 'e', ARGV[i + 1])
end
return last
"""
# KEYS: meta hash, stream. Empties the stream; a new `gen` tells readers to reload.
_CLEAR = """
redis.call('DEL', KEYS[2])
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
redis.call('HSET', KEYS[1], 'base', seq, 'removed', 0)
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
"""
# KEYS: meta hash, stream. ARGV: stream IDs. Removes those entries; a new `gen`.
_REMOVE = """
local gone = redis.call('XDEL', KEYS[2], unpack(ARGV))
redis.call('HINCRBY', KEYS[1], 'removed', gone)
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
"""


class Script:
    """A Lua script run by EVALSHA (its SHA1 computed here), loaded when Redis lacks it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def run(self, client: aioredis.Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await cast(Awaitable[Any], client.evalsha(self.sha, len(keys), *keys, *args))
        except NoScriptError:  # a new or restarted Redis: load once, then EVALSHA again
            await cast(Awaitable[str], client.script_load(self.source))
            return await cast(Awaitable[Any], client.evalsha(self.sha, len(keys), *keys, *args))

    def queue(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        pipe.evalsha(self.sha, len(keys), *keys, *args)


APPEND = Script(_APPEND)
CLEAR = Script(_CLEAR)
REMOVE = Script(_REMOVE)


# ---------------------------------------------------------------- the entry's bytes

_Origin = tuple[int, str | None, list[tuple[str, str]], bytes, int, bool]


class _Stored(msgspec.Struct, array_like=True, gc=False):
    """An entry as stored in the stream (its seq is the stream ID)."""

    time_us: int
    method: str
    path: str
    query_string: str
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    body_size: int
    route_id: str | None
    handler: str | None
    path_params: dict[str, str]
    status: int
    response_type: str
    delay_ms: float
    error: str | None
    near_misses: list[wire.NearMiss] | None
    origin: _Origin | None


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Stored)


#: msgpack's head of an array of 16 (`_Stored`'s fields), then of a uint64 (the time).
_HEAD = b"\xdc\x00\x10\xcf"
#: The encoded fields after the time, of records identical requests share
#: (`JournalEntry.record`), by the record's id: (the record, its bytes). Cleared when full.
_TAILS: dict[int, tuple[object, bytes]] = {}
_TAILS_LIMIT = 4096


def encode_entry(time_us: int, entry: JournalEntry) -> bytes:
    """`entry` as the bytes the stream keeps (`time_us`: when it was recorded): the
    fields of `_Stored`, in order, as one msgpack array. Identical requests share one
    record: its fields are encoded once, only the time per entry."""
    request = entry.request
    # An entry on a path of its own (its record is its route's) is encoded alone.
    alone = entry.own_path is not None
    kept = None if alone else _TAILS.get(id(request))
    if kept is not None and kept[0] is request:
        tail = kept[1]
    else:
        tail = _encode_tail(entry)
        if not alone and shares(request.near_misses, request.origin, request.body_size):
            if len(_TAILS) >= _TAILS_LIMIT:
                _TAILS.clear()
            _TAILS[id(request)] = (request, tail)  # the record is kept: its id stays its own
    return _HEAD + time_us.to_bytes(8, "big") + tail


def _encode_tail(entry: JournalEntry) -> bytes:
    """The fields of `_Stored` after the time, each encoded, one after another."""
    # method ... error, as `_Stored`; the path and its params are the entry's own.
    fields = msgspec.structs.astuple(entry.request)[:13]
    origin = entry.origin
    encoded = _encoder.encode(
        (
            fields[0],
            entry.path,
            *fields[2:8],
            entry.path_params,
            *fields[9:],
            entry.near_misses,
            None
            if origin is None
            else (
                origin.status,
                origin.reason,
                [(str(name), value) for name, value in origin.headers.items()],
                bytes(origin.body),
                origin.body_size,
                origin.complete,
            ),
        )
    )
    return encoded[1:]  # less the head of an array of 15 (one byte)


def decode_entry(seq: int, payload: bytes) -> JournalEntry:
    """The entry `encode_entry` stored, with its seq."""
    stored = _decoder.decode(payload)
    origin = None
    if stored.origin is not None:
        status, reason, headers, body, body_size, complete = stored.origin
        origin = OriginAnswer(status, reason, CIMultiDict(headers))
        origin.body += body
        origin.body_size = body_size
        origin.complete = complete
    return JournalEntry.record(
        seq,
        stored.time_us,
        stored.method,
        stored.path,
        stored.query_string,
        tuple(map(tuple, stored.raw_headers)),  # type: ignore[arg-type]
        stored.body,
        stored.body_size,
        stored.route_id,
        stored.handler,
        stored.path_params,
        stored.status,
        stored.response_type,
        stored.delay_ms,
        stored.error,
        stored.near_misses,
        origin,
    )


def _bulk(arg: bytes) -> bytes:
    """`arg` as a RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(arg), arg)


def _seq(stream_id: bytes | str) -> int:
    """The seq of stream ID `0-<seq>`."""
    text = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    return int(text.partition("-")[2])


def journal_keys(session_id: str) -> tuple[str, str]:
    """(meta hash, stream) of a session's journal."""
    from controlplane.cluster import Cluster

    return Cluster.key(session_id, "journal", "meta"), Cluster.key(session_id, "journal")


# ---------------------------------------------------------------- writing


class StreamWriter:
    """Writes every session's entries of this process to Redis, a batch at a time."""

    def __init__(self, client: aioredis.Redis, journal_size: int) -> None:
        self._redis = client
        self._maxlen = journal_size
        #: The writer's own connection (made on first use): a batch is one write of
        #: commands packed here, not a trip through the client's layers.
        self._conn: AbstractConnection | None = None
        #: session id -> its `APPEND` command's head, encoded (`_pack`).
        self._heads: dict[str, bytes] = {}
        #: The batch being filled: (session id, payload), and the future it resolves.
        self._batch: list[tuple[str, bytes]] = []
        self._done: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Entries not written while Redis was lost, oldest first.
        self._backlog: deque[tuple[str, bytes]] = deque()
        self._lost = 0
        self._retry_at = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    def add(self, session_id: str, payload: bytes) -> asyncio.Future[None]:
        """Queue an entry; the future resolves once its batch is written (or backlogged)."""
        self._batch.append((session_id, payload))
        done = self._done
        if done is None:
            done = self._done = asyncio.get_running_loop().create_future()
            self._wake.set()
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._run())
        return done

    def pending(self) -> asyncio.Future[None] | None:
        """The future of the batch being filled (None when empty)."""
        return self._done

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    async def _run(self) -> None:
        while not self._closing:
            if self._backlog:  # Redis lost: try again now and then, traffic or not
                try:
                    async with asyncio.timeout(RETRY_S):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            else:
                await self._wake.wait()
                # One more turn of the loop: requests read in this round join the batch.
                await asyncio.sleep(0)
            self._wake.clear()
            await self._write_batch()

    async def _write_batch(self) -> None:
        batch, done = self._batch, self._done
        self._batch, self._done = [], None
        try:
            if self._backlog:
                # Redis lost: keep the batch (its requests are answered now) and try the
                # backlog again now and then, in a task of its own.
                self._keep(batch, None)
                flusher = self._flusher
                if (flusher is None or flusher.done()) and time.monotonic() >= self._retry_at:
                    self._flusher = asyncio.get_running_loop().create_task(self._flush_backlog())
            elif batch:
                try:
                    await self._write(batch)
                except (RedisError, OSError, TimeoutError) as exc:
                    self._keep(batch, exc)
        finally:
            if done is not None and not done.done():
                done.set_result(None)

    async def _write(self, batch: list[tuple[str, bytes]]) -> None:
        by_session: dict[str, list[bytes]] = {}
        for session_id, payload in batch:
            by_session.setdefault(session_id, []).append(payload)
        sessions = list(by_session.items())
        for _ in range(2):  # a new or restarted Redis lacks the script: load it, again
            replies = await self._execute(self._pack(sessions), len(sessions))
            failed = [
                (session, reply)
                for session, reply in zip(sessions, replies, strict=True)
                if isinstance(reply, Exception)
            ]
            if not failed:
                return
            if not all(isinstance(reply, NoScriptError) for _, reply in failed):
                raise next(reply for _, reply in failed if not isinstance(reply, NoScriptError))
            sessions = [session for session, _ in failed]  # those written stay written
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await cast(Awaitable[str], self._redis.script_load(APPEND.source))
        raise failed[0][1]

    def _pack(self, sessions: list[tuple[str, list[bytes]]]) -> bytes:
        """One `APPEND` per session, as the bytes Redis reads (RESP): the command's head
        is kept per session, each payload is one bulk string."""
        parts = []
        for session_id, payloads in sessions:
            head = self._heads.get(session_id)
            if head is None:
                if len(self._heads) >= _HEADS_LIMIT:
                    self._heads.clear()
                meta, stream = journal_keys(session_id)
                head = self._heads[session_id] = b"".join(
                    _bulk(arg)
                    for arg in (
                        b"EVALSHA",
                        APPEND.sha.encode(),
                        b"2",
                        meta.encode(),
                        stream.encode(),
                        b"%d" % self._maxlen,
                    )
                )
            parts.append(b"*%d\r\n" % (_APPEND_ARGS + len(payloads)))
            parts.append(head)
            parts += [b"$%d\r\n%b\r\n" % (len(payload), payload) for payload in payloads]
        return b"".join(parts)

    async def _execute(self, packed: bytes, replies: int) -> list[Any]:
        """Send `packed` on the writer's own connection and read its `replies` (an error
        reply is returned, not raised); `TimeoutError` past `WRITE_TIMEOUT_S`.

        One caller at a time: the batch task, else the backlog's flusher (while there is
        a backlog the batch task writes nothing), else `close` once both stopped."""
        conn = self._conn
        if conn is None:
            pool = self._redis.connection_pool
            conn = self._conn = pool.make_connection()  # type: ignore[no-untyped-call]
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()  # cancellations not ours (as `asyncio.timeout` does)
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        # One timer per batch (not `asyncio.timeout`, which costs twice as much).
        timer = asyncio.get_running_loop().call_later(WRITE_TIMEOUT_S, expire)
        try:
            await conn.send_packed_command(packed, check_health=False)
            answers: list[Any] = []
            for _ in range(replies):
                try:
                    answers.append(await conn.read_response())
                except ResponseError as exc:  # the connection is still in step
                    answers.append(exc)
            return answers
        except BaseException as exc:
            # A reply may still be on its way: the next write starts a new connection.
            await conn.disconnect(nowait=True)
            if (
                expired
                and isinstance(exc, asyncio.CancelledError)
                and task.uncancel() <= cancelling  # ours alone: the write timed out
            ):
                raise TimeoutError(f"Redis did not answer within {WRITE_TIMEOUT_S:g} s") from None
            raise
        finally:
            timer.cancel()

    def _keep(self, batch: list[tuple[str, bytes]], error: BaseException | None) -> None:
        """Keep `batch` for later; the first time, say so."""
        if not batch:
            return
        if not self._backlog:
            self._retry_at = time.monotonic() + RETRY_S
            _log.warning(
                "journal_backlog",
                entries=len(batch),
                limit=BACKLOG_LIMIT,
                error=None if error is None else str(error) or type(error).__name__,
                message="Redis does not answer: journal entries are kept in this process "
                "and written when it does",
            )
        self._backlog.extend(batch)
        over = len(self._backlog) - BACKLOG_LIMIT
        if over > 0:
            for _ in range(over):
                self._backlog.popleft()
            self._lost += over

    async def _flush_backlog(self) -> None:
        """Write the backlog, oldest first; what Redis refuses stays for the next try."""
        self._retry_at = time.monotonic() + RETRY_S
        entries = len(self._backlog)
        while self._backlog:
            chunk = [self._backlog[i] for i in range(min(len(self._backlog), 1000))]
            try:
                await self._write(chunk)
            except (RedisError, OSError, TimeoutError):
                return
            for _ in chunk:
                self._backlog.popleft()
        _log.warning("journal_backlog_flushed", entries=entries, lost=self._lost)
        self._lost = 0

    async def close(self) -> None:
        """Write what is pending, the backlog first (each step bounded by the write
        timeout), then stop; say what could not be written."""
        self._closing = True
        self._wake.set()
        for task in (self._task, self._flusher):
            if task is not None and not task.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(task), 2 * WRITE_TIMEOUT_S)
                task.cancel()
        batch, done = self._batch, self._done
        self._batch, self._done = [], None
        if batch and not self._backlog:
            try:
                await self._write(batch)
            except (RedisError, OSError, TimeoutError) as exc:
                self._keep(batch, exc)
        else:
            self._keep(batch, None)
        if self._backlog:
            self._retry_at = 0.0
            await self._flush_backlog()
        if done is not None and not done.done():
            done.set_result(None)
        if self._conn is not None:
            await self._conn.disconnect()
        if self._backlog or self._lost:
            _log.warning(
                "journal_backlog_lost",
                entries=len(self._backlog),
                lost=self._lost,
                message="stopped while Redis did not answer: these entries are in no journal",
            )


# ---------------------------------------------------------------- the journal


class SharedJournal(Journal):
    """A session's journal whose entries live in its Redis stream.

    `record` sends the entry to the stream (not to this cache); `refresh` brings the
    cache up to date; `clear` and `remove_where` change the stream too (through `ops`,
    run by the admin API once the handler returns).
    """

    def __init__(
        self,
        session_id: str,
        max_entries: int,
        body_limit: int,
        client: aioredis.Redis,
        writer: StreamWriter,
        ops: Callable[[Callable[[Any], None]], bool],
    ) -> None:
        super().__init__(session_id, max_entries, body_limit)
        self._redis = client
        self._writer = writer
        self._queue_op = ops
        self._meta, self._stream = journal_keys(session_id)
        # Ids are the same through every process: derived from the session and the seq.
        self._id_base = uuid.uuid5(uuid.NAMESPACE_URL, f"controlplane:journal:{session_id}").int
        self._gen: bytes | None = None
        #: The cache was changed by a clear or removal another process writes to Redis:
        #: the next `refresh` reads the stream again, whatever the generation says.
        self._stale = False
        self._follower: asyncio.Task[None] | None = None
        self._local_seq = 0

    def record(
        self,
        method: str,
        path: str,
        query_string: str,
        raw_headers: RawHeaders,
        body: bytes,
        route_id: str | None,
        handler: str | None,
        path_params: dict[str, str],
        status: int,
        response_type: str,
        delay_ms: float,
        error: str | None,
        near_misses: list[wire.NearMiss] | None = None,
        origin: OriginAnswer | None = None,
        pattern: PathPattern | None = None,
    ) -> JournalEntry:
        """Send the entry to the stream; the entry returned has a seq of this process only
        (the stream gives the shared one)."""
        time_us = time.time_ns() // 1000
        if origin is not None:
            origin.limit = self.body_limit
        entry = JournalEntry.record(
            self.next_seq(),
            time_us,
            method,
            path,
            query_string,
            raw_headers,
            body[: self.body_limit],
            len(body),
            route_id,
            handler,
            path_params,
            status,
            response_type,
            delay_ms,
            error,
            near_misses,
            origin,
            pattern,
        )
        self._writer.add(self.session_id, encode_entry(time_us, entry))
        return entry

    def next_seq(self) -> int:
        # Local seqs (of entries returned by `record`) count down from -1: never a shared one.
        self._local_seq -= 1
        return self._local_seq

    async def refresh(self) -> None:
        """Bring this cache up to the stream (every process's entries, in its order)."""
        for _ in range(3):  # a clear between our two reads: read again (bounded)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hmget(self._meta, ["gen", "seq", "base", "removed"])
                pipe.xrange(self._stream, min=f"(0-{self.last_seq}", count=_READ_COUNT)
                (gen, seq, base, removed), added = await pipe.execute()
            if gen != self._gen or self._stale:
                self._reset(gen)
                continue
            self._add(added)
            while len(added) == _READ_COUNT:
                added = await cast(
                    Awaitable[list[Any]],
                    self._redis.xrange(self._stream, min=f"(0-{self.last_seq}", count=_READ_COUNT),
                )
                self._add(added)
            total = int(seq or 0) - int(base or 0) - int(removed or 0)
            self._appended = max(total, len(self._entries))
            return

    def _reset(self, gen: bytes | None) -> None:
        self._gen = gen
        self._stale = False
        self._entries.clear()
        self._unanswered.clear()
        self._appended = 0
        self._next_seq = 1

    def _add(self, added: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for stream_id, fields in added:
            seq = _seq(stream_id)
            if seq < self._next_seq:
                continue  # another refresh read it too (a feed's follower beside a read)
            self.append(decode_entry(seq, fields[b"e"]))
            self._next_seq = seq + 1
        if added:
            self.wake()

    def clear(self) -> None:
        super().clear()
        if not self._queue_op(lambda pipe: CLEAR.queue(pipe, [self._meta, self._stream], [])):
            # Applied here from the op log, perhaps long after it was made (a process
            # replaying the log at start): entries journaled since are still in Redis.
            self._stale = True

    def deleted(self) -> None:
        """The session is gone: drop its stream and meta hash (a new session of the same
        id starts at seq 1)."""
        self._queue_op(lambda pipe: pipe.delete(self._meta, self._stream))

    def remove_where(self, predicate: Callable[[JournalEntry], bool]) -> list[JournalEntry]:
        removed = super().remove_where(predicate)
        if removed:
            ids = [f"0-{entry.seq}" for entry in removed]
            if not self._queue_op(lambda pipe: REMOVE.queue(pipe, [self._meta, self._stream], ids)):
                self._stale = True  # as in `clear`
        return removed

    def changed(self) -> asyncio.Event:
        """As `Journal.changed`; while someone waits, a follower reads the stream
        (`XREAD BLOCK`) so that entries of every process wake them."""
        event = super().changed()
        if self._follower is None or self._follower.done():
            self._follower = asyncio.get_running_loop().create_task(self._follow())
        return event

    async def _follow(self) -> None:
        try:
            while self._changed is not None:
                await cast(
                    Awaitable[Any],
                    self._redis.xread({self._stream: f"0-{self.last_seq}"}, block=_FOLLOW_BLOCK_MS),
                )
                if self._changed is None:
                    break
                await self.refresh()
        except (RedisError, OSError) as exc:
            _log.warning("journal_follow_failed", session=self.session_id, error=str(exc))
            self.wake()
