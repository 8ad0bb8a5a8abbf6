"""Long-lived connections of one session: open SSE streams and WebSockets, by handler.

The one place that knows which connections are open. Each session has a `Streams`
(`SessionState.streams`); a handler's `sse` or `websocket` responder is compiled with
that handler's `Channel`, through which every connection it serves registers itself
while it is open and records the frames it sends and receives:

    Streams.channel(handler) -> Channel    at registration (compile time)
    Channel.opened(conn) / .closed(conn)   by the connection, while it is open
    Channel.record(conn_id, direction, payload)
                                           every frame in and out (bounded, like the journal)
    Streams.page(keep, after=, limit=)     the frame log, a page at a time (like the journal)
    Streams.push(handler, kind, item)      admin pushes -> how many connections got it
    Streams.close(handler)                 admin close -> how many were closed
    Streams.close_all()                    session reset or deletion, a handler's last
                                           route removed (does not wait)
    Streams.aclose()                       server shutdown (waits, so nothing is cut)

The frame log keeps the newest `limit` frames of the session and counts the rest
(`evicted`), as the journal does with requests. A push to a thousand connections
records a thousand frames, so a frame is small: an untracked struct naming its
connection, and the `Payload` (the message or event) that every frame of the push
shares. Its wire shape is built only when someone lists it.

With shared state (`serve --state`) each process logs the frames of the connections
it holds, and a listing gathers every process's (`controlplane.cluster.frames`). So
that they merge into one log, `Streams.share` makes connection ids name their process
and seqs follow the clock (`ClockSeq`): in one process they number from 1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

import msgspec

from controlplane import wire
from controlplane.journal import iso_utc
from controlplane.logs import get_logger
from controlplane.paging import Page, page

__all__ = ["Channel", "ClockSeq", "Connection", "Frame", "FrameKind", "Payload", "Streams"]

_log = get_logger("streams")

Kind = Literal["sse", "websocket"]
Direction = Literal["in", "out"]
FrameKind = Literal["text", "binary", "close", "event"]


class Connection(Protocol):
    """An open SSE stream or WebSocket, as the registry drives it."""

    #: Unique within the session (`GET .../messages` names frames by it).
    id: str

    @property
    def kind(self) -> Kind:
        """What the connection is: it takes pushes of its kind only."""
        ...

    def encode_push(self, item: Any) -> Any:
        """`item` (a `wire.SseEvent` or `wire.WsMessage`, by `kind`) as `push` takes it:
        computed once per push, whatever the number of connections."""
        ...

    def push(self, encoded: Any) -> None:
        """Send a pushed item (`encode_push`'s result) now, without waiting for the
        client: a client that reads slowly has it buffered, and holds up no other."""
        ...

    async def end(self, code: int, reason: str) -> None:
        """Close cleanly (WebSocket: with `code`), returning once closed."""
        ...


class Payload(msgspec.Struct, frozen=True, gc=False):
    """What a frame carries: a message, an event or a close. One push makes one,
    which every frame it sends shares."""

    kind: FrameKind
    #: A text message or an event's data as sent (str), a binary message (bytes).
    data: str | bytes | None = None
    event: wire.SseEvent | None = None
    #: A close's (code, reason): a WebSocket close frame, or the end of an SSE stream
    #: (no code; `in` when the client left).
    close: tuple[int | None, str] | None = None


class Frame(msgspec.Struct, frozen=True, gc=False):
    """One recorded frame; rendered to `wire.StreamFrame` only when listed. Untracked
    by the garbage collector, as the journal's entries are: a full log holds many."""

    seq: int
    time: float
    handler: str
    connection: str
    direction: Direction
    payload: Payload

    def to_wire(self) -> wire.StreamFrame:
        payload = self.payload
        frame = wire.StreamFrame(
            seq=self.seq,
            time=iso_utc(self.time),
            connection=self.connection,
            direction=self.direction,
            kind=payload.kind,
        )
        data = payload.data
        if isinstance(data, bytes):
            frame.binary_base64 = base64.b64encode(data).decode()
        elif data is not None:
            frame.text = data
            with contextlib.suppress(msgspec.DecodeError):
                frame.json = msgspec.json.decode(data)
        if payload.event is not None:
            frame.event, frame.id = payload.event.event, payload.event.id
        if payload.close is not None:
            frame.code, frame.reason = payload.close
        return frame


class ClockSeq:
    """Seqs of frames that merge with other processes' in time order: tens of
    microseconds since the epoch, times 8, plus this process's `salt` (0-7), so that two
    processes' frames of one instant differ; increasing within the process. Below 2**53
    (JavaScript's exact integers) until the year 2300."""

    __slots__ = ("_last", "_salt")

    def __init__(self, salt: int) -> None:
        self._salt = salt % 8
        self._last = 0

    def __iter__(self) -> ClockSeq:
        return self

    def __next__(self) -> int:
        seq = max(self._last + 8, int(time.time() * 100_000) * 8 + self._salt)
        self._last = seq
        return seq


class Channel:
    """One handler's view of its session's `Streams`, held by the handler's responder."""

    __slots__ = ("handler", "streams")

    def __init__(self, streams: Streams, handler: str) -> None:
        self.streams = streams
        self.handler = handler

    def new_id(self) -> str:
        return str(next(self.streams._ids))

    def opened(self, connection: Connection) -> None:
        self.streams._open.setdefault(self.handler, {})[connection.id] = connection
        _log.debug(
            "stream_opened",
            session=self.streams.session,
            handler=self.handler,
            connection=connection.id,
            kind=connection.kind,
        )

    def closed(self, connection: Connection) -> None:
        connections = self.streams._open.get(self.handler)
        if connections is not None and connections.pop(connection.id, None) is not None:
            if not connections:
                del self.streams._open[self.handler]
            _log.debug(
                "stream_closed",
                session=self.streams.session,
                handler=self.handler,
                connection=connection.id,
            )

    def record(self, connection: str, direction: Direction, payload: Payload) -> None:
        """One frame sent or received."""
        streams = self.streams
        streams._frames.append(
            Frame(next(streams._seq), time.time(), self.handler, connection, direction, payload)
        )
        streams._appended += 1


class Streams:
    """The open connections and the frame log of one session."""

    def __init__(self, session: str, limit: int) -> None:
        self.session = session
        self.limit = limit
        self._frames: deque[Frame] = deque(maxlen=limit)
        self._appended = 0
        self._seq: Iterator[int] = itertools.count(1)
        self._ids: Iterator[int | str] = itertools.count(1)
        self._open: dict[str, dict[str, Connection]] = {}
        self._ending: set[asyncio.Task[None]] = set()

    def share(self, process: str, salt: int) -> None:
        """Number frames and connections so that they merge with other processes'
        (`serve --state`): connection ids `{process}-{n}`, seqs from the clock."""
        self._seq = ClockSeq(salt)
        self._ids = (f"{process}-{n}" for n in itertools.count(1))

    def recorded(self, handler: str) -> list[Frame]:
        """Every frame of `handler` in the log, oldest first."""
        return [frame for frame in self._frames if frame.handler == handler]

    def channel(self, handler: str) -> Channel:
        return Channel(self, handler)

    def connections(self, handler: str | None = None) -> list[Connection]:
        """Open connections of `handler` (None: of every handler), oldest first."""
        if handler is not None:
            return list(self._open.get(handler, {}).values())
        return [c for by_id in self._open.values() for c in by_id.values()]

    @property
    def evicted(self) -> int:
        """Frames dropped to keep the log at `limit`, since it was last cleared."""
        return self._appended - len(self._frames)

    def page(
        self,
        keep: Callable[[Frame], bool] | None = None,
        *,
        after: int | None = None,
        limit: int | None = None,
    ) -> Page[Frame]:
        """Recorded frames `keep` holds for, oldest first, a page of them (as the
        journal's listings page: `controlplane.paging`)."""
        return page(self._frames, keep, after=after, limit=limit)

    def clear_frames(self) -> None:
        self._frames.clear()
        self._appended = 0

    def push(self, handler: str, kind: Kind, item: Any) -> int:
        """Send `item` to every open connection of `handler` of this `kind`: encoded
        once, written to each in turn, waiting for none."""
        targets = [c for c in self._open.get(handler, {}).values() if c.kind == kind]
        if targets:
            encoded = targets[0].encode_push(item)
            for connection in targets:
                connection.push(encoded)
        return len(targets)

    async def close(self, handler: str, code: int = 1000, reason: str = "") -> int:
        """Close every open connection of `handler`, cleanly; how many there were."""
        targets = self.connections(handler)
        await asyncio.gather(*(c.end(code, reason) for c in targets))
        return len(targets)

    def close_all(
        self, code: int = 1001, reason: str = "session reset", handler: str | None = None
    ) -> None:
        """Start closing every open connection (of `handler` only, when given): the
        session is reset or deleted, or the handler's last route removed."""
        for connection in self.connections(handler):
            task = asyncio.get_running_loop().create_task(connection.end(code, reason))
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)

    async def aclose(self, code: int = 1001, reason: str = "server shutdown") -> None:
        """Close every open connection and wait until they are (the server stops)."""
        self.close_all(code, reason)
        if self._ending:
            await asyncio.gather(*self._ending, return_exceptions=True)
