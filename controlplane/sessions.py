"""Sessions: isolated namespaces of routes, handler responses, scenarios and journal.

Every change to routes and responses goes through `SessionState`, so the admin API,
route files and the WireMock dialect share one model and one set of rules: compile at
registration, validate before changing anything, last write of a response wins.

Declaration order breaks priority ties. Native routes get increasing orders (first
declared wins, 1, 2, 3...); routes added with `newest_first=True` (the WireMock
dialect, where the newest stub wins) get decreasing ones (0, -1, -2...). So within
one priority, dialect stubs come before native routes, newest stub first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from controlplane import ids, wire
from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.journal import DEFAULT_BODY_LIMIT, Journal
from controlplane.matching import CompiledRoute, RouteTable, compile_route
from controlplane.request_view import RequestView
from controlplane.responses import (
    BodyFiles,
    Responder,
    ResponseSpecError,
    Streams,
    Upstreams,
    compile_response,
)
from controlplane.responses.delays import DelaySampler, compile_delay
from controlplane.scenarios import STARTED, Scenarios
from controlplane.webhooks import Hooks, WebhookLog, Webhooks, WebhookSpecError, compile_webhooks

if TYPE_CHECKING:
    from controlplane.cluster import Cluster
    from controlplane.cluster.shared import SharedSession, SharedState
    from controlplane.recording import Recording

__all__ = [
    "DEFAULT_SESSION",
    "SESSION_HEADER",
    "SessionState",
    "SessionStore",
    "UnmatchedAnswer",
]

DEFAULT_SESSION = "default"
SESSION_HEADER = "X-Controlplane-Session"
SESSION_PREFIX = "/_s/"
_PREFIX_LEN = len(SESSION_PREFIX)
#: How many paths `SessionStore.split_paths` keeps before it starts again.
_SPLIT_PATHS = 4096
#: A session's own answer to a request no route matched (already journaled), given
#: the near misses; a dialect installs one (WireMock's plain-text diff report).
UnmatchedAnswer = Callable[["SessionState", RequestView, list[wire.NearMiss]], web.Response]


class SessionState:
    """One session's routes, responses, scenarios, settings and journal."""

    def __init__(
        self,
        session_id: str,
        name: str | None,
        journal_size: int,
        files: BodyFiles | None = None,
        upstreams: Upstreams | None = None,
        journal_body_limit: int = DEFAULT_BODY_LIMIT,
        webhooks: Webhooks | None = None,
        server_extras: dict[str, object] | None = None,
    ) -> None:
        self.id = session_id
        self.name = name
        self.routes = RouteTable()
        self.journal = Journal(session_id, journal_size, journal_body_limit)
        #: Open SSE streams and WebSockets by handler, and their frames (as many as the journal).
        self.streams = Streams(session_id, journal_size)
        self.responses: dict[str, Responder] = {}
        self.scenarios = Scenarios()
        self.files = files
        #: The client sessions `proxy` responses forward through (the server's, shared).
        self.upstreams = upstreams
        self.settings = wire.Settings()
        #: The server's webhook sender (shared); `hooks` are the compiled `webhooks` of
        #: this session's routes by route id (empty: the mock port pays one test), and
        #: `webhook_calls` the calls they made (as many as the journal keeps).
        self.webhook_sender = webhooks if webhooks is not None else Webhooks()
        self.hooks: dict[str, Hooks] = {}
        self.webhook_calls = WebhookLog(session_id, journal_size)
        #: Sampler of the session-wide extra delay (`settings.delay`), None without one.
        self.extra_delay: DelaySampler | None = None
        #: `settings.proxy_auth` as the bytes Basic credentials decode to, None without one.
        self.proxy_credentials: bytes | None = None
        #: What other dialects keep alongside the routes (the WireMock dialect: its
        #: stub mappings by route id), so it goes wherever the session goes.
        self.extras: dict[str, object] = {}
        #: What dialects keep for the whole server (`SessionStore.extras`, shared).
        self.server_extras: dict[str, object] = {} if server_extras is None else server_extras
        #: The session's recording (`POST .../recordings`), kept after it stops; None
        #: until one starts.
        self.recording: Recording | None = None
        #: How unmatched requests are answered, None for the native JSON 404.
        self.unmatched_answer: UnmatchedAnswer | None = None
        #: The session's journal and counters in Redis (`--state`); None in memory.
        self.shared: SharedSession | None = None
        # handler name -> number of routes declaring it; a handler exists while > 0
        self._handler_routes: dict[str, int] = {}
        self._order = itertools.count(1)
        self._newest_order = itertools.count(0, -1)

    def _compile_response(self, spec: wire.AnyResponse, location: str, handler: str) -> Responder:
        try:
            return compile_response(spec, self.files, self.upstreams, self.streams.channel(handler))
        except ResponseSpecError as exc:
            raise InvalidInput(exc.message, location=location + exc.at) from None

    # ----------------------------------------------------------------- routes

    def add_routes(
        self,
        specs: Iterable[wire.Route],
        *,
        list_location: str | None = "$",
        newest_first: bool = False,
        replace_existing: bool = False,
    ) -> list[CompiledRoute]:
        """Compile all, then change anything: a list with one bad route changes nothing.

        Errors point at `{list_location}[i]`, or at `$` when `list_location` is None
        (a single route was sent). With `newest_first`, new routes win priority ties
        against every route added before them (WireMock's rule). With
        `replace_existing`, a route whose id exists replaces it in its place;
        otherwise a taken id is a conflict.
        """
        orders = self._newest_order if newest_first else self._order
        pending: list[
            tuple[CompiledRoute, Responder | None, CompiledRoute | None, Hooks | None]
        ] = []
        seen: set[str] = set()
        for index, spec in enumerate(specs):
            where = "$" if list_location is None else f"{list_location}[{index}]"
            if spec.id is None:
                spec.id = ids.new_uuid()
            old = self.routes.get(spec.id)
            if spec.id in seen or (old is not None and not replace_existing):
                raise Conflict(f"route id {spec.id!r} is already taken", location=f"{where}.id")
            seen.add(spec.id)
            responder = (
                self._compile_response(spec.response, f"{where}.response", spec.handler)
                if spec.response is not None
                else None
            )
            hooks = self._compile_webhooks(spec, where)
            order = old.order if old is not None else next(orders)
            pending.append((self._compile(spec, order, where), responder, old, hooks))
        for route, responder, old, hooks in pending:
            self._install(route, responder, old, hooks)
        if any(old is not None and old.scenario is not None for _, _, old, _ in pending):
            self._forget_scenarios()
        return [route for route, _, _, _ in pending]

    @staticmethod
    def _compile_webhooks(spec: wire.Route, where: str) -> Hooks | None:
        if not isinstance(spec.webhooks, list) or not spec.webhooks:
            return None
        try:
            return compile_webhooks(spec.webhooks)
        except WebhookSpecError as exc:
            raise InvalidInput(exc.message, location=f"{where}.webhooks{exc.at}") from None

    def _install(
        self,
        route: CompiledRoute,
        responder: Responder | None,
        old: CompiledRoute | None,
        hooks: Hooks | None,
    ) -> None:
        if old is None:
            self.routes.add(route)
        else:
            self.routes.replace(route)
        if hooks is not None:
            self.hooks[route.id] = hooks
        else:
            self.hooks.pop(route.id, None)
        # Declare before undeclaring: a replacement naming the same handler keeps its response.
        self._declare(route.handler)
        if old is not None:
            self._undeclare(old.handler)
        if responder is not None:
            self.responses[route.handler] = responder
        if self.shared is not None:
            self.shared.counters.route_installed(route, responder)

    def replace_route(self, route_id: str, spec: wire.Route) -> CompiledRoute:
        """Replace route `route_id` in its place in the matching order."""
        self.get_route(route_id)
        spec.id = route_id
        [route] = self.add_routes([spec], list_location=None, replace_existing=True)
        return route

    def remove_route(self, route_id: str) -> None:
        route = self.get_route(route_id)
        self.routes.remove(route_id)
        self.hooks.pop(route_id, None)
        self._undeclare(route.handler)
        if self.shared is not None:
            self.shared.counters.route_removed(route_id)
        if route.scenario is not None:
            self._forget_scenarios()

    def clear_routes(self) -> None:
        self.streams.close_all(reason="handler removed")
        self.routes.clear()
        self.hooks.clear()
        self._handler_routes.clear()
        self.responses.clear()
        self.scenarios.keep_only(())
        if self.shared is not None:
            self.shared.counters.cleared()

    def get_route(self, route_id: str) -> CompiledRoute:
        route = self.routes.get(route_id)
        if route is None:
            raise NotFound(f"no route {route_id!r} in session {self.id!r}")
        return route

    def _compile(self, spec: wire.Route, order: int, where: str) -> CompiledRoute:
        scenario = spec.scenario
        slot = None if scenario is wire.UNSET else self.scenarios.slot(scenario.name)
        try:
            return compile_route(spec, order, slot)
        except ValueError as exc:
            raise InvalidInput(str(exc), location=where) from None

    def _forget_scenarios(self) -> None:
        """Drop scenarios no route names any more (one pass over the routes).

        Called only when a route with a scenario goes, and before scenarios are read
        (a batch that failed to compile may have left a slot behind).
        """
        names = (scenario.name for _, scenario in self._scenario_routes())
        forgotten = self.scenarios.keep_only(names)
        if forgotten and self.shared is not None:  # a scenario named again starts over
            self.shared.counters.scenarios_forgotten(forgotten)

    def _scenario_routes(self) -> list[tuple[str, wire.Scenario]]:
        return [
            (route.id, route.spec.scenario)
            for route in self.routes
            if isinstance(route.spec.scenario, wire.Scenario)
        ]

    # ----------------------------------------------------------------- scenarios

    def describe_scenarios(self) -> list[wire.ScenarioInfo]:
        self._forget_scenarios()
        return self.scenarios.describe(self._scenario_routes())

    def set_scenario_state(self, name: str, state: str | None) -> None:
        """Put scenario `name` in `state` (None: back to `Started`); 404 if unknown."""
        self._forget_scenarios()
        slot = self.scenarios.require(name)
        slot.state = state if state is not None else STARTED
        if self.shared is not None:
            self.shared.counters.scenario_set(name, slot.state)

    def reset_scenarios(self) -> None:
        """Every scenario back to `Started`."""
        self.scenarios.reset()
        if self.shared is not None:
            self.shared.counters.scenarios_reset()

    # ----------------------------------------------------------------- settings

    def apply_settings(self, settings: wire.Settings) -> None:
        self.settings = settings
        self.extra_delay = None if settings.delay is None else compile_delay(settings.delay)
        auth = settings.proxy_auth
        self.proxy_credentials = None if auth is None else auth.encode()

    def _declare(self, handler: str) -> None:
        self._handler_routes[handler] = self._handler_routes.get(handler, 0) + 1

    def _undeclare(self, handler: str) -> None:
        left = self._handler_routes[handler] - 1
        if left:
            self._handler_routes[handler] = left
        else:
            # The last route naming this handler is gone: so is the handler, its response
            # and its open connections.
            del self._handler_routes[handler]
            self.responses.pop(handler, None)
            self.streams.close_all(reason="handler removed", handler=handler)

    # ----------------------------------------------------------------- handlers

    @property
    def handler_names(self) -> list[str]:
        return sorted(self._handler_routes)

    def require_handler(self, name: str) -> None:
        if name not in self._handler_routes:
            known = ", ".join(repr(n) for n in self.handler_names) or "none yet"
            raise NotFound(
                f"no route in session {self.id!r} declares handler {name!r}; "
                f'declare a route with "handler": {name!r} first (known handlers: {known})'
            )

    def register_response(self, handler: str, spec: wire.AnyResponse) -> None:
        self.require_handler(handler)
        self.responses[handler] = self._compile_response(spec, "$", handler)
        if self.shared is not None:
            self.shared.counters.response_registered(handler)

    def install_responder(self, handler: str, responder: Responder) -> None:
        """Set a responder built in this process (in-process responses: `srvmocker`)."""
        self.require_handler(handler)
        self.responses[handler] = responder

    def route_ids_for(self, handler: str) -> list[str]:
        return [route.id for route in self.routes if route.handler == handler]

    # ----------------------------------------------------------------- whole session

    def reset(self) -> None:
        """Routes, responses, scenarios, settings and journal back to empty; open
        streams and WebSockets are closed (1001, `session reset`)."""
        self.streams.close_all()
        self.clear_routes()
        self.journal.clear()
        self.webhook_calls.clear()
        self.streams.clear_frames()
        self.apply_settings(wire.Settings())
        self.extras.clear()
        self.recording = None
        self.unmatched_answer = None


