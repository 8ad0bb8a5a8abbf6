"""One process, one event loop, two sites: mock traffic and the admin API.

`ControlplaneServer` is what the CLI runs and what tests start in-process:

    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        server.mock_url, server.admin_url
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader

from controlplane.admin.app import build_admin_app
from controlplane.logs import get_logger
from controlplane.mappings import load_route_files
from controlplane.mock_app import MockHandler
from controlplane.sessions import SessionStore

__all__ = ["ControlplaneServer", "ServerConfig"]

_log = get_logger("server")
#: Mock requests may carry uploads; aiohttp's default cap is 1 MiB.
MOCK_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    """What `controlplane serve` takes on its command line."""

    host: str = "127.0.0.1"
    port: int = 8080
    admin_host: str = "127.0.0.1"
    admin_port: int = 8081
    mappings: Path | None = None
    journal_size: int = 10_000
    admin_token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ready_file: Path | None = None


def _url(scheme: str, address: Any) -> str:
    host, port = address[0], address[1]
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _mock_server(handler: MockHandler) -> web.Server:
    """The low-level mock server (no router), with a larger body cap than aiohttp's 1 MiB."""
    loop = asyncio.get_running_loop()

    def make_request(
        message: RawRequestMessage, payload: StreamReader, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        return web.BaseRequest(
            message, payload, protocol, writer, task, loop, client_max_size=MOCK_MAX_BODY
        )

    return web.Server(handler, request_factory=make_request)


class ControlplaneServer:
    """Both sites over one `SessionStore`."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        if self.config.journal_size < 1:
            raise ValueError("journal_size must be >= 1")
        self.store = SessionStore(self.config.journal_size)
        self.mock_url = ""
        self.admin_url = ""
        self._runners: list[web.BaseRunner] = []

    def _ssl_context(self) -> ssl.SSLContext | None:
        cert, key = self.config.tls_cert, self.config.tls_key
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise ValueError("--tls-cert and --tls-key go together")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    async def start(self) -> None:
        config = self.config
        if config.mappings is not None:
            loaded = load_route_files(config.mappings, self.store.default)
            _log.info("mappings_loaded", directory=str(config.mappings), routes=loaded)
        ssl_context = self._ssl_context()

        mock_runner = web.ServerRunner(_mock_server(MockHandler(self.store)), access_log=None)
        admin_runner = web.AppRunner(
            build_admin_app(self.store, token=config.admin_token), access_log=None
        )
        try:
            await mock_runner.setup()
            self._runners.append(mock_runner)
            await web.TCPSite(
                mock_runner, config.host, config.port, ssl_context=ssl_context
            ).start()
            await admin_runner.setup()
            self._runners.append(admin_runner)
            await web.TCPSite(admin_runner, config.admin_host, config.admin_port).start()
        except BaseException:
            await self.stop()
            raise

        self.mock_url = _url("https" if ssl_context else "http", mock_runner.addresses[0])
        self.admin_url = _url("http", admin_runner.addresses[0])
        self.store.mock_base_url = self.mock_url
        self.store.admin_base_url = self.admin_url
        if config.ready_file is not None:
            _write_atomically(
                config.ready_file,
                {"mock_url": self.mock_url, "admin_url": self.admin_url, "pid": os.getpid()},
            )
        _log.info("ready", mock_url=self.mock_url, admin_url=self.admin_url, pid=os.getpid())

    async def stop(self) -> None:
        while self._runners:
            await self._runners.pop().cleanup()

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


def _write_atomically(path: Path, content: dict[str, Any]) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(content, handle)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
