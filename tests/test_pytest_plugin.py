"""The pytest plugin, run with pytester: fixtures, strictness, shared instances, xdist,
what it costs when unused, and failures a person can act on."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.pytest_plugin import ServerInfo
from tests.conftest import ThreadedServer

pytest_plugins = ["pytester"]

ROUTE = """
import urllib.error, urllib.request
from controlplane_client import JsonResponse, Route

def add_fact(controlplane):
    controlplane.add_route(Route(method="GET", path="/fact", handler="fact",
                                 response=JsonResponse({"fact": "Meow."})))

def hit(controlplane, path):
    try:
        urllib.request.urlopen(controlplane.mock_url + path).read()
    except urllib.error.HTTPError:
        pass
"""

#: What a run writes about its own process when its session ends (each xdist node too).
PROBE = """
import json, os, sys, threading

def _listening_ports():
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as handle:
            for row in handle.read().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports

def pytest_sessionfinish(session):
    node = getattr(session.config, "workerinput", {}).get("workerid", "main")
    record = {
        "threads": [t.name for t in threading.enumerate()],
        "ports": _listening_ports(),
        "aiohttp": "aiohttp" in sys.modules,
    }
    with open(os.path.join(os.environ["PROBE_DIR"], node + ".json"), "w") as handle:
        json.dump(record, handle)
"""

UNMATCHED_HEADER = (
    "controlplane: 1 request matched no route "
    "(mark the test `controlplane_allow_unmatched` if that is expected):"
)


@pytest.fixture(autouse=True)
def _quiet_ini(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    # Under CI (CI or BUILD_NUMBER set) pytest repeats each failure's whole message
    # in the short summary; the inner runs must read the same on every machine.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def _run_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


# ---------------------------------------------------------------- fixtures


def test_sync_test_gets_a_fresh_session_that_is_deleted_after(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ROUTE
        + """
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


# ---------------------------------------------------------------- one failure per mistake


def test_an_unmatched_request_fails_the_test_itself_once_with_its_near_miss(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import pytest

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
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= FAILURES =*",
            "*_ test_strict _*",
            UNMATCHED_HEADER,
            "  #1 GET /facts -> 404",
            "    near miss: route * (handler 'fact')",
            "      path: expected /fact, got /facts",
            "*= short test summary info =*",
            "FAILED *::test_strict*",
        ]
    )
    assert "ERROR" not in result.stdout.str()
    assert result.stdout.str().count("GET /facts -> 404") == 1
    _run(pytester, "--controlplane-allow-unmatched").assert_outcomes(passed=2)


def test_a_failing_test_carries_its_unmatched_requests_in_its_own_failure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import pytest

def test_asserts(controlplane):
    add_fact(controlplane)
    hit(controlplane, "/facts")
    assert 1 == 2

def test_fails(controlplane):
    add_fact(controlplane)
    hit(controlplane, "/facts")
    pytest.fail("boom", pytrace=False)
"""
    )
    result = _run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_asserts _*",
            ">       assert 1 == 2",
            "E       assert 1 == 2",
            "E       ",
            f"E       {UNMATCHED_HEADER}",
            "E         #1 GET /facts -> 404",
            "E           near miss: route * (handler 'fact')",
            "E             path: expected /fact, got /facts",
            "*_ test_fails _*",
            "boom",
            "",
            UNMATCHED_HEADER,
            "  #1 GET /facts -> 404",
        ]
    )
    assert "ERROR" not in result.stdout.str()


def test_requests_made_during_teardown_fail_the_teardown_once_each(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import pytest

@pytest.fixture
def late(controlplane):
    yield
    hit(controlplane, "/late")

def test_both(controlplane, late):
    add_fact(controlplane)
    hit(controlplane, "/early")
"""
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_both _*",
            "controlplane: 1 request matched no route during teardown "
            "(mark the test `controlplane_allow_unmatched` if that is expected):",
            "  #2 GET /late -> 404",
            "*_ test_both _*",
            UNMATCHED_HEADER,
            "  #1 GET /early -> 404",
        ]
    )
    output = result.stdout.str()
    assert output.count("GET /early -> 404") == 1 and output.count("GET /late -> 404") == 1


