"""`controlplane serve ...` and `controlplane --version`.

Exit codes: 0 after a clean shutdown (SIGINT or SIGTERM), 2 when the command line is
wrong (argparse's usage message) or the server cannot start (one `cannot_start` log
event saying why: a taken port, a bad route file, an unreadable TLS file).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controlplane._version import __version__

if TYPE_CHECKING:
    from controlplane.server import ServerConfig

# The server's modules are imported by `main`, with the cyclic garbage collector off:
# start-up makes a few hundred thousand objects (modules, classes, wire types) and no
# garbage worth a collection pass, and those passes were ~10% of the time to the first
# answer. `_serve` turns the collector back on once everything alive is frozen.

__all__ = ["main"]


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser and its `serve` subcommand (for errors about serve's flags)."""
    from controlplane.journal import DEFAULT_BODY_LIMIT

    parser = argparse.ArgumentParser(
        prog="controlplane",
        description="HTTP mock server: mock traffic on one port, a JSON admin API on another.",
    )
    parser.add_argument("--version", action="version", version=f"controlplane {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the mock and admin servers until SIGINT/SIGTERM")
    add = serve.add_argument
    add("--host", default="127.0.0.1", help="mock port address (default 127.0.0.1)")
    add("--port", type=int, default=8080, help="mock port; 0 picks a free one (default 8080)")
    add("--admin-host", default="127.0.0.1", help="admin address (default 127.0.0.1)")
    add("--admin-port", type=int, default=8081, help="admin port; 0 picks one (default 8081)")
    add(
        "--mappings",
        "--root-dir",
        dest="mappings",
        type=Path,
        help="directory of route files (JSON or YAML), or a WireMock root "
        "(mappings/, __files/), to load at start; --root-dir is WireMock's name for it",
    )
    add(
        "--wiremock-global-templating",
        "--global-response-templating",
        dest="wiremock_global_templating",
        action="store_true",
        help="template every WireMock stub as if it had the response-template transformer "
        "(--global-response-templating is WireMock's name); native routes are unaffected",
    )
    add("--journal-size", type=int, default=10_000, help="requests kept per session (10000)")
    add(
        "--journal-body-limit",
        type=int,
        default=DEFAULT_BODY_LIMIT,
        metavar="BYTES",
        help="body bytes kept per journal entry; matching sees whole bodies (65536)",
    )
    add("--log-format", choices=("console", "json"), default="console")
    add(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="debug logs one event per mock request",
    )
    add("--ready-file", type=Path, help="write {mock_url, admin_url, pid} here once listening")
    add("--admin-token", help="require `Authorization: Bearer TOKEN` on the admin API")
    add("--tls-cert", type=Path, help="serve the mock port over HTTPS with this PEM certificate")
    add("--tls-key", type=Path, help="the certificate's private key (PEM)")
    add(
        "--admin-on-mock-port",
        action="store_true",
        help="also serve the admin API on the mock port under /__admin (WireMock's "
        "/__admin/mappings..., and the native API as /__admin/api/...), as WireMock "
        "serves both on one port",
    )
    add(
        "--header-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a mock connection whose request headers take longer (default 30)",
    )
    add(
        "--keepalive-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="close a connection idle this long between requests (default 60)",
    )
    add(
        "--state",
        metavar="URL",
        help="keep sessions, routes, counters and journals in this Redis (redis://host:port/db, "
        "Redis 6.2+ or Valkey), shared by every process pointed at it (default: in memory)",
    )
    add(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve the mock and admin ports from N processes (needs --state; default 1)",
    )
    # A worker of --workers: listen with SO_REUSEPORT on the ports its supervisor fixed.
    add("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    return parser, serve


async def _serve(config: ServerConfig) -> None:
    from controlplane.logs import get_logger
    from controlplane.server import ControlplaneServer

    log = get_logger("server")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = ControlplaneServer(config, on_shutdown=stop.set)
    await server.start()
    # Everything alive now (modules, the apps, loaded routes) lives as long as the
    # process: keep it out of the collector's full passes, which start now.
    gc.freeze()
    gc.enable()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await server.stop()
        log.info("stopped")


def _run(config: ServerConfig) -> None:
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on Windows): asyncio's loop works too
        asyncio.run(_serve(config))
    else:
        uvloop.run(_serve(config))


def main(argv: Sequence[str] | None = None) -> int:
    collecting = gc.isenabled()
    gc.disable()  # until the server is up (see the note at the top)
    try:
        return _main(argv)
    finally:
        if collecting:
            gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    from controlplane import workers
    from controlplane.errors import ControlplaneError, RouteFileError
    from controlplane.logs import configure_logging, get_logger
    from controlplane.server import ServerConfig

    log = get_logger("server")
    parser, serve = _parser()
    args = parser.parse_args(argv)
    try:
        config = ServerConfig(
            host=args.host,
            port=args.port,
            admin_host=args.admin_host,
            admin_port=args.admin_port,
            mappings=args.mappings,
            journal_size=args.journal_size,
            journal_body_limit=args.journal_body_limit,
            admin_token=args.admin_token,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            ready_file=args.ready_file,
            header_timeout=args.header_timeout,
            keepalive_timeout=args.keepalive_timeout,
            admin_on_mock_port=args.admin_on_mock_port,
            wiremock_global_templating=args.wiremock_global_templating,
            state=args.state,
            workers=args.workers,
            reuse_port=args.reuse_port,
        )
    except ValueError as exc:
        serve.error(str(exc))  # exits 2 with the usage line, like any bad flag
    configure_logging(args.log_format, args.log_level)
    try:
        if config.workers > 1:
            gc.enable()  # the supervisor serves nothing: it just runs on
            return workers.supervise(config, sys.argv[1:] if argv is None else argv)
        _run(config)
    except ControlplaneError as exc:
        fields: dict[str, Any] = {"code": exc.code}
        if exc.location is not None:
            fields["location"] = exc.location
        if isinstance(exc, RouteFileError):
            fields["file"] = str(exc.path)
        log.error("cannot_start", message=exc.message, **fields)
        return 2
    except OSError as exc:  # e.g. an unknown --host, an unwritable --ready-file
        log.error("cannot_start", message=str(exc))
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
