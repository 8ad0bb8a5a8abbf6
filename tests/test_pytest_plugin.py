"""The pytest plugin, run with pytester: fixtures, strictness, shared instances, xdist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.pytest_plugin import ServerInfo

pytest_plugins = ["pytester"]

ROUTE = """
from controlplane_client import JsonResponse, Route

def add_fact(controlplane):
    controlplane.add_route(Route(method="GET", path="/fact", handler="fact",
                                 response=JsonResponse({"fact": "Meow."})))
"""


@pytest.fixture(autouse=True)
def _quiet_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_sync_test_gets_a_fresh_session_that_is_deleted_after(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import urllib.request
from controlplane_client import Client

SEEN = []

def test_one(controlplane, controlplane_server):
    add_fact(controlplane)
    assert urllib.request.urlopen(controlplane.mock_url + "/fact").read() == b'{"fact":"Meow."}'
    controlplane.assert_called("fact", times=1)
    assert controlplane_server.started_here
    SEEN.append(controlplane.session_id)

def test_two(controlplane, controlplane_server):
    assert controlplane.routes() == []
    ids = [s.id for s in Client(controlplane_server.admin_url).sessions()]
    assert SEEN[0] not in ids and controlplane.session_id in ids
"""
    )
    _run(pytester).assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_tests_work_in_both_asyncio_modes(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import aiohttp, pytest

@pytest.mark.asyncio
async def test_marked(controlplane):
    add_fact(controlplane)
    async with aiohttp.ClientSession() as http:
        async with http.get(controlplane.mock_url + "/fact") as answer:
            assert await answer.json() == {"fact": "Meow."}
    controlplane.assert_called("fact", times=1)  # sync, inside the loop: no deadlock
"""
    )
    _run(pytester, "-o", f"asyncio_mode={mode}").assert_outcomes(passed=1)


def test_unmatched_requests_fail_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import urllib.error, urllib.request, pytest

def hit(controlplane, path):
    try:
        urllib.request.urlopen(controlplane.mock_url + path)
    except urllib.error.HTTPError:
        pass

def test_strict(controlplane):
    add_fact(controlplane)
    hit(controlplane, "/facts")

@pytest.mark.controlplane_allow_unmatched
def test_allowed(controlplane):
    add_fact(controlplane)
    hit(controlplane, "/facts")
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_strict*",
            "*1 request matched no route*",
            "*GET /facts -> 404*",
            "*near miss: route * (handler 'fact')*",
            "*path: expected /fact, got /facts*",
        ]
    )
    _run(pytester, "--controlplane-allow-unmatched").assert_outcomes(passed=2)


def test_unused_handlers_are_reported_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ROUTE
        + """
def test_declares_but_never_calls(controlplane):
    add_fact(controlplane)
"""
    )
    _run(pytester).assert_outcomes(passed=1)
    result = _run(pytester, "--controlplane-report-unused")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*handlers declared but never called: 'fact'*"])


def test_a_running_server_is_shared_by_url(
    pytester: pytest.Pytester, controlplane_server: ServerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        f"""
def test_uses_it(controlplane, controlplane_server):
    assert not controlplane_server.started_here
    assert controlplane_server.admin_url == {controlplane_server.admin_url!r}
    assert controlplane.mock_url.startswith("http://")
"""
    )
    _run(pytester, f"--controlplane-url={controlplane_server.admin_url}").assert_outcomes(passed=1)
    monkeypatch.setenv("CONTROLPLANE_URL", controlplane_server.admin_url)
    _run(pytester).assert_outcomes(passed=1)


def test_a_wrong_url_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(controlplane):\n    pass\n")
    result = _run(pytester, "--controlplane-url=http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no answer from the controlplane admin API*"])


def test_xdist_workers_share_one_server_each_test_its_own_session(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    pytester.makepyfile(
        ROUTE
        + f"""
import json, os, urllib.request, pytest

@pytest.mark.parametrize("n", range(6))
def test_isolated(controlplane, controlplane_server, n):
    add_fact(controlplane)
    urllib.request.urlopen(controlplane.mock_url + "/fact").read()
    controlplane.assert_called("fact", times=1)
    record = {{"admin": controlplane_server.admin_url, "session": controlplane.session_id,
              "worker": os.environ.get("PYTEST_XDIST_WORKER")}}
    with open(os.path.join({str(out)!r}, f"{{n}}.json"), "w") as handle:
        json.dump(record, handle)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=6)
    records = [json.loads(p.read_text()) for p in out.iterdir()]
    assert len({r["admin"] for r in records}) == 1
    assert len({r["session"] for r in records}) == 6
    assert len({r["worker"] for r in records}) == 2
