"""Recording: pass a session's unmatched requests to an origin and turn its answers into routes.

The contract (DESIGN.md, "Talking to real services"):

- while a session records (`Recording`), a request no route matches and the recording's
  filter accepts is proxied to `target` with the `proxy` response's machinery (the
  server's `Upstreams`, no second client) and its journal entry, which holds the
  origin's answer (`journal.OriginAnswer`), is captured;
- stop (and snapshot, over the journal's proxied entries) groups the captured
  exchanges by request (`group`): method, path, query, the captured headers and, for
  methods that carry one, the body. Each group becomes one route (`to_routes`)
  answering what the origin answered: `json` when it was JSON, else `raw`, a
  `sequence` (its last answer repeating) when the origin answered the same request
  differently over time;
- a compressed body (gzip, deflate) is decoded for the stored copy and its
  `Content-Encoding` dropped, only when decoding happened; framing headers and `Date`
  go (the server sets them for what it sends);
- a request some route other than a proxy answers now is not recorded again;
  exchanges the journal could not keep whole (a body over `--journal-body-limit`, an
  answer still streaming or broken off) are skipped, each with its reason.

`group` returns `Recorded` requests, which the WireMock dialect renders as stub
mappings instead of routes: one grouping, two shapes.
"""

from __future__ import annotations

import base64
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from multidict import CIMultiDict

from controlplane import ids, wire
from controlplane.errors import Conflict
from controlplane.journal import JournalEntry
from controlplane.logs import get_logger
from controlplane.matching import CompiledRoute, RouteTable, compile_route
from controlplane.request_view import RequestView
from controlplane.responses import Outcome, Responder, Upstreams
from controlplane.responses.proxy import ProxyResponder
from controlplane.sessions import SessionState

__all__ = [
    "Answer",
    "Recorded",
    "Recording",
    "answer_response",
    "compile_filter",
    "group",
    "recorded_in",
    "routes_from",
    "snapshot",
    "start",
    "stop",
    "stub_answers",
    "to_routes",
]

_log = get_logger("recording")

#: Methods whose requests carry a body: their recorded routes match the body, even an empty one.
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
#: Headers never kept in a recorded answer: the server frames the body it sends itself.
#: Headers the stored answer leaves out: the server sets them for what it sends (the
#: framing of its body, the `Date` of its answer; a recorded `Date` would also make two
#: answers a second apart differ).
_NOT_STORED = frozenset(("content-length", "transfer-encoding", "date"))
#: The most bytes a decoded body may grow to; past it the body stays encoded.
_MAX_DECODED = 64 * 1024 * 1024
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_SLUG = re.compile(r"[^A-Za-z0-9]+")


class Recording:
    """A session's recording: where unmatched requests go and what came back.

    Stays on the session after `stop` (status `stopped`) until the next start or reset.
    """

    def __init__(
        self,
        target: str,
        upstreams: Upstreams,
        *,
        accept: CompiledRoute | None,
        capture_headers: Sequence[str],
        add_routes: bool,
        capacity: int,
    ) -> None:
        self.target = target
        self.accept = accept
        self.capture_headers = tuple(capture_headers)
        self.add_routes = add_routes
        self.active = True
        #: The journal entries of the exchanges recorded, oldest first (at most `capacity`,
        #: the session's journal size: the oldest go first).
        self.captured: deque[JournalEntry] = deque(maxlen=capacity)
        #: With shared state (`--state`): the journal's last seq when recording started.
        #: `stop` then takes the exchanges from the journal, every process's, instead of
        #: this process's `captured`, so every process builds the same routes.
        self.since: int | None = None
        self._responder = ProxyResponder(wire.ProxyResponse(url=target), upstreams)

    def wants(self, view: RequestView) -> bool:
        """Whether an unmatched request is to be proxied and recorded."""
        return self.active and (self.accept is None or self.accept.match(view) is not None)

    def answer(self, view: RequestView) -> Outcome:
        """The proxy's outcome (awaited through `Outcome.render`, as every proxy's is)."""
        return self._responder.answer(view)

    def take_from(self, journal: Iterable[JournalEntry]) -> None:
        """With shared state, `captured` becomes the journal's proxied, unmatched entries
        since the start: every process's (in memory, `captured` stays as recorded)."""
        since = self.since
        if since is not None:
            self.captured = deque(
                (e for e in journal if e.seq > since and e.proxied and not e.matched),
                maxlen=self.captured.maxlen,
            )

    def describe(self) -> wire.RecordingStatus:
        return wire.RecordingStatus(
            status="recording" if self.active else "stopped",
            target=self.target,
            captured=len(self.captured),
        )


