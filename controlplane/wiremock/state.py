"""What the dialect keeps alongside a session's routes: the stub mappings themselves.

A mapping becomes a native route (same id); the mapping, as the client sent it (with
`id` and `uuid` filled in), is kept here for echoes, together with where it was
loaded from or saved to. The state lives in `SessionState.extras`, so it goes with
its session; a route removed through the native API drops out of every dialect list
(lists read the session's routes, and only look mappings up here).

Persistence follows WireMock: a mapping with `persistent: true` is written to disk when
it is added or edited (to the file it came from, else `mappings/{id}.json`), and
removing it removes it from that file (the file goes when nothing is left in it).
Every write is `atomic.write_atomically`; the disk is written before memory changes,
so a failed write changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from controlplane import ids, wire
from controlplane.atomic import write_atomically
from controlplane.errors import ControlplaneError, InvalidInput, NotFound, RouteFileError
from controlplane.logs import get_logger
from controlplane.matching import CompiledRoute
from controlplane.sessions import DEFAULT_SESSION, SessionState, SessionStore
from controlplane.wiremock import files, shapes
from controlplane.wiremock.translate import mapping_to_route

__all__ = [
    "DialectOptions",
    "DialectState",
    "configure",
    "dialect",
    "import_mappings",
    "load_root",
    "options",
    "put_stub",
    "remove_stub",
    "remove_stubs",
    "require_stub",
    "reset_stubs",
    "save_stubs",
    "stub_routes",
]

_KEY = "wiremock"


@dataclass(frozen=True)
class DialectOptions:
    """The dialect's server-wide options (`controlplane serve` flags)."""

    #: Every stub is templated as if it had the `response-template` transformer
    #: (WireMock's `--global-response-templating`).
    global_templating: bool = False


def configure(store: SessionStore, options: DialectOptions) -> None:
    """Set the dialect's options for every session of `store`."""
    store.extras[_KEY] = options


def options(session: SessionState) -> DialectOptions:
    found = session.server_extras.get(_KEY)
    return found if isinstance(found, DialectOptions) else DialectOptions()


_log = get_logger("wiremock")


class DialectState:
    """One session's stub mappings (by route id), their files, and global settings."""

    def __init__(self) -> None:
        self.mappings: dict[str, shapes.StubMapping] = {}
        #: Mapping id -> the file it was loaded from or saved to (in load order).
        self.sources: dict[str, Path] = {}
        self.settings = shapes.GlobalSettings()
        #: Whether the session is used through the dialect (see `mark_dialect_session`).
        self.marked = False


def dialect(session: SessionState) -> DialectState:
    found = session.extras.get(_KEY)
    if not isinstance(found, DialectState):
        found = DialectState()
        session.extras[_KEY] = found
    return found


def stub_routes(session: SessionState) -> list[tuple[CompiledRoute, shapes.StubMapping]]:
    """The session's dialect routes with their mappings, in matching order."""
    state = dialect(session)
    pairs = [
        (route, mapping)
        for route in session.routes
        if (mapping := state.mappings.get(route.id)) is not None
    ]
    pairs.sort(key=lambda pair: pair[0].key)
    return pairs


def require_stub(session: SessionState, mapping_id: str) -> shapes.StubMapping:
    mapping = dialect(session).mappings.get(mapping_id)
    if mapping is None or session.routes.get(mapping_id) is None:
        raise NotFound(f"no stub mapping {mapping_id!r} in session {session.id!r}")
    return mapping


def _identify(mapping: shapes.StubMapping, location: str = "$") -> str:
    """The mapping's id (a new UUID when it has none), set as both `id` and `uuid`.

    The id names the file the mapping is saved to, so it must be one (`wire.SAFE_ID`):
    never a path (`a/b`), `..`, or a hidden file that loading would skip.
    """
    mapping_id = mapping.id or mapping.uuid or ids.new_uuid()
    if not wire.SAFE_ID.fullmatch(mapping_id):
        field = "id" if mapping.id else "uuid"
        raise InvalidInput(
            f"a mapping id takes {wire.SAFE_ID_RULE} (WireMock's are UUIDs), "
            f"not {mapping_id!r}: it names the file the mapping is saved to",
            location=f"{location}.{field}",
        )
    mapping.id = mapping.uuid = mapping_id
    return mapping_id


def put_stub(
    session: SessionState, mapping: shapes.StubMapping, root: Path | None = None
) -> shapes.StubMapping:
    """Add a mapping (the newest wins ties), or replace the one with its id in place;
    with a `root`, a `persistent` mapping is written to disk first."""
    mapping_id = _identify(mapping)
    templating = options(session).global_templating
    route = mapping_to_route(mapping, mapping_id, session.files, templating=templating)
    state = dialect(session)
    if root is not None and mapping.persistent:
        path = state.sources.get(mapping_id) or files.mapping_path(root, mapping_id)
        _write_source(state, path, {mapping_id: mapping})
        state.sources[mapping_id] = path
    if session.routes.get(mapping_id) is not None:
        session.replace_route(mapping_id, route)
    else:
        session.add_routes([route], list_location=None, newest_first=True)
    state.mappings[mapping_id] = mapping
    return mapping


def remove_stub(session: SessionState, mapping_id: str) -> None:
    """Remove a mapping; a `persistent` one also leaves its file."""
    mapping = require_stub(session, mapping_id)
    state = dialect(session)
    path = state.sources.get(mapping_id)
    if path is not None and mapping.persistent:
        _write_source(state, path, {mapping_id: None})
        state.sources.pop(mapping_id)
    session.remove_route(mapping_id)
    state.mappings.pop(mapping_id, None)
    state.sources.pop(mapping_id, None)


