"""Route files: `--mappings DIR` loads native routes from JSON and YAML files.

A file holds one route, a list of routes, or `{"routes": [...]}`, in the same shapes
`POST /api/routes` takes. Files load in path order (subdirectories included, compared
part by part), and routes within a file in their order, so declaration order, which
breaks priority ties, is predictable. Empty files are skipped, and so are hidden files
and directories (names starting with `.`, such as editor swap files). A bad file stops
the start with its name and the JSON location of the problem.

In a WireMock root (a directory with `mappings/` or `__files/`), those two belong to
the WireMock dialect (`controlplane.wiremock.files`); route files elsewhere still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from controlplane import wire
from controlplane.admin.decoding import malformed_json, validation_error
from controlplane.errors import ControlplaneError, MappingFileError
from controlplane.sessions import SessionState
from controlplane.wiremock.files import FILES_DIR, MAPPINGS_DIR, is_wiremock_root

__all__ = ["MappingFileError", "load_route_files", "route_files"]

_SUFFIXES = (".json", ".yaml", ".yml")


def route_files(directory: Path) -> list[Path]:
    """The route files under `directory`, in load order."""
    skipped = {MAPPINGS_DIR, FILES_DIR} if is_wiremock_root(directory) else set()
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
        raise MappingFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        return None
    if path.suffix != ".json":
        try:
            return msgspec.yaml.decode(data)
        except msgspec.DecodeError as exc:  # PyYAML's message has the line and column
            raise MappingFileError(path, f"not valid YAML: {exc}") from None
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise MappingFileError(path, f"not valid JSON: {malformed_json(data, exc)}") from None


def _routes_in(path: Path, document: Any) -> tuple[list[wire.Route], str | None]:
    """The routes of one file and where their list sits (None: the file is one route)."""
    target: Any
    if isinstance(document, dict) and "routes" in document:
        target, list_location = wire.RouteList, "$.routes"
    elif isinstance(document, list):
        target, list_location = list[wire.Route], "$"
    else:
        target, list_location = wire.Route, None
    try:
        converted = msgspec.convert(document, target)
    except msgspec.ValidationError as exc:
        error = validation_error(exc, document=document, target=target)
        raise MappingFileError(path, error.message, location=error.location) from None
    if isinstance(converted, wire.RouteList):
        return converted.routes, list_location
    return (converted if isinstance(converted, list) else [converted]), list_location


def _wiremock_shaped(document: Any) -> bool:
    """A WireMock stub mapping (`request`, no `handler`) or import file (`mappings`)."""
    if not isinstance(document, dict):
        return False
    return ("request" in document and "handler" not in document) or "mappings" in document


def _wiremock_hint(directory: Path) -> str:
    if directory.name == MAPPINGS_DIR:
        return (
            f"a WireMock stub mapping: --mappings {directory} is WireMock's mappings/ "
            f"folder, not its root; pass the folder that holds it: "
            f"--mappings {directory.parent} (WireMock's --root-dir)"
        )
    return (
        f"a WireMock stub mapping, not a controlplane route: WireMock stubs load from "
        f"{directory / MAPPINGS_DIR}/ (a WireMock root holds mappings/ and __files/)"
    )


def load_route_files(directory: Path, session: SessionState) -> int:
    """Add every route found under `directory` to `session`; returns how many."""
    if not directory.is_dir():
        problem = "does not exist" if not directory.exists() else "is not a directory"
        raise MappingFileError(directory, f"{problem}; --mappings takes a directory")
    count = 0
    for path in route_files(directory):
        document = _read(path)
        if document is None:
            continue
        if _wiremock_shaped(document):
            raise MappingFileError(path, _wiremock_hint(directory))
        routes, list_location = _routes_in(path, document)
        try:
            session.add_routes(routes, list_location=list_location)
        except ControlplaneError as exc:
            raise MappingFileError(path, exc.message, location=exc.location) from None
        count += len(routes)
    return count
