"""The WireMock dialect: WireMock's admin API, mapping files and scenarios, translated
onto controlplane's sessions and routes (one model, two dialects; no second engine).

    shapes        WireMock's JSON as msgspec Structs (mappings, patterns, serve events)
    translate     stub mapping -> native route; request pattern -> compiled route
    state         the mappings kept alongside a session's routes; import, save, reset
    files         WireMock roots on disk (`mappings/`, `__files/`)
    files_api     `/__admin/files`: the root's body files
    diff_report   the plain-text 404 of unmatched requests in dialect sessions
    journal       the journal as serve events and logged requests
    admin         `/__admin` mappings, scenarios, settings, reset, health
    recordings    `/__admin/recordings/*` on the native recorder
    requests_api  `/__admin` journal and near-miss endpoints
    errors        WireMock's error shape, with JSON pointers

`DIALECT` is what the server plugs into the admin application
(`controlplane.admin.app.Dialect`): `mount` adds every endpoint, `owns` says which
paths are the dialect's, `error_response` renders their errors in WireMock's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from controlplane.callbacks import CALLBACKS
from controlplane.errors import ControlplaneError
from controlplane.sessions import SessionStore
from controlplane.wiremock.admin import PREFIXES, Handler, WireMockAdmin
from controlplane.wiremock.errors import error_response
from controlplane.wiremock.files_api import FilesAdmin
from controlplane.wiremock.recordings import RecordingsAdmin
from controlplane.wiremock.requests_api import RequestsAdmin

__all__ = ["DIALECT", "WireMockDialect", "endpoints", "is_dialect_path", "mount"]


def endpoints() -> list[tuple[str, str]]:
    """(method, path under a prefix) of every dialect endpoint (for docs and tests)."""
    return [(m, p) for m, p, _ in _routes(WireMockAdmin(SessionStore(1), None))]


def _routes(admin: WireMockAdmin) -> list[tuple[str, str, Handler]]:
    return [
        *admin.routes(),
        *RequestsAdmin(admin).routes(),
        *RecordingsAdmin(admin).routes(),
        *FilesAdmin(admin).routes(),
    ]


def mount(
    app: web.Application,
    store: SessionStore,
    root: Path | None,
    shutdown: Callable[[], None] | None = None,
) -> None:
    """Serve the dialect under every prefix of `PREFIXES`."""
    admin = WireMockAdmin(store, root, shutdown, app.get(CALLBACKS))
    admin.share(app)
    for method, path, handler in _routes(admin):
        for prefix in PREFIXES:
            app.router.add_route(method, prefix + path, handler)


def is_dialect_path(path: str) -> bool:
    """Whether an admin request is the dialect's (its errors take WireMock's shape)."""
    if path.startswith("/__admin"):
        return True
    parts = path.split("/", 5)  # "", "api", "sessions", sid, "__admin", ...
    return len(parts) >= 5 and parts[1:3] == ["api", "sessions"] and parts[4] == "__admin"


class WireMockDialect:
    """The WireMock dialect as an admin plug-in (`controlplane.admin.app.Dialect`)."""

    def mount(
        self,
        app: web.Application,
        store: SessionStore,
        root: Path | None,
        shutdown: Callable[[], None] | None,
    ) -> None:
        mount(app, store, root, shutdown)

    def owns(self, path: str) -> bool:
        return is_dialect_path(path)

    def error_response(self, error: ControlplaneError) -> web.Response:
        return error_response(error)


DIALECT = WireMockDialect()
