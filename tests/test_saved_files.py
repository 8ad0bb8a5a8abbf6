"""Saved files survive crashes and respect the umask; route files stay inside `--mappings`.

`write_atomically` serves the ready file and WireMock's saved mappings. Its fsyncs are
observed by wrapping `os.fsync` and `os.replace` (the operating system's calls, not our
code), so the order file data -> rename -> directory can be pinned.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from controlplane.atomic import TEMP_SUFFIX, remove_stale_temporaries, write_atomically
from controlplane.errors import RouteFileError
from controlplane.server import ControlplaneServer, ServerConfig
from controlplane.testing import ThreadedServer

MAPPING = {
    "request": {"method": "GET", "url": "/saved"},
    "response": {"status": 200, "body": "saved"},
}


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_then_the_rename_then_the_directory_are_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: str, target: str | Path) -> None:
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "ready.json"
    write_atomically(target, b"{}")
    [(first, temp), second, third] = events
    assert first == "fsync"
    assert Path(temp).parent == tmp_path
    assert Path(temp).name.startswith(".ready.json.") and temp.endswith(TEMP_SUFFIX)
    assert second == ("replace", str(target))
    assert third == ("fsync", str(tmp_path))


@pytest.mark.usefixtures("umask_027")
def test_a_saved_file_has_the_mode_the_umask_gives(tmp_path: Path) -> None:
    target = tmp_path / "ready.json"
    write_atomically(target, b"{}")
    assert _mode(target) == 0o640  # 0666 less 027; mkstemp would give 0600
    write_atomically(target, b"{}")  # replacing keeps to the umask too
    assert _mode(target) == 0o640


def test_stale_temporaries_are_removed_by_name_or_all(tmp_path: Path) -> None:
    ours = tmp_path / f".ready.json.0123456789abcdef{TEMP_SUFFIX}"
    other = tmp_path / f".other.json.0123456789abcdef{TEMP_SUFFIX}"
    kept = [tmp_path / ".ready.json.swp", tmp_path / "ready.json"]
    for path in [ours, other, *kept]:
        path.write_text("x")
    assert remove_stale_temporaries(tmp_path, "ready.json") == [ours]
    assert remove_stale_temporaries(tmp_path) == [other]
    assert sorted(tmp_path.iterdir()) == sorted(kept)


async def test_the_ready_file_start_removes_its_stale_temporaries(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    stale = tmp_path / f".ready.json.0123456789abcdef{TEMP_SUFFIX}"
    stale.write_text("half")
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0, ready_file=ready)):
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ready.json"]


@pytest.mark.usefixtures("umask_027")
def test_wiremock_saves_with_the_umask_and_load_removes_stale_temporaries(
    tmp_path: Path,
) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    stale = mappings / f".abc.json.0123456789abcdef{TEMP_SUFFIX}"
    stale.write_text('{"request": {"url": "/half')  # a save cut short: not valid JSON
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path)) as server:
        assert not stale.exists()
        admin = f"{server.admin_url}/__admin"
        created = requests.post(f"{admin}/mappings", json=MAPPING, timeout=10)
        assert created.status_code == 201, created.text
        assert requests.post(f"{admin}/mappings/save", timeout=10).status_code == 200
    [saved] = mappings.iterdir()
    assert saved.name == f"{created.json()['id']}.json"
    assert _mode(saved) == 0o640
    assert json.loads(saved.read_text())["request"]["url"] == "/saved"


def _route_file(path: Path) -> Path:
    path.write_text(json.dumps({"method": "GET", "path": "/x", "handler": "x"}))
    return path


async def test_a_route_file_linking_outside_mappings_is_refused(tmp_path: Path) -> None:
    mappings, outside = tmp_path / "mappings", tmp_path / "outside"
    mappings.mkdir()
    outside.mkdir()
    secret = _route_file(outside / "routes.json")
    link = mappings / "linked.json"
    link.symlink_to(secret)
    server = ControlplaneServer(ServerConfig(port=0, admin_port=0, mappings=mappings))
    with pytest.raises(RouteFileError) as raised:
        await server.start()
    assert raised.value.path == link
    assert raised.value.message == (
        f"{link}: links to {secret}, outside --mappings {mappings}; route files are read "
        "from inside that directory only: copy the file in instead"
    )


async def test_a_linked_directory_is_not_followed(tmp_path: Path) -> None:
    mappings, outside = tmp_path / "mappings", tmp_path / "outside"
    mappings.mkdir()
    outside.mkdir()
    _route_file(outside / "routes.json")
    (mappings / "linked").symlink_to(outside, target_is_directory=True)
    server = ControlplaneServer(ServerConfig(port=0, admin_port=0, mappings=mappings))
    async with server:
        assert len(server.store.default.routes) == 0


async def test_a_route_file_linking_inside_mappings_loads(tmp_path: Path) -> None:
    _route_file(tmp_path / "real.json")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "alias.json").symlink_to(tmp_path / "real.json")
    server = ControlplaneServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path))
    async with server:
        assert len(server.store.default.routes) == 2
