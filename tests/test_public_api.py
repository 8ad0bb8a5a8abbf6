"""What users import and call, the way README.md and docs/ show it.

Each documented entry point is imported as the docs import it and exercised once:
the package's server and config, the in-process helper, `controlplane.srvmocker`,
`controlplane_client`, the pytest plugins (entry point names, fixtures, markers,
options) and the `controlplane` console script. The last test checks every public
module's `__all__` against the module itself, rather than restating it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import controlplane_client
import pytest

import controlplane

if TYPE_CHECKING:
    from controlplane.pytest_plugin import ServerInfo
    from controlplane.srvmocker import MockProxyService, MockRoute, MockService


async def test_the_package_gives_the_server_and_its_config() -> None:
    # docs/how-to/in-process.md: `async with ControlplaneServer(config) as server:` and,
    # inside the server's own loop, the AsyncClient.
    from controlplane_client import AsyncClient

    from controlplane import ControlplaneServer, ServerConfig, __version__

    default = ServerConfig()  # what `controlplane serve` listens on without flags
    assert (default.host, default.port, default.admin_host, default.admin_port) == (
        "127.0.0.1",
        8080,
        "127.0.0.1",
        8081,
    )
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        assert server.mock_url.startswith("http://127.0.0.1:")
        assert server.admin_url.startswith("http://127.0.0.1:")
        async with AsyncClient(server.admin_url) as client:
            health = await client.health()
    assert (health.status, health.version) == ("ok", __version__)


def test_threaded_server_and_client_as_the_in_process_how_to_shows() -> None:
    from controlplane_client import Client

    from controlplane.server import ServerConfig
    from controlplane.testing import ThreadedServer

    with ThreadedServer(ServerConfig(port=0, admin_port=0)) as server:
        session = Client(server.admin_url).create_session()
        assert session.mock_url == f"{server.mock_url}/_s/{session.session_id}"
        session.delete_session()


def test_srvmocker_names_the_migration_guide_imports() -> None:
    from controlplane.srvmocker import JsonResponse, MockRoute, start_service

    route = MockRoute("GET", "/fact", "fact")
    assert (route.method, route.path, route.handler_name, route.match) == (
        "GET",
        "/fact",
        "fact",
        None,
    )
    response = JsonResponse({"fact": "Meow."}, status=201)
    assert (response.body, response.status) == ({"fact": "Meow."}, 201)
    # `async with start_service(routes) as service:`
    assert callable(start_service)
    assert hasattr(start_service([route]), "__aenter__")


def test_client_names_the_readme_imports() -> None:
    from controlplane_client import (
        AdminError,
        BadRequest,
        Client,
        ClientError,
        Conflict,
        InvalidInput,
        JsonResponse,
        Match,
        NotFound,
        Route,
        ServerUnavailable,
        Unauthorized,
        WireFormatError,
        contains,
        to_wire,
    )

    route = Route(
        method="POST",
        path="/orders",
        handler="create_order",
        match=Match(headers={"X-Tenant": contains("acme")}),
        response=JsonResponse({"order": 1}, status=201),
    )
    wire = to_wire(route)
    assert (wire["method"], wire["path"], wire["handler"]) == ("POST", "/orders", "create_order")
    assert wire["match"]["headers"] == {"X-Tenant": {"contains": "acme"}}
    assert wire["response"] == {
        "type": "json",
        "status": 201,
        "headers": {},
        "body": {"order": 1},
        "delay": None,
    }
    assert Client("http://127.0.0.1:8081/").admin_url == "http://127.0.0.1:8081"
    for error in (BadRequest, Unauthorized, NotFound, Conflict, InvalidInput):
        assert issubclass(error, AdminError)
    for error in (AdminError, ServerUnavailable, WireFormatError):
        assert issubclass(error, ClientError)
    failure = InvalidInput(422, "invalid", "bad status", "$.response.status")
    assert (failure.status, failure.code, failure.message, failure.location) == (
        422,
        "invalid",
        "bad status",
        "$.response.status",
    )


def test_pytest_plugins_are_registered_under_their_entry_point_names(
    pytestconfig: pytest.Config,
) -> None:
    plugins = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert plugins["controlplane"] == "controlplane.pytest_plugin"
    assert plugins["controlplane_srvmocker"] == "controlplane.pytest_srvmocker"
    manager = pytestconfig.pluginmanager
    assert manager.get_plugin("controlplane") is importlib.import_module(plugins["controlplane"])
    assert manager.get_plugin("controlplane_srvmocker") is importlib.import_module(
        plugins["controlplane_srvmocker"]
    )
    markers = pytestconfig.getini("markers")
    for marker in ("controlplane_allow_unmatched", "controlplane_report_unused"):
        assert any(line.startswith(f"{marker}:") for line in markers), marker
    for option in (
        "controlplane_url",
        "controlplane_allow_unmatched",
        "controlplane_report_unused",
        "controlplane_log",
    ):
        assert hasattr(pytestconfig.option, option), option


def test_the_plugin_fixtures_by_their_documented_names(
    controlplane: controlplane_client.Client,
    controlplane_server: ServerInfo,
) -> None:
    from controlplane.pytest_plugin import ServerInfo

    assert isinstance(controlplane, controlplane_client.Client)
    assert isinstance(controlplane_server, ServerInfo)
    assert controlplane.admin_url == controlplane_server.admin_url
    assert controlplane.mock_url.startswith("http://127.0.0.1:")
    assert isinstance(controlplane_server.client(), controlplane_client.Client)


def test_the_srvmocker_fixtures_by_their_documented_names(
    mock_routes: Iterable[MockRoute], mock_service: MockService, mock_proxy: MockProxyService
) -> None:
    from controlplane.srvmocker import MockProxyService, MockService

    assert list(mock_routes) == []
    assert isinstance(mock_service, MockService)
    assert mock_service.history == []
    assert isinstance(mock_proxy, MockProxyService)
    assert mock_proxy.history == []


def test_the_console_script_runs() -> None:
    script = Path(sys.executable).with_name("controlplane")
    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, f"controlplane {controlplane.__version__}\n")


def _modules_with_all() -> list[str]:
    """Every public module of both packages (no `_`-prefixed part) that declares `__all__`."""
    names = [controlplane.__name__, controlplane_client.__name__]
    for package in (controlplane, controlplane_client):
        for found in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not any(part.startswith("_") for part in found.name.split(".")):
                names.append(found.name)
    return sorted(n for n in names if hasattr(importlib.import_module(n), "__all__"))


@pytest.mark.parametrize("name", _modules_with_all())
def test_all_names_only_what_the_module_has_and_star_import_gives_it(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what it does not have"
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    assert {n: namespace[n] for n in exported} == {n: getattr(module, n) for n in exported}
