"""asyncly's srvmocker pytest fixtures (`mock_routes`, `mock_service`), shipped with controlplane.

Loaded through the `controlplane_srvmocker` pytest11 entry point. Imports stay lazy:
loading this plugin must not import aiohttp. Override `mock_routes` to declare the
service's routes:

    @pytest.fixture
    def mock_routes():
        return [MockRoute("GET", "/x", "x")]

    async def test_x(mock_service):
        mock_service.register("x", JsonResponse({"ok": True}))

`mock_service` is a plain (synchronous) fixture, since the server runs in its own
thread: it works under pytest-asyncio's strict mode, its auto mode, and without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from controlplane.srvmocker import MockRoute, MockService


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
