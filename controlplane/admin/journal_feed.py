"""`GET .../requests/stream`: the journal live, as Server-Sent Events.

One event per journal entry, oldest first, in the event-stream format::

    id: 42
    data: {"id": "...", "seq": 42, ...}      (a RecordedRequest, as `GET .../requests` lists it)

The `id` is the entry's `seq`, so a client that reconnects with `Last-Event-ID` (as
`EventSource` does by itself) resumes after the last entry it saw and misses none the
journal still holds. Where it starts: after `Last-Event-ID` if sent, else after
`?after=`, else after the newest entry now (only requests yet to come).

Waiting is event-driven: the feed takes `Journal.changed()`, reads what is new, and
sleeps on that event until the journal records something (or `heartbeat_ms` passes,
when it writes a `: heartbeat` comment). The journal creates that event only while a
feed waits, so recording a request with nobody listening costs one `is None` test.

A feed ends cleanly (the chunked body is closed) when its session is deleted or the
server stops (`mount` adds the shutdown hook that wakes every open feed). The admin
port does not cancel handlers when a client leaves (unlike the mock port), so a feed
notices that its client left at its next write: the next entry or heartbeat.

Entries evicted before a slow client got them are not sent: a feed resumes at the
oldest entry the journal still holds. `evicted` in `GET .../requests` says how many.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

import msgspec
from aiohttp import web

from controlplane.errors import InvalidInput
from controlplane.journal import Journal, JournalEntry
from controlplane.logs import get_logger

__all__ = ["DEFAULT_HEARTBEAT_MS", "FEEDS", "Feeds", "follow", "mount", "start_after"]

#: Idle time between heartbeat comments unless `?heartbeat_ms=` says otherwise: under
#: the minute after which proxies commonly drop an idle connection.
DEFAULT_HEARTBEAT_MS: Final = 15_000
#: Entries encoded and written at once when a feed catches up on a backlog.
_BATCH: Final = 32
_HEARTBEAT: Final = b": heartbeat\n\n"

_log = get_logger("admin")
_encoder = msgspec.json.Encoder()


class Feeds:
    """The open feeds of one admin application, so that shutdown can end them."""

    def __init__(self) -> None:
        self.stopping = False
        #: The journal each open feed follows, by feed (a response object).
        self.open: dict[web.StreamResponse, Journal] = {}

    def stop(self) -> None:
        self.stopping = True
        for journal in set(self.open.values()):
            journal.wake()


FEEDS = web.AppKey("journal_feeds", Feeds)


def mount(app: web.Application) -> None:
    """Give `app` its feed registry and the shutdown hook that ends open feeds."""
    feeds = app[FEEDS] = Feeds()

    async def on_shutdown(_: web.Application) -> None:
        feeds.stop()

    app.on_shutdown.append(on_shutdown)


def start_after(request: web.Request, after: int | None) -> int | None:
    """The seq a feed starts after: `Last-Event-ID` when sent (a reconnect), else `after`."""
    last_id = request.headers.get("Last-Event-ID")
    if last_id is None or last_id == "":
        return after
    if not last_id.isdigit():
        raise InvalidInput(
            f"`Last-Event-ID` must be the `id` of an event of this stream (a journal `seq`), "
            f"got {last_id!r}",
            location="Last-Event-ID",
        )
    return int(last_id)


async def follow(
    request: web.Request,
    journal: Journal,
    keep: Callable[[JournalEntry], bool] | None,
    after: int | None,
    heartbeat: float,
    gone: Callable[[], bool],
) -> web.StreamResponse:
    """Answer with the entries of `journal` that `keep` holds for, from after seq `after`
    (None: from now on), as they are recorded, until `gone()` (the session was deleted),
    the server stops, or the client leaves."""
    feeds = request.app[FEEDS]
    cursor = journal.last_seq if after is None else after
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    feeds.open[response] = journal
    sent = 0
    reason = "client left"
    _log.info("journal_feed_opened", session=journal.session_id, after=cursor)
    try:
        # A first write, so that a client knows the feed is open before any entry.
        await response.write(b": open\n\n")
        while True:
            if feeds.stopping or gone():
                reason = "server shutdown" if feeds.stopping else "session deleted"
                break
            changed = journal.changed()  # before reading: nothing recorded can slip by
            page = journal.page(keep, after=cursor, limit=_BATCH)
            if page.entries:
                buffer = bytearray()
                for entry in page.entries:
                    buffer += b"id: %d\ndata: " % entry.seq
                    _encoder.encode_into(journal.to_wire(entry), buffer, -1)
                    buffer += b"\n\n"
                await response.write(buffer)
                sent += len(page.entries)
                cursor = page.entries[-1].seq
                if page.next is not None:
                    await asyncio.sleep(0)  # a backlog: let mock traffic in between batches
                continue
            # Nothing after `cursor` passed `keep`: skip those entries for good.
            cursor = max(cursor, journal.last_seq)
            try:
                async with asyncio.timeout(heartbeat):
                    await changed.wait()
            except TimeoutError:
                await response.write(_HEARTBEAT)
        await response.write_eof()
    except ConnectionError:
        pass  # the client left: a write failed; nothing to tell it
    finally:
        del feeds.open[response]
        _log.info("journal_feed_closed", session=journal.session_id, sent=sent, reason=reason)
    return response
