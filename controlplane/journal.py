"""The journal: every request that reached the mock port, bounded per session.

Writing an entry is on the hot path and a full journal holds tens of thousands of
them, so a journal keeps three columns per entry: the `seq` and the time in
microseconds, in arrays of 64-bit ints, and a record of what aiohttp already parsed
(method, path, query string, the raw header bytes, the body) and what was answered.
Once full, the columns are a ring: a new entry overwrites the oldest in place, so
journaling a request allocates and frees nothing that outlives it, however full the
journals (`benchmarks/full_journals.py`). Records are untracked `msgspec.Struct`s
(`gc=False`): the garbage collector never walks the journal (its pauses grew with
it). A record without per-request parts (near misses, an origin answer, a body over
256 bytes) is shared with every equal one recorded lately, path parameters included,
so a journal full of the same request costs 24 bytes per entry (two ints and a pointer;
`benchmarks/journal_memory.py`). A template hit's record keeps its route's path
pattern, not the parameters (rebuilt from the path when read), so the route's requests
on other paths (a new id each request) share it too, each entry keeping only its path.
A record of its own keeps the header tuple of the record before it when the headers
are the same. A
`JournalEntry` is built only when someone reads the journal, and nothing is decoded
twice: the `RequestView` that matching used is rebuilt then, and the wire shape
(`RecordedRequest`) only then too.

An entry keeps at most `--journal-body-limit` bytes of its body (the mock port cuts it
when it records) and the body's full length, so a journal's memory is bounded by its
size times the cap. Matching has seen the whole body by then; verification and every
reader see what was kept.

A proxied request's entry also holds the origin's answer (`OriginAnswer`): status and
headers when they arrive, the body as the relay streams it to the client, cut to the
same limit. Recording (`controlplane.recording`) turns those answers into routes.

Readers take a `Page` (`controlplane.paging`): the entries a listing shows and the
cursor that continues it. Turning those entries into JSON is the reader's job, a few
at a time.

A reader that follows the journal live (the admin API's event stream) waits on
`changed()`: an event the journal sets at its next change and then forgets. It exists
only while someone waits, so recording a request with nobody listening pays one test.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from array import array
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar, overload

import msgspec
from multidict import CIMultiDict

from controlplane import wire
from controlplane.paging import DEFAULT_PAGE_SIZE, Page, page
from controlplane.request_view import NOT_JSON, RequestView

if TYPE_CHECKING:
    from controlplane.matching.paths import PathPattern

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_PAGE_SIZE",
    "Journal",
    "JournalEntry",
    "OriginAnswer",
    "Page",
    "RawHeaders",
    "iso_utc",
    "shares",
    "yielding",
]

#: Body bytes an entry keeps by default (`--journal-body-limit`): 64 KiB.
DEFAULT_BODY_LIMIT = 64 * 1024
_R = TypeVar("_R", bound=wire.RecordedRequest)
_T = TypeVar("_T")
#: The longest a reader testing entries works without letting other requests in.
_SLICE_SECONDS = 0.005
RawHeaders = tuple[tuple[bytes, bytes], ...]


def decode_header_lines(lines: bytes) -> CIMultiDict[str]:
    """Header lines as relayed (`Name: value\\r\\n` each) as headers, in order, repeats
    kept; bytes that are not UTF-8 kept as surrogate escapes."""
    pairs = (line.partition(b": ") for line in lines.split(b"\r\n")[:-1])
    return CIMultiDict(
        (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        for name, _, value in pairs
    )


class OriginAnswer:
    """What the origin of a proxied request answered, filled in as the answer streams.

    The relay adds body chunks as it forwards them to the client; the entry keeps at
    most `limit` bytes (the journal's body limit, set when the entry is journaled) and
    counts the rest. `complete` turns true once the whole body has been relayed. The
    headers are given decoded, or as the header lines relayed (`Name: value\\r\\n` each,
    `lines`), decoded when first read: most entries are never read.
    """

    __slots__ = ("_headers", "_limit", "_lines", "body", "body_size", "complete", "reason",
                 "status")  # fmt: skip

    def __init__(
        self,
        status: int,
        reason: str | None,
        headers: CIMultiDict[str] | None = None,
        lines: bytes = b"",
    ) -> None:
        self.status = status
        self.reason = reason
        self._headers = headers
        self._lines = lines
        #: bytes when the whole body was given at once (`whole`), else grown chunk by chunk.
        self.body: bytearray | bytes = bytearray()
        self.body_size = 0
        self.complete = False
        self._limit = DEFAULT_BODY_LIMIT

    def whole(self, body: bytes) -> None:
        """The whole body, given at once (kept as it is, cut when journaled): complete."""
        self.body = body[: self._limit]
        self.body_size = len(body)
        self.complete = True

    @property
    def headers(self) -> CIMultiDict[str]:
        """The origin's headers as relayed (hop-by-hop ones already dropped), in order,
        repeats kept; read-only."""
        if self._headers is None:
            self._headers = decode_header_lines(self._lines)
        return self._headers

    @property
    def limit(self) -> int:
        """Body bytes kept; lowering it cuts what was already added (a body read whole
        before the entry was journaled)."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._limit = value
        if len(self.body) > value:
            self.body = self.body[:value]

    def add(self, chunk: bytes) -> None:
        room = self._limit - len(self.body)
        if room > 0:
            self.body += chunk[:room]
        self.body_size += len(chunk)

    @property
    def body_truncated(self) -> bool:
        return self.body_size > len(self.body)


class _Request(msgspec.Struct, frozen=True, gc=False):
    """Everything an entry holds but its seq and time, shared between identical entries."""

    method: str
    path: str
    query_string: str
    raw_headers: RawHeaders
    body: bytes
    body_size: int
    route_id: str | None
    handler: str | None
    path_params: dict[str, str]
    status: int
    response_type: str
    delay_ms: float
    error: str | None
    near_misses: list[wire.NearMiss] | None
    origin: OriginAnswer | None
    #: The route's path pattern when the path params are read from it on read
    #: (`pattern.match(path)`), not kept: a template hit's record is then shared by its
    #: route's requests on other paths (a new id each request), each entry keeping
    #: only its path (`JournalEntry.own_path`).
    pattern: PathPattern | None = None


#: Shared `_Request`s by value: a full journal of the same request holds one. Bounded
#: like the proxy's decoded-header cache: cleared when full (entries keep theirs).
_SHARED: dict[tuple[object, ...], _Request] = {}
_SHARED_LIMIT = 4096
#: The last shareable record's key and record, by route id (None: unmatched), asked
#: first: a route answering the same request again finds it with one comparison of the
#: keys, not hashing the request's header bytes and body for `_SHARED` (bounded the
#: same way). The only sharing a record with path parameters gets (never in `_SHARED`).
_LAST: dict[str | None, tuple[tuple[object, ...], _Request]] = {}
#: The header tuple of the last record built: a request with the same headers (a
#: client sends the same ones again, whatever the path) keeps it instead of its own,
#: so a record that cannot be shared (a new id each request) holds no header tuples
#: of its own, which the collector would walk and evicting would free, long after
#: the request, from memory the core no longer holds.
_HEADERS: list[RawHeaders] = [()]
#: The path parameters of every record without any; never mutated.
_NO_PARAMS: dict[str, str] = {}
#: Bodies up to this long are shared with their request; longer ones are kept per entry.
_SHARED_BODY = 256


def shares(near_misses: object, origin: object, body_size: int) -> bool:
    """Whether a record with these parts may be shared between equal requests: not
    with near misses or an origin answer (objects of their own request), nor a body
    over `_SHARED_BODY` bytes (a journal holding it per entry keeps it bounded)."""
    return near_misses is None and origin is None and body_size <= _SHARED_BODY


#: What a journal's record slots not yet used hold.
_VACANT = _Request("", "", "", (), b"", 0, None, None, _NO_PARAMS, 0, "", 0.0, None, None, None)


class JournalEntry(msgspec.Struct, gc=False):
    """One request and what was answered, read through its properties.

    Built when the journal is read, from its columns: the `seq`, the time in
    microseconds since the epoch, `request`, the record, which equal requests with
    equal answers share (`record` builds it), and `own_path`, the entry's path when it
    is not its record's (a template hit sharing its route's record on another path).
    Its properties read as the fields did.
    """

    seq: int
    time_us: int
    request: _Request
    own_path: str | None = None

    @classmethod
    def record(
        cls,
        seq: int,
        time_us: int,
        method: str,
        path: str,
        query_string: str,
        raw_headers: RawHeaders,
        body: bytes,
        body_size: int,
        route_id: str | None,
        handler: str | None,
        path_params: dict[str, str],
        status: int,
        response_type: str,
        delay_ms: float,
        error: str | None,
        near_misses: list[wire.NearMiss] | None,
        origin: OriginAnswer | None,
        pattern: PathPattern | None = None,
    ) -> JournalEntry:
        """An entry; its record is shared when the same one was recorded lately.

        Only records without per-request objects are shared (`shares`): no near misses
        or origin answer, a short body. A record with path parameters never enters
        `_SHARED` (a template hit with a new value each time would fill it): it is
        shared only through its route's last record (`_LAST`). Given the `pattern` the
        parameters were read from (the route's), the record keeps the pattern, not the
        parameters, and the key holds the pattern in the path's place: the route's
        next request on any path shares the record, and its entry keeps its own path
        (`own_path`) when that differs from the record's. Without it, the parameters
        are kept and compared, and only a request on the same path shares the record.
        """
        seen = _HEADERS[0]
        if raw_headers == seen:  # differing ones: compared up to their first difference
            raw_headers = seen
        else:
            _HEADERS[0] = raw_headers
        key: tuple[object, ...] | None
        found: _Request | None
        if shares(near_misses, origin, body_size):
            # The pattern the record keeps instead of the params, None to keep the params.
            kept = pattern if path_params else None
            key = (
                method,
                path if kept is None else kept,
                query_string,
                raw_headers,
                body,
                body_size,
                route_id,
                handler,
                status,
                response_type,
                delay_ms,
                error,
            )
            last = _LAST.get(route_id)
            if last is not None and last[0] == key:
                if kept is not None:
                    # On the record's own path, the entry keeps none of its own.
                    shared = last[1]
                    return cls(seq, time_us, shared, None if path == shared.path else path)
                # The parameters are compared apart (a dict: no hashing, no tuple built
                # for the key); a route replaced under its id may name them otherwise.
                if last[1].path_params == path_params:
                    return cls(seq, time_us, last[1])
            found = None if path_params else _SHARED.get(key)
        else:
            kept = key = found = None
        request = found
        if request is None:
            request = _Request(
                method,
                path,
                query_string,
                raw_headers,
                body,
                body_size,
                route_id,
                handler,
                path_params if path_params and kept is None else _NO_PARAMS,
                status,
                response_type,
                delay_ms,
                error,
                near_misses,
                origin,
                kept,
            )
        if key is not None:
            if found is None and not path_params:
                if len(_SHARED) >= _SHARED_LIMIT:
                    _SHARED.clear()
                _SHARED[key] = request
            # Remembered in place, not through a function: a new id each request pays it.
            if len(_LAST) >= _SHARED_LIMIT:
                _LAST.clear()
            _LAST[route_id] = (key, request)
        return cls(seq, time_us, request)

    @property
    def time(self) -> float:
        """Seconds since the epoch, to the microsecond."""
        return self.time_us / 1_000_000

    # The record's fields, one plain property each: a generic descriptor (`__get__` in
    # Python) reads one about 3x slower and `property(attrgetter(...))` no faster, and
    # a journal listing reads every field of up to 10,000 entries.
    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        own = self.own_path
        return self.request.path if own is None else own

    @property
    def query_string(self) -> str:
        return self.request.query_string

    @property
    def raw_headers(self) -> RawHeaders:
        return self.request.raw_headers

    @property
    def body(self) -> bytes:
        """The kept body: at most its first `--journal-body-limit` bytes."""
        return self.request.body

    @property
    def body_size(self) -> int:
        """The length of the whole body as received."""
        return self.request.body_size

    @property
    def route_id(self) -> str | None:
        return self.request.route_id

    @property
    def handler(self) -> str | None:
        return self.request.handler

    @property
    def path_params(self) -> dict[str, str]:
        """The path params the route read from the path (rebuilt from its pattern when
        the record keeps that instead: the route matched this path)."""
        request = self.request
        pattern = request.pattern
        if pattern is None:
            return request.path_params
        params = pattern.match(self.path)
        assert params is not None  # the route's index matched this very path
        return params

    @property
    def status(self) -> int:
        return self.request.status

    @property
    def response_type(self) -> str:
        return self.request.response_type

    @property
    def delay_ms(self) -> float:
        return self.request.delay_ms

    @property
    def error(self) -> str | None:
        return self.request.error

    @property
    def near_misses(self) -> list[wire.NearMiss] | None:
        return self.request.near_misses

    @property
    def origin(self) -> OriginAnswer | None:
        """Set when the request was proxied: the origin's answer (see `OriginAnswer`)."""
        return self.request.origin

    @property
    def proxied(self) -> bool:
        return self.request.origin is not None

    @property
    def matched(self) -> bool:
        return self.request.route_id is not None

    @property
    def unanswered(self) -> bool:
        """No route matched and nothing else answered: a 404 with near misses.

        A request a recording proxied matched no route either, but the origin answered it.
        """
        request = self.request
        return (
            request.route_id is None and request.origin is None and request.near_misses is not None
        )

    @property
    def body_truncated(self) -> bool:
        return self.request.body_size > len(self.request.body)

    @property
    def view(self) -> RequestView:
        """The request as matching sees it, rebuilt from the raw record (not cached)."""
        request = self.request
        # aiohttp decodes header bytes the same way, so names and values round-trip.
        headers = CIMultiDict(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
            for name, value in request.raw_headers
        )
        return RequestView(request.method, self.path, request.query_string, headers, request.body)


class _Entries(Sequence[JournalEntry]):
    """A journal's entries as columns, oldest first: seqs and times (µs) in arrays of
    64-bit ints, the (often shared) records in a list, and the entries' own paths
    (`JournalEntry.own_path`) in a list made when the first one is kept. An entry
    object is built when read, so a held entry costs 24 bytes: two ints and a pointer
    (32 with a path column, plus the path of an entry that has its own).

    The columns grow (doubling) to `capacity`, then are a ring: each new entry
    overwrites the oldest, at `_head`, which then moves on. A full journal takes a
    request without allocating or freeing anything (a deque of int objects freed one
    per request, scattered through memory that the CPU cache no longer held). Numbers
    are written through memoryviews of the arrays (`_seq_slots`, `_time_slots`): an
    array's own item assignment parses its argument like a function call's, at about
    1.5 times the cost. Readers read the arrays, up to `_size`.
    """

    __slots__ = ("_head", "_seq_slots", "_size", "_time_slots", "capacity", "paths", "records",
                 "seqs", "times")  # fmt: skip

    def __init__(self, capacity: int, entries: Iterable[JournalEntry] = ()) -> None:
        self.capacity = capacity
        self._empty()
        for entry in entries:
            self.append(entry.seq, entry.time_us, entry.request, entry.own_path)

    def _empty(self) -> None:
        self.seqs = array("q")
        self.times = array("q")
        #: As long as the arrays: the slots past `_size` hold `_VACANT`.
        self.records: list[_Request] = []
        #: None until an entry has a path of its own; then as long as `records`.
        self.paths: list[str | None] | None = None
        self._seq_slots = memoryview(self.seqs)
        self._time_slots = memoryview(self.times)
        #: Entries held.
        self._size = 0
        #: Where the oldest entry is once the columns are full (0 until then): the next
        #: entry overwrites it.
        self._head = 0

    def append(self, seq: int, time_us: int, record: _Request, own_path: str | None) -> None:
        size = self._size
        if size == self.capacity:  # full: the newest takes the oldest's slots
            if not size:
                return  # `--journal-size 0`: nothing is kept
            at = self._head
            self._head = at + 1 if at + 1 < size else 0
        else:
            at = size
            if at == len(self.records):
                self._grow()
            self._size = size + 1
        self._seq_slots[at] = seq
        self._time_slots[at] = time_us
        self.records[at] = record
        if own_path is None:
            if self.paths is not None:
                self.paths[at] = None
        else:
            if self.paths is None:
                self.paths = [None] * len(self.records)
            self.paths[at] = own_path

    def _grow(self) -> None:
        """Room for twice as many entries (at least 16, at most `capacity`)."""
        held = len(self.records)
        more = min(self.capacity, max(16, 2 * held)) - held
        # An array exporting its buffer cannot be resized: let go of the views first.
        self._seq_slots.release()
        self._time_slots.release()
        self.seqs.frombytes(bytes(self.seqs.itemsize * more))
        self.times.frombytes(bytes(self.times.itemsize * more))
        self._seq_slots = memoryview(self.seqs)
        self._time_slots = memoryview(self.times)
        self.records.extend([_VACANT] * more)
        if self.paths is not None:
            self.paths.extend([None] * more)

    def clear(self) -> None:
        self._seq_slots.release()
        self._time_slots.release()
        self._empty()

    @property
    def oldest_seq(self) -> int | None:
        return self.seqs[self._head] if self._size else None

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> JournalEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[JournalEntry]: ...
    def __getitem__(self, index: int | slice) -> JournalEntry | list[JournalEntry]:
        if isinstance(index, slice):
            return list(self)[index]
        size = self._size
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("journal index out of range")
        at = self._head + index
        if at >= size:
            at -= size
        paths = self.paths
        own_path = None if paths is None else paths[at]
        return JournalEntry(self.seqs[at], self.times[at], self.records[at], own_path)

    def _columns(
        self,
    ) -> tuple[array[int], array[int], list[_Request], list[str | None]]:
        """Copies of the columns, oldest first (a reader iterating them is not disturbed
        by entries recorded meanwhile)."""
        head, size = self._head, self._size
        seqs, times, records = self.seqs, self.times, self.records
        paths: list[str | None] = [None] * len(records) if self.paths is None else self.paths
        if not head:
            return seqs[:size], times[:size], records[:size], paths[:size]
        return (
            seqs[head:] + seqs[:head],
            times[head:] + times[:head],
            records[head:] + records[:head],
            paths[head:] + paths[:head],
        )

    def __iter__(self) -> Iterator[JournalEntry]:
        return map(JournalEntry, *self._columns())

    def __reversed__(self) -> Iterator[JournalEntry]:
        seqs, times, records, paths = self._columns()
        return map(
            JournalEntry, reversed(seqs), reversed(times), reversed(records), reversed(paths)
        )


class Journal:
    """A bounded, ordered record of requests; counts what it evicted since the last clear."""

    def __init__(
        self, session_id: str, max_entries: int, body_limit: int = DEFAULT_BODY_LIMIT
    ) -> None:
        self.session_id = session_id
        self.max_entries = max_entries
        #: Body bytes an entry keeps (`--journal-body-limit`), of the request and of a
        #: proxied origin's answer alike.
        self.body_limit = body_limit
        self._entries = _Entries(max_entries)
        self._appended = 0
        self._next_seq = 1
        # Request ids are UUIDs (WireMock clients expect them) derived from this base and
        # the sequence number, so none is generated on the hot path.
        self._id_base = uuid.uuid4().int
        self._changed: asyncio.Event | None = None
        #: The seqs of unanswered entries (`JournalEntry.unanswered`), oldest first;
        #: those of evicted entries are dropped when counted.
        self._unanswered: deque[int] = deque(maxlen=max_entries)

    def next_seq(self) -> int:
        seq = self._next_seq
        self._next_seq = seq + 1
        return seq

    def append(self, entry: JournalEntry) -> None:
        self._entries.append(entry.seq, entry.time_us, entry.request, entry.own_path)
        self._appended += 1
        if entry.unanswered:
            self._unanswered.append(entry.seq)
        if self._changed is not None:
            self.wake()

    def changed(self) -> asyncio.Event:
        """An event set at the journal's next change (an entry recorded or appended, the
        journal cleared, `wake()`), shared by everyone waiting. Take it before reading
        the entries, with no `await` in between, and nothing recorded can be missed."""
        changed = self._changed
        if changed is None:
            changed = self._changed = asyncio.Event()
        return changed

    def wake(self) -> None:
        """Set the event `changed()` gave out, if any: its waiters look again."""
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def record(
        self,
        method: str,
        path: str,
        query_string: str,
        raw_headers: RawHeaders,
        body: bytes,
        route_id: str | None,
        handler: str | None,
        path_params: dict[str, str],
        status: int,
        response_type: str,
        delay_ms: float,
        error: str | None,
        near_misses: list[wire.NearMiss] | None = None,
        origin: OriginAnswer | None = None,
        pattern: PathPattern | None = None,
    ) -> JournalEntry:
        """Journal one request and its answer, the body cut to `body_limit` (matching
        saw all of it); a proxied origin's answer is kept to the same limit. `pattern`:
        the path pattern `path_params` were read from (the route's), which the entry
        keeps instead of them (`JournalEntry.record`)."""
        seq = self._next_seq
        self._next_seq = seq + 1
        time_us = time.time_ns() // 1000
        entry = JournalEntry.record(
            seq,
            time_us,
            method,
            path,
            query_string,
            raw_headers,
            # A slice as long as the body is the body itself: no copy unless cut.
            body[: self.body_limit],
            len(body),
            route_id,
            handler,
            path_params,
            status,
            response_type,
            delay_ms,
            error,
            near_misses,
            origin,
            pattern,
        )
        if origin is not None:
            origin.limit = self.body_limit
        self._entries.append(seq, time_us, entry.request, entry.own_path)
        self._appended += 1
        if near_misses is not None and route_id is None and origin is None:
            self._unanswered.append(seq)
        if self._changed is not None:
            self.wake()
        return entry

    @property
    def evicted(self) -> int:
        """Entries dropped to stay within `max_entries` since the journal was last cleared."""
        return self._appended - len(self._entries)

    @property
    def last_seq(self) -> int:
        """The `seq` of the newest entry recorded (evicted or cleared or not); 0 before any."""
        return self._next_seq - 1

    @property
    def unanswered_count(self) -> int:
        """How many entries are unanswered (no route matched, nothing else answered)."""
        seqs = self._unanswered
        oldest = self._entries.oldest_seq
        if oldest is None:
            oldest = self._next_seq
        while seqs and seqs[0] < oldest:
            seqs.popleft()
        return len(seqs)

    def clear(self) -> None:
        self._entries.clear()
        self._appended = 0
        self._unanswered.clear()
        self.wake()

    def remove_where(self, predicate: Callable[[JournalEntry], bool]) -> list[JournalEntry]:
        """Remove the entries `predicate` holds for and return them (oldest first).

        Removed entries were not evicted, so `evicted` stays what it was.
        """
        removed: list[JournalEntry] = []
        kept: list[JournalEntry] = []
        for entry in self._entries:
            (removed if predicate(entry) else kept).append(entry)
        if removed:
            self._entries = _Entries(self.max_entries, kept)
            self._appended -= len(removed)
            self._unanswered = deque(
                (entry.seq for entry in kept if entry.unanswered), maxlen=self.max_entries
            )
        return removed

    def page(
        self,
        keep: Callable[[JournalEntry], bool] | None = None,
        *,
        after: int | None = None,
        limit: int | None = None,
    ) -> Page[JournalEntry]:
        """The entries `keep` holds for (all when None), one page of them
        (`controlplane.paging`)."""
        return page(self._entries, keep, after=after, limit=limit)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self._entries)

    def __reversed__(self) -> Iterator[JournalEntry]:
        return reversed(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entry_id(self, entry: JournalEntry) -> str:
        return str(uuid.UUID(int=self._id_base ^ entry.seq))

    def to_wire(self, entry: JournalEntry) -> wire.RecordedRequest:
        return self._build(entry, wire.RecordedRequest)

    def to_wire_unmatched(self, entry: JournalEntry) -> wire.UnmatchedRequest:
        recorded = self._build(entry, wire.UnmatchedRequest)
        recorded.near_misses = list(entry.near_misses or ())
        return recorded

    def _build(self, entry: JournalEntry, shape: type[_R]) -> _R:
        view = entry.view
        query: dict[str, list[str]] = {}
        for name, value in view.query.items():
            query.setdefault(name, []).append(value)
        # A cut body is not the JSON that was sent, even when its prefix happens to parse.
        parsed = view.json if not entry.body_truncated else NOT_JSON
        return shape(
            id=self.entry_id(entry),
            seq=entry.seq,
            time=iso_utc(entry.time),
            session=self.session_id,
            handler=entry.handler,
            route_id=entry.route_id,
            method=view.method,
            path=view.path,
            query=query,
            headers=[(str(name), value) for name, value in view.headers.items()],
            path_params=entry.path_params,
            body=view.text if not entry.body_truncated else _cut_text(view.body),
            body_base64=base64.b64encode(view.body).decode("ascii"),
            body_size=entry.body_size,
            body_truncated=entry.body_truncated,
            json=wire.UNSET if parsed is NOT_JSON else parsed,
            response=wire.RecordedResponse(
                status=entry.status,
                type=entry.response_type,
                delay_ms=entry.delay_ms,
                error=entry.error,
            ),
            matched=entry.matched,
            proxied=entry.origin is not None,
        )


async def yielding(items: Iterable[_T]) -> AsyncIterator[_T]:
    """`items`, letting the event loop run whenever a slice of work (5 ms) has passed.

    For readers that test every entry (verify, the WireMock dialect's count and find):
    a predicate on large bodies over a full journal takes seconds, and mock traffic of
    every session must not wait for it. Pass a list of your own (not the journal),
    so that the journal changing meanwhile does not disturb the iteration.
    """
    pause = time.monotonic() + _SLICE_SECONDS
    for item in items:
        yield item
        if time.monotonic() >= pause:
            await asyncio.sleep(0)
            pause = time.monotonic() + _SLICE_SECONDS


def _cut_text(body: bytes) -> str | None:
    """A kept body's text: the cut may split a UTF-8 character, which is left out."""
    for end in range(len(body), max(len(body) - 4, -1), -1):
        try:
            return body[:end].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def iso_utc(timestamp: float) -> str:
    """`2024-05-01T12:00:00.123456Z`: ISO 8601, UTC, always with microseconds."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