def remove_stubs(session: SessionState, mapping_ids: Iterable[str]) -> None:
    for mapping_id in list(mapping_ids):
        remove_stub(session, mapping_id)


def _write_source(
    state: DialectState, path: Path, change: dict[str, shapes.StubMapping | None]
) -> None:
    """Rewrite `path` with the mappings kept from it, after `change` (id -> the new
    mapping, or None to drop it): one mapping as itself, several as `{"mappings"}`,
    none removes the file. Raises `ControlplaneError` when the disk refuses."""
    kept: dict[str, shapes.StubMapping | None] = {
        i: state.mappings[i] for i, source in state.sources.items() if source == path
    }
    kept.update(change)
    mappings = [mapping for mapping in kept.values() if mapping is not None]
    try:
        if not mappings:
            path.unlink(missing_ok=True)
        elif len(mappings) == 1:
            files.write_mapping(path, mappings[0])
        else:
            files.write_mappings(path, mappings)
    except OSError as exc:
        raise ControlplaneError(
            f"cannot write the mapping file {path}: {exc.strerror or exc} "
            "(the file and the stubs are as they were)"
        ) from None


def import_mappings(
    session: SessionState,
    mappings: list[shapes.StubMapping],
    *,
    overwrite: bool = True,
    source: Path | None = None,
    root: Path | None = None,
) -> list[shapes.StubMapping]:
    """Add mappings in order (later ones are newer); all or nothing.

    With `overwrite`, a mapping whose id exists replaces that stub in its place (as
    WireMock edits a stub); without it, such a mapping is skipped. With a `root`, the
    `persistent` ones are written first, and their files put back as they were when
    the import fails.
    """
    routes = []
    state = dialect(session)
    templating = options(session).global_templating
    pending: list[tuple[str, shapes.StubMapping]] = []
    for index, mapping in enumerate(mappings):
        at = f"$.mappings[{index}]"
        mapping_id = _identify(mapping, at)
        if session.routes.get(mapping_id) is not None and not overwrite:
            continue
        routes.append(
            mapping_to_route(mapping, mapping_id, session.files, at, templating=templating)
        )
        pending.append((mapping_id, mapping))
    persisted = {i: m for i, m in pending if m.persistent and root is not None}
    targets = {
        i: state.sources.get(i) or files.mapping_path(root, i)
        for i in persisted
        if root is not None
    }
    before = _write_sources(state, targets, persisted)
    try:
        session.add_routes(
            routes, list_location="$.mappings", newest_first=True, replace_existing=overwrite
        )
    except BaseException:
        _restore(before)
        raise
    for mapping_id, mapping in pending:
        state.mappings[mapping_id] = mapping
        if source is not None:
            state.sources[mapping_id] = source
    state.sources.update(targets)
    return [mapping for _, mapping in pending]


def _write_sources(
    state: DialectState, targets: dict[str, Path], mappings: dict[str, shapes.StubMapping]
) -> dict[Path, bytes | None]:
    """Write each mapping to its target file (see `_write_source`); returns what each
    file held before (None: it did not exist). When a write fails, the files written
    so far are put back before the error leaves."""
    before: dict[Path, bytes | None] = {}
    try:
        for path in dict.fromkeys(targets.values()):
            before[path] = path.read_bytes() if path.is_file() else None
            change: dict[str, shapes.StubMapping | None] = {
                i: mappings[i] for i, target in targets.items() if target == path
            }
            _write_source(state, path, change)
    except BaseException:
        _restore(before)
        raise
    return before


def _restore(before: dict[Path, bytes | None]) -> None:
    """Put files back as `_write_sources` found them (best effort: the error that made
    us undo is the one reported)."""
    for path, data in before.items():
        try:
            if data is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, data)
        except OSError:
            _log.warning("mapping_file_not_restored", file=str(path))


def load_root(root: Path, session: SessionState) -> int:
    """Load every mapping file of a WireMock root into `session`; returns how many."""
    count = 0
    for path in files.mapping_files(root):
        mappings = files.read_mappings(path)
        try:
            import_mappings(session, mappings, source=path)
        except ControlplaneError as exc:
            raise RouteFileError(path, exc.message, location=exc.location) from None
        count += len(mappings)
    if count:
        _log.info("wiremock_mappings_loaded", session=session.id, root=str(root), count=count)
    return count


def reset_stubs(session: SessionState, root: Path | None) -> None:
    """Drop every dialect mapping; reload the root's mappings into the default session."""
    state = dialect(session)
    for mapping_id in list(state.mappings):
        if session.routes.get(mapping_id) is not None:
            session.remove_route(mapping_id)
    state.mappings.clear()
    state.sources.clear()
    if root is not None and session.id == DEFAULT_SESSION:
        load_root(root, session)


def save_stubs(session: SessionState, root: Path) -> list[Path]:
    """Write the mappings that have no file yet to `root/mappings/{id}.json`.

    All or nothing: every path is checked before the first write, and when a write
    fails the files this call wrote are removed again.
    """
    state = dialect(session)
    pending = [
        (route.id, mapping, files.mapping_path(root, route.id))
        for route, mapping in stub_routes(session)
        if route.id not in state.sources
    ]
    written: list[Path] = []
    try:
        for _, mapping, path in pending:
            files.write_mapping(path, msgspec.structs.replace(mapping, persistent=True))
            written.append(path)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise ControlplaneError(
            f"cannot save the mappings to {root / files.MAPPINGS_DIR}: "
            f"{exc.strerror or exc} (none were saved)"
        ) from None
    for mapping_id, mapping, path in pending:
        mapping.persistent = True
        state.sources[mapping_id] = path
    return written