def compile_filter(match: wire.Match | None) -> CompiledRoute | None:
    """The native recording's filter: `match` over any method and path (None: everything)."""
    if match is None:
        return None
    anything = wire.Route(
        method="*", path_regex="(?s).*", handler="recording", match=match, id="filter"
    )
    return compile_route(anything, 0)


# ------------------------------------------------------------------ grouping


class Answer(msgspec.Struct, frozen=True):
    """One answer of the origin as it will be stored: decoded body, headers to send."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def content_type(self) -> str:
        return next((v for n, v in self.headers if n.lower() == "content-type"), "")


@dataclass
class Recorded:
    """One distinct request and the origin's answers to it, in the order they came."""

    method: str
    path: str
    query: list[tuple[str, str]]
    #: The query as the client sent it (the WireMock dialect's `url` keeps it).
    query_string: str
    #: Captured header name -> the request's value (None: the request did not send it).
    headers: dict[str, str | None]
    #: The body to match (None: not matched; methods without a body that sent none).
    body: bytes | None
    answers: list[Answer] = field(default_factory=list)


def stub_answers(
    routes: RouteTable, responses: Mapping[str, Responder]
) -> Callable[[RequestView], bool]:
    """Whether a request is answered now by a route that is not a proxy (not recorded again)."""

    def answered(view: RequestView) -> bool:
        found = routes.find(view)
        if found is None:
            return False
        responder = responses.get(found[0].handler)
        return responder is None or not isinstance(responder.spec, wire.ProxyResponse)

    return answered


def group(
    entries: Iterable[JournalEntry],
    capture_headers: Sequence[str],
    *,
    answered: Callable[[RequestView], bool] | None = None,
    accept: CompiledRoute | None = None,
) -> tuple[list[Recorded], list[wire.SkippedExchange]]:
    """The distinct requests among proxied `entries` (oldest first), and those skipped.

    Entries `accept` rejects, or that a route answers now (`answered`), are left out
    silently; entries the journal could not keep whole are skipped with their reason.
    """
    recorded: dict[tuple[Any, ...], Recorded] = {}
    skipped: list[wire.SkippedExchange] = []
    for entry in entries:
        origin = entry.origin
        if origin is None:
            continue
        view = entry.view
        if accept is not None and accept.match(view) is None:
            continue
        if answered is not None and answered(view):
            continue
        reason = _unusable(entry)
        answer = None
        if reason is None:
            answer = _stored(origin.status, origin.headers, bytes(origin.body))
            reason = _unservable(entry.method, answer)
        if reason is not None or answer is None:
            skipped.append(
                wire.SkippedExchange(method=entry.method, path=entry.path, reason=reason or "")
            )
            continue
        query = list(view.query.items())
        headers = {name: view.headers.get(name) for name in capture_headers}
        body = entry.body if entry.body or entry.method in _BODY_METHODS else None
        key = (entry.method, entry.path, tuple(sorted(query)), tuple(headers.items()), body)
        item = recorded.get(key)
        if item is None:
            item = recorded[key] = Recorded(
                entry.method, entry.path, query, entry.query_string, headers, body
            )
        item.answers.append(answer)
    return list(recorded.values()), skipped


