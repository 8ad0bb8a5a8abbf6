"""WireMock's admin API on the admin port: mappings, scenarios, settings, reset, health.

Served under `/__admin/...` (session `default`, or the session named by the
`X-Controlplane-Session` header) and `/api/sessions/{sid}/__admin/...`. Every handler
translates onto the session's native state; errors leave in WireMock's shape (the
admin app's error middleware renders them with `errors.error_response`). The journal
endpoints are in `requests_api`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from controlplane import ids
from controlplane._version import __version__
from controlplane.admin.decoding import (
    decode_body,
    decode_optional_body,
    decode_value,
    int_query,
    json_response,
)
from controlplane.callbacks import Callbacks
from controlplane.cluster import REPLICA
from controlplane.errors import Conflict, InvalidInput
from controlplane.logs import get_logger
from controlplane.matching import compile_document_match
from controlplane.sessions import DEFAULT_SESSION, SESSION_HEADER, SessionState, SessionStore
from controlplane.wiremock import shapes, state
from controlplane.wiremock.diff_report import mark_dialect_session
from controlplane.wiremock.files import is_wiremock_root
from controlplane.wiremock.translate import body_match, global_delay

__all__ = ["PREFIXES", "WireMockAdmin"]

_log = get_logger("wiremock")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Where the dialect is mounted: the default (or header-chosen) session, and any session.
PREFIXES = ("/__admin", "/api/sessions/{sid}/__admin")
#: The internal op (`controlplane.cluster.replica`) that marks a dialect session in
#: every process, when a read (which the op log does not carry) marked it in one.
_MARKED_OP = "wiremock-session-marked"
#: Where `WireMockAdmin.session` notes, on the request, the session a read marked.
_MARKED = web.RequestKey("controlplane.wiremock.marked", str)


def _empty(status: int = 200) -> web.Response:
    return web.Response(status=status)


def _empty_json() -> web.Response:
    """`{}`: what WireMock answers where a client parses the answer as JSON."""
    return json_response({})


class WireMockAdmin:
    """The dialect's handlers over one session store (and the mappings root, if any)."""

    def __init__(
        self,
        store: SessionStore,
        root: Path | None,
        shutdown: Callable[[], None] | None = None,
        callbacks: Callbacks | None = None,
    ) -> None:
        self.store = store
        self.root = root
        self.shutdown_callback = shutdown
        #: The admin application's callback sockets, which resets close.
        self.callbacks = callbacks
        self.started = time.time()
        if root is not None and is_wiremock_root(root):
            mark_dialect_session(store.default)  # its stubs came from a WireMock root

    def session(self, request: web.Request) -> SessionState:
        """The session a dialect call names; from now on it is a dialect session
        (unmatched requests get WireMock's diff report: `diff_report`)."""
        sid = request.match_info.get("sid") or request.headers.get(SESSION_HEADER)
        session = self.store.require(sid or DEFAULT_SESSION)
        if mark_dialect_session(session) and ids.current_op() is None:
            request[_MARKED] = session.id  # a read's: `_share_mark` makes it everyone's
        return session

    def share(self, app: web.Application) -> None:
        """With shared state, a session a read marks is marked in every process."""
        app.on_startup.append(self._join)
        app.middlewares.append(self._share_mark)

    async def _join(self, app: web.Application) -> None:
        replica = app.get(REPLICA)
        if replica is not None:
            replica.internal(_MARKED_OP, self._marked_elsewhere)

    async def _marked_elsewhere(self, body: bytes) -> None:
        session = self.store.get(body.decode())
        if session is not None:
            mark_dialect_session(session)

    @web.middleware
    async def _share_mark(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        marked = request.get(_MARKED)
        if marked is not None and (replica := request.app.get(REPLICA)) is not None:
            # The answer waits, as a write's does: then every process answers as WireMock.
            await replica.submit_internal(_MARKED_OP, marked.encode())
        return response

    # ------------------------------------------------------------------ mappings

    def _all(
        self, request: web.Request, pairs: list[tuple[object, shapes.StubMapping]]
    ) -> web.Response:
        mappings = [mapping for _, mapping in pairs]
        total = len(mappings)
        offset = int_query(request, "offset") or 0
        limit = int_query(request, "limit")
        mappings = mappings[offset:] if limit is None else mappings[offset : offset + limit]
        return json_response(shapes.AllMappings(mappings=mappings, meta=shapes.Meta(total=total)))

    async def list_mappings(self, request: web.Request) -> web.Response:
        return self._all(request, list(state.stub_routes(self.session(request))))

    async def create_mapping(self, request: web.Request) -> web.Response:
        session = self.session(request)
        mapping = await decode_body(request, shapes.StubMapping)
        state.put_stub(session, mapping, self.root)
        _log.info("stub_created", session=session.id, stub_id=mapping.id)
        return json_response(mapping, status=201)

    async def delete_mappings(self, request: web.Request) -> web.Response:
        session = self.session(request)
        state.remove_stubs(session, [route.id for route, _ in state.stub_routes(session)])
        return _empty()

    async def get_mapping(self, request: web.Request) -> web.Response:
        session = self.session(request)
        return json_response(state.require_stub(session, request.match_info["id"]))

    async def put_mapping(self, request: web.Request) -> web.Response:
        session = self.session(request)
        mapping_id = request.match_info["id"]
        state.require_stub(session, mapping_id)
        mapping = await decode_body(request, shapes.StubMapping)
        for given in (mapping.id, mapping.uuid):
            if given is not None and given != mapping_id:
                raise InvalidInput(
                    f"the body's id {given!r} differs from the path's {mapping_id!r}",
                    location="$.id",
                )
        return json_response(self._replace(session, mapping_id, mapping))

    async def edit_mapping(self, request: web.Request) -> web.Response:
        """WireMock's legacy edit: the body is a whole stub naming the one it replaces
        by its `id` (or `uuid`); as `PUT /mappings/{id}`, but answered 204 as WireMock's
        `OldEditStubMappingTask` answers it."""
        session = self.session(request)
        mapping = await decode_body(request, shapes.StubMapping)
        if mapping.id is not None and mapping.uuid is not None and mapping.id != mapping.uuid:
            raise InvalidInput(
                f"`id` {mapping.id!r} and `uuid` {mapping.uuid!r} name different stubs",
                location="$.uuid",
            )
        mapping_id = mapping.id or mapping.uuid
        if mapping_id is None:
            raise InvalidInput(
                "give the `id` (or `uuid`) of the stub this mapping replaces", location="$.id"
            )
        state.require_stub(session, mapping_id)
        self._replace(session, mapping_id, mapping)
        return _empty(204)

    def _replace(
        self, session: SessionState, mapping_id: str, mapping: shapes.StubMapping
    ) -> shapes.StubMapping:
        mapping.id = mapping_id
        state.put_stub(session, mapping, self.root)
        _log.info("stub_edited", session=session.id, stub_id=mapping_id)
        return mapping

    async def delete_mapping(self, request: web.Request) -> web.Response:
        state.remove_stub(self.session(request), request.match_info["id"])
        return _empty()

    async def remove_mapping(self, request: web.Request) -> web.Response:
        """WireMock's rule: the stub with the given id, else the first (in matching
        order) whose request pattern equals the given one, else nothing."""
        session = self.session(request)
        mapping = await decode_body(request, shapes.StubMapping)
        stubs = state.stub_routes(session)
        mapping_id = mapping.id or mapping.uuid
        if not any(route.id == mapping_id for route, _ in stubs):
            mapping_id = next((r.id for r, m in stubs if m.request == mapping.request), None)
        if mapping_id is not None:
            state.remove_stub(session, mapping_id)
            _log.info("stub_removed", session=session.id, stub_id=mapping_id)
        return _empty()

    async def import_mappings(self, request: web.Request) -> web.Response:
        session = self.session(request)
        body = await decode_body(request, shapes.ImportBody)
        options = body.importOptions
        if options.deleteAllNotInImport:
            keep = {m.id or m.uuid for m in body.mappings}
            state.remove_stubs(
                session, [r.id for r, _ in state.stub_routes(session) if r.id not in keep]
            )
        state.import_mappings(
            session,
            body.mappings,
            overwrite=options.duplicatePolicy == "OVERWRITE",
            root=self.root,
        )
        return _empty()

    async def unmatched_mappings(self, request: web.Request) -> web.Response:
        return self._all(request, self._unmatched(self.session(request)))

    async def delete_unmatched_mappings(self, request: web.Request) -> web.Response:
        session = self.session(request)
        state.remove_stubs(session, [mapping.id or "" for _, mapping in self._unmatched(session)])
        return _empty()

    @staticmethod
    def _unmatched(session: SessionState) -> list[tuple[object, shapes.StubMapping]]:
        used = {entry.route_id for entry in session.journal}
        return [(r, m) for r, m in state.stub_routes(session) if r.id not in used]

    def by_metadata(
        self, session: SessionState, pattern: shapes.ContentPattern
    ) -> list[shapes.StubMapping]:
        """The session's stubs whose metadata (as JSON) `pattern` holds."""
        holds = compile_document_match(body_match([pattern], "$"))
        return [
            mapping
            for _, mapping in state.stub_routes(session)
            if holds(msgspec.json.encode(mapping.metadata or {}))
        ]

    async def find_by_metadata(self, request: web.Request) -> web.Response:
        session = self.session(request)
        pattern = await decode_body(request, shapes.ContentPattern)
        found = self.by_metadata(session, pattern)
        return json_response(shapes.AllMappings(mappings=found, meta=shapes.Meta(total=len(found))))

    async def remove_by_metadata(self, request: web.Request) -> web.Response:
        session = self.session(request)
        pattern = await decode_body(request, shapes.ContentPattern)
        state.remove_stubs(session, [m.id or "" for m in self.by_metadata(session, pattern)])
        return _empty_json()

    async def save_mappings(self, request: web.Request) -> web.Response:
        session = self.session(request)
        if self.root is None:
            raise Conflict(
                "this server has no mappings directory to save to; start it with "
                "--mappings DIR (mappings are saved to DIR/mappings/{id}.json)"
            )
        written = state.save_stubs(session, self.root)
        _log.info("stubs_saved", session=session.id, count=len(written), root=str(self.root))
        return _empty()

    async def reset_mappings(self, request: web.Request) -> web.Response:
        session = self.session(request)
        dropped = {route.handler for route, _ in state.stub_routes(session)}
        # The stubs' answers go back to their files': callbacks answering for them end
        # (first, so that the stubs reloaded below are not touched by their closing).
        if self.callbacks is not None and dropped:
            self.callbacks.close(session.id, reason="mappings reset", handlers=dropped)
        state.reset_stubs(session, self.root)
        return _empty()

    # ------------------------------------------------------------------ everything else

    async def reset(self, request: web.Request) -> web.Response:
        """The whole session, as the native reset (its callbacks close too)."""
        session = self.session(request)
        session.reset()
        if self.callbacks is not None:
            self.callbacks.close(session.id, reason="session reset")
        mark_dialect_session(session)  # still used through the dialect
        state.reset_stubs(session, self.root)
        _log.info("session_reset", session=session.id, dialect="wiremock")
        return _empty()

    async def scenarios(self, request: web.Request) -> web.Response:
        session = self.session(request)
        mappings = state.dialect(session).mappings
        answer = [
            shapes.WireMockScenario(
                id=info.name,
                name=info.name,
                state=info.state,
                possibleStates=info.possible_states,
                mappings=[mappings[i] for i in info.route_ids if i in mappings],
            )
            for info in session.describe_scenarios()
        ]
        return json_response(shapes.WireMockScenarios(scenarios=answer))

    async def reset_scenarios(self, request: web.Request) -> web.Response:
        self.session(request).reset_scenarios()
        return _empty()

    async def set_scenario_state(self, request: web.Request) -> web.Response:
        session = self.session(request)
        update = await decode_optional_body(request, shapes.ScenarioState)
        session.set_scenario_state(request.match_info["name"], update.state)
        return _empty()

    async def get_settings(self, request: web.Request) -> web.Response:
        settings = state.dialect(self.session(request)).settings
        return json_response(shapes.SettingsAnswer(settings=settings))

    async def set_settings(self, request: web.Request) -> web.Response:
        """Replace the settings, as WireMock does (`extended` too: PATCH merges it)."""
        session = self.session(request)
        settings = await self._settings_body(request)
        # Only the delay is WireMock's: the forward proxy's settings stay as they were.
        session.apply_settings(
            msgspec.structs.replace(session.settings, delay=global_delay(settings))
        )
        state.dialect(session).settings = settings
        # WireMock answers with an empty body, which its own Python client cannot parse.
        return json_response(settings)

    @staticmethod
    async def _settings_body(request: web.Request) -> shapes.GlobalSettings:
        """The settings bare (what WireMock's Java and Python clients send) or wrapped as
        GET answers them, `{"settings": {...}}` (WireMock 3 reads both)."""
        data = await request.read()
        peek = decode_value(data, dict[str, Any])
        if peek.keys() == {"settings"}:
            return decode_value(data, shapes.SettingsBody).settings
        return decode_value(data, shapes.GlobalSettings)

    async def patch_extended_settings(self, request: web.Request) -> web.Response:
        """`{"extended": {...}}` merged key by key into the extended settings (WireMock's
        `Parameters.merge`: a given key replaces its value whole)."""
        dialect = state.dialect(self.session(request))
        patch = await decode_body(request, shapes.ExtendedSettings)
        merged = {**(dialect.settings.extended or {}), **(patch.extended or {})}
        dialect.settings = msgspec.structs.replace(dialect.settings, extended=merged)
        return _empty_json()

    async def health(self, request: web.Request) -> web.Response:
        now = time.time()
        return json_response(
            {
                "status": "healthy",
                "message": "controlplane is ok",
                "version": __version__,
                "uptimeInSeconds": int(now - self.started),
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            }
        )

    async def version(self, request: web.Request) -> web.Response:
        return json_response({"version": __version__})

    async def shutdown(self, request: web.Request) -> web.Response:
        if self.shutdown_callback is None:
            raise Conflict("this server cannot be shut down over its admin API")
        _log.info("shutdown_requested")
        self.shutdown_callback()
        return _empty()

    # ------------------------------------------------------------------ routing

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path under a prefix, handler) of every endpoint but the journal's."""
        return [
            ("GET", "", self.list_mappings),
            ("GET", "/", self.list_mappings),
            ("GET", "/mappings", self.list_mappings),
            ("POST", "/mappings", self.create_mapping),
            ("DELETE", "/mappings", self.delete_mappings),
            ("POST", "/mappings/save", self.save_mappings),
            ("POST", "/mappings/reset", self.reset_mappings),
            ("POST", "/mappings/import", self.import_mappings),
            ("POST", "/mappings/remove", self.remove_mapping),
            ("POST", "/mappings/edit", self.edit_mapping),
            ("POST", "/mappings/find-by-metadata", self.find_by_metadata),
            ("POST", "/mappings/remove-by-metadata", self.remove_by_metadata),
            ("GET", "/mappings/unmatched", self.unmatched_mappings),
            ("DELETE", "/mappings/unmatched", self.delete_unmatched_mappings),
            ("GET", "/mappings/{id}", self.get_mapping),
            ("PUT", "/mappings/{id}", self.put_mapping),
            ("DELETE", "/mappings/{id}", self.delete_mapping),
            ("POST", "/reset", self.reset),
            ("GET", "/scenarios", self.scenarios),
            ("POST", "/scenarios/reset", self.reset_scenarios),
            ("PUT", "/scenarios/{name}/state", self.set_scenario_state),
            ("GET", "/settings", self.get_settings),
            ("POST", "/settings", self.set_settings),
            ("PUT", "/settings", self.set_settings),
            ("PATCH", "/settings/extended", self.patch_extended_settings),
            ("GET", "/health", self.health),
            ("GET", "/version", self.version),
            ("POST", "/shutdown", self.shutdown),
        ]
