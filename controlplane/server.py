"""One process, one event loop, two sites: mock traffic and the admin API.

`ControlplaneServer` is what the CLI runs and what tests start in-process:

    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        server.mock_url, server.admin_url

Start-up problems a person can fix (a taken port, an unreadable TLS file, a bad route
file) raise `ControlplaneError` subclasses (`StartupError`, `errors.RouteFileError`); a
`ServerConfig` that contradicts itself raises `ValueError` when it is built.

The ready file (`ready_file`) is written atomically once both sites listen, and removed
again by a clean `stop()` so that its presence means "a server is listening". It is
left alone when its content is no longer ours (another process wrote the same path),
and it survives a crash or SIGKILL: its `pid` tells a reader whether it is stale.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from controlplane import ids, wiremock
from controlplane.admin.app import MAX_BODY, build_admin_app
from controlplane.atomic import remove_stale_temporaries, write_atomically
from controlplane.callbacks import CALLBACKS
from controlplane.cluster import REPLICA, Cluster, check_state_url
from controlplane.errors import ControlplaneError
from controlplane.journal import DEFAULT_BODY_LIMIT
from controlplane.logs import get_logger
from controlplane.mock_app import ADMIN_PREFIX, AdminHandler, MockHandler
from controlplane.responses.streams import Streams
from controlplane.route_files import load_route_files
from controlplane.sessions import SessionStore
from controlplane.wiremock.files import (
    FILES_DIR,
    is_wiremock_root,
    reserved_folders,
    stub_among_routes,
)

if TYPE_CHECKING:
    from controlplane.cluster.replica import Replica
from controlplane.wiremock.state import DialectOptions, configure, load_root

__all__ = ["ControlplaneServer", "ServerConfig", "StartupError"]

_log = get_logger("server")
_NATIVE_ON_MOCK = ADMIN_PREFIX + "/api/"


@dataclass(frozen=True)
class ServerConfig:
    """What `controlplane serve` takes on its command line."""

    host: str = "127.0.0.1"
    port: int = 8080
    admin_host: str = "127.0.0.1"
    admin_port: int = 8081
    mappings: Path | None = None
    journal_size: int = 10_000
    #: Body bytes each journal entry keeps (the rest is counted, not kept); 0 keeps none.
    journal_body_limit: int = DEFAULT_BODY_LIMIT
    admin_token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ready_file: Path | None = None
    #: Seconds `stop()` lets in-flight mock requests (a long `delay`) finish before
    #: cancelling them; aiohttp's own default (60 s) is far too long for a test double.
    shutdown_grace: float = 2.0
    #: Seconds a client has, from the first byte of a request on the mock port, to send
    #: the last byte of its headers; slower connections are closed.
    header_timeout: float = 30.0
    #: Seconds an idle connection (either port) is kept open waiting for its next
    #: request, and a new one for its first; this also bounds the headers' arrival.
    keepalive_timeout: float = 60.0
    #: Also serve the admin API on the mock port, under `/__admin` (WireMock's one port).
    admin_on_mock_port: bool = False
    #: Template every WireMock stub as if it had the `response-template` transformer
    #: (WireMock's `--global-response-templating`); native routes are unaffected.
    wiremock_global_templating: bool = False
    #: Keep sessions, routes, responses, counters and journals in this Redis
    #: (`redis://host:port/db`), shared with every process pointed at it; None keeps
    #: them in this process's memory.
    state: str | None = None
    #: Processes serving the mock and admin ports (`--workers`); more than 1 needs `state`.
    workers: int = 1
    #: Listen with SO_REUSEPORT, sharing the ports with other processes (a worker of
    #: `--workers`, whose supervisor took the ports).
    reuse_port: bool = False
    #: A ready-made context for HTTPS on the mock port (in-process use), instead of files.
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Messages name the CLI flags: that is where most people set these.
        if self.journal_size < 1:
            raise ValueError(f"--journal-size must be >= 1, got {self.journal_size}")
        if self.journal_body_limit < 0:
            raise ValueError(
                f"--journal-body-limit must be >= 0 (bytes), got {self.journal_body_limit}"
            )
        for flag, port in (("--port", self.port), ("--admin-port", self.admin_port)):
            if not 0 <= port <= 65535:
                raise ValueError(f"{flag} must be 0 (pick a free port) to 65535, got {port}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(
                "--tls-cert and --tls-key go together: give both (PEM files) or neither"
            )
        if self.ssl_context is not None and self.tls_cert is not None:
            raise ValueError("give ssl_context or --tls-cert/--tls-key, not both")
        for flag, seconds in (
            ("--header-timeout", self.header_timeout),
            ("--keepalive-timeout", self.keepalive_timeout),
        ):
            if not seconds > 0:  # also refuses NaN
                raise ValueError(f"{flag} must be > 0 seconds, got {seconds}")
        if self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        if self.workers > 1 and self.state is None:
            raise ValueError(
                "--workers needs --state redis://host:port/db: without shared state each "
                "worker would have its own routes and journal"
            )
        if self.state is not None:
            check_state_url(self.state)
        if self.shutdown_grace < 0:
            raise ValueError(f"shutdown_grace must be >= 0, got {self.shutdown_grace}")


class StartupError(ControlplaneError):
    """The server cannot start: a port is taken, a TLS file cannot be loaded."""

    code = "cannot_start"


def _url(scheme: str, address: Any) -> str:
    host, port = address[0], address[1]
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class _ConnectionHandler(RequestHandler):
    """aiohttp's connection handler, closing a connection whose request headers trickle.

    aiohttp bounds the wait for a request as a whole (`keepalive_timeout`, from the
    connection's start or the previous answer until the headers are complete) but has
    no bound from a request's first byte. The timer starts only when a chunk leaves
    the headers incomplete, so a request whose headers come in one chunk (nearly all)
    costs one attribute test; a running handler (a long `delay`, a slow body) is
    never interrupted by it.
    """

    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        waiting = self._waiter is not None and not self._waiter.done()
        if waiting:  # between requests, and these bytes did not finish the headers
            if self._header_timer is None:
                self._header_timer = self._loop.call_later(
                    self._header_timeout, self._headers_too_slow
                )
        elif self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._waiter is not None and not self._waiter.done():
            _log.debug("mock_header_timeout", timeout_s=self._header_timeout)
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)


class _MockServer(web.Server):
    """The low-level mock server (no router), with a larger body cap than aiohttp's 1 MiB
    and a header timeout on its connections."""

    def __init__(
        self,
        handler: MockHandler,
        *,
        header_timeout: float,
        full_requests: bool = False,
        **kwargs: Any,
    ) -> None:
        # handler_cancellation: a client that leaves ends its handler, so an idle `sse`
        # stream (nothing to write, so nothing fails) does not outlive its connection.
        super().__init__(
            handler,
            request_factory=self._make_mock_request,
            handler_cancellation=True,
            **kwargs,
        )
        self._mock_loop = asyncio.get_running_loop()
        self._handler_kwargs = kwargs
        self._header_timeout = header_timeout
        # The admin application on this port needs `web.Request`s (they carry a route).
        self._request_class = web.Request if full_requests else web.BaseRequest

    def _make_mock_request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: Any,
        writer: Any,
        task: Any,
    ) -> web.BaseRequest:
        return self._request_class(
            message, payload, protocol, writer, task, self._mock_loop, client_max_size=MAX_BODY
        )

    def __call__(self) -> RequestHandler:
        return _ConnectionHandler(
            self,
            loop=self._mock_loop,
            header_timeout=self._header_timeout,
            **self._handler_kwargs,
        )


class ControlplaneServer:
    """Both sites over one `SessionStore`."""

    def __init__(
        self, config: ServerConfig | None = None, *, on_shutdown: Callable[[], None] | None = None
    ) -> None:
        """`on_shutdown` is called by `POST /__admin/shutdown` (without it, that is a 409)."""
        self.config = config or ServerConfig()
        mappings = self.config.mappings
        self.store = SessionStore(
            self.config.journal_size,
            None if mappings is None else mappings / FILES_DIR,
            self.config.journal_body_limit,
        )
        configure(
            self.store,
            DialectOptions(global_templating=self.config.wiremock_global_templating),
        )
        self.on_shutdown = on_shutdown
        self.mock_url = ""
        self.admin_url = ""
        self._runners: list[web.BaseRunner] = []
        self._mock: MockHandler | None = None
        self._ready_content: dict[str, Any] | None = None
        #: The shared state (`--state`), connected at start; None keeps it in memory.
        self.cluster: Cluster | None = None
        self._replica: Replica | None = None

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.config.ssl_context is not None:
            return self.config.ssl_context
        cert, key = self.config.tls_cert, self.config.tls_key
        if cert is None or key is None:  # ServerConfig guarantees both or neither
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StartupError(
                f"cannot load the TLS certificate {cert} with key {key}: {reason}; "
                "--tls-cert and --tls-key take PEM files"
            ) from None
        return context

    async def start(self) -> None:
        config = self.config
        if config.state is not None:
            # Imported here: a server without `--state` never loads redis-py.
            from controlplane.cluster.replica import Replica

            self.cluster = await Cluster.connect(config.state)
            self.store.cluster = self.cluster
            self._replica = Replica(self.cluster, MAX_BODY)
        if config.mappings is not None:
            if self.cluster is None:
                self._load_mappings(config.mappings)
            else:
                # Every process loads the same files: the same ids make the same routes.
                # None of them owns them (originator=False): a process starting while
                # traffic runs must not reset in Redis the `times`, scenarios and
                # sequences spent already; a missing count is a fresh one.
                with ids.applying("mappings", originator=False):
                    self._load_mappings(config.mappings)
        ssl_context = self._ssl_context()

        admin_app = build_admin_app(
            self.store,
            token=config.admin_token,
            root_dir=config.mappings,
            shutdown=self.on_shutdown,
            dialects=(wiremock.DIALECT,),
            middlewares=() if self._replica is None else (self._replica.middleware,),
        )
        if self._replica is not None:  # a callback held here answers in every process
            from controlplane.remote_callbacks import SharedCallbacks

            SharedCallbacks(admin_app[CALLBACKS], self._replica, self.store)
            admin_app[REPLICA] = self._replica
            self._share_frames(self._replica)
        on_mock_port = _admin_on_mock_port(admin_app) if config.admin_on_mock_port else None
        self._mock = MockHandler(self.store, on_mock_port)
        mock_runner = web.ServerRunner(
            _MockServer(
                self._mock,
                header_timeout=config.header_timeout,
                full_requests=on_mock_port is not None,
                keepalive_timeout=config.keepalive_timeout,
            ),
            access_log=None,
            shutdown_timeout=config.shutdown_grace,
        )
        admin_runner = web.AppRunner(
            admin_app,
            access_log=None,
            shutdown_timeout=config.shutdown_grace,
            keepalive_timeout=config.keepalive_timeout,
        )
        reuse_port = config.reuse_port or None
        try:
            await mock_runner.setup()
            self._runners.append(mock_runner)
            await admin_runner.setup()
            self._runners.append(admin_runner)
            if self._replica is not None:  # the shared admin state, before serving
                await self._replica.start(admin_app)
            site = web.TCPSite(
                mock_runner,
                config.host,
                config.port,
                ssl_context=ssl_context,
                reuse_port=reuse_port,
            )
            await _listen(site, "mock traffic", "--port", config.host, config.port)
            site = web.TCPSite(
                admin_runner, config.admin_host, config.admin_port, reuse_port=reuse_port
            )
            await _listen(
                site, "the admin API", "--admin-port", config.admin_host, config.admin_port
            )
            self.mock_url = _url("https" if ssl_context else "http", mock_runner.addresses[0])
            self.admin_url = _url("http", admin_runner.addresses[0])
            self.store.mock_base_url = self.mock_url
            self.store.admin_base_url = self.admin_url
            if config.ready_file is not None:
                content = {
                    "mock_url": self.mock_url,
                    "admin_url": self.admin_url,
                    "pid": os.getpid(),
                }
                ready = config.ready_file
                remove_stale_temporaries(ready.parent, ready.name)  # of a crashed start
                write_atomically(ready, json.dumps(content).encode())
                self._ready_content = content
        except BaseException:
            await self.stop()
            raise
        _log.info(
            "ready",
            mock_url=self.mock_url,
            admin_url=self.admin_url,
            pid=os.getpid(),
            loop=_loop_name(),
        )

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish (up to `shutdown_grace`), and
        remove the ready file this server wrote."""
        if self._ready_content is not None and self.config.ready_file is not None:
            _remove_if_unchanged(self.config.ready_file, self._ready_content)
            self._ready_content = None
        if self._replica is not None:  # first: no one waits for a process that stops
            await self._replica.stop()
            self._replica = None
        if self._mock is not None:
            self._mock.proxy.close()  # open CONNECT tunnels would outlast the grace period
        # Long-lived connections first, cleanly: otherwise each would hold the
        # runner's cleanup for `shutdown_grace` and then be cut.
        await self.store.close_streams()
        while self._runners:
            await self._runners.pop().cleanup()
        await self.store.upstreams.close()
        await self.store.webhooks.close()  # after the runners: their last answers fire some
        if self.cluster is not None:
            await self.cluster.close()
            self.cluster = None

    def _share_frames(self, replica: Replica) -> None:
        """Listings of frames gather those of every process's connections."""
        from controlplane.cluster.frames import SharedFrames

        store = self.store
        assert store.shared is not None  # set with the cluster

        def streams_of(session_id: str) -> Streams | None:
            session = store.get(session_id)
            return None if session is None else session.streams

        store.shared.frames = SharedFrames(replica.relay, replica.members, streams_of)

    def _load_mappings(self, directory: Path) -> None:
        loaded = load_route_files(
            directory,
            self.store.default,
            skip=reserved_folders(directory),
            refuse=stub_among_routes,
        )
        extra: dict[str, int] = {}
        if is_wiremock_root(directory):
            extra["stubs"] = load_root(directory, self.store.default)
        _log.info("mappings_loaded", directory=str(directory), routes=loaded, **extra)

    async def __aenter__(self) -> ControlplaneServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _admin_on_mock_port(app: web.Application) -> AdminHandler:
    """The admin application serving `/__admin/...` requests of the mock port.

    WireMock's paths are served as they are (`/__admin/mappings`); the native API is
    under the same prefix (`/__admin/api/sessions`, so `/__admin/api/sessions/{sid}/
    __admin/...` too): a client given `{mock_url}/__admin` as its admin URL finds both.
    """

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        assert isinstance(request, web.Request)  # _MockServer makes them with full_requests
        path = request.rel_url.path
        if path.startswith(_NATIVE_ON_MOCK):
            request = request.clone(
                rel_url=request.rel_url.with_path(path.removeprefix(ADMIN_PREFIX), encoded=False)
            )
        # The admin runner has frozen `app` before the mock port could be reached.
        return await app._handle(request)

    return handle


async def _listen(site: web.TCPSite, what: str, flag: str, host: str, port: int) -> None:
    try:
        await site.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            hint = f"address already in use; choose another {flag}, or 0 for a free port"
        else:
            hint = exc.strerror or str(exc)
        raise StartupError(f"cannot listen for {what} on {host}:{port}: {hint}") from None


def _loop_name() -> str:
    """`uvloop` or `asyncio`: which event loop implementation is serving."""
    module = type(asyncio.get_running_loop()).__module__
    return module.partition(".")[0]


def _remove_if_unchanged(path: Path, content: dict[str, Any]) -> None:
    try:
        if json.loads(path.read_text()) == content:
            path.unlink()
    except (OSError, ValueError):  # gone already, or rewritten by someone else: theirs now
        pass