def _unusable(entry: JournalEntry) -> str | None:
    origin = entry.origin
    assert origin is not None
    if entry.body_truncated:
        return (
            f"the request body ({entry.body_size} bytes) is longer than the journal keeps "
            "(--journal-body-limit)"
        )
    if not origin.complete:
        return "the origin's answer was not relayed whole (still streaming, or it broke off)"
    if origin.body_truncated:
        return (
            f"the origin's body ({origin.body_size} bytes) is longer than the journal keeps "
            "(--journal-body-limit)"
        )
    return None


def _unservable(method: str, answer: Answer) -> str | None:
    """Why a route could not ask for this request or give this answer (None: it can)."""
    if not method.isalpha():
        return f"a route's method is a word of letters, and {method!r} is not"
    try:
        answer_response(answer)
    except ValueError as exc:
        return f"the origin's answer cannot be a response: {exc}"
    return None


def _stored(status: int, headers: CIMultiDict[str], body: bytes) -> Answer:
    """The answer as stored: decoded when it was compressed, framing headers dropped."""
    encoding = headers.get("Content-Encoding")
    drop = set(_NOT_STORED)
    if encoding is not None and (decoded := _decode(encoding, body)) is not None:
        body = decoded
        drop.add("content-encoding")
    kept = tuple((str(n), v) for n, v in headers.items() if n.lower() not in drop)
    return Answer(status, kept, body)


def _decode(encoding: str, body: bytes) -> bytes | None:
    """`body` decoded from `encoding`, or None when it cannot be (unknown, bad or too large)."""
    wbits = _WBITS.get(encoding.strip().lower())
    if wbits is None:
        return None
    decoder = zlib.decompressobj(wbits)
    try:
        decoded = decoder.decompress(body, _MAX_DECODED)
    except zlib.error:
        return None
    if decoder.unconsumed_tail or not decoder.eof:
        return None
    return decoded


# ------------------------------------------------------------------ routes


def answer_response(answer: Answer) -> wire.JsonResponse | wire.RawResponse:
    """`json` when the origin answered JSON, else `raw` (text, or base64 for bytes)."""
    headers: dict[str, wire.HeaderValues] = {}
    for name, value in answer.headers:
        known = headers.get(name)
        if known is None:
            headers[name] = value
        else:
            headers[name] = [*known, value] if isinstance(known, list) else [known, value]
    if "json" in answer.content_type.lower():
        try:
            return wire.JsonResponse(
                status=answer.status, headers=headers, body=msgspec.json.decode(answer.body)
            )
        except msgspec.DecodeError:
            pass
    try:
        return wire.RawResponse(status=answer.status, headers=headers, body=answer.body.decode())
    except UnicodeDecodeError:
        body64 = base64.b64encode(answer.body).decode("ascii")
        return wire.RawResponse(status=answer.status, headers=headers, body_base64=body64)


def to_routes(recorded: Iterable[Recorded]) -> list[wire.Route]:
    """One route per recorded request, requests with more query values first.

    Query conditions match a subset, so a route for `?a=1` would also answer `?a=1&b=2`
    and `?a=1&a=2`; a route cannot answer a request with fewer query values than its
    own (a repeated name must have exactly its values), so declaring the fuller ones
    first keeps each request with its own answer.
    """
    ordered = sorted(recorded, key=lambda item: -len(item.query))
    return [_route(item) for item in ordered]


