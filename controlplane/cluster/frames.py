"""The frame log of open streams across processes (`GET .../handlers/{name}/messages`).

An SSE stream or a WebSocket is held by the process it connected to, which logs its
frames (`controlplane.responses.streams`). With shared state, a listing asks every
other live member for its frames of the handler (`controlplane.cluster.forward`,
service `frames`) and merges them with its own by seq: `Streams.share` makes seqs
follow the clock (so the merged log is in time order, and a frame logged after a
listing has a greater seq than every frame in it, as a cursor needs) and connection
ids name their process. `evicted` is the sum of every process's.

A member that does not answer within `GATHER_TIMEOUT_S` makes the listing a 503
`state_unavailable` (a listing without its frames would look complete); one that
stopped meanwhile is left out, with its frames.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable

import msgspec
from redis.exceptions import RedisError

from controlplane import wire
from controlplane.cluster import StateUnavailable
from controlplane.cluster.forward import ProcessGone, Relay
from controlplane.cluster.members import Members
from controlplane.responses.streams import Streams

__all__ = ["GATHER_TIMEOUT_S", "SharedFrames"]

#: Seconds a listing waits for each other process's frames.
GATHER_TIMEOUT_S = 5.0
_SERVICE = "frames"


class _Ask(msgspec.Struct, array_like=True, frozen=True):
    session: str
    handler: str


class _Frames(msgspec.Struct, array_like=True, frozen=True):
    frames: list[wire.StreamFrame]  # rendered: a `Frame`'s payload does not travel
    evicted: int


_encode = msgspec.msgpack.Encoder().encode
_decode_ask = msgspec.msgpack.Decoder(_Ask).decode
_decode_frames = msgspec.msgpack.Decoder(_Frames).decode


def _seq(frame: wire.StreamFrame) -> int:
    return frame.seq


class SharedFrames:
    """Every process's frames of a handler, as one log."""

    def __init__(
        self, relay: Relay, members: Members, streams_of: Callable[[str], Streams | None]
    ) -> None:
        self._relay = relay
        self._members = members
        self._streams_of = streams_of
        relay.serve(_SERVICE, self._serve)

    async def _serve(self, payload: bytes) -> bytes:
        ask = _decode_ask(payload)
        return _encode(await self._own(ask.session, ask.handler))

    async def gather(self, session: str, handler: str) -> tuple[list[wire.StreamFrame], int]:
        """The frames of `handler` in every live process, by seq; frames evicted."""
        ask = _encode(_Ask(session, handler))
        try:
            others = await self._members.others()
        except (RedisError, OSError) as exc:
            raise self._relay.cluster.unavailable(str(exc) or type(exc).__name__) from None
        answers = await asyncio.gather(
            *(self._ask(process, ask) for process in others), self._own(session, handler)
        )
        merged = list(heapq.merge(*(frames.frames for frames in answers), key=_seq))
        return merged, sum(frames.evicted for frames in answers)

    async def _own(self, session: str, handler: str) -> _Frames:
        """This process's frames of `handler` (none if the session was deleted meanwhile)."""
        streams = self._streams_of(session)
        if streams is None:
            return _Frames([], 0)
        return _Frames([frame.to_wire() for frame in streams.recorded(handler)], streams.evicted)

    async def _ask(self, process: str, ask: bytes) -> _Frames:
        try:
            return _decode_frames(await self._relay.call(process, _SERVICE, ask, GATHER_TIMEOUT_S))
        except ProcessGone:
            return _Frames([], 0)
        except TimeoutError:
            raise StateUnavailable(
                f"the frames are logged by the processes holding the connections, and "
                f"process {process} did not send its own within {GATHER_TIMEOUT_S:g} s"
            ) from None
