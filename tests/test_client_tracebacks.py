"""A failing client call shows the test's line and the message, not the client's frames."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TESTS = """
import pytest
from controlplane_client import AsyncClient, Route

def test_assertion(controlplane):
    controlplane.add_route(Route(method="GET", path="/fact", handler="fact"))
    controlplane.assert_called("fact", times=1)

def test_admin_error(controlplane):
    controlplane.add_route(Route(method="GET", path="/x", handler="h", times=0))

@pytest.mark.asyncio
async def test_async_assertion(controlplane_server):
    async with AsyncClient(controlplane_server.admin_url) as client:
        session = await client.create_session()
        try:
            await session.add_route(Route(method="GET", path="/fact", handler="fact"))
            await session.assert_called("fact", times=1)
        finally:
            await session.delete_session()
"""


@pytest.fixture
def run(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(TESTS)
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)
    result.assert_outcomes(failed=3)
    return result


NEVER = "expected handler 'fact' to be called once, but it was called never."


def test_failures_point_at_the_test_line_with_the_message(run: pytest.Pytester) -> None:
    result = _run(run)
    result.stdout.fnmatch_lines(
        [
            "*_ test_assertion _*",
            '>       controlplane.assert_called("fact", times=1)',
            f"E       AssertionError: {NEVER}",
            "",
            "test_failures_point_at_the_test_line_with_the_message.py:6: AssertionError",
            "*_ test_admin_error _*",
            '>       controlplane.add_route(Route(method="GET", path="/x", handler="h", times=0))',
            "E       controlplane_client.errors.InvalidInput: 422 invalid_input: "
            "`times` is null (unlimited) or >= 1 (at $.times)",
            "",
            "test_failures_point_at_the_test_line_with_the_message.py:9: InvalidInput",
            "*_ test_async_assertion _*",
            '>               await session.assert_called("fact", times=1)',
            f"E               AssertionError: {NEVER}",
        ]
    )
    assert "controlplane_client" + "/" not in result.stdout.str()


def test_full_trace_still_shows_the_client_frames(run: pytest.Pytester) -> None:
    result = _run(run, "--full-trace")
    output = result.stdout.str()
    for module in ("client.py", "aio.py"):
        assert f"controlplane_client/{module}:" in output, module
