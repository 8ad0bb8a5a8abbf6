"""Calls from one process to another over Redis: what only one process can answer.

Some things live in one process only: a callback's WebSocket is held by the process
it connected to. Another process that needs it sends a call to the holder's inbox,
the channel `cp:{*}:inbox:{process id}` (Redis pub/sub, on the connection the member
already listens to acknowledgements with, `controlplane.cluster.members`), naming a
service and carrying bytes; the holder runs the service it registered under that name
(`Relay.serve`) and publishes the reply to the caller's inbox.

A call to a process that does not listen (it stopped, crashed, or never was) raises
`ProcessGone` at once: Redis says how many subscribers a message reached. A call
whose reply does not come within its timeout raises `TimeoutError`; Redis not
answering raises `StateUnavailable`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Literal, cast

import msgspec
from redis.exceptions import RedisError

from controlplane.cluster import Cluster
from controlplane.cluster.members import Members
from controlplane.logs import get_logger

__all__ = ["ProcessGone", "Relay", "Service", "inbox"]

#: What a process answers a call with: the reply's bytes, from the call's bytes.
Service = Callable[[bytes], Awaitable[bytes]]
_log = get_logger("cluster")


class ProcessGone(Exception):
    """No process with that id listens for calls (any more)."""


class _Message(msgspec.Struct, array_like=True, frozen=True):
    kind: Literal["call", "reply"]
    id: str  # unique among the sender's calls
    sender: str  # the process id the reply goes to
    service: str
    payload: bytes


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Message).decode


def inbox(process: str) -> str:
    """The channel a process receives calls and replies on."""
    return Cluster.shared_key("inbox", process)


class Relay:
    """This process's calls to others, and its services for theirs."""

    def __init__(self, cluster: Cluster, members: Members) -> None:
        self.cluster = cluster
        self._redis = cluster.redis
        self._me = cluster.process_id
        self._services: dict[str, Service] = {}
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._ids = itertools.count(1)
        self._running: set[asyncio.Task[None]] = set()
        members.inbox = self._received

    def serve(self, name: str, service: Service) -> None:
        """Answer the calls other processes make to `name` here with `service`."""
        self._services[name] = service

    async def call(self, process: str, service: str, payload: bytes, timeout: float) -> bytes:
        """Ask `process` to run `service` on `payload`; its reply."""
        call_id = str(next(self._ids))
        replied: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = replied
        message = _encode(_Message("call", call_id, self._me, service, payload))
        try:
            async with asyncio.timeout(timeout):
                try:
                    reached = await cast(
                        Awaitable[int], self._redis.publish(inbox(process), message)
                    )
                except (RedisError, OSError) as exc:
                    raise self.cluster.unavailable(str(exc) or type(exc).__name__) from None
                if not reached:
                    raise ProcessGone(process)
                return await replied
        finally:
            del self._waiting[call_id]

    def _received(self, data: bytes) -> None:
        """A message on this process's inbox (from the members' listener)."""
        try:
            message = _decode(data)
        except msgspec.DecodeError as exc:  # published by something else than controlplane
            _log.error("relay_message_unreadable", error=str(exc))
            return
        if message.kind == "reply":
            replied = self._waiting.get(message.id)
            if replied is not None and not replied.done():
                replied.set_result(message.payload)
            return
        task = asyncio.get_running_loop().create_task(self._answer(message))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _answer(self, call: _Message) -> None:
        service = self._services.get(call.service)
        if service is None:  # a process of another version: the caller times out
            _log.error("relay_service_unknown", service=call.service, sender=call.sender)
            return
        try:
            payload = await service(call.payload)
        except Exception:  # a bug of ours: say so; the caller times out
            _log.exception("relay_service_failed", service=call.service, sender=call.sender)
            return
        reply = _encode(_Message("reply", call.id, self._me, call.service, payload))
        try:
            await self._redis.publish(inbox(call.sender), reply)
        except (RedisError, OSError) as exc:
            _log.warning("relay_reply_lost", service=call.service, error=str(exc))

    async def close(self) -> None:
        """Stop answering: the calls being answered are cancelled (their callers time out,
        or see this process gone)."""
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
