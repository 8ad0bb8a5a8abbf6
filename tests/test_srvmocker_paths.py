"""asyncly's srvmocker module paths and pytest fixtures, as asyncly's users reach them."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import controlplane.srvmocker as srvmocker

pytest_plugins = ["pytester"]

#: Every public module of asyncly 0.10.1's `asyncly.srvmocker` and the names it exports.
ASYNCLY_PATHS = {
    "": (
        "BaseMockResponse",
        "ContentResponse",
        "DisconnectResponse",
        "JsonResponse",
        "LatencyResponse",
        "Match",
        "MissingResponseError",
        "MockProxyService",
        "MockRoute",
        "MockService",
        "RawResponse",
        "RecordedRequest",
        "RequestHistory",
        "SequenceExhausted",
        "SequenceResponse",
        "SrvMockerError",
        "TruncatedResponse",
        "UnknownHandlerError",
        "start_proxy",
        "start_service",
    ),
    ".exceptions": (
        "MissingResponseError",
        "NoMatchError",
        "SequenceExhausted",
        "SrvMockerError",
        "UnknownHandlerError",
    ),
    ".matching": ("Match",),
    ".models": ("MockRoute", "MockService", "RecordedRequest", "RequestHistory"),
    ".service": ("start_service",),
    ".proxy": ("MockProxyService", "start_proxy"),
    ".responses": ("DisconnectResponse", "LatencyResponse", "RawResponse", "TruncatedResponse"),
    ".responses.base": ("BaseMockResponse",),
    ".responses.content": ("ContentResponse",),
    ".responses.faults": ("DisconnectResponse", "TruncatedResponse"),
    ".responses.json": ("JsonResponse",),
    ".responses.msgpack": ("MsgpackResponse",),
    ".responses.raw": ("RawResponse",),
    ".responses.sequence": ("SequenceResponse", "OnExhausted"),
    ".responses.timeout": ("LatencyResponse", "TimeoutType"),
    ".responses.toml": ("TomlResponse",),
    ".responses.yaml": ("YamlResponse",),
    ".serialization.base": ("Serializer",),
    ".serialization.json": ("JsonSerializer",),
    ".serialization.msgpack": ("MsgpackSerializer",),
    ".serialization.toml": ("TomlSerializer",),
    ".serialization.yaml": ("YamlSerializer",),
}


@pytest.mark.parametrize("suffix", sorted(ASYNCLY_PATHS))
def test_each_asyncly_module_path_exports_the_same_names(suffix: str) -> None:
    module = importlib.import_module(f"controlplane.srvmocker{suffix}")
    for name in ASYNCLY_PATHS[suffix]:
        value = getattr(module, name)
        # One object whichever path it is imported from.
        if hasattr(srvmocker, name):
            assert value is getattr(srvmocker, name), (suffix, name)


def test_the_package_exports_asyncly_names_plus_the_format_responses() -> None:
    assert set(srvmocker.__all__) == set(ASYNCLY_PATHS[""]) | {
        "MsgpackResponse",
        "TomlResponse",
        "YamlResponse",
    }


def test_the_fixture_plugin_does_not_import_aiohttp() -> None:
    probe = "import sys, controlplane.pytest_srvmocker; print('aiohttp' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


FIXTURE_SUITE = textwrap.dedent(
    """
    import aiohttp
    import pytest

    from controlplane.srvmocker import JsonResponse, MockRoute


    @pytest.fixture
    def mock_routes():
        return [MockRoute("GET", "/x", "x")]


    @pytest.mark.asyncio
    async def test_module_routes(mock_service):
        mock_service.register("x", JsonResponse({"ok": True}))
        async with aiohttp.ClientSession() as http:
            async with http.get(mock_service.url / "x") as answer:
                assert await answer.json() == {"ok": True}
        mock_service.assert_called("x", times=1)


    def test_sync_test_gets_the_service_too(mock_service):
        assert mock_service.get_calls("x") == [] and mock_service.history == []


    class TestSuiteOverride:
        @pytest.fixture
        def mock_routes(self):
            return [MockRoute("GET", "/ping", "ping")]

        @pytest.mark.asyncio
        async def test_class_routes(self, mock_service):
            mock_service.register("ping", JsonResponse("pong"))
            async with aiohttp.ClientSession() as http:
                async with http.get(mock_service.url / "ping") as answer:
                    assert await answer.json() == "pong"
    """
)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_mock_routes_and_mock_service_fixtures_work_in_both_asyncio_modes(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makepyfile(test_fixtures=FIXTURE_SUITE)
    pytester.makepyfile(
        test_defaults=textwrap.dedent(
            """
            def test_default_routes_are_empty(mock_routes, mock_service):
                assert list(mock_routes) == [] and mock_service.history == []
            """
        )
    )
    pytester.makeini(
        "[pytest]\n"
        f"asyncio_mode = {mode}\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "python_classes = TestSuite*\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
