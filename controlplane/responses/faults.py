"""Faults: socket-level failures a client really observes, not polite error statuses.

A fault is a `web.StreamResponse` whose `prepare` bypasses aiohttp's writer: it
writes raw bytes (or none) straight to the transport, closes or aborts it, and
raises `ConnectionResetError`. aiohttp's `RequestHandler.finish_response` catches
`ConnectionError` around `prepare`/`write_eof`, logs the access line only, and
the connection loop stops at debug level ("Ignored premature client
disconnection"), so nothing is logged as an error and the server keeps serving.

What each fault puts on the wire:

    disconnect, empty_response   nothing; FIN
    connection_reset             nothing; RST (SO_LINGER on with timeout 0, then abort)
    truncated                    status line + headers declaring Content-Length: 1024,
                                 32 body bytes, FIN
    malformed_chunk              status line + chunked headers, one valid chunk, then a
                                 chunk whose size line is not hex, FIN
    random_data_then_close       1024 random bytes that cannot start a status line, FIN
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable
from typing import Final, NoReturn

from aiohttp import web

from controlplane import wire
from controlplane.request_view import RequestView
from controlplane.responses.delays import DelaySampler, compile_delay
from controlplane.responses.outcome import Outcome

__all__ = ["FaultResponder", "SocketFault"]

TRUNCATED_DECLARED_LENGTH: Final = 1024
_TRUNCATED_BODY: Final = b"this body stops short of its Content-Length"[:32]
_RANDOM_DATA_LENGTH: Final = 1024
# l_onoff=1, l_linger=0: close() discards unsent data and sends RST instead of FIN.
_LINGER_RESET: Final = struct.pack("ii", 1, 0)


def _head(*lines: str) -> bytes:
    return ("HTTP/1.1 200 OK\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n").encode()


def _close(transport: asyncio.Transport) -> None:
    transport.close()


def _reset(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # asyncio's TransportSocket and uvloop's PseudoSocket both allow setsockopt; if
        # it fails, abort() alone still drops the connection (FIN or RST, as the OS likes).
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


def _truncated(transport: asyncio.Transport) -> None:
    transport.write(
        _head(
            "Content-Type: text/plain; charset=utf-8",
            f"Content-Length: {TRUNCATED_DECLARED_LENGTH}",
        )
        + _TRUNCATED_BODY
    )
    transport.close()


def _malformed_chunk(transport: asyncio.Transport) -> None:
    transport.write(
        _head("Content-Type: text/plain; charset=utf-8", "Transfer-Encoding: chunked")
        + b"5\r\nhello\r\n"
        + b"this is not a chunk size\r\n"
    )
    transport.close()


def _random_data(transport: asyncio.Transport) -> None:
    data = bytearray(os.urandom(_RANDOM_DATA_LENGTH))
    # A first byte >= 0x80 can never begin "HTTP/", so no client can parse a status line.
    data[0] |= 0x80
    transport.write(bytes(data))
    transport.close()


_ACTIONS: Final[dict[str, Callable[[asyncio.Transport], None]]] = {
    "disconnect": _close,
    "empty_response": _close,
    "connection_reset": _reset,
    "truncated": _truncated,
    "malformed_chunk": _malformed_chunk,
    "random_data_then_close": _random_data,
}


class SocketFault(web.StreamResponse):
    """A response that, instead of being sent, breaks the connection in one way."""

    def __init__(self, fault: wire.FaultKind) -> None:
        # Status 0, as in the journal: no status line reaches the client, and the
        # access log should not claim a 200 that never happened.
        super().__init__(status=0)
        self.fault = fault

    async def prepare(self, request: web.BaseRequest) -> NoReturn:
        """Write the fault's bytes to the socket, drop it, and tell aiohttp it is gone."""
        transport = request.transport
        if transport is not None and not transport.is_closing():
            _ACTIONS[self.fault](transport)
        # ConnectionError is how aiohttp learns the connection is over: it stops
        # the keep-alive loop quietly instead of writing a response of its own.
        raise ConnectionResetError(f"controlplane fault {self.fault!r} injected")


class FaultResponder:
    """Answers every request with the same socket fault (and its delay)."""

    __slots__ = ("_delay", "_fault", "spec")

    def __init__(self, spec: wire.FaultResponse) -> None:
        self.spec: wire.AnyResponse = spec
        self._fault = spec.fault
        self._delay: DelaySampler = compile_delay(spec.delay)

    def answer(self, view: RequestView) -> Outcome:
        """A fresh fault response (aiohttp responses are single-use)."""
        fault = self._fault
        return Outcome(SocketFault(fault), 0, "fault", self._delay(), fault)
