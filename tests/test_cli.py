"""`controlplane` on the command line, as real processes on free ports."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from controlplane._version import __version__
from controlplane.server import ControlplaneServer, ServerConfig
from tests.process import ServerProcess, run_cli, serve_process

REPO = Path(__file__).resolve().parent.parent
HELLO: dict[str, Any] = {
    "method": "GET",
    "path": "/hello",
    "handler": "hello",
    "response": {"type": "json", "body": {"hi": "there"}},
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with serve_process(tmp_path, "--log-format", "json") as running:
        yield running


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_version_prints_the_package_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"controlplane {__version__}"


def test_python_dash_m_controlplane_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controlplane", "--version"],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"controlplane {__version__}"


def test_ready_file_holds_both_urls_and_the_pid(server: ServerProcess) -> None:
    ready = json.loads(server.ready_file.read_text())
    assert set(ready) == {"mock_url", "admin_url", "pid"}
    assert ready["pid"] == server.proc.pid
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", ready["mock_url"])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", ready["admin_url"])
    assert ready["mock_url"] != ready["admin_url"]


def test_ready_file_leaves_no_temporary_file_behind(server: ServerProcess) -> None:
    # Written to a temporary name in the same directory, then renamed into place.
    assert [p.name for p in server.ready_file.parent.iterdir()] == [server.ready_file.name]


def test_one_ready_event_carries_both_urls_and_the_uvloop_loop(server: ServerProcess) -> None:
    ready = [event for event in server.events() if event["event"] == "ready"]
    assert len(ready) == 1
    assert ready[0]["mock_url"] == server.mock_url
    assert ready[0]["admin_url"] == server.admin_url
    assert ready[0]["pid"] == server.proc.pid
    assert ready[0]["loop"] == "uvloop"


def test_serves_a_route_registered_through_the_admin_api(server: ServerProcess) -> None:
    added = requests.post(f"{server.admin_url}/api/routes", json=HELLO, timeout=5)
    assert added.status_code == 201, added.text
    answer = requests.get(f"{server.mock_url}/hello", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"hi": "there"}


def test_admin_on_mock_port_serves_both_apis_on_the_mock_port(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--admin-on-mock-port", "--admin-token", "t") as running:
        auth = {"Authorization": "Bearer t"}
        native = f"{running.mock_url}/__admin/api/routes"
        assert requests.post(native, json=HELLO, headers=auth, timeout=5).status_code == 201
        listed = requests.get(f"{running.mock_url}/__admin/mappings", headers=auth, timeout=5)
        assert listed.json() == {"mappings": [], "meta": {"total": 0}}
        refused = requests.get(f"{running.mock_url}/__admin/mappings", timeout=5)
        assert refused.status_code == 401  # the token guards the admin API here too
        assert requests.get(f"{running.mock_url}/hello", timeout=5).json() == {"hi": "there"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly_with_exit_0(server: ServerProcess, signum: int) -> None:
    # An open keep-alive connection must not hold the shutdown up.
    with requests.Session() as client:
        assert client.get(f"{server.admin_url}/health", timeout=5).status_code == 200
        started = time.monotonic()
        assert server.stop(signum) == 0
    assert time.monotonic() - started < 3
    names = [event["event"] for event in server.events()]
    assert names[-2:] == ["stopping", "stopped"]
    assert "Traceback" not in server.stderr


def test_ready_file_is_removed_on_clean_shutdown(server: ServerProcess) -> None:
    assert server.ready_file.exists()
    assert server.stop() == 0
    assert not server.ready_file.exists()


def test_ready_file_rewritten_by_someone_else_is_left_alone(server: ServerProcess) -> None:
    server.ready_file.write_text('{"pid": 1}')
    assert server.stop() == 0
    assert server.ready_file.read_text() == '{"pid": 1}'


def test_journal_size_zero_is_a_usage_error() -> None:
    done = run_cli("serve", "--port", "0", "--admin-port", "0", "--journal-size", "0")
    assert done.returncode == 2
    assert "--journal-size must be >= 1, got 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_out_of_range_port_is_a_usage_error() -> None:
    done = run_cli("serve", "--port", "70000", "--admin-port", "0")
    assert done.returncode == 2
    assert "--port must be 0 (pick a free port) to 65535, got 70000" in done.stderr


@pytest.mark.parametrize("flag", ["--port", "--admin-port"])
def test_taken_port_fails_with_cannot_start(taken_port: int, flag: str) -> None:
    ports = {"--port": "0", "--admin-port": "0", flag: str(taken_port)}
    args = [part for pair in ports.items() for part in pair]
    done = run_cli("serve", *args, "--log-format", "json")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert [event["event"] for event in events] == ["cannot_start"]
    assert events[0]["level"] == "error"
    assert events[0]["code"] == "cannot_start"
    message = events[0]["message"]
    assert f"127.0.0.1:{taken_port}" in message
    assert "address already in use" in message
    assert f"choose another {flag}" in message


def test_makefile_serve_target_passes_args() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^serve:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None, "the Makefile has no `serve` target"
    assert re.search(r"controlplane serve \$\(ARGS\)", recipe.group(1))


async def test_stop_does_not_wait_for_long_delays_beyond_the_grace() -> None:
    config = ServerConfig(port=0, admin_port=0, shutdown_grace=0.2)
    slow = {**HELLO, "response": {"type": "json", "body": 1, "delay": {"fixed_ms": 30_000}}}
    async with (
        ControlplaneServer(config) as server,
        httpx.AsyncClient(timeout=10) as client,
    ):
        assert (await client.post(f"{server.admin_url}/api/routes", json=slow)).status_code == 201
        in_flight = asyncio.create_task(client.get(f"{server.mock_url}/hello"))
        journal = server.store.default.journal
        async with asyncio.timeout(5):  # journaled before the delay starts
            while not len(journal):
                await asyncio.sleep(0.005)
        started = time.monotonic()
        await server.stop()  # the second stop, on leaving the block, does nothing
        assert time.monotonic() - started < 2
        with pytest.raises(httpx.HTTPError):
            await in_flight


@pytest.mark.parametrize("flag", ["--wiremock-global-templating", "--global-response-templating"])
def test_global_templating_flag_templates_wiremock_stubs_only(tmp_path: Path, flag: str) -> None:
    with serve_process(tmp_path, flag) as running:
        stub = {"request": {"urlPath": "/stub"}, "response": {"body": "{{request.path}}"}}
        created = requests.post(f"{running.admin_url}/__admin/mappings", json=stub, timeout=10)
        assert created.status_code == 201, created.text
        native = {**HELLO, "response": {"type": "raw", "body": "{{request.path}}"}}
        added = requests.post(f"{running.admin_url}/api/routes", json=native, timeout=10)
        assert added.status_code == 201, added.text
        assert requests.get(f"{running.mock_url}/stub", timeout=10).text == "/stub"
        assert requests.get(f"{running.mock_url}/hello", timeout=10).text == "{{request.path}}"


#: What `controlplane serve` imports before it serves (`cli.main` imports the server).
_START_UP = "import controlplane.cli, controlplane.server"


def _printed_by(probe: str, *args: str) -> list[str]:
    """The words a fresh Python process running `probe` prints (it fails the test if the
    probe raises)."""
    answer = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return answer.stdout.split()


def test_start_up_runs_no_collection_pass_and_serves_with_the_collector_on(
    tmp_path: Path,
) -> None:
    """Start-up makes a few hundred thousand objects and no garbage: the collector is off
    until the server is up (no pass before the freeze), then on, with what start-up made
    frozen out of its passes."""
    probe = """