def _route(item: Recorded) -> wire.Route:
    answers = item.answers
    responses = [answer_response(a) for a in answers]
    response: wire.AnyResponse
    if all(a == answers[0] for a in answers):
        response = responses[0]
    else:
        response = wire.SequenceResponse(responses=list(responses), on_exhausted="last")
    match = wire.Match()
    values: dict[str, list[str]] = {}
    for name, value in item.query:
        values.setdefault(name, []).append(value)
    if values:
        match.query = {
            n: v[0] if len(v) == 1 else wire.StringMatcher(has_exactly=list(v))
            for n, v in values.items()
        }
    if item.headers:
        match.headers = {
            n: v if v is not None else wire.StringMatcher(absent=True)
            for n, v in item.headers.items()
        }
    if item.body is not None:
        _match_body(match, item.body)
    path_is_template = "{" in item.path or "}" in item.path
    slug = _SLUG.sub("-", item.path).strip("-")[:40] or "root"
    return wire.Route(
        method=item.method,
        path=None if path_is_template else item.path,
        path_regex=re.escape(item.path) if path_is_template else None,
        handler=f"recorded-{item.method.lower()}-{slug}-{ids.new_token(3)}",
        match=match if match != wire.Match() else None,
        response=response,
    )


def _match_body(match: wire.Match, body: bytes) -> None:
    if body.strip():
        try:
            match.json = msgspec.json.decode(body)
            return
        except msgspec.DecodeError:
            pass
    try:
        match.body = body.decode()
    except UnicodeDecodeError:
        match.body_base64 = base64.b64encode(body).decode("ascii")


# ------------------------------------------------------------------ a session's recording


def start(
    session: SessionState,
    target: str,
    *,
    accept: CompiledRoute | None = None,
    capture_headers: Sequence[str] = (),
    add_routes: bool = True,
) -> Recording:
    """Start recording `session`'s unmatched requests; 409 while it already records."""
    current = session.recording
    if current is not None and current.active:
        raise Conflict(
            f"session {session.id!r} is already recording (to {current.target}); "
            "stop it first with POST .../recordings/stop"
        )
    assert session.upstreams is not None  # every store's session has the server's
    recording = Recording(
        target,
        session.upstreams,
        accept=accept,
        capture_headers=capture_headers,
        add_routes=add_routes,
        capacity=session.journal.max_entries,
    )
    if session.shared is not None:
        recording.since = session.journal.last_seq
    session.recording = recording
    _log.info("recording_started", session=session.id, target=target)
    return recording


def stop(session: SessionState) -> Recording:
    """Stop `session`'s recording and return it (its `captured` exchanges); 409 if none."""
    recording = session.recording
    if recording is None or not recording.active:
        raise Conflict(
            f"session {session.id!r} is not recording; start with POST .../recordings "
            '{"target": "http://origin"}'
        )
    recording.active = False
    recording.take_from(session.journal)
    _log.info("recording_stopped", session=session.id, captured=len(recording.captured))
    return recording


def recorded_in(
    session: SessionState,
    entries: Iterable[JournalEntry],
    capture_headers: Sequence[str],
    accept: CompiledRoute | None = None,
) -> tuple[list[Recorded], list[wire.SkippedExchange]]:
    """`group` over `entries`, leaving out requests a route of `session` answers now."""
    answered = stub_answers(session.routes, session.responses)
    return group(entries, capture_headers, answered=answered, accept=accept)


def routes_from(
    session: SessionState,
    entries: Iterable[JournalEntry],
    capture_headers: Sequence[str],
    *,
    accept: CompiledRoute | None,
    add_routes: bool,
) -> wire.RecordingResult:
    """The routes `entries` make, added to `session` unless `add_routes` is false."""
    recorded, skipped = recorded_in(session, list(entries), capture_headers, accept)
    routes = to_routes(recorded)
    if add_routes and routes:
        routes = [route.spec for route in session.add_routes(routes)]
    _log.info(
        "recording_built",
        session=session.id,
        routes=len(routes),
        skipped=len(skipped),
        added=add_routes,
    )
    return wire.RecordingResult(routes=routes, skipped=skipped)


def snapshot(session: SessionState, spec: wire.SnapshotRequest) -> wire.RecordingResult:
    """Routes from the proxied exchanges in `session`'s journal."""
    return routes_from(
        session,
        session.journal,
        spec.capture_headers,
        accept=compile_filter(spec.match),
        add_routes=spec.add_routes,
    )
