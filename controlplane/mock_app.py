"""The mock port: every request here is the hot path.

One low-level aiohttp handler (no router: the route table is ours) picks the session
(path prefix `/_s/{id}` or the `X-Controlplane-Session` header), finds the winning
route, asks the handler's compiled responder for the answer, applies the route's
side effects (its `times`, its scenario's transition, its id header: one attribute
test for routes without any), journals it (the journal cuts the body to its
`--journal-body-limit`; matching saw all of it) and applies any delay (the response's plus the
session's). A route with `webhooks` has its response written here, then its calls
started (`controlplane.webhooks`); a session without any pays one test. Everything
that can be prepared at registration already was: an answer that never changes
(`BodyResponder.one_write`) was encoded whole, and goes out in one write with no
response built per request (`controlplane.responses.one_write`).

A request line that is not a path (`GET http://api.test/x`, `CONNECT api.test:443`: a
client using the mock port as its HTTP proxy) goes to `controlplane.forward_proxy`,
which picks the session and checks `proxy_auth`, then tunnels or comes back to
`answer` with the target host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11
from aiohttp.streams import EmptyStreamReader, StreamReader

from controlplane import wire
from controlplane.forward_proxy import ForwardProxy
from controlplane.journal import JournalEntry, RawHeaders
from controlplane.logs import debug_enabled, get_logger, info_enabled
from controlplane.matching.paths import NO_PARAMS
from controlplane.no_route import NoRouteAnswers
from controlplane.recording import Recording
from controlplane.request_view import RequestView
from controlplane.responses import BodyResponder, Outcome, no_response_outcome
from controlplane.sessions import (
    SESSION_HEADER,
    SESSION_PREFIX,
    SessionState,
    SessionStore,
)

__all__ = ["ADMIN_PREFIX", "AdminHandler", "MockHandler"]

_log = get_logger("mock")
_encode = msgspec.json.encode
_JSON_HEADERS = {"Content-Type": "application/json"}
#: What an unmatched request's journal entry records as its answer.
_NO_ROUTE = Outcome(web.Response(status=404), 404, "no_route", 0.0, "no_route")
#: Where WireMock serves its admin API on its one port (`--admin-on-mock-port`).
ADMIN_PREFIX = "/__admin"
AdminHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class MockHandler:
    """The aiohttp low-level handler serving mock traffic for every session."""

    def __init__(self, store: SessionStore, admin: AdminHandler | None = None) -> None:
        self.store = store
        self._debug = debug_enabled(_log)
        self._info = info_enabled(_log)
        #: The native 404s, each near-miss list's encoded once when seen again.
        self.no_route = NoRouteAnswers()
        #: Absolute-form requests and CONNECT tunnels (a client's HTTP_PROXY).
        self.proxy = ForwardProxy(self)
        #: The admin API on this port, for paths under `/__admin` (`--admin-on-mock-port`).
        self.admin = admin

    def __call__(self, request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        # Not a coroutine: it picks the session and hands aiohttp `answer`'s coroutine,
        # so the hot path pays no second coroutine frame.
        raw_path = request.raw_path
        store = self.store
        split = store.split_paths.get(raw_path)
        if split is not None:
            # A plain path under `/_s/{id}/` seen lately (`SessionStore.split`): nothing to
            # decode or cut off, neither the proxy's form nor the admin's prefix.
            return self.answer(request, split[0], split[2], None, "")
        if raw_path[0] != "/" and raw_path != "*":
            # `GET http://host/x` or `CONNECT host:443`: we are the client's HTTP proxy.
            return self.proxy.serve(request)
        # aiohttp's decoded path (`request.path`) is the request line's up to any '?'
        # when it has nothing to decode or cut off: read so, a path not seen before
        # costs no decoding of its new URL (yarl keeps only recent ones decoded).
        query: str | None = ""
        if "%" in raw_path or "#" in raw_path:
            path, query = request.path, None
        elif "?" in raw_path:
            # The query string likewise (`request.query_string`), unless '+' is in it.
            path, _, query = raw_path.partition("?")
            if "+" in query:
                query = None
        else:
            path = raw_path
        if self.admin is not None and path.startswith(ADMIN_PREFIX):
            return self.admin(request)
        if path.startswith(SESSION_PREFIX):
            # The raw target missed `split_paths` above: so does the same string.
            split = None if path is raw_path else store.split_paths.get(path)
            session, session_id, path = store.split(path) if split is None else split
        else:
            session_id = request.headers.get(SESSION_HEADER)  # type: ignore[assignment]
            session = store.default if session_id is None else store.get(session_id)
        if session is None:
            return _answered(self.unknown_session(session_id))
        return self.answer(request, session, path, None, query)

    async def answer(
        self,
        request: web.BaseRequest,
        session: SessionState,
        path: str,
        target_host: str | None = None,
        query: str | None = None,
    ) -> web.StreamResponse:
        """Match, answer, journal: `path` is without any session prefix; `target_host` is
        a forward-proxy request's destination (None for every other request); `query` is
        the query string as aiohttp decodes it, when the caller read it already."""
        started = time.monotonic() if self._debug else 0.0
        body = _received(request)
        if body is None:
            if request.headers.get(hdrs.EXPECT) is not None:
                await _continue(request)
            body = await request.read()
        if query is None:
            # The query string as aiohttp decodes it (`request.query_string`) is the
            # request line's after its '?' when there is nothing to decode ('%', '+') or
            # cut off.
            raw_path = request.raw_path
            _, mark, query = raw_path.partition("?")
            if mark and ("%" in raw_path or "+" in query or "#" in raw_path):
                query = request.query_string
        view = RequestView(
            request.method,
            path,
            query,
            request.headers,
            body,
            target_host,
            # A proxy request's target scheme; else the connection's, read when asked.
            request.url.scheme if target_host is not None else None,
            request,
        )
        found = session.routes.find(view)
        shared = session.shared  # None in memory mode: the one test it pays
        if shared is not None:  # `times`, scenarios, sequences counted in Redis
            found = await shared.claim(
                view, found, session.routes, session.scenarios, session.responses
            )
        if found is None:
            recording = session.recording
            if recording is not None and recording.wants(view):
                return await self._record(recording, session, request, view)
            if target_host is not None and session.settings.passthrough_unmatched:
                return await self.proxy.pass_through(request, session, view)
            return await self._unmatched(request, session, view)

        route, params = found
        handler = route.handler
        responder = session.responses.get(handler)
        # An answer that never changes goes out in one write, encoded once;
        # not with a session delay, whose outcome (the journal's delay_ms) is per request.
        canned = (
            responder.one_write
            if isinstance(responder, BodyResponder) and session.extra_delay is None
            else None
        )
        if canned is not None:
            outcome = canned.outcome
        elif responder is not None:
            outcome = responder.answer(view)
        else:
            outcome = no_response_outcome(handler, session=session.id)
        if outcome.render is not None:  # in-process, proxy: the real outcome awaited
            if route.effects:
                route.took()  # before the first await: atomic with the match
            outcome = await outcome.render(request, params)
            if route.effects and route.id_header is not None:
                outcome.response.headers[route.id_header] = route.id
        elif route.effects:
            # `times`, scenario transition: no await since `find`, so this is atomic.
            route.took()
            if route.id_header is not None and canned is None:
                outcome.response.headers[route.id_header] = route.id
        if session.extra_delay is not None:
            outcome.delay_ms += session.extra_delay()
        session.journal.record(
            view.method,
            path,
            view.query_string,
            request.raw_headers,
            body,
            route.id,
            handler,
            params,
            outcome.status,
            outcome.type,
            outcome.delay_ms,
            outcome.error,
            None,
            outcome.origin,
            # Its params are rebuilt from it when read: the record is the route's, shared
            # by its requests on other paths too.
            route.pattern,
        )
        if shared is not None:  # `record`'s wait, inlined: in memory this test is its cost
            await shared.committed()  # answered only once its entry is in Redis
        if self._debug:
            _log.debug(
                "mock_request",
                session=session.id,
                method=view.method,
                path=path,
                handler=handler,
                route_id=route.id,
                status=outcome.status,
                response_type=outcome.type,
                delay_ms=outcome.delay_ms,
                error=outcome.error,
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )
        if outcome.delay_ms:
            await asyncio.sleep(outcome.delay_ms / 1000)
        response = outcome.response
        if canned is not None:
            id_header = route.id_header if route.effects else None
            response = canned.response(request, id_header, route.id)
        if session.hooks:
            hooks = session.hooks.get(route.id)
            if hooks is not None:
                await _send(request, response)
                session.webhook_sender.fire(
                    session.webhook_calls, hooks, view, params, route.id, handler
                )
        return response

    async def _record(
        self,
        recording: Recording,
        session: SessionState,
        request: web.BaseRequest,
        view: RequestView,
    ) -> web.StreamResponse:
        """Proxy an unmatched request to the recording's target; journal and capture it."""
        outcome = recording.answer(view)
        if outcome.render is not None:
            outcome = await outcome.render(request, NO_PARAMS)
        entry = await self.record(session, view, request.raw_headers, outcome)
        if outcome.origin is not None:
            recording.captured.append(entry)
        _log.info(
            "mock_recorded",
            session=session.id,
            method=view.method,
            path=view.path,
            status=outcome.status,
            error=outcome.error,
        )
        if outcome.delay_ms:
            await asyncio.sleep(outcome.delay_ms / 1000)
        return outcome.response

    @staticmethod
    def unknown_session(session_id: str) -> web.Response:
        """The 404 for an `X-Controlplane-Session` or `/_s/{id}` naming no session."""
        message = (
            f"no session {session_id!r} on this server; create it with POST /api/sessions "
            "on the admin port and use the mock_url it returns"
        )
        _log.info("mock_unknown_session", session=session_id)
        return web.Response(
            status=404,
            body=_encode(wire.UnknownSessionBody(message=message, session=session_id)),
            headers=_JSON_HEADERS,
        )

    async def record(
        self,
        session: SessionState,
        view: RequestView,
        raw_headers: RawHeaders,
        outcome: Outcome,
        near_misses: list[wire.NearMiss] | None = None,
    ) -> JournalEntry:
        """Journal a request no route answered (unmatched, refused, passed through,
        recorded); return once it is journaled, so that an answered request is a
        journaled one (`--state`: once its entry is in Redis; in memory at once)."""
        entry = session.journal.record(
            view.method,
            view.path,
            view.query_string,
            raw_headers,
            view.body,
            None,
            None,
            NO_PARAMS,
            outcome.status,
            outcome.type,
            outcome.delay_ms,
            outcome.error,
            near_misses,
            outcome.origin,
        )
        shared = session.shared
        if shared is not None:
            await shared.committed()
        return entry

    async def _unmatched(
        self, request: web.BaseRequest, session: SessionState, view: RequestView
    ) -> web.StreamResponse:
        # Once: the journal entry and the answer share them.
        near_misses = session.routes.near_misses(view)
        await self.record(session, view, request.raw_headers, _NO_ROUTE, near_misses)
        if self._info:
            _log.info(
                "mock_unmatched",
                session=session.id,
                method=view.method,
                path=view.path,
                near_miss=near_misses[0].route_id if near_misses else None,
            )
        if view.path.startswith(ADMIN_PREFIX) and self.admin is None:
            return self.no_route.admin_elsewhere(self.store, session, view, near_misses)
        if session.unmatched_answer is not None:  # a dialect's session: its own 404
            return session.unmatched_answer(session, view, near_misses)
        return self.no_route.answer(request, session, view, near_misses)