class SessionStore:
    """All sessions of one server; `default` always exists."""

    def __init__(
        self,
        journal_size: int,
        files_root: Path | None = None,
        journal_body_limit: int = DEFAULT_BODY_LIMIT,
    ) -> None:
        self.journal_size = journal_size
        #: Body bytes each session's journal entries keep (`--journal-body-limit`).
        self.journal_body_limit = journal_body_limit
        #: Where `body_file` responses are read from (`__files/` of --mappings), if anywhere.
        self.files = None if files_root is None else BodyFiles(files_root)
        #: Shared by every session's `proxy` responses; the server closes it when it stops.
        self.upstreams = Upstreams()
        #: Sends every session's webhooks; the server closes it when it stops.
        self.webhooks = Webhooks()
        #: What dialects keep for the whole server (the WireMock dialect: its options);
        #: every session sees it as `server_extras`.
        self.extras: dict[str, object] = {}
        self.mock_base_url = ""
        self.admin_base_url = ""
        self._cluster: Cluster | None = None
        #: This process's side of the shared state (journal writer, admin ops); None
        #: in memory.
        self.shared: SharedState | None = None
        self._sessions: dict[str, SessionState] = {}
        #: Mock paths under `/_s/{id}/` seen lately, each with what `split` gave for it:
        #: a request to one of them pays one dict lookup for its session and its path,
        #: by its raw request target before anything else is read of it. Holds only
        #: existing sessions' paths without '%', '?' or '#' (a target equal to one is
        #: that path, nothing to decode); a deletion clears it.
        self.split_paths: dict[str, tuple[SessionState, str, str]] = {}
        self.default = self._add(DEFAULT_SESSION, None)

    @property
    def cluster(self) -> Cluster | None:
        """The shared state on Redis (`--state`), None when it lives in this process."""
        return self._cluster

    @cluster.setter
    def cluster(self, cluster: Cluster | None) -> None:
        """Share every session's journal and counters through `cluster` (at start)."""
        self._cluster = cluster
        if cluster is None:
            self.shared = None
        else:  # imported here: redis is loaded only by a server with `--state`
            from controlplane.cluster.shared import SharedState

            self.shared = SharedState(cluster, self.journal_size)
        for state in self._sessions.values():
            self._share(state)

    def _share(self, state: SessionState) -> None:
        if self.shared is None:
            state.shared = None
            return
        shared = self.shared.session(state.id, self.journal_size, self.journal_body_limit)
        process = self.shared.cluster.process_id
        state.streams.share(process[:6], int(process[:2], 16))
        state.shared = shared
        state.journal = shared.journal

    def _add(self, session_id: str, name: str | None) -> SessionState:
        state = SessionState(
            session_id,
            name,
            self.journal_size,
            self.files,
            self.upstreams,
            self.journal_body_limit,
            self.webhooks,
            self.extras,
        )
        self._sessions[session_id] = state
        if self.shared is not None:
            self._share(state)
        return state

    def create(self, name: str | None = None, session_id: str | None = None) -> SessionState:
        if session_id is None:
            session_id = ids.new_token(6)
            while session_id in self._sessions:
                session_id = ids.new_token(6)
        elif session_id in self._sessions:
            raise Conflict(f"session id {session_id!r} is already taken", location="$.id")
        return self._add(session_id, name)

    def get(self, session_id: str) -> SessionState | None:
        return self._sessions.get(session_id)

    def split(self, path: str) -> tuple[SessionState | None, str, str]:
        """The session a mock path `/_s/{id}/rest` names (None if none), its id and the
        path as that session's routes see it (`/rest`), kept in `split_paths` when the
        session exists and the path holds no '%', '?' or '#'."""
        end = path.find("/", _PREFIX_LEN)
        if end < 0:  # `/_s/{id}` alone: the session's root
            session_id, rest = path[_PREFIX_LEN:], "/"
        else:
            session_id, rest = path[_PREFIX_LEN:end], path[end:]
        state = self._sessions.get(session_id)
        # Kept only when a request line naming the same path is that path (nothing to
        # decode or cut off): the mock port looks its raw target up here first.
        if state is not None and not ("%" in path or "?" in path or "#" in path):
            if len(self.split_paths) >= _SPLIT_PATHS:
                self.split_paths.clear()
            self.split_paths[path] = (state, session_id, rest)
        return state, session_id, rest

    def require(self, session_id: str) -> SessionState:
        state = self._sessions.get(session_id)
        if state is None:
            raise NotFound(
                f"no session {session_id!r}; create one with POST /api/sessions "
                "or list them with GET /api/sessions"
            )
        return state

    def delete(self, session_id: str) -> None:
        if session_id == DEFAULT_SESSION:
            raise Conflict(
                "session 'default' always exists and cannot be removed; "
                "use POST /api/reset to empty it"
            )
        state = self.require(session_id)
        del self._sessions[session_id]
        self.split_paths.clear()
        if state.shared is not None:
            state.shared.deleted()
        state.streams.close_all(reason="session deleted")
        state.journal.wake()  # its live journal feeds see the session gone and end

    async def close_streams(self) -> None:
        """Close every open SSE stream and WebSocket of every session, and wait (shutdown)."""
        for state in self.all():
            await state.streams.aclose()

    def all(self) -> list[SessionState]:
        return list(self._sessions.values())

    def describe(self, state: SessionState) -> wire.Session:
        journal = state.journal
        if state.id == DEFAULT_SESSION:
            mock_url = self.mock_base_url
        else:
            mock_url = f"{self.mock_base_url}{SESSION_PREFIX}{state.id}"
        return wire.Session(
            id=state.id,
            name=state.name,
            mock_url=mock_url,
            admin_url=f"{self.admin_base_url}/api/sessions/{state.id}",
            counts=wire.SessionCounts(
                routes=len(state.routes),
                requests=len(journal),
                unmatched=journal.unanswered_count,
                evicted=journal.evicted,
            ),
        )
