"""The native admin API (admin port, JSON).

Session-scoped endpoints exist twice: under `/api/...` for session `default` and under
`/api/sessions/{sid}/...`. Every error leaves as `{"error": {"code","message","location"}}`.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from controlplane import callbacks, dashboard, ids, paging, recording, wire
from controlplane._version import __version__
from controlplane.admin import journal_feed, shared_reads
from controlplane.admin.decoding import (
    bool_query,
    decode_body,
    decode_optional_body,
    int_query,
    json_response,
)
from controlplane.admin.operations import SESSION_PREFIXES, Operation
from controlplane.admin.streaming import stream_json
from controlplane.errors import ControlplaneError, InvalidInput, NotFound, Unauthorized
from controlplane.journal import JournalEntry
from controlplane.logs import get_logger
from controlplane.paging import DEFAULT_PAGE_SIZE, Page, Paged, Sequenced
from controlplane.sessions import DEFAULT_SESSION, SessionState, SessionStore
from controlplane.verify import verify_calls

__all__ = ["MAX_BODY", "OPERATIONS", "STORE", "Dialect", "build_admin_app"]

#: The largest request body either port reads (aiohttp's default cap is 1 MiB): mock
#: requests may carry uploads, admin requests large bodies to answer with.
MAX_BODY = 64 * 1024 * 1024
STORE = web.AppKey("store", SessionStore)
_log = get_logger("admin")
_E = TypeVar("_E", bound=Sequenced)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Dialect(Protocol):
    """Another admin API served beside the native one, plugged in by the server.

    The core knows no dialect by name: the server passes them to `build_admin_app`
    (today, `controlplane.wiremock.DIALECT`). A dialect adds its endpoints and renders
    the errors of the paths it owns in its own shape.
    """

    def mount(
        self,
        app: web.Application,
        store: SessionStore,
        root: Path | None,
        shutdown: Callable[[], None] | None,
    ) -> None:
        """Add the dialect's endpoints to `app`."""
        ...

    def owns(self, path: str) -> bool:
        """Whether an admin request path is one of the dialect's."""
        ...

    def error_response(self, error: ControlplaneError) -> web.Response:
        """`error` in the dialect's error shape."""
        ...


def _error_response(error: ControlplaneError) -> web.Response:
    body = wire.ErrorBody(
        error=wire.ErrorDetail(code=error.code, message=error.message, location=error.location)
    )
    return json_response(body, status=error.status)


def _http_error(request: web.Request, exc: web.HTTPException) -> ControlplaneError:
    """aiohttp's own errors (no such path, wrong method, body too large) as our JSON errors."""
    if exc.status == 404:
        return NotFound(
            f"no admin endpoint {request.method} {request.path}; "
            "see GET /api/openapi.json for the API"
        )
    if exc.status == 405:
        allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ()) or ()))
        message = f"{request.method} is not allowed on {request.path}"
        error = ControlplaneError(message + (f" (allowed: {allowed})" if allowed else ""))
        error.status, error.code = 405, "method_not_allowed"
        return error
    error = ControlplaneError(exc.text or exc.reason)
    error.status, error.code = exc.status, exc.reason.lower().replace(" ", "_")
    return error


def _error_middleware(token: str | None, dialects: Sequence[Dialect]) -> Middleware:
    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # A dialect's errors take its shape; everything else ours.
        path = request.path
        render = next((d.error_response for d in dialects if d.owns(path)), _error_response)
        try:
            # The health check and the dashboard's static page need no token (the page
            # asks for it when its API calls answer 401); nor does a change applied from
            # the shared op log (its sender's process checked the token).
            if (
                expected is not None
                and path != "/health"
                and not dashboard.is_page(path)
                and ids.current_op() is None
            ):
                given = request.headers.get("Authorization", "").encode("utf-8", "replace")
                if not hmac.compare_digest(given, expected):
                    raise Unauthorized(
                        "this admin API needs `Authorization: Bearer <token>` "
                        "(the server was started with --admin-token)"
                    )
            return await handler(request)
        except ControlplaneError as error:
            return _refuse(request, error, render)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            refused = _refuse(request, _http_error(request, exc), render)
            if hdrs.ALLOW in exc.headers:  # a 405 says which methods are (RFC 9110)
                refused.headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
            return refused
        except Exception:
            # A bug of ours, not the client's: say so, log the traceback, keep serving.
            _log.exception("admin_internal_error", method=request.method, path=request.path)
            return render(
                ControlplaneError("internal error in controlplane (a bug): see the server log")
            )

    return middleware


