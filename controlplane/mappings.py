"""Route files: `--mappings DIR` loads native routes from JSON and YAML files.

A file holds one route, a list of routes, or `{"routes": [...]}`. Files load in name
order (subdirectories included), so declaration order is predictable. A bad file stops
the start with its name and the JSON location of the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from controlplane import wire
from controlplane.admin.decoding import validation_error
from controlplane.errors import ControlplaneError
from controlplane.sessions import SessionState

__all__ = ["MappingFileError", "load_route_files", "route_files"]

_SUFFIXES = (".json", ".yaml", ".yml")


class MappingFileError(ControlplaneError):
    """A route file that cannot be loaded; the message names the file."""

    status = 422
    code = "invalid_mapping_file"


def route_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)


def _read(path: Path) -> Any:
    data = path.read_bytes()
    try:
        if path.suffix == ".json":
            return msgspec.json.decode(data)
        return msgspec.yaml.decode(data)
    except msgspec.DecodeError as exc:
        raise MappingFileError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None


def _routes_in(path: Path, document: Any) -> tuple[list[wire.Route], str | None]:
    """The routes of one file and where their list sits (None: the file is one route)."""
    try:
        if isinstance(document, dict) and "routes" in document:
            return msgspec.convert(document, wire.RouteList).routes, "$.routes"
        if isinstance(document, list):
            return msgspec.convert(document, list[wire.Route]), "$"
        return [msgspec.convert(document, wire.Route)], None
    except msgspec.ValidationError as exc:
        error = validation_error(exc)
        raise MappingFileError(f"{path}: {error.message}", location=error.location) from None


def load_route_files(directory: Path, session: SessionState) -> int:
    """Add every route found under `directory` to `session`; returns how many."""
    if not directory.is_dir():
        raise MappingFileError(f"--mappings {directory}: not a directory")
    count = 0
    for path in route_files(directory):
        document = _read(path)
        if document is None:
            continue
        routes, list_location = _routes_in(path, document)
        try:
            session.add_routes(routes, list_location=list_location)
        except ControlplaneError as exc:
            raise MappingFileError(f"{path}: {exc.message}", location=exc.location) from None
        count += len(routes)
    return count