async def _send(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Write `response` now (a route's webhooks go after it); aiohttp, finishing it
    again, finds it sent."""
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        # The client is gone, or a fault broke the connection on purpose: aiohttp learns
        # it when it prepares the response again, and stops quietly.
        pass


def _received(request: web.BaseRequest) -> bytes | None:
    """The body when there is none (b"": most mock requests) or it has all arrived as one
    chunk (a small body nearly always does), else None: then `request.read()` waits for
    it and applies the size limit.

    `request.read()` costs about 16,000 instructions on a body already complete (a
    coroutine per chunk, a `bytearray`, and a parser re-entry to resume reading);
    this costs a few attribute reads. It peeks at aiohttp's buffer without taking from
    it, so `request.read()` still answers in-process code the same bytes. A body
    complete before the handler ran was sent without waiting for `100 Continue`.
    """
    # aiohttp's private attributes: `_payload` is `content`, `_eof` what `is_eof()`
    # answers, `_client_max_size` is `client_max_size`: no property or method call
    # (about 1,000 instructions each), and read from a `StreamReader` alone (no
    # `getattr` with a default: a builtin call each); any other payload is `read()`.
    payload: Any = request._payload
    kind = type(payload)
    if kind is EmptyStreamReader:  # what `body_exists` asks
        return b""
    if kind is not StreamReader:
        return None
    chunks = payload._buffer
    # `_buffer_offset`: of the first chunk, already read.
    if len(chunks) != 1 or payload._buffer_offset or not payload._eof:
        return None
    body = chunks[0]
    limit = request._client_max_size
    if type(body) is not bytes or (limit and len(body) > limit):
        return None  # read() raises the 413
    return body


async def _continue(request: web.BaseRequest) -> None:
    """Answer `Expect: 100-continue` before reading the body, as aiohttp's router does.

    Without it a client waits for its own timeout (curl: 1 s) before sending the body.
    Other expectations are ignored: the request is answered as if it had none.
    """
    expect = request.headers[hdrs.EXPECT]
    if expect.lower() == "100-continue" and request.version >= HttpVersion11:
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the interim answer is not the response's size


async def _answered(response: web.StreamResponse) -> web.StreamResponse:
    return response
