"""What one process shares through Redis, per session: its journal and its counters.

`SharedState` (one per process, made when the store gets its `Cluster`) owns the
journal writer and the admin writes waiting to run; `SharedSession` is a session's
handle, `SessionState.shared` (None in memory mode, the mock handler's one test).

Admin writes (a journal cleared, a scenario set, a route replaced) change this
process's session at once and queue their Redis side as ops, which a task writes in
one pipeline; the admin API waits for them before it answers (`flush`, from
`controlplane.admin.shared_reads`). They run only in the process that took the admin
call (`originates`): the same write applied from the op log by the other processes,
or replayed by one started later, must not reset Redis again (a late reset would
give back `times` that traffic spent, or delete entries journaled since).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from redis.exceptions import RedisError

from controlplane import ids
from controlplane.cluster import Cluster
from controlplane.cluster.counters import Counters, Op
from controlplane.cluster.frames import SharedFrames
from controlplane.cluster.journal_stream import CLEAR, REMOVE, SharedJournal, StreamWriter
from controlplane.logs import get_logger
from controlplane.matching import RouteTable
from controlplane.scenarios import Scenarios

__all__ = ["SharedSession", "SharedState", "originates"]

_log = get_logger("cluster")


def originates() -> bool:
    """Whether this process took the admin call being applied, so that its one-shot
    Redis side effects run here: every process applies every admin write from the op
    log (`controlplane.cluster.replica`), only the one whose client sent it writes
    Redis. Route files loaded at start belong to no process (`Server.start`)."""
    return ids.is_originator()


async def _done() -> None:
    return None


class SharedSession:
    """One session's shared journal and counters."""

    def __init__(self, state: SharedState, session_id: str, journal: SharedJournal) -> None:
        self.id = session_id
        self.journal = journal
        self.counters = Counters(session_id, state.cluster.redis, state.queue)
        self.claim = self.counters.claim
        self._writer = state.writer

    def committed(self) -> Awaitable[None]:
        """Resolves once the entries recorded so far are in Redis (or in the backlog)."""
        pending = self._writer.pending()
        return pending if pending is not None else _done()

    def deleted(self) -> None:
        """The session is gone: so are its journal and counters in Redis."""
        self.counters.cleared()
        self.journal.deleted()

    async def refresh(self, routes: RouteTable, scenarios: Scenarios) -> None:
        """Bring this process's view of the session up to Redis (before an admin read)."""
        await self.journal.refresh()
        await self.counters.refresh(routes, scenarios)


class SharedState:
    """This process's side of the shared state: the journal writer and pending ops."""

    def __init__(self, cluster: Cluster, journal_size: int) -> None:
        self.cluster = cluster
        self.writer = StreamWriter(cluster.redis, journal_size)
        self._ops: list[Op] = []
        self._lock = asyncio.Lock()
        self._soon: asyncio.Task[None] | None = None
        #: Every process's frames of open streams, for listings (set at start).
        self.frames: SharedFrames | None = None
        cluster.on_close.append(self.close)

    def session(self, session_id: str, journal_size: int, body_limit: int) -> SharedSession:
        journal = SharedJournal(
            session_id, journal_size, body_limit, self.cluster.redis, self.writer, self.queue
        )
        return SharedSession(self, session_id, journal)

    def queue(self, op: Op) -> bool:
        """Run `op` (it adds commands to a pipeline) soon, if this process took the admin
        call (True); the admin API's `flush` waits for it. A change made outside an admin
        call (a server embedded in Python) is written by a task of its own. False: the
        process that took the call runs it, and this one's view follows Redis."""
        if not originates():
            return False
        self._ops.append(op)
        if self._soon is None or self._soon.done():
            self._soon = asyncio.get_running_loop().create_task(self._flush_soon())
        return True

    async def _flush_soon(self) -> None:
        try:
            await self.flush()
        except (RedisError, OSError) as exc:
            _log.warning("state_write_failed", error=str(exc) or type(exc).__name__)

    async def flush(self) -> None:
        """Run the queued ops, in order, in one pipeline; return once every op queued
        before the call is in Redis."""
        async with self._lock:
            if not self._ops:
                return
            ops, self._ops = self._ops, []
            async with self.cluster.redis.pipeline(transaction=False) as pipe:
                for script in (CLEAR, REMOVE):  # in case this Redis lacks them
                    pipe.script_load(script.source)
                for op in ops:
                    op(pipe)
                await pipe.execute()

    async def close(self) -> None:
        """Write the queued ops, then the journal's pending entries."""
        if self._soon is not None:
            await self._soon
        await self.writer.close()
