"""The README's "Install in your project", done as a user would: wheels, a fresh venv, pytest.

The wheels are built with `make dist`'s command; the server wheel is installed into a
fresh venv outside the repository with the README's command (`pip install` of the wheel,
nothing else: pip resolves the runtime dependencies from the package index, held to the
lock's versions through a constraints file so the run is what CI ran). A small test file
then runs there against the installed copy: the `controlplane` fixture, the asyncly-style
`controlplane.srvmocker` and the client, which the server wheel ships.

The client wheel alone goes into a second venv (no dependencies: it is standard library
only) and talks to a server started by this test.

Without a reachable package index the server-wheel test skips, saying so; under CI
(`CI` set, as `.ci/run` does) it fails instead, since CI must prove the install line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ThreadedServer

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements" / "dev.lock"

# The lock's pins, without hashes (a constraints file may not carry them) and with
# their environment markers, e.g. `aiohttp==3.14.5` or `colorama==0.4.6 ; sys_platform == 'win32'`.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*==[^\s\\]+(?:\s*;[^\\]+)?)", re.MULTILINE)

USER_TESTS = """
import asyncio
import urllib.request

import controlplane
import controlplane_client
from controlplane.srvmocker import JsonResponse, MockRoute, start_service
from controlplane_client import JsonResponse as NativeJson, Route


def test_installed_outside_the_repository():
    assert "site-packages" in controlplane.__file__, controlplane.__file__
    assert "site-packages" in controlplane_client.__file__, controlplane_client.__file__


def test_the_fixture_serves_a_route(controlplane):
    controlplane.add_route(Route(method="GET", path="/ping", handler="ping",
                                 response=NativeJson({"pong": True})))
    with urllib.request.urlopen(controlplane.mock_url + "/ping") as answer:
        assert answer.read() == b'{"pong":true}'
    controlplane.assert_called("ping", times=1)


def test_srvmocker_serves_a_route():
    async def scenario():
        async with start_service([MockRoute("GET", "/fact", "fact")]) as service:
            service.register("fact", JsonResponse({"fact": "Meow."}))
            url = str(service.url / "fact")
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read())
            assert body == b'{"fact":"Meow."}'
            service.assert_called("fact", times=1)

    asyncio.run(scenario())


def test_asyncly_fixtures_and_module_paths(mock_service):
    from controlplane.srvmocker.responses.timeout import LatencyResponse

    assert mock_service.history == []
    assert LatencyResponse.__module__ == "controlplane.srvmocker.responses.timeout"
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two wheels, built with `make dist`'s command (no network: no build isolation)."""
    out = tmp_path_factory.mktemp("dist")
    # setuptools reuses `build/`: a module since removed from the tree would ship again.
    for stale in (REPO / "build", REPO / "clients" / "python" / "build"):
        shutil.rmtree(stale, ignore_errors=True)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            ".",
            "./clients/python",
        ],
        cwd=REPO,
    )
    server = list(out.glob("controlplane-*.whl"))
    client = list(out.glob("controlplane_client-*.whl"))
    assert len(server) == 1 and len(client) == 1, sorted(p.name for p in out.iterdir())
    return {"server": server[0], "client": client[0]}


def _run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result


def _pip_install(python: Path, cwd: Path, *args: str) -> None:
    _run([str(python), "-m", "pip", "install", "--quiet", *args], cwd=cwd, env=_clean_env())


def _fresh_venv(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return where / "bin" / "python"


def _clean_env() -> dict[str, str]:
    """The environment without this venv's traces, so nothing leaks in from the repository."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _constraints(where: Path) -> Path:
    pins = _PIN.findall(LOCK.read_text())
    assert any(p.startswith("aiohttp==") for p in pins), "the lock lists no aiohttp pin"
    path = where / "constraints.txt"
    path.write_text("\n".join(p.strip() for p in pins) + "\n")
    return path


def _index_reachable(python: Path, where: Path) -> bool:
    """Whether pip reaches the package index: one small pinned download."""
    probe = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--dest",
            str(where),
            "--timeout",
            "15",
            "--retries",
            "1",
            "iniconfig",
        ],
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    return probe.returncode == 0


@pytest.fixture
def user_project(tmp_path: Path) -> Iterator[Path]:
    """A directory outside the repository, as a user's project would be."""
    project = tmp_path / "project"
    project.mkdir()
    yield project


def test_the_server_wheel_alone_gives_the_fixture_srvmocker_and_client(
    wheels: dict[str, Path], tmp_path: Path, user_project: Path
) -> None:
    python = _fresh_venv(tmp_path / "venv")
    if not _index_reachable(python, tmp_path / "probe"):
        message = "the package index is unreachable, so pip cannot install the wheel's dependencies"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must prove the install line")
        pytest.skip(message)
    constraints = _constraints(tmp_path)
    # The README's command, `pip install dist/controlplane-*.whl`, plus pytest for the
    # user's own tests; the constraints only hold versions to the lock's.
    _pip_install(python, user_project, "-c", str(constraints), str(wheels["server"]), "pytest")
    (user_project / "test_user.py").write_text(textwrap.dedent(USER_TESTS))

    result = _run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=user_project,
        env=_clean_env(),
    )

    assert re.search(r"^4 passed", result.stdout, re.MULTILINE), result.stdout


def test_the_client_wheel_alone_talks_to_a_server(
    wheels: dict[str, Path], tmp_path: Path, user_project: Path, cp_server: ThreadedServer
) -> None:
    python = _fresh_venv(tmp_path / "venv")
    _pip_install(python, user_project, "--no-deps", "--no-index", str(wheels["client"]))
    script = textwrap.dedent(
        f"""
        import urllib.request
        import controlplane_client
        from controlplane_client import Client, JsonResponse, Route

        assert "site-packages" in controlplane_client.__file__, controlplane_client.__file__
        session = Client({cp_server.admin_url!r}).create_session("client-wheel")
        session.add_route(Route(method="GET", path="/hi", handler="hi",
                                response=JsonResponse({{"hi": 1}})))
        print(urllib.request.urlopen(session.mock_url + "/hi").read().decode())
        session.assert_called("hi", times=1)
        session.delete_session()
        """
    )
    result = _run([str(python), "-c", script], cwd=user_project, env=_clean_env())

    assert result.stdout == '{"hi":1}\n'
    importable = subprocess.run(
        [str(python), "-c", "import controlplane"],
        cwd=user_project,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert "No module named 'controlplane'" in importable.stderr  # the client alone is alone
