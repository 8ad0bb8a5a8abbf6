"""The pytest plugin (entry point `pytest11: controlplane`).

Fixtures:

- `controlplane_server` (session): where the server is, as a `ServerInfo`. With
  `--controlplane-url URL` or `CONTROLPLANE_URL` (the admin URL of a running server)
  that server is used; otherwise one is started in a background thread.
- `controlplane` (function): a `controlplane_client.Client` bound to a fresh session on
  that server, deleted after the test. Point the code under test at
  `controlplane.mock_url`.

The fixtures are synchronous and the server never runs in the test's event loop, so
they work in plain tests and in pytest-asyncio's strict and auto modes alike.

Cost when unused: importing this module imports neither aiohttp nor the server, and
nothing is started or contacted until a test needs `controlplane_server` (directly or
through `controlplane`). Under pytest-xdist each worker writes a marker file when its
collection holds a test that needs the server; the controller, which receives every
worker's collection before it schedules a single test, then starts one server in a
thread (or checks the given URL) and leaves its address in a directory of its own
(`controlplane-xdist-*` under the temp dir, removed at the end). Every worker shares
that server, each test with its own session. A worker that needs the server without
having said so (`request.getfixturevalue` only) starts its own.

A wrong URL aborts the run once, before any test runs, with a message that says what
is wrong: nothing answers there, it is controlplane's mock port instead of its admin
port, or it answers but not as controlplane's admin API.

Strict by default, one failure per mistake: a request that no route matched is a
failure of the test that made it, reported with its near misses when the test body
returns. A test that passed fails with that report; a test that failed anyway keeps its
own failure, with the report appended to it (nothing is reported twice, and there is no
extra teardown error). Skips and xfails are left as they are. Requests that arrive
later, while fixtures are torn down, fail the teardown, again once each. Setup that
fails is not checked: the test already has its error.
`@pytest.mark.controlplane_allow_unmatched` or `--controlplane-allow-unmatched` turns
strictness off. With `@pytest.mark.controlplane_report_unused` or
`--controlplane-report-unused`, a test also fails (at the same point) when a handler it
declared was never called.

Server log lines are dropped by default, so they do not fill every failure report (the
in-process server logs with structlog, which prints to the captured stdout). With
`--controlplane-log` they are kept: in the captured output of each test in-process,
on the terminal of the controller under pytest-xdist.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from controlplane_client import Client, UnmatchedRequest

    from controlplane.testing import ThreadedServer

__all__ = ["ServerInfo"]

ENV_URL = "CONTROLPLANE_URL"
_ALLOW_UNMATCHED = "controlplane_allow_unmatched"
_REPORT_UNUSED = "controlplane_report_unused"
#: The fixture whose use makes a test need the server (`controlplane` depends on it).
_SERVER_FIXTURE = "controlplane_server"
#: `workerinput` key: the directory the xdist controller shares the server through.
_SHARE_KEY = "controlplane_share_dir"
_SHARED_FILE = "server.json"
_NEEDED_PREFIX = "needed-"
#: The name `controlplane.testing.ThreadedServer` gives its thread; server logs come from it.
_SERVER_THREAD = "controlplane"
_HEALTH_TIMEOUT = 5.0


@dataclass(frozen=True)
class ServerInfo:
    """The server the fixtures use: its admin URL, and whether this run started it."""

    admin_url: str
    started_here: bool

    def client(self) -> Client:
        """A client of the `default` session."""
        from controlplane_client import Client  # lazy: importing the plugin stays cheap

        return Client(self.admin_url)


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
    group.addoption(
        "--controlplane-log",
        action="store_true",
        default=False,
        help="keep the log lines of the server this run starts (dropped by default)",
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
    run = _Run(config)
    config.stash[_RUN] = run
    config.pluginmanager.register(run, "controlplane-run")


class _Unusable(Exception):
    """The server cannot be used; the message says why and what to do."""


def _given_url(config: pytest.Config) -> str | None:
    url = config.getoption("--controlplane-url") or os.environ.get(ENV_URL)
    return str(url).rstrip("/") if url else None


def check_admin_url(url: str) -> None:
    """Raise `_Unusable` unless `url` is a controlplane admin API (its `/health` says so)."""
    import urllib.error  # here, not at the top: a run that never needs a server skips it
    import urllib.request

    request = urllib.request.Request(f"{url}/health", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_HEALTH_TIMEOUT) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise _Unusable(
            f"controlplane: no answer at {url} ({reason}). Is the server running, and is "
            f"this its admin URL? (--controlplane-url / ${ENV_URL})"
        ) from None
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
        return
    if isinstance(body, dict) and {"session", "near_misses"} <= body.keys():
        raise _Unusable(
            f"controlplane: {url} is controlplane's mock port, not its admin port. "
            f"Pass the admin URL (`admin_url` of the `ready` log line or of the ready "
            f"file; port 8081 by default) as --controlplane-url / ${ENV_URL}"
        )
    raise _Unusable(
        f"controlplane: {url} answers GET /health with HTTP {status}, not as a "
        f"controlplane admin API. Pass the admin URL of a running controlplane as "
        f"--controlplane-url / ${ENV_URL}"
    )


def _drop_server_events(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> Mapping[str, Any]:
    """A structlog processor: drop what the in-process server logs (from its thread)."""
    if threading.current_thread().name == _SERVER_THREAD:
        import structlog

        raise structlog.DropEvent
    return event_dict


#: Runs in this process that asked for the filter (pytester runs pytest inside pytest).
_filter_users = 0


def _set_server_log_filter(on: bool) -> None:
    """Put `_drop_server_events` first in structlog's chain, or take it out again.

    structlog's configuration is process-wide: only our filter is added or removed,
    whatever else the suite configured stays as it is. The filter stays while any run
    in this process still wants it.
    """
    import structlog

    global _filter_users
    _filter_users += 1 if on else -1
    processors = [p for p in structlog.get_config()["processors"] if p is not _drop_server_events]
    wanted = [_drop_server_events, *processors] if _filter_users > 0 else processors
    structlog.configure(processors=wanted)


class _Run:
    """This pytest process's server: found or started on first need, stopped at the end.

    Also the pytest-xdist side of sharing one server (see the module docstring).
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.info: ServerInfo | None = None
        self.server: ThreadedServer | None = None
        self.filtering_logs = False
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.worker_id: str | None = workerinput["workerid"] if workerinput else None
        shared = workerinput.get(_SHARE_KEY) if workerinput else None
        self.share_dir: Path | None = Path(shared) if shared else None
        self.owns_share_dir = False

    def server_info(self) -> ServerInfo:
        """The server, found or started now if need be; `_Unusable` if a given URL is wrong."""
        if self.info is None:
            self.info = self._shared() or self._find_or_start()
        return self.info

    def _shared(self) -> ServerInfo | None:
        if self.share_dir is None or not (self.share_dir / _SHARED_FILE).exists():
            return None
        return ServerInfo(**json.loads((self.share_dir / _SHARED_FILE).read_text()))

    def _find_or_start(self) -> ServerInfo:
        url = _given_url(self.config)
        if url is not None:
            check_admin_url(url)
            return ServerInfo(admin_url=url, started_here=False)
        from controlplane.server import ServerConfig
        from controlplane.testing import ThreadedServer

        if not self.config.getoption("--controlplane-log"):
            _set_server_log_filter(True)
            self.filtering_logs = True
        self.server = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
        return ServerInfo(admin_url=self.server.admin_url, started_here=True)

    # ------------------------------------------------------------ xdist: workers

    @pytest.hookimpl(trylast=True)  # after deselection: only tests that will run count
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if self.share_dir is None or self.worker_id is None:
            return
        if any(_SERVER_FIXTURE in getattr(item, "fixturenames", ()) for item in items):
            # Written before xdist sends this collection to the controller, which looks.
            (self.share_dir / f"{_NEEDED_PREFIX}{self.worker_id}").touch()

    # ------------------------------------------------------------ xdist: controller

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.share_dir is None:
            self.share_dir = Path(tempfile.mkdtemp(prefix="controlplane-xdist-"))
            self.owns_share_dir = True
        node.workerinput[_SHARE_KEY] = str(self.share_dir)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # xdist calls this before it schedules any test: the server is there in time.
        if self.info is not None or self.share_dir is None:
            return
        if not (self.share_dir / f"{_NEEDED_PREFIX}{node.gateway.id}").exists():
            return
        try:
            info = self.server_info()
        except _Unusable as problem:
            pytest.exit(str(problem), returncode=pytest.ExitCode.USAGE_ERROR)
        partial = self.share_dir / f"{_SHARED_FILE}.partial"
        partial.write_text(json.dumps(info.__dict__))
        partial.replace(self.share_dir / _SHARED_FILE)  # workers never read half a file

    # ------------------------------------------------------------ the end

    def pytest_unconfigure(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.filtering_logs:
            _set_server_log_filter(False)
            self.filtering_logs = False
        if self.owns_share_dir and self.share_dir is not None:
            shutil.rmtree(self.share_dir, ignore_errors=True)


_RUN = pytest.StashKey[_Run]()


@pytest.fixture(scope="session")
def controlplane_server(request: pytest.FixtureRequest) -> ServerInfo:
    """The controlplane server of this run (shared, or started in a thread)."""
    run = request.config.stash[_RUN]
    try:
        return run.server_info()
    except _Unusable as problem:
        if run.worker_id is None:
            pytest.exit(str(problem), returncode=pytest.ExitCode.USAGE_ERROR)
        # pytest.exit in an xdist worker crashes the controller; stopping the session
        # is the worker's way to end the run after this one error.
        request.session.shouldstop = str(problem)
        pytest.fail(str(problem), pytrace=False)


@dataclass
class _Watch:
    """What the `controlplane` fixture checks about a test's session, and when."""

    session: Client
    strict: bool
    report_unused: bool
    #: Ids of the unmatched requests already looked at (None: the test body has not run).
    seen: set[str] | None = field(default=None)

    def after_call(self) -> str | None:
        """The report on the test body: unmatched requests, unused handlers (or None)."""
        from controlplane_client import ClientError

        problems = []
        try:
            unmatched = self.session.unmatched().requests
            self.seen = {entry.id for entry in unmatched}
            if self.strict and unmatched:
                problems.append(describe_unmatched(unmatched))
            if self.report_unused:
                unused = [h.name for h in self.session.handlers() if h.calls == 0]
                if unused:
                    problems.append(
                        "handlers declared but never called: " + ", ".join(map(repr, unused))
                    )
        except ClientError as error:
            problems.append(f"controlplane: could not check the test's session: {error}")
        return "\n\n".join(problems) or None

    def after_teardown(self) -> str | None:
        """The report on requests that arrived after the body returned (or None)."""
        if not self.strict or self.seen is None:
            return None
        seen = self.seen
        late = [entry for entry in self.session.unmatched().requests if entry.id not in seen]
        return describe_unmatched(late, " during teardown") if late else None


_WATCH = pytest.StashKey[_Watch]()


@pytest.fixture
def controlplane(
    request: pytest.FixtureRequest, controlplane_server: ServerInfo
) -> Iterator[Client]:
    """A client bound to a fresh session, deleted after the test (its callbacks closed);
    strict about unmatched."""
    session = controlplane_server.client().create_session(name=request.node.nodeid[-200:])
    request.node.stash[_WATCH] = _Watch(
        session,
        strict=not _flag(request, _ALLOW_UNMATCHED, "--controlplane-allow-unmatched"),
        report_unused=_flag(request, _REPORT_UNUSED, "--controlplane-report-unused"),
    )
    failed = False
    try:
        yield session
        late = request.node.stash[_WATCH].after_teardown()
        if late is not None:
            failed = True
            pytest.fail(late, pytrace=False)
    finally:
        del request.node.stash[_WATCH]
        try:
            session.close_callbacks()  # the test's `on_request`s: their threads end here
            session.delete_session()
        except Exception:
            if not failed:
                raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Report a test's unmatched requests as its own failure, once (see the docstring)."""
    watch = item.stash.get(_WATCH, None)
    if watch is None:
        return (yield)
    try:
        result = yield
    except (Exception, pytest.fail.Exception) as failure:
        if not isinstance(failure, pytest.xfail.Exception):
            report = watch.after_call()
            if report is not None:
                _append(failure, report)
        raise
    report = watch.after_call()
    if report is not None:
        pytest.fail(report, pytrace=False)
    return result


def _append(failure: BaseException, report: str) -> None:
    """Add `report` to the test's own failure, where pytest shows its message."""
    if isinstance(failure, pytest.fail.Exception):
        # pytest shows `msg` alone for pytest.fail(..., pytrace=False), without notes.
        failure.msg = f"{failure.msg}\n\n{report}"
    else:
        failure.add_note(f"\n{report}")


def _flag(request: pytest.FixtureRequest, marker: str, option: str) -> bool:
    return request.node.get_closest_marker(marker) is not None or bool(
        request.config.getoption(option)
    )


def describe_unmatched(requests: list[UnmatchedRequest], when: str = "") -> str:
    """The report: each unmatched request with its near misses."""
    from controlplane_client import describe_call

    count = len(requests)
    lines = [
        f"controlplane: {count} request{'s' if count != 1 else ''} matched no route{when} "
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
