"""A client worker of `streams_scale.py`: holds SSE streams and WebSockets, timestamps reads.

Not run alone: `streams_scale.py` starts several, each driven by lines on its stdin:

    sse N   open N SSE streams (`GET /feed`), each until it has read its first event
    ws N    open N WebSockets (`GET /chat`), each until it has read its first message
    close   drop every connection
    dump    print every read's time as JSON, then exit

and it answers on stdout: `opened sse` / `opened ws`, then `sse C` (`ws C`) whenever
every stream (socket) of that kind has read its C-th event (message).

The clients are raw asyncio protocols (uvloop when installed), not aiohttp's client:
a read costs a few microseconds, so the time a connection's push is taken to arrive
(`time.monotonic_ns()` in `data_received`, before any parsing) is when the bytes
reached this process, not when a busy client got round to them. CLOCK_MONOTONIC is
one clock for every process of the machine, so the coordinator compares these times
with the time it sent the push.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

Kind = Literal["sse", "ws"]
_OPEN_AT_ONCE = 50


class _Client(asyncio.Protocol):
    """One connection: sends its request, then counts what it reads and when."""

    def __init__(self, request: bytes, kind: Kind, reached: Callable[[Kind, int], None]):
        self.request = request
        self.kind = kind
        self.reached = reached
        #: Read times (ns) of the 1st, 2nd, ... event or message.
        self.times: list[int] = []
        self.first = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._in_body = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buffer = self._buffer + data
        if not self._in_body:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            status = buffer[: buffer.find(b"\r\n")]
            expected = b" 200 " if self.kind == "sse" else b" 101 "
            if expected not in status:
                raise RuntimeError(f"unexpected answer: {status!r}")
            self._in_body = True
            buffer = buffer[end + 4 :]
        count = self._events(buffer) if self.kind == "sse" else self._frames(buffer)
        for _ in range(count):
            self.times.append(now)
            self.reached(self.kind, len(self.times))
            if not self.first.done():
                self.first.set_result(None)

    def _events(self, buffer: bytes) -> int:
        # An event ends with a blank line; the chunked framing has no "\n\n" of its own.
        count = buffer.count(b"\n\n")
        self._buffer = buffer[-1:]
        return count

    def _frames(self, buffer: bytes) -> int:
        count = 0
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            header = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, header = int.from_bytes(buffer[2:4], "big"), 4
            if len(buffer) < header + length:
                break
            buffer = buffer[header + length :]
            count += 1
        self._buffer = buffer
        return count

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.first.done():
            self.first.set_exception(exc or ConnectionError("closed before the first read"))


class Worker:
    def __init__(self, mock_url: str) -> None:
        parts = urlsplit(mock_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.clients: dict[Kind, list[_Client]] = {"sse": [], "ws": []}
        #: kind -> C -> how many connections have read at least C items.
        self._counts: dict[Kind, dict[int, int]] = {"sse": {}, "ws": {}}

    def _request(self, kind: Kind) -> bytes:
        host = f"Host: {self.host}:{self.port}\r\n"
        if kind == "sse":
            return f"GET {self.prefix}/feed HTTP/1.1\r\n{host}\r\n".encode()
        return (
            f"GET {self.prefix}/chat HTTP/1.1\r\n{host}Upgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    def _reached(self, kind: Kind, count: int) -> None:
        counts = self._counts[kind]
        counts[count] = counts.get(count, 0) + 1
        if counts[count] == len(self.clients[kind]) and count > 1:
            sys.stdout.write(f"{kind} {count}\n")
            sys.stdout.flush()

    async def open(self, kind: Kind, n: int) -> None:
        loop = asyncio.get_running_loop()
        request = self._request(kind)
        for start in range(0, n, _OPEN_AT_ONCE):
            batch = []
            for _ in range(min(_OPEN_AT_ONCE, n - start)):
                client = _Client(request, kind, self._reached)
                self.clients[kind].append(client)
                batch.append(client)
                await loop.create_connection(lambda c=client: c, self.host, self.port)
            await asyncio.gather(*(c.first for c in batch))
        sys.stdout.write(f"opened {kind}\n")
        sys.stdout.flush()

    def close(self) -> None:
        for clients in self.clients.values():
            for client in clients:
                if client.transport is not None:
                    client.transport.abort()

    def dump(self) -> None:
        times = {kind: [c.times for c in clients] for kind, clients in self.clients.items()}
        sys.stdout.write(json.dumps(times) + "\n")
        sys.stdout.flush()


async def _main(mock_url: str) -> None:
    worker = Worker(mock_url)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()
    pending = b""

    def read() -> None:
        nonlocal pending
        data = os.read(0, 4096)
        if not data:  # stdin closed: the coordinator is gone
            loop.remove_reader(0)
            lines.put_nowait("")
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            lines.put_nowait(line.decode())

    loop.add_reader(0, read)
    while True:
        command = (await lines.get()).split()
        if not command:
            worker.close()
            return
        if command[0] in ("sse", "ws"):
            await worker.open(command[0], int(command[1]))  # type: ignore[arg-type]
        elif command[0] == "close":
            worker.close()
        elif command[0] == "dump":
            worker.dump()
            return


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(_main(sys.argv[1]))
    else:
        uvloop.run(_main(sys.argv[1]))


if __name__ == "__main__":
    main()