def _refuse(
    request: web.Request,
    error: ControlplaneError,
    render: Callable[[ControlplaneError], web.Response],
) -> web.Response:
    """The error answer, logged (info: the client's mistake, not ours) with what to fix."""
    _log.info(
        "admin_refused",
        status=error.status,
        code=error.code,
        method=request.method,
        path=request.path,
        location=error.location,
        message=error.message,
    )
    return render(error)


def _session(request: web.Request) -> SessionState:
    store = request.app[STORE]
    return store.require(request.match_info.get("sid", DEFAULT_SESSION))


def _handler(request: web.Request) -> tuple[SessionState, str]:
    """The session and the `{name}` handler the path names (404 for either unknown)."""
    session = _session(request)
    name = request.match_info["name"]
    session.require_handler(name)
    return session, name


# ------------------------------------------------------------------ server and sessions


async def health(request: web.Request) -> web.Response:
    return json_response(wire.Health(status="ok", version=__version__, pid=os.getpid()))


async def openapi(request: web.Request) -> web.Response:
    # Imported here, not at the top, so `python -m controlplane.admin.openapi` (which
    # regenerates docs/reference/openapi.json) runs a module nothing imported before.
    from controlplane.admin.openapi import openapi_document

    return web.Response(body=openapi_document(), content_type="application/json")


async def create_session(request: web.Request) -> web.Response:
    store = request.app[STORE]
    spec = await decode_optional_body(request, wire.SessionCreate)
    state = store.create(spec.name, spec.id)
    _log.info("session_created", session=state.id, name=state.name)
    return json_response(store.describe(state), status=201)


