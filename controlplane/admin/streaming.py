"""Long JSON answers written in chunks, so a big listing never freezes the event loop.

A journal listing can hold thousands of entries of tens of kilobytes each. Encoded in
one go it is one huge bytes object built while every session's mock traffic waits.
`stream_json` encodes the answer's list a few items at a time into a buffer, writes
each buffer as one HTTP chunk (which waits for the socket when the client reads
slowly) and yields to the event loop between chunks. The bytes are exactly what
`json_body(envelope)` would give with the items in the list.

Everything that can fail with a client error (a bad query, an unknown session) must
be checked before calling it: once the status line is out, an answer cannot turn into
an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import msgspec
from aiohttp import web

from controlplane.logs import get_logger

__all__ = ["CHUNK_BYTES", "CHUNK_ITEMS", "stream_json"]

#: A chunk is written once the buffer holds this many bytes ...
CHUNK_BYTES = 128 * 1024
#: ... or this many items, whichever comes first (small items encode fast, but not free).
CHUNK_ITEMS = 32

_log = get_logger("admin")
_encoder = msgspec.json.Encoder()


def _frame(envelope: msgspec.Struct, field: str) -> tuple[bytes, bytes]:
    """What comes before and after the items of `envelope`'s (empty, first) list `field`."""
    encoded = _encoder.encode(envelope) + b"\n"
    opening = b'{"' + field.encode() + b'":['
    if not encoded.startswith(opening + b"]"):
        raise ValueError(f"{type(envelope).__name__}.{field} must be its first field, empty")
    return opening, encoded[len(opening) :]


async def stream_json(
    request: web.Request, envelope: msgspec.Struct, field: str, items: Iterable[Any]
) -> web.StreamResponse:
    """Answer 200 with `envelope` whose first field, the list `field`, holds `items`.

    `items` is consumed lazily: build each item inside it (a generator), so that only
    one chunk's worth of encoded answer exists at a time.
    """
    head, tail = _frame(envelope, field)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    buffer = bytearray(head)
    count = 0
    try:
        for item in items:
            if count:
                buffer += b","
            _encoder.encode_into(item, buffer, -1)
            count += 1
            if len(buffer) >= CHUNK_BYTES or count % CHUNK_ITEMS == 0:
                chunk, buffer = buffer, bytearray()
                await response.write(chunk)
                # write() only waits when the socket's buffer is full: let others in anyway.
                await asyncio.sleep(0)
        buffer += tail
        await response.write(buffer)
        await response.write_eof()
    except ConnectionError:
        # The client went away mid-answer: nothing to tell it, nothing to clean up.
        _log.info("admin_answer_abandoned", path=request.path, items_sent=count)
    except Exception:
        # A bug of ours after the status line went out: no error body can follow it, so
        # cut the connection (the client sees a truncated answer, never a wrong one).
        _log.exception("admin_internal_error", method=request.method, path=request.path)
        if request.transport is not None:
            request.transport.close()
    return response
