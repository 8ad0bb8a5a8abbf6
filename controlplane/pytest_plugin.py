"""The pytest plugin (entry point `pytest11: controlplane`).

Fixtures:

- `controlplane_server` (session): where the server is. With `--controlplane-url URL`
  or `CONTROLPLANE_URL` (the admin URL of a running server) that server is used;
  otherwise one is started in a background thread for the run. Under pytest-xdist
  without a URL, the controller starts one and every worker shares it.
- `controlplane` (function): a `controlplane_client.Client` bound to a fresh session on
  that server, deleted after the test. Point the code under test at
  `controlplane.mock_url`.

Strict by default: a test fails at teardown when its session received requests that
matched no route (listed with their near misses). `@pytest.mark.controlplane_allow_unmatched`
or `--controlplane-allow-unmatched` turns that off. With
`@pytest.mark.controlplane_report_unused` or `--controlplane-report-unused`, a test
also fails when a handler it declared was never called.

The fixtures are synchronous and the server never runs in the test's event loop, so
they work in plain tests and in pytest-asyncio's strict and auto modes alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from controlplane_client import Client, UnmatchedRequest

    from controlplane.testing import ThreadedServer

__all__ = ["ServerInfo"]

ENV_URL = "CONTROLPLANE_URL"
_WORKER_KEY = "controlplane_url"
_ALLOW_UNMATCHED = "controlplane_allow_unmatched"
_REPORT_UNUSED = "controlplane_report_unused"


@dataclass(frozen=True)
class ServerInfo:
    """The server the fixtures use: its admin URL, and whether this run started it."""

    admin_url: str
    started_here: bool

    def client(self) -> Client:
        """A client of the `default` session."""
        return _client_class()(self.admin_url)


def _client_class() -> type[Client]:
    try:
        from controlplane_client import Client
    except ImportError:  # pragma: no cover - depends on the installation
        raise pytest.UsageError(
            "the controlplane fixtures need the Python client: pip install -e clients/python"
        ) from None
    return Client


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("controlplane", "controlplane HTTP mock server")
    group.addoption(
        "--controlplane-url",
        default=None,
        help=f"admin URL of a running controlplane to share (default: ${ENV_URL}, "
        "else start one in-process)",
    )
    group.addoption(
        "--controlplane-allow-unmatched",
        action="store_true",
        default=False,
        help="do not fail tests whose session received requests that matched no route",
    )
    group.addoption(
        "--controlplane-report-unused",
        action="store_true",
        default=False,
        help="fail tests that declared a handler which was never called",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_ALLOW_UNMATCHED}: do not fail this test when its controlplane session "
        "received requests that matched no route",
    )
    config.addinivalue_line(
        "markers",
        f"{_REPORT_UNUSED}: fail this test when a controlplane handler it declared "
        "was never called",
    )
    # Under pytest-xdist, the controller (not the workers) shares one server.
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_XdistController(), "controlplane-xdist")


def _given_url(config: pytest.Config) -> str | None:
    url = config.getoption("--controlplane-url") or os.environ.get(ENV_URL)
    if url:
        return str(url)
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get(_WORKER_KEY):
        return str(workerinput[_WORKER_KEY])
    return None


def _start_thread() -> ThreadedServer:
    from controlplane.server import ServerConfig
    from controlplane.testing import ThreadedServer

    return ThreadedServer(ServerConfig(port=0, admin_port=0)).start()


class _XdistController:
    """Under pytest-xdist, the controller starts one server and hands workers its URL."""

    def __init__(self) -> None:
        self.server: ThreadedServer | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if _given_url(node.config) is not None:
            return
        if self.server is None:
            self.server = _start_thread()
        node.workerinput[_WORKER_KEY] = self.server.admin_url

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="session")
def controlplane_server(pytestconfig: pytest.Config) -> Iterator[ServerInfo]:
    """The controlplane server of this run (shared, or started in a thread)."""
    url = _given_url(pytestconfig)
    if url is not None:
        info = ServerInfo(admin_url=url.rstrip("/"), started_here=False)
        info.client().health()  # fail early, and clearly, when nothing listens there
        yield info
        return
    server = _start_thread()
    try:
        yield ServerInfo(admin_url=server.admin_url, started_here=True)
    finally:
        server.stop()


@pytest.fixture
def controlplane(
    request: pytest.FixtureRequest, controlplane_server: ServerInfo
) -> Iterator[Client]:
    """A client bound to a fresh session, deleted after the test; strict about unmatched."""
    client = controlplane_server.client()
    session = client.create_session(name=request.node.nodeid[-200:])
    failed = False
    try:
        yield session
        problems = []
        if not _flag(request, _ALLOW_UNMATCHED, "--controlplane-allow-unmatched"):
            unmatched = session.unmatched().requests
            if unmatched:
                problems.append(describe_unmatched(unmatched))
        if _flag(request, _REPORT_UNUSED, "--controlplane-report-unused"):
            unused = [h.name for h in session.handlers() if h.calls == 0]
            if unused:
                problems.append(
                    "handlers declared but never called: " + ", ".join(map(repr, unused))
                )
        if problems:
            failed = True
            pytest.fail("\n\n".join(problems), pytrace=False)
    finally:
        try:
            session.delete_session()
        except Exception:
            if not failed:
                raise


def _flag(request: pytest.FixtureRequest, marker: str, option: str) -> bool:
    return request.node.get_closest_marker(marker) is not None or bool(
        request.config.getoption(option)
    )


def describe_unmatched(requests: list[UnmatchedRequest]) -> str:
    """The teardown message: each unmatched request with its near misses."""
    from controlplane_client import describe_call

    count = len(requests)
    lines = [
        f"controlplane: {count} request{'s' if count != 1 else ''} matched no route "
        f"(mark the test `{_ALLOW_UNMATCHED}` if that is expected):"
    ]
    for entry in requests:
        lines.append(f"  {describe_call(entry)}")
        if not entry.near_misses:
            lines.append("    no route comes close")
        for miss in entry.near_misses:
            lines.append(f"    near miss: route {miss.route_id} (handler {miss.handler!r})")
            lines.extend(
                f"      {d.field}: expected {d.expected}, got {d.actual}" for d in miss.diffs
            )
    return "\n".join(lines)
