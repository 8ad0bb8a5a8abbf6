"""asyncly's srvmocker pytest fixtures (`mock_routes`, `mock_service`, `mock_proxy`), shipped
with controlplane.

Loaded through the `controlplane_srvmocker` pytest11 entry point. Imports stay lazy:
loading this plugin must not import aiohttp. Override `mock_routes` to declare the
service's routes:

    @pytest.fixture
    def mock_routes():
        return [MockRoute("GET", "/x", "x")]

    async def test_x(mock_service):
        mock_service.register("x", JsonResponse({"ok": True}))

`mock_proxy` is a forwarding proxy (`start_proxy()`): point a client at
`mock_proxy.url`. All three are plain (synchronous) fixtures, since each server runs in
its own thread: they work under pytest-asyncio's strict mode, its auto mode, and
without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from controlplane.srvmocker import MockProxyService, MockRoute, MockService


@pytest.fixture
def mock_routes() -> Iterable[MockRoute]:
    """The routes `mock_service` serves; override it in a test module or class."""
    return []


@pytest.fixture
def mock_service(mock_routes: Iterable[MockRoute]) -> Iterator[MockService]:
    """A started srvmocker service serving `mock_routes`, stopped after the test."""
    from controlplane.srvmocker.service import running_service

    with running_service(mock_routes) as service:
        yield service


@pytest.fixture
def mock_proxy() -> Iterator[MockProxyService]:
    """A started forwarding proxy (asyncly's `start_proxy()`), stopped after the test."""
    from controlplane.srvmocker.proxy import running_proxy

    with running_proxy() as proxy:
        yield proxy
