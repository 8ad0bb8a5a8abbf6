"""Shared state on Redis (`serve --state redis://host:port/db`): the connection.

One `Cluster` per process, made at start by `Cluster.connect`, which fails with a
`StateUnreachable` a person can act on when Redis does not answer. Every key this
server writes starts with `cp:`; a session's keys carry its id in a hash tag
(`cp:{sid}:...`, see `Cluster.key`) so that one session's keys stay on one node of a
Redis Cluster and one Lua script may touch them all.

The client is redis-py's `redis.asyncio` over a `BlockingConnectionPool`: under
concurrency the default pool raises "Too many connections" where this one waits.
This module imports redis-py only in `Cluster.connect`, so that a server without
`--state` (which imports `StateUnavailable` and `REPLICA` from here) never loads it;
the other modules of the package import it freely, and only `--state` loads them.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

from aiohttp import web

from controlplane.errors import ControlplaneError

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from controlplane.cluster.replica import Replica

__all__ = [
    "REPLICA",
    "SCHEMES",
    "Cluster",
    "StateUnavailable",
    "StateUnreachable",
    "check_state_url",
]

#: What `--state` takes.
SCHEMES = ("redis", "rediss", "unix")
#: Connections one process keeps to Redis at most; more callers wait for a free one.
MAX_CONNECTIONS = 64
#: Seconds a caller waits for a free connection, and for Redis to answer at start.
TIMEOUT_S = 5.0


class StateUnreachable(ControlplaneError):
    """`--state` names a Redis that does not answer (at start)."""

    code = "state_unreachable"


class StateUnavailable(ControlplaneError):
    """An admin change cannot be made or confirmed: Redis is lost, or a process that
    shares the state did not apply the change in time (the message says which)."""

    status = 503
    code = "state_unavailable"


#: The admin application's replica (`serve --state`); absent in memory.
REPLICA: web.AppKey[Replica] = web.AppKey("replica")


def check_state_url(url: str) -> None:
    """Raise ValueError, naming the flag, unless `url` is a Redis URL redis-py takes."""
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ValueError(
            f"--state takes a Redis URL (redis://host:port/db, rediss://... or "
            f"unix:///path/to/socket), got {url!r}"
        )


class Cluster:
    """This process's view of the shared state: its Redis client and its own id."""

    def __init__(self, url: str, client: aioredis.Redis) -> None:
        self.url = url
        self.redis = client
        #: This process among all that share the state (random, new at every start).
        self.process_id = secrets.token_hex(8)
        #: How messages name this process to a person.
        self.label = f"pid {os.getpid()} on {socket.gethostname()}"
        #: Run by `close` first, in order (the journal writer writes what is pending).
        self.on_close: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    async def connect(cls, url: str) -> Cluster:
        """Connect and check that Redis answers; `StateUnreachable` says why not."""
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        check_state_url(url)
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=TIMEOUT_S,
            socket_connect_timeout=TIMEOUT_S,
        )
        client = aioredis.Redis.from_pool(pool)  # closing the client closes the pool
        try:
            # redis-py types its commands for both clients: the asyncio one's are awaitable
            await cast(Awaitable[bool], client.ping())
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise StateUnreachable(
                f"cannot reach the shared state at {_safe(url)}: {exc}; start Redis "
                "(6.2+ or Valkey) there, or give --state the URL of one that runs"
            ) from None
        return cls(url, client)

    @staticmethod
    def key(session_id: str, *parts: str) -> str:
        """`cp:{session_id}:part:part`: one session's keys share a Redis Cluster slot."""
        return ":".join((f"cp:{{{session_id}}}", *parts))

    @staticmethod
    def shared_key(*parts: str) -> str:
        """`cp:{*}:part`: a key of the whole deployment, not of one session (no session
        id contains `*`); all of them share one Redis Cluster slot."""
        return ":".join(("cp:{*}", *parts))

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and logs."""
        return _safe(self.url)

    def unavailable(self, reason: str) -> StateUnavailable:
        """The 503 of an admin call made while Redis does not answer, saying `reason`."""
        return StateUnavailable(
            f"admin calls are refused while the shared state at {self.safe_url} does not "
            f"answer ({reason}): journals, verify and counters need every process's part. "
            "Mock traffic is served from each process's copy meanwhile. Retry once Redis "
            "is back"
        )

    async def close(self) -> None:
        for closing in self.on_close:
            await closing()
        await self.redis.aclose()


def _safe(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
