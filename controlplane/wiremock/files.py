"""WireMock roots on disk: `mappings/**/*.json` (one mapping or `{"mappings": [...]}`)
and `__files/` (body files, see `controlplane.responses.files`).

A directory is a WireMock root when it has a `mappings/` or `__files/` subdirectory.
Mapping files load in path order, and a mapping loaded later is newer (so, as in
WireMock, it wins a priority tie). Saved mappings go to `mappings/{id}.json`; every
path written or read is checked to stay inside the root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from controlplane.admin.decoding import depth_problem, malformed_json, validation_error
from controlplane.atomic import remove_stale_temporaries, write_atomically
from controlplane.errors import ControlplaneError, RouteFileError
from controlplane.wiremock import shapes

__all__ = [
    "FILES_DIR",
    "MAPPINGS_DIR",
    "is_wiremock_root",
    "mapping_files",
    "mapping_path",
    "read_mappings",
    "reserved_folders",
    "stub_among_routes",
    "write_mapping",
    "write_mappings",
]

MAPPINGS_DIR = "mappings"
FILES_DIR = "__files"


def is_wiremock_root(directory: Path) -> bool:
    return (directory / MAPPINGS_DIR).is_dir() or (directory / FILES_DIR).is_dir()


def reserved_folders(directory: Path) -> frozenset[str]:
    """The folders of `directory` that are WireMock's, not route files (a root's two)."""
    return frozenset({MAPPINGS_DIR, FILES_DIR}) if is_wiremock_root(directory) else frozenset()


def stub_among_routes(document: Any, directory: Path) -> str | None:
    """Why `document`, found among route files under `directory`, is WireMock's.

    A stub mapping (`request`, no `handler`) or an import file (`mappings`) loads from a
    WireMock root's `mappings/`; when `directory` is itself that folder, the message
    names the folder to pass instead.
    """
    if not isinstance(document, dict):
        return None
    if not (("request" in document and "handler" not in document) or "mappings" in document):
        return None
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


def mapping_files(root: Path) -> list[Path]:
    """The JSON files under `root/mappings`, in load order (hidden ones skipped).

    Temporaries of a save that crashed before its rename are removed first.
    """
    base = root / MAPPINGS_DIR
    if not base.is_dir():
        return []
    remove_stale_temporaries(base)
    found = (
        path
        for path in base.rglob("*.json")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(base).parts)
        and path.resolve().is_relative_to(root.resolve())
    )
    return sorted(found, key=lambda path: path.relative_to(base).parts)


def read_mappings(path: Path) -> list[shapes.StubMapping]:
    """The mappings of one file: a single mapping or `{"mappings": [...]}`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RouteFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        return []
    if (too_deep := depth_problem(data)) is not None:
        raise RouteFileError(path, too_deep)
    try:
        document: Any = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise RouteFileError(path, f"not valid JSON: {malformed_json(data, exc)}") from None
    target: Any = (
        shapes.ImportBody
        if isinstance(document, dict) and "mappings" in document
        else shapes.StubMapping
    )
    try:
        converted = msgspec.convert(document, target)
    except msgspec.ValidationError as exc:
        error = validation_error(exc, document=document, target=target)
        raise RouteFileError(path, error.message, location=error.location) from None
    if isinstance(converted, shapes.ImportBody):
        return converted.mappings
    return [converted]


def mapping_path(root: Path, mapping_id: str) -> Path:
    """Where a mapping is saved: `root/mappings/{id}.json`, checked to stay there."""
    base = (root / MAPPINGS_DIR).resolve()
    path = (base / f"{mapping_id}.json").resolve()
    if not path.is_relative_to(base) or path.parent != base or path.name.startswith("."):
        # The dialect refuses such ids when a mapping is added (state.SAFE_ID): a bug.
        raise ControlplaneError(f"mapping id {mapping_id!r} cannot be a file name")
    return path


def write_mapping(path: Path, mapping: shapes.StubMapping | shapes.ImportBody) -> None:
    """Write one mapping to `path` (see `mapping_path`) atomically."""
    data = msgspec.json.format(msgspec.json.encode(mapping), indent=2)
    write_atomically(path, data + b"\n")


def write_mappings(path: Path, mappings: list[shapes.StubMapping]) -> None:
    """Write several mappings to one file, `{"mappings": [...]}`, atomically."""
    write_mapping(path, shapes.ImportBody(mappings=mappings))