import gc, os, signal, sys, threading, time
from pathlib import Path
import controlplane.cli as cli
ready = Path(sys.argv[1])
passes = []  # the frozen objects' count at each collection pass: 0 before the freeze
gc.callbacks.append(lambda phase, info: phase == "start" and passes.append(gc.get_freeze_count()))
seen = []
def watch():
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ready.exists() and ready.stat().st_size and gc.isenabled():
            break
        time.sleep(0.01)
    seen.extend((passes.count(0), gc.isenabled(), gc.get_freeze_count() > 10_000))
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
code = cli.main(["serve", "--port", "0", "--admin-port", "0", "--ready-file", str(ready),
                 "--log-level", "warning"])
print(*seen, code, gc.isenabled())
"""
    ready = tmp_path / "ready.json"
    assert _printed_by(probe, str(ready)) == ["0", "True", "True", "0", "True"]


def test_main_gives_the_collector_back_as_it_found_it() -> None:
    """`main` turns the collector off while it starts; a command line it refuses (or
    `--version`) leaves it as it was, on or off."""
    probe = """
import contextlib, gc, io
import controlplane.cli as cli
states = []
for on in (True, False):
    gc.enable() if on else gc.disable()
    for argv in (["--version"], ["serve", "--port", "x"]):
        with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            cli.main(argv)
        states.append(gc.isenabled())
print(*states)
"""
    assert _printed_by(probe) == ["True", "True", "False", "False"]


def test_start_up_does_not_load_the_template_engine_until_a_template_is_compiled() -> None:
    """pydantic-handlebars (with pydantic) costs about 65 ms of every start; only a
    response holding `{{` needs it, and a body without one does not load it."""
    probe = (
        f"import sys; {_START_UP}; "
        "from controlplane.responses.templating import compile_value; "
        "before = 'pydantic_handlebars' in sys.modules; "
        "compile_value({'plain': ['text', 1]}); "
        "plain = 'pydantic_handlebars' in sys.modules; "
        "compile_value({'path': '{{request.path}}'}); "
        "print(before, plain, 'pydantic_handlebars' in sys.modules)"
    )
    assert _printed_by(probe) == ["False", "False", "True"]


def test_start_up_does_not_import_redis_without_state() -> None:
    """redis-py costs about 33 ms of every start; only `--state` needs it (loaded when
    the server connects)."""
    probe = f"""
import asyncio, sys
{_START_UP}
from controlplane.cluster import Cluster, StateUnreachable
from controlplane.server import ServerConfig
ServerConfig(state="redis://127.0.0.1:1/0")
before = "redis" in sys.modules
try:
    asyncio.run(Cluster.connect("redis://127.0.0.1:1/0"))
except StateUnreachable:
    pass
print(before, "redis" in sys.modules)
"""
    assert _printed_by(probe) == ["False", "True"]


def test_start_up_does_not_import_xpath_until_a_route_uses_it() -> None:
    """elementpath costs about 55 ms of every start; only an XPath matcher needs it."""
    probe = (
        f"import sys; {_START_UP}; "
        "from controlplane.xmldoc import compile_xpath; "
        "before = 'elementpath' in sys.modules; "
        "compile_xpath('//a'); "
        "print(before, 'elementpath' in sys.modules)"
    )
    assert _printed_by(probe) == ["False", "True"]
