"""Who shares the state, and how far each has applied the op log.

Every process that serves is a member: it beats every `HEARTBEAT_S` (a score, Redis's
own clock in milliseconds, in the sorted set `cp:{*}:members`), and a member whose
last beat is older than `MEMBER_TTL_MS` is gone (it crashed, hangs, or lost Redis): no
one waits for it. Clocks of the machines do not matter, only Redis's.

After applying ops, a member records the id of the last one in the hash
`cp:{*}:applied` and publishes it on `cp:{*}:acks`, which wakes the processes waiting
for that op (`Members.wait_applied`). A waiter also looks again every
`RECHECK_S`, so a member that stops beating is dropped from the wait within that.

The same subscription carries the member's inbox, `cp:{*}:inbox:{process id}`: calls
from other processes and their replies (`controlplane.cluster.forward`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import cast

from redis.exceptions import RedisError

from controlplane.cluster import Cluster, StateUnavailable
from controlplane.logs import get_logger

__all__ = ["HEARTBEAT_S", "MEMBER_TTL_MS", "Members", "stream_id"]

HEARTBEAT_S = 1.0
MEMBER_TTL_MS = 3000
#: A member silent this long is removed from the records (not only ignored).
FORGET_MS = 60_000
RECHECK_S = 0.25
_log = get_logger("cluster")

# KEYS: members, applied, labels. ARGV: process id, label, forget after (ms).
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
for _, member in ipairs(gone) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
  redis.call('HDEL', KEYS[3], member)
end
return now
"""

# KEYS: members, applied, labels. ARGV: time to live (ms).
# -> {process id, applied id or '', label or '', ...} of every live member.
_LIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')
local out = {}
for _, member in ipairs(live) do
  out[#out + 1] = member
  out[#out + 1] = redis.call('HGET', KEYS[2], member) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], member) or ''
end
return out
"""


def stream_id(raw: bytes | str) -> tuple[int, int]:
    """`1712345678901-3` -> (1712345678901, 3): stream ids compare as these pairs."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class Members:
    """This process as a member: its heartbeat, its acknowledgements, and the wait for
    everyone else's."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._redis = cluster.redis
        self._keys = [
            Cluster.shared_key("members"),
            Cluster.shared_key("applied"),
            Cluster.shared_key("labels"),
        ]
        self._channel = Cluster.shared_key("acks")
        self._inbox = Cluster.shared_key("inbox", cluster.process_id)
        #: Given each message on this member's inbox (`controlplane.cluster.forward`).
        self.inbox: Callable[[bytes], None] | None = None
        self._beat_script = self._redis.register_script(_BEAT)
        self._live_script = self._redis.register_script(_LIVE)
        self._tasks: list[asyncio.Task[None]] = []
        self._applied = ""
        #: Resolved (and replaced) whenever an acknowledgement or a beat may have
        #: changed who lags behind.
        self._changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def join(self, applied: str) -> None:
        """Beat once, record `applied`, then keep beating and listening (until `leave`)."""
        await self.beat()
        await self.acknowledge(applied)
        self._tasks = [
            asyncio.create_task(self._beating(), name="controlplane-heartbeat"),
            asyncio.create_task(self._listening(), name="controlplane-acks"),
        ]

    async def leave(self) -> None:
        """Stop beating; remove this member so that no one waits for it."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        process = self.cluster.process_id
        with contextlib.suppress(RedisError, OSError):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self._keys[0], process)
                pipe.hdel(self._keys[1], process)
                pipe.hdel(self._keys[2], process)
                await pipe.execute()

    async def beat(self) -> None:
        await cast(
            Awaitable[int],
            self._beat_script(
                keys=self._keys, args=[self.cluster.process_id, self.cluster.label, FORGET_MS]
            ),
        )

    async def acknowledge(self, applied: str) -> None:
        """Record that this process has applied every op up to `applied`."""
        self._applied = applied
        if not applied:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._keys[1], self.cluster.process_id, applied)
            pipe.publish(self._channel, applied)
            await pipe.execute()
        self._wake()

    async def wait_applied(self, op_id: str, deadline: float) -> None:
        """Return once every live member has applied `op_id`; at `deadline` (loop time)
        raise `StateUnavailable` naming those that have not."""
        wanted = stream_id(op_id)
        loop = asyncio.get_running_loop()
        while True:
            changed = self._changed  # taken before looking, so no wake-up is missed
            try:
                lagging = await self._lagging(wanted)
            except (RedisError, OSError) as exc:
                raise StateUnavailable(
                    f"the change was made (op {op_id}) but whether every process applied "
                    f"it cannot be checked: the shared state at {self.cluster.safe_url} "
                    f"does not answer ({exc})"
                ) from None
            if not lagging:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                names = "; ".join(lagging)
                raise StateUnavailable(
                    f"the change was made (op {op_id}) but {len(lagging)} of the processes "
                    f"sharing the state did not apply it within the wait: {names}. They "
                    "apply it when they catch up; until then they may answer without it"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(changed), min(remaining, RECHECK_S))

    async def others(self) -> list[str]:
        """The process ids of the other live members."""
        flat = await cast(
            Awaitable[list[bytes]],
            self._live_script(keys=self._keys, args=[MEMBER_TTL_MS]),
        )
        me = self.cluster.process_id
        return [p for p in (raw.decode() for raw in flat[::3]) if p != me]

    async def _lagging(self, wanted: tuple[int, int]) -> list[str]:
        """Who among the live members has not applied `wanted`, as a person reads it."""
        flat = await cast(
            Awaitable[list[bytes]],
            self._live_script(keys=self._keys, args=[MEMBER_TTL_MS]),
        )
        lagging = []
        for index in range(0, len(flat), 3):
            process, applied, label = (part.decode() for part in flat[index : index + 3])
            if not applied or stream_id(applied) < wanted:
                upto = f"applied up to {applied}" if applied else "applied nothing yet"
                lagging.append(f"process {process} ({label or 'unnamed'}, {upto})")
        return lagging

    def _wake(self) -> None:
        changed = self._changed
        self._changed = asyncio.get_running_loop().create_future()
        changed.set_result(None)

    async def _beating(self) -> None:
        while True:  # ends when `leave` cancels it
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.beat()
            except (RedisError, OSError):
                continue  # the follower reports the loss, and recovers; beats resume
            self._wake()

    async def _listening(self) -> None:
        """Wake waiters on every acknowledgement another process publishes; hand the
        messages of this member's inbox on."""
        inbox = self._inbox.encode()
        while True:  # ends when `leave` cancels it
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel, self._inbox)
                    async for message in pubsub.listen():
                        if message["channel"] == inbox:
                            if self.inbox is not None:
                                self.inbox(message["data"])
                        else:
                            self._wake()
            except (RedisError, OSError):
                # Redis is gone for now: waiters still look every RECHECK_S.
                await asyncio.sleep(HEARTBEAT_S)