def test_skips_and_xfails_are_left_as_they_are(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import pytest

def test_skips(controlplane):
    hit(controlplane, "/nothing")
    pytest.skip("not today")

@pytest.mark.xfail(reason="known bug")
def test_expected_to_fail(controlplane):
    hit(controlplane, "/nothing")
    assert False
"""
    )
    _run(pytester).assert_outcomes(skipped=1, xfailed=1)


def test_unused_handlers_fail_the_test_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ROUTE
        + """
def test_declares_but_never_calls(controlplane):
    add_fact(controlplane)
"""
    )
    _run(pytester).assert_outcomes(passed=1)
    result = _run(pytester, "--controlplane-report-unused")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*_ test_declares_but_never_calls _*", "handlers declared but never called: 'fact'"]
    )


# ---------------------------------------------------------------- a shared instance


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
    _run(pytester, f"--controlplane-url={controlplane_server.admin_url}/").assert_outcomes(passed=1)
    monkeypatch.setenv("CONTROLPLANE_URL", controlplane_server.admin_url)
    _run(pytester).assert_outcomes(passed=1)


THREE_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_x(controlplane, n):
    pass
"""


@pytest.fixture
def not_controlplane() -> Iterator[str]:
    """An HTTP server that answers every GET with a 404 page: something, but not ours."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _wrong_urls(cp_server: ThreadedServer, other: str) -> list[tuple[str, str]]:
    dead = "http://127.0.0.1:9"
    return [
        (
            dead,
            f"controlplane: no answer at {dead} ([Errno 111] Connection refused). Is the "
            "server running, and is this its admin URL? (--controlplane-url / $CONTROLPLANE_URL)",
        ),
        (
            cp_server.mock_url,
            f"controlplane: {cp_server.mock_url} is controlplane's mock port, not its admin "
            "port. Pass the admin URL (`admin_url` of the `ready` log line or of the ready "
            "file; port 8081 by default) as --controlplane-url / $CONTROLPLANE_URL",
        ),
        (
            other,
            f"controlplane: {other} answers GET /health with HTTP 404, not as a controlplane "
            "admin API. Pass the admin URL of a running controlplane as --controlplane-url "
            "/ $CONTROLPLANE_URL",
        ),
    ]


def test_a_wrong_url_aborts_the_run_once_saying_what_is_wrong(
    pytester: pytest.Pytester, cp_server: ThreadedServer, not_controlplane: str
) -> None:
    pytester.makepyfile(THREE_TESTS)
    for url, message in _wrong_urls(cp_server, not_controlplane):
        result = _run(pytester, f"--controlplane-url={url}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.assert_outcomes()
        output = result.stdout.str()
        assert output.count(message) == 1, output
        assert output.count("controlplane:") == 1, output


def test_a_wrong_url_aborts_an_xdist_run_once(
    pytester: pytest.Pytester, cp_server: ThreadedServer
) -> None:
    pytester.makepyfile(THREE_TESTS)
    [_, (url, message), _] = _wrong_urls(cp_server, "unused")
    result = _run_subprocess(pytester, "-n", "2", f"--controlplane-url={url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str()
    assert output.count(message) == 1 and "INTERNALERROR" not in output, output
    result.assert_outcomes()


def test_a_wrong_url_is_not_contacted_when_no_test_uses_the_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    _run(pytester, "--controlplane-url=http://127.0.0.1:9").assert_outcomes(passed=1)


# ---------------------------------------------------------------- xdist


def test_xdist_workers_share_one_server_each_test_its_own_session(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    out = tmp_path / "seen"
    out.mkdir()
    pytester.makepyfile(
        ROUTE
        + f"""
import json, os, pytest

@pytest.mark.parametrize("n", range(6))
def test_isolated(controlplane, controlplane_server, n):
    add_fact(controlplane)
    urllib.request.urlopen(controlplane.mock_url + "/fact").read()
    controlplane.assert_called("fact", times=1)
    assert controlplane_server.started_here
    record = {{"admin": controlplane_server.admin_url, "session": controlplane.session_id,
              "worker": os.environ.get("PYTEST_XDIST_WORKER")}}
    with open(os.path.join({str(out)!r}, f"{{n}}.json"), "w") as handle:
        json.dump(record, handle)
"""
    )
    result = _run_subprocess(pytester, "-n", "2")
    result.assert_outcomes(passed=6)
    records = [json.loads(p.read_text()) for p in out.iterdir()]
    assert len({r["admin"] for r in records}) == 1
    assert len({r["session"] for r in records}) == 6
    assert len({r["worker"] for r in records}) == 2


def test_an_xdist_worker_asking_only_at_run_time_gets_a_server_of_its_own(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        ROUTE
        + """
def test_dynamic(request):
    controlplane = request.getfixturevalue("controlplane")
    add_fact(controlplane)
    urllib.request.urlopen(controlplane.mock_url + "/fact").read()
    controlplane.assert_called("fact", times=1)
"""
    )
    _run_subprocess(pytester, "-n", "2").assert_outcomes(passed=1)


# ---------------------------------------------------------------- the cost when unused


def test_importing_the_plugin_imports_neither_aiohttp_nor_the_server() -> None:
    code = (
        "import sys, controlplane.pytest_plugin, controlplane;"
        "heavy = ['aiohttp', 'structlog', 'msgspec', 'controlplane.server', 'controlplane_client'];"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", "import json;" + code], capture_output=True, text=True, check=True
    )
    assert json.loads(answer.stdout) == []


def test_the_package_names_load_on_first_access() -> None:
    code = (
        "import sys, controlplane; before = 'aiohttp' in sys.modules;"
        "from controlplane import ControlplaneServer, ServerConfig;"
        "from controlplane.server import ControlplaneServer as S, ServerConfig as C;"
        "print(before, ControlplaneServer is S and ServerConfig is C, controlplane.__version__);"
        "controlplane.nope"
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    from controlplane import __version__

    assert answer.stdout.split() == ["False", "True", __version__]
    assert answer.stderr.splitlines()[-1] == (
        "AttributeError: module 'controlplane' has no attribute 'nope'"
    )


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
@pytest.mark.parametrize("uses_fixture", [False, True], ids=["no-fixture", "fixture"])
def test_no_server_starts_until_a_test_asks_for_one(
    pytester: pytest.Pytester,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    xdist: list[str],
    uses_fixture: bool,
) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    monkeypatch.setenv("PROBE_DIR", str(probe))
    pytester.makeconftest(PROBE)
    argument = "controlplane" if uses_fixture else ""
    pytester.makepyfile(f"def test_one({argument}):\n    pass\n")
    _run_subprocess(pytester, *xdist).assert_outcomes(passed=1)
    records = {p.stem: json.loads(p.read_text()) for p in probe.iterdir()}
    assert set(records) == ({"main", "gw0", "gw1"} if xdist else {"main"})
    # The server runs in the process that started it: the controller under xdist.
    started = {"main": uses_fixture} | {worker: False for worker in records if worker != "main"}
    for node, record in records.items():
        assert ("controlplane" in record["threads"]) is started[node], (node, record)
        assert bool(record["ports"]) is started[node], (node, record)
        assert record["aiohttp"] is started[node], (node, record)


# ---------------------------------------------------------------- server logs


LOGGED = (
    ROUTE
    + """
def test_fails(controlplane):
    add_fact(controlplane)
    assert False
"""
)


def test_server_log_lines_stay_out_of_failures_unless_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LOGGED)
    quiet = _run_subprocess(pytester)
    quiet.assert_outcomes(failed=1)
    assert "route_added" not in quiet.stdout.str() and "Captured stdout" not in quiet.stdout.str()
    loud = _run_subprocess(pytester, "--controlplane-log")
    loud.assert_outcomes(failed=1)
    loud.stdout.fnmatch_lines(["*- Captured stdout call -*", "*route_added*handler=fact*"])


def test_the_log_filter_leaves_other_structlog_events_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        ROUTE
        + """
import structlog

def test_logs(controlplane):
    add_fact(controlplane)
    structlog.get_logger().info("from_the_test")
    assert False
"""
    )
    result = _run_subprocess(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*from_the_test*"])
    assert "route_added" not in result.stdout.str()
