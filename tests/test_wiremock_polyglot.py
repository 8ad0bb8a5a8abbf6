"""The WireMock dialect driven by WireMock's own Java and Node clients.

The clients are the npm packages pinned in tests/polyglot/wiremock/package-lock.json:
`wiremock` (whose standalone jar holds WireMock's Java client), `wiremock-rest-client`
and `wiremock-captain`. They are installed once per lock file into a cache directory
(`npm ci`, from the npm registry); the Java program is compiled with the machine's
`javac` against the jar. Each client gets its own session of the shared server.

Without node/npm (or java/javac) the tests skip, saying what is missing; under CI
(`CI=true`, which `.ci/run` sets) a missing tool or a failed install is a failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from controlplane.server import ServerConfig
from tests.conftest import SessionHandle, ThreadedServer

HERE = Path(__file__).resolve().parent / "polyglot" / "wiremock"
LOCK = HERE / "package-lock.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI must run the polyglot tests)")
    pytest.skip(reason)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        _missing(f"{name} is not installed: the WireMock client tests need it")
    assert found is not None
    return found


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "controlplane-tests"


@pytest.fixture(scope="session")
def wiremock_clients() -> Iterator[Path]:
    """A directory whose node_modules holds the locked packages (installed once)."""
    npm = _tool("npm")
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    target = _cache_root() / f"wiremock-clients-{digest}"
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one install, however many test processes
        if not (target / "node_modules" / ".installed").is_file():
            shutil.copy(HERE / "package.json", target)
            shutil.copy(LOCK, target)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                _missing(f"npm ci of {LOCK} failed (is the npm registry reachable?): {done.stderr}")
            (target / "node_modules" / ".installed").touch()
    yield target


def _jar(clients: Path) -> Path:
    [jar] = sorted((clients / "node_modules" / "wiremock").rglob("wiremock-standalone-*.jar"))
    return jar


@pytest.fixture(scope="session")
def java_check(wiremock_clients: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command that runs ClientCheck.java, compiled against WireMock's jar."""
    java, javac = _tool("java"), _tool("javac")
    jar = _jar(wiremock_clients)
    classes = tmp_path_factory.mktemp("java")
    compiled = subprocess.run(
        [javac, "-cp", str(jar), "-d", str(classes), str(HERE / "ClientCheck.java")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stderr
    return [java, "-cp", os.pathsep.join([str(jar), str(classes)]), "ClientCheck"]


def _run_java(command: list[str], admin_url: str, prefix: str, mock_url: str) -> None:
    admin = urlsplit(admin_url)
    assert admin.hostname is not None and admin.port is not None
    arguments = [admin.hostname, str(admin.port), prefix, mock_url]
    ran = subprocess.run(
        [*command, *arguments], capture_output=True, text=True, timeout=300, check=False
    )
    assert (ran.returncode, ran.stdout.strip()) == (0, "java client: ok"), ran.stderr


def test_wiremocks_java_client(
    java_check: list[str], cp: SessionHandle, cp_server: ThreadedServer
) -> None:
    # The client's urlPathPrefix is the session's: its calls go to .../{sid}/__admin/...
    _run_java(java_check, cp_server.admin_url, f"/api/sessions/{cp.id}", cp.mock_url)


def test_wiremocks_java_client_on_one_port(java_check: list[str]) -> None:
    # As WireMock is used, and Testcontainers modules assume: admin and mock on one port.
    config = ServerConfig(port=0, admin_port=0, admin_on_mock_port=True)
    with ThreadedServer(config) as server:
        _run_java(java_check, server.mock_url, "", server.mock_url)


def test_wiremocks_node_clients(wiremock_clients: Path, cp_server: ThreadedServer) -> None:
    node = _tool("node")
    ran = subprocess.run(
        [node, "--test", str(HERE / "clients.test.mjs")],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "CONTROLPLANE_URL": cp_server.admin_url,
            "WIREMOCK_CLIENTS": str(wiremock_clients),
        },
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
