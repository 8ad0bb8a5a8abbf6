"""Route files: `--mappings DIR` loads native routes from JSON and YAML files.

A file holds one route, a list of routes, or `{"routes": [...]}`, in the same shapes
`POST /api/routes` takes; the last form may also hold `skipped`, so what a recording's
stop answers (`wire.RecordingResult`), saved as it is, is a route file. Files load in
path order (subdirectories included, compared part by part), and routes within a file
in their order, so declaration order, which breaks priority ties, is predictable.
Empty files are skipped, and so are hidden files and directories (names starting with
`.`, such as editor swap files). A bad file stops the start with its name and the JSON
location of the problem, and so does a symbolic link (to a file or a directory) that
leads outside the directory.

A dialect keeps its own files beside route files: the server passes the folders to
leave to it (`skip`: a WireMock root's `mappings/` and `__files/`) and a check that
names a dialect document found among route files (`refuse`); this module knows no
dialect by name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import msgspec

from controlplane import wire
from controlplane.admin.decoding import depth_problem, malformed_json, validation_error
from controlplane.errors import ControlplaneError, RouteFileError
from controlplane.sessions import SessionState

__all__ = ["Refuse", "RouteFileError", "load_route_files", "route_files"]

#: A dialect's check of a document found among route files: why it is not a route
#: (and where it belongs), or None. Called with the document and the `--mappings` root.
Refuse = Callable[[Any, Path], str | None]

_SUFFIXES = (".json", ".yaml", ".yml")


def route_files(directory: Path, skip: Collection[str] = ()) -> list[Path]:
    """The route files under `directory`, in load order, leaving out the `skip` folders."""
    skipped = set(skip)
    found = (
        path
        for path in directory.rglob("*")
        if path.suffix in _SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
        and path.relative_to(directory).parts[0] not in skipped
        and path.is_file()
    )
    return sorted(found, key=lambda path: path.relative_to(directory).parts)


def _read(path: Path) -> Any:
    """The file's document, or None when the file is empty."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RouteFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        return None
    if (too_deep := depth_problem(data)) is not None:
        raise RouteFileError(path, too_deep)
    if path.suffix != ".json":
        try:
            return msgspec.yaml.decode(data)
        except msgspec.DecodeError as exc:  # PyYAML's message has the line and column
            raise RouteFileError(path, f"not valid YAML: {exc}") from None
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise RouteFileError(path, f"not valid JSON: {malformed_json(data, exc)}") from None


def _routes_in(path: Path, document: Any) -> tuple[list[wire.Route], str | None]:
    """The routes of one file and where their list sits (None: the file is one route)."""
    target: Any
    if isinstance(document, dict) and "routes" in document:
        target, list_location = wire.RecordingResult, "$.routes"
    elif isinstance(document, list):
        target, list_location = list[wire.Route], "$"
    else:
        target, list_location = wire.Route, None
    try:
        converted = msgspec.convert(document, target)
    except msgspec.ValidationError as exc:
        error = validation_error(exc, document=document, target=target)
        raise RouteFileError(path, error.message, location=error.location) from None
    if isinstance(converted, wire.RecordingResult):
        return converted.routes, list_location
    return (converted if isinstance(converted, list) else [converted]), list_location


def load_route_files(
    directory: Path,
    session: SessionState,
    *,
    skip: Collection[str] = (),
    refuse: Refuse | None = None,
) -> int:
    """Add every route found under `directory` to `session`; returns how many.

    `skip` names top-level folders left to a dialect; `refuse` stops the load at a
    dialect's document among route files, with its message.
    """
    if not directory.is_dir():
        problem = "does not exist" if not directory.exists() else "is not a directory"
        raise RouteFileError(directory, f"{problem}; --mappings takes a directory")
    count = 0
    root = directory.resolve()
    for path in route_files(directory, skip):
        target = path.resolve()
        if not target.is_relative_to(root):
            raise RouteFileError(
                path,
                f"links to {target}, outside --mappings {directory}; route files are "
                "read from inside that directory only: copy the file in instead",
            )
        document = _read(path)
        if document is None:
            continue
        if refuse is not None and (why := refuse(document, directory)) is not None:
            raise RouteFileError(path, why)
        routes, list_location = _routes_in(path, document)
        try:
            session.add_routes(routes, list_location=list_location)
        except ControlplaneError as exc:
            raise RouteFileError(path, exc.message, location=exc.location) from None
        count += len(routes)
    return count