async def list_sessions(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return json_response(wire.SessionList(sessions=[store.describe(s) for s in store.all()]))


async def get_session(request: web.Request) -> web.Response:
    return json_response(request.app[STORE].describe(_session(request)))


async def delete_session(request: web.Request) -> web.Response:
    session_id = request.match_info["sid"]
    request.app[STORE].delete(session_id)
    request.app[callbacks.CALLBACKS].close(session_id, reason="session deleted")
    _log.info("session_deleted", session=session_id)
    return web.Response(status=204)


# ------------------------------------------------------------------ routes


async def add_routes(request: web.Request) -> web.Response:
    session = _session(request)
    specs: wire.Route | list[wire.Route] = await decode_body(request, wire.Route | list[wire.Route])
    if isinstance(specs, list):
        routes = session.add_routes(specs, list_location="$")
    else:
        routes = session.add_routes([specs], list_location=None)
    for route in routes:
        _log.info(
            "route_added",
            session=session.id,
            route_id=route.id,
            handler=route.handler,
            method=route.spec.method,
            path=route.pattern.source,
        )
    return json_response(wire.RouteList(routes=[r.spec for r in routes]), status=201)


async def list_routes(request: web.Request) -> web.Response:
    session = _session(request)
    return json_response(wire.RouteList(routes=[r.spec for r in session.routes]))


async def delete_routes(request: web.Request) -> web.Response:
    session = _session(request)
    session.clear_routes()
    _log.info("routes_cleared", session=session.id)
    return web.Response(status=204)


async def get_route(request: web.Request) -> web.Response:
    return json_response(_session(request).get_route(request.match_info["route_id"]).spec)


async def put_route(request: web.Request) -> web.Response:
    session = _session(request)
    route_id = request.match_info["route_id"]
    session.get_route(route_id)
    spec = await decode_body(request, wire.Route)
    if spec.id is not None and spec.id != route_id:
        raise InvalidInput(
            f"the body's id {spec.id!r} differs from the path's {route_id!r}", location="$.id"
        )
    route = session.replace_route(route_id, spec)
    _log.info("route_replaced", session=session.id, route_id=route_id, handler=route.handler)
    return json_response(route.spec)


async def delete_route(request: web.Request) -> web.Response:
    session = _session(request)
    route_id = request.match_info["route_id"]
    session.remove_route(route_id)
    _log.info("route_removed", session=session.id, route_id=route_id)
    return web.Response(status=204)


# ------------------------------------------------------------------ handlers


async def put_response(request: web.Request) -> web.Response:
    session, name = _handler(request)
    spec = await decode_body(request, wire.AnyResponse)
    session.register_response(name, spec)
    _log.info(
        "response_registered",
        session=session.id,
        handler=name,
        response_type=wire.response_type(spec),
    )
    return json_response(spec)


async def list_handlers(request: web.Request) -> web.Response:
    session = _session(request)
    calls: dict[str, int] = {}
    for entry in session.journal:
        if entry.handler is not None:
            calls[entry.handler] = calls.get(entry.handler, 0) + 1
    handlers = [
        wire.HandlerInfo(
            name=name,
            route_ids=session.route_ids_for(name),
            calls=calls.get(name, 0),
            response=responder.spec if (responder := session.responses.get(name)) else None,
        )
        for name in session.handler_names
    ]
    return json_response(wire.HandlerList(handlers=handlers))


async def handler_calls(request: web.Request) -> web.StreamResponse:
    session, name = _handler(request)
    journal = session.journal
    page = _page(request, journal, lambda e: e.handler == name)
    calls = (journal.to_wire(e) for e in page.entries)
    envelope = wire.CallList(calls=[], evicted=journal.evicted, next=page.next)
    return await stream_json(request, envelope, "calls", calls)


async def callback(request: web.Request) -> web.StreamResponse:
    """A WebSocket through which the client answers the handler's requests (see
    `controlplane.callbacks`; not in the OpenAPI document, which cannot state it)."""
    session, name = _handler(request)
    return await callbacks.serve(request, session, name, int_query(request, "timeout_ms"))


async def verify(request: web.Request) -> web.Response:
    session, name = _handler(request)
    spec = await decode_optional_body(request, wire.VerifyRequest)
    result = await verify_calls(session, name, spec)
    return json_response(result, status=200 if result.ok else 409)


# ------------------------------------------------------------------ streams and WebSockets


def _no_delay(item: wire.SseEvent | wire.WsMessage) -> None:
    if item.delay_ms:
        raise InvalidInput(
            "`delay_ms` is for a response's scripted events and messages: a push is sent at "
            "once; leave it out",
            location="$.delay_ms",
        )


async def push_event(request: web.Request) -> web.Response:
    return await _push(request, "sse", wire.SseEvent, "event_pushed")


async def push_message(request: web.Request) -> web.Response:
    return await _push(request, "websocket", wire.WsMessage, "message_pushed")


async def _push(
    request: web.Request,
    kind: Literal["sse", "websocket"],
    shape: type[wire.SseEvent] | type[wire.WsMessage],
    event: str,
) -> web.Response:
    """Send the body (an event or a message) to every open connection of the handler."""
    session, name = _handler(request)
    item = await decode_body(request, shape)
    _no_delay(item)
    delivered = session.streams.push(name, kind, item)
    ids.tally("delivered", delivered)  # with --state, the answer sums every process's
    _log.info(event, session=session.id, handler=name, delivered=delivered)
    return json_response(wire.Delivered(delivered=delivered))


async def list_messages(request: web.Request) -> web.StreamResponse:
    session, name = _handler(request)
    streams = session.streams
    shared = request.app[STORE].shared
    if shared is not None and shared.frames is not None:
        # `--state`: the frames of every process's connections, as one log
        after, limit = int_query(request, "after"), int_query(request, "limit")
        recorded, evicted = await shared.frames.gather(session.id, name)
        gathered = paging.page(recorded, after=after, limit=limit)
        envelope = wire.StreamFrameList(messages=[], evicted=evicted, next=gathered.next)
        return await stream_json(request, envelope, "messages", iter(gathered.entries))
    page = _page(request, streams, lambda frame: frame.handler == name)
    frames = (frame.to_wire() for frame in page.entries)
    envelope = wire.StreamFrameList(messages=[], evicted=streams.evicted, next=page.next)
    return await stream_json(request, envelope, "messages", frames)


async def close_connections(request: web.Request) -> web.Response:
    session, name = _handler(request)
    code = int_query(request, "code")
    reason = request.query.get("reason", "")
    try:
        close = wire.WsClose(code=1000 if code is None else code, reason=reason)
    except ValueError as exc:
        where = "?code" if str(exc).startswith("`code`") else "?reason"
        raise InvalidInput(str(exc), location=where) from None
    closed = await session.streams.close(name, close.code, close.reason)
    ids.tally("closed", closed)  # with --state, the answer sums every process's
    _log.info("connections_closed", session=session.id, handler=name, closed=closed)
    return json_response(wire.ConnectionsClosed(closed=closed))


# ------------------------------------------------------------------ journal


def _page(request: web.Request, log: Paged[_E], keep: Callable[[_E], bool]) -> Page[_E]:
    """The page of `log` (the journal, a frame log) that `?after=` and `?limit=` ask for,
    of entries `keep` holds for.

    Entries are chosen now, before the answer starts (its bad query is still a 422),
    and rendered only as the answer streams.
    """
    after = int_query(request, "after")
    limit = int_query(request, "limit")
    return log.page(keep, after=after, limit=limit)


def _request_filter(request: web.Request) -> Callable[[JournalEntry], bool]:
    """The journal filters of `?handler=&matched=&method=&path=` as one test of an entry."""
    handler = request.query.get("handler")
    method = request.query.get("method")
    path = request.query.get("path")
    matched = bool_query(request, "matched")
    if method is not None:
        method = method.upper()
    return lambda e: (
        (handler is None or e.handler == handler)
        and (matched is None or e.matched == matched)
        and (method is None or e.method == method)
        and (path is None or e.path == path)
    )


async def list_requests(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    journal = session.journal
    page = _page(request, journal, _request_filter(request))
    entries = (journal.to_wire(e) for e in page.entries)
    envelope = wire.RequestList(requests=[], evicted=journal.evicted, next=page.next)
    return await stream_json(request, envelope, "requests", entries)


async def stream_requests(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    store = request.app[STORE]
    keep = _request_filter(request)
    after = journal_feed.start_after(request, int_query(request, "after"))
    heartbeat_ms = int_query(request, "heartbeat_ms")
    if heartbeat_ms is not None and heartbeat_ms < 10:
        raise InvalidInput(
            f"`heartbeat_ms` must be at least 10, got {heartbeat_ms}", location="?heartbeat_ms"
        )
    heartbeat = (heartbeat_ms or journal_feed.DEFAULT_HEARTBEAT_MS) / 1000

    def gone() -> bool:
        return store.get(session.id) is not session

    return await journal_feed.follow(request, session.journal, keep, after, heartbeat, gone)


async def unmatched_requests(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    journal = session.journal
    page = _page(request, journal, lambda e: e.unanswered)
    entries = (journal.to_wire_unmatched(e) for e in page.entries)
    envelope = wire.UnmatchedRequestList(requests=[], evicted=journal.evicted, next=page.next)
    return await stream_json(request, envelope, "requests", entries)


async def clear_requests(request: web.Request) -> web.Response:
    session = _session(request)
    session.journal.clear()
    session.streams.clear_frames()
    _log.info("journal_cleared", session=session.id)
    return web.Response(status=204)


# ------------------------------------------------------------------ webhooks


async def list_webhooks(request: web.Request) -> web.Response:
    return json_response(_session(request).webhook_calls.describe())


async def clear_webhooks(request: web.Request) -> web.Response:
    session = _session(request)
    session.webhook_calls.clear()
    _log.info("webhooks_cleared", session=session.id)
    return web.Response(status=204)


# ------------------------------------------------------------------ scenarios and settings


async def list_scenarios(request: web.Request) -> web.Response:
    return json_response(wire.ScenarioList(scenarios=_session(request).describe_scenarios()))


async def put_scenario_state(request: web.Request) -> web.Response:
    session = _session(request)
    name = request.match_info["name"]
    update = await decode_optional_body(request, wire.ScenarioStateUpdate)
    session.set_scenario_state(name, update.state)
    _log.info("scenario_state_set", session=session.id, scenario=name, state=update.state)
    info = next(s for s in session.describe_scenarios() if s.name == name)
    return json_response(info)


async def reset_scenarios(request: web.Request) -> web.Response:
    session = _session(request)
    session.reset_scenarios()
    _log.info("scenarios_reset", session=session.id)
    return web.Response(status=204)


async def get_settings(request: web.Request) -> web.Response:
    return json_response(_session(request).settings)


async def put_settings(request: web.Request) -> web.Response:
    session = _session(request)
    settings = await decode_body(request, wire.Settings)
    session.apply_settings(settings)
    _log.info("settings_changed", session=session.id)
    return json_response(settings)


async def reset(request: web.Request) -> web.Response:
    session = _session(request)
    session.reset()
    request.app[callbacks.CALLBACKS].close(session.id, reason="session reset")
    _log.info("session_reset", session=session.id)
    return web.Response(status=204)


# ------------------------------------------------------------------ recording


async def start_recording(request: web.Request) -> web.Response:
    session = _session(request)
    spec = await decode_body(request, wire.RecordingStart)
    started = recording.start(
        session,
        spec.target,
        accept=recording.compile_filter(spec.match),
        capture_headers=spec.capture_headers,
        add_routes=spec.add_routes,
    )
    return json_response(started.describe(), status=201)


async def recording_status(request: web.Request) -> web.Response:
    session = _session(request)
    current = session.recording
    if current is None:
        return json_response(wire.RecordingStatus(status="stopped"))
    current.take_from(session.journal)
    return json_response(current.describe())


async def stop_recording(request: web.Request) -> web.Response:
    session = _session(request)
    stopped = recording.stop(session)
    result = recording.routes_from(
        session,
        stopped.captured,
        stopped.capture_headers,
        accept=None,
        add_routes=stopped.add_routes,
    )
    return json_response(result)


async def snapshot_recording(request: web.Request) -> web.Response:
    session = _session(request)
    spec = await decode_optional_body(request, wire.SnapshotRequest)
    return json_response(recording.snapshot(session, spec))


# ------------------------------------------------------------------ the application

_ERR = wire.ErrorBody

#: Query parameters of `GET .../requests` (the journal filters).
REQUEST_FILTERS: tuple[dict[str, Any], ...] = (
    {"name": "handler", "description": "only calls of this handler", "schema": {"type": "string"}},
    {
        "name": "matched",
        "description": "true: matched a route; false: did not",
        "schema": {"type": "boolean"},
    },
    {"name": "method", "description": "HTTP method (any case)", "schema": {"type": "string"}},
    {
        "name": "path",
        "description": "exact path, without a session prefix",
        "schema": {"type": "string"},
    },
)

#: Query parameters of every journal listing (`requests`, `requests/unmatched`, `calls`).
PAGE_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "name": "limit",
        "description": (
            "at most N entries; without `after`, the newest N. Without either, the first "
            f"{DEFAULT_PAGE_SIZE} from the oldest, and `next` says where the rest start"
        ),
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "after",
        "description": (
            "a cursor: only entries whose `seq` is greater, oldest first (pass the "
            "previous answer's `next`; 0 starts from the oldest)"
        ),
        "schema": {"type": "integer", "minimum": 0},
    },
)

#: Query parameters of the journal's event stream (`requests/stream`).
FEED_PARAMETERS: tuple[dict[str, Any], ...] = (
    *REQUEST_FILTERS,
    {
        "name": "after",
        "description": (
            "start after this `seq` (0: from the oldest entry); without it (and without "
            "a `Last-Event-ID` header, which wins), only entries yet to come"
        ),
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "heartbeat_ms",
        "description": (
            f"idle time between `: heartbeat` comments (default "
            f"{journal_feed.DEFAULT_HEARTBEAT_MS})"
        ),
        "schema": {"type": "integer", "minimum": 10},
    },
)

#: Every native admin endpoint, once: registered by `build_admin_app`, rendered by
#: `controlplane.admin.openapi`.
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/health",
        health,
        "Liveness and version",
        answers={200: ("Up", wire.Health)},
        scope="global",
    ),
    Operation(
        "POST",
        "/api/sessions",
        create_session,
        "Create an isolated session",
        answers={
            201: ("The session", wire.Session),
            409: ("Id taken", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.SessionCreate,
        body_optional=True,
        scope="global",
    ),
    Operation(
        "GET",
        "/api/sessions",
        list_sessions,
        "List sessions (default included)",
        answers={200: ("Sessions", wire.SessionList)},
        scope="global",
    ),
    Operation(
        "GET",
        "/api/sessions/{sid}",
        get_session,
        "One session",
        answers={200: ("The session", wire.Session), 404: ("Unknown session", _ERR)},
        scope="global",
    ),
    Operation(
        "DELETE",
        "/api/sessions/{sid}",
        delete_session,
        "Delete a session with everything in it",
        answers={
            204: ("Deleted", None),
            404: ("Unknown session", _ERR),
            409: ("`default` stays", _ERR),
        },
        scope="global",
    ),
    Operation(
        "GET",
        "/api/openapi.json",
        openapi,
        "This document",
        answers={200: ("OpenAPI 3.1", None)},
        scope="global",
    ),
    Operation(
        "POST",
        "/routes",
        add_routes,
        "Add one route or a list of routes",
        answers={
            201: ("The routes, with ids", wire.RouteList),
            400: ("Not JSON", _ERR),
            409: ("Route id taken", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.Route | list[wire.Route],
    ),
    Operation(
        "GET",
        "/routes",
        list_routes,
        "List routes in declaration order",
        answers={200: ("Routes", wire.RouteList)},
    ),
    Operation(
        "DELETE",
        "/routes",
        delete_routes,
        "Remove every route (and their handlers' responses)",
        answers={204: ("Removed", None)},
    ),
    Operation(
        "GET",
        "/routes/{route_id}",
        get_route,
        "One route",
        answers={200: ("The route", wire.Route), 404: ("Unknown route", _ERR)},
    ),
    Operation(
        "PUT",
        "/routes/{route_id}",
        put_route,
        "Replace a route, keeping its place in declaration order",
        answers={
            200: ("The route", wire.Route),
            404: ("Unknown route", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.Route,
    ),
    Operation(
        "DELETE",
        "/routes/{route_id}",
        delete_route,
        "Remove a route",
        answers={204: ("Removed", None), 404: ("Unknown route", _ERR)},
    ),
    Operation(
        "PUT",
        "/handlers/{name}/response",
        put_response,
        "Register the response of a handler (last write wins)",
        answers={
            200: ("Registered", wire.AnyResponse),
            404: ("No route declares this handler", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.AnyResponse,
    ),
    Operation(
        "GET",
        "/handlers",
        list_handlers,
        "Handlers with their routes, call counts and responses",
        answers={200: ("Handlers", wire.HandlerList)},
    ),
    Operation(
        "GET",
        "/handlers/{name}/calls",
        handler_calls,
        "The journaled calls of one handler, a page at a time (limit, after)",
        answers={
            200: ("Calls, oldest first", wire.CallList),
            404: ("Unknown handler", _ERR),
            422: ("Bad limit or cursor", _ERR),
        },
        query=PAGE_PARAMETERS,
    ),
    Operation(
        "POST",
        "/handlers/{name}/verify",
        verify,
        "Count matching calls and check the count",
        answers={
            200: ("Holds", wire.VerifyResult),
            409: ("Does not hold; `message` explains", wire.VerifyResult),
            404: ("Unknown handler", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.VerifyRequest,
        body_optional=True,
    ),
    Operation(
        "POST",
        "/handlers/{name}/events",
        push_event,
        "Send a Server-Sent Event to every open `sse` stream of a handler",
        answers={
            200: ("How many streams it reached", wire.Delivered),
            404: ("Unknown handler", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.PushedEvent,
    ),
    Operation(
        "POST",
        "/handlers/{name}/messages",
        push_message,
        "Send a message to every open WebSocket of a handler",
        answers={
            200: ("How many connections it reached", wire.Delivered),
            404: ("Unknown handler", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.PushedMessage,
    ),
    Operation(
        "GET",
        "/handlers/{name}/messages",
        list_messages,
        "Every WebSocket frame and SSE event of a handler, in and out, oldest first, a "
        "page at a time (limit, after)",
        answers={
            200: ("Frames", wire.StreamFrameList),
            404: ("Unknown handler", _ERR),
            422: ("Bad limit or cursor", _ERR),
        },
        query=PAGE_PARAMETERS,
    ),
    Operation(
        "DELETE",
        "/handlers/{name}/connections",
        close_connections,
        "Close every open WebSocket (with `code` and `reason`) and SSE stream of a handler",
        answers={
            200: ("How many were closed", wire.ConnectionsClosed),
            404: ("Unknown handler", _ERR),
            422: ("Bad close code or reason", _ERR),
        },
        query=(
            {
                "name": "code",
                "description": "the WebSocket close code (default 1000)",
                "schema": {
                    "type": "integer",
                    "anyOf": [
                        {"minimum": 1000, "maximum": 1003},
                        {"minimum": 1007, "maximum": 1014},
                        {"minimum": 3000, "maximum": 4999},
                    ],
                },
            },
            {
                "name": "reason",
                "description": "the close reason, at most 123 bytes",
                "schema": {"type": "string"},
            },
        ),
    ),
    Operation(
        "GET",
        "/requests",
        list_requests,
        "The journal, filtered (handler, matched, method, path), a page at a time (limit, after)",
        answers={200: ("Requests, oldest first", wire.RequestList), 422: ("Bad filter", _ERR)},
        query=REQUEST_FILTERS + PAGE_PARAMETERS,
    ),
    Operation(
        "GET",
        "/requests/stream",
        stream_requests,
        "The journal live: a `text/event-stream` of new entries (filtered as `/requests`), "
        "from after `Last-Event-ID` or `after`",
        answers={
            200: ("Server-Sent Events, one per entry, `id` its seq", None),
            422: ("Bad filter, cursor or heartbeat", _ERR),
        },
        query=FEED_PARAMETERS,
    ),
    Operation(
        "GET",
        "/requests/unmatched",
        unmatched_requests,
        "Requests no route matched, with their near misses, a page at a time (limit, after)",
        answers={
            200: ("Unmatched requests, oldest first", wire.UnmatchedRequestList),
            422: ("Bad limit or cursor", _ERR),
        },
        query=PAGE_PARAMETERS,
    ),
    Operation(
        "DELETE",
        "/requests",
        clear_requests,
        "Clear the journal and the frame log",
        answers={204: ("Cleared", None)},
    ),
    Operation(
        "GET",
        "/webhooks",
        list_webhooks,
        "The webhook calls routes made (target, status or error, time), oldest first",
        answers={200: ("Webhook calls, and how many are under way", wire.WebhookList)},
    ),
    Operation(
        "DELETE",
        "/webhooks",
        clear_webhooks,
        "Clear the log of webhook calls",
        answers={204: ("Cleared", None)},
    ),
    Operation(
        "GET",
        "/scenarios",
        list_scenarios,
        "Scenarios with their current and possible states and their routes",
        answers={200: ("Scenarios", wire.ScenarioList)},
    ),
    Operation(
        "POST",
        "/scenarios/reset",
        reset_scenarios,
        "Every scenario back to `Started`",
        answers={204: ("Reset", None)},
    ),
    Operation(
        "PUT",
        "/scenarios/{name}/state",
        put_scenario_state,
        "Put one scenario in a state (an empty body or no `state`: `Started`)",
        answers={
            200: ("The scenario", wire.ScenarioInfo),
            404: ("No route names this scenario", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.ScenarioStateUpdate,
        body_optional=True,
    ),
    Operation(
        "GET",
        "/settings",
        get_settings,
        "Session-wide settings (an extra `delay` on every answer)",
        answers={200: ("Settings", wire.Settings)},
    ),
    Operation(
        "PUT",
        "/settings",
        put_settings,
        "Replace the session-wide settings",
        answers={200: ("Settings", wire.Settings), 422: ("Wrong shape", _ERR)},
        body=wire.Settings,
    ),
    Operation(
        "POST",
        "/recordings",
        start_recording,
        "Start recording: unmatched requests are proxied to `target` and captured",
        answers={
            201: ("Recording", wire.RecordingStatus),
            409: ("Already recording", _ERR),
            422: ("Wrong shape", _ERR),
        },
        body=wire.RecordingStart,
    ),
    Operation(
        "GET",
        "/recordings",
        recording_status,
        "Whether the session records, where to, and how many exchanges it captured",
        answers={200: ("Status", wire.RecordingStatus)},
    ),
    Operation(
        "POST",
        "/recordings/stop",
        stop_recording,
        "Stop recording: one route per distinct request, added unless `add_routes` was false",
        answers={
            200: ("The routes, and the exchanges skipped", wire.RecordingResult),
            409: ("Not recording", _ERR),
        },
    ),
    Operation(
        "POST",
        "/recordings/snapshot",
        snapshot_recording,
        "Routes from the journal's proxied exchanges, added unless `add_routes` is false",
        answers={
            200: ("The routes, and the exchanges skipped", wire.RecordingResult),
            422: ("Wrong shape", _ERR),
        },
        body=wire.SnapshotRequest,
        body_optional=True,
    ),
    Operation(
        "POST",
        "/reset",
        reset,
        "Remove routes, responses, scenarios, settings and journal of the session",
        answers={204: ("Reset", None)},
    ),
)


def build_admin_app(
    store: SessionStore,
    *,
    token: str | None = None,
    root_dir: Path | None = None,
    shutdown: Callable[[], None] | None = None,
    dialects: Sequence[Dialect] = (),
    middlewares: Sequence[Middleware] = (),
) -> web.Application:
    """The admin application over `store`: the native API and the given dialects.

    `root_dir` is where a dialect saves and reloads its files (`--mappings`);
    `shutdown`, when given, is what a dialect's shutdown endpoint calls.
    `middlewares` run inside the error middleware (the token checked, their errors
    rendered): the shared state's op log (`controlplane.cluster.replica`) is one.
    """
    app = web.Application(
        middlewares=[_error_middleware(token, dialects), *middlewares], client_max_size=MAX_BODY
    )
    app[STORE] = store
    shared_reads.mount(app, store)  # `--state`: sessions read from Redis, written back
    for operation in OPERATIONS:
        for path, _ in operation.routes():
            app.router.add_route(operation.method, path, operation.handler)
    app[callbacks.CALLBACKS] = registry = callbacks.Callbacks()
    app.on_shutdown.append(registry.aclose)
    for prefix in SESSION_PREFIXES:
        app.router.add_get(f"{prefix}/handlers/{{name}}/callback", callback, allow_head=False)
    journal_feed.mount(app)
    dashboard.mount(app)
    for dialect in dialects:
        dialect.mount(app, store, root_dir, shutdown)
    return app
