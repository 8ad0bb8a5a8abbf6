"""`controlplane serve ...` and `controlplane --version`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from controlplane._version import __version__
from controlplane.errors import ControlplaneError
from controlplane.logs import configure_logging, get_logger
from controlplane.server import ControlplaneServer, ServerConfig

__all__ = ["main"]

_log = get_logger("server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="controlplane",
        description="HTTP mock server: mock traffic on one port, a JSON admin API on another.",
    )
    parser.add_argument("--version", action="version", version=f"controlplane {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the mock and admin servers until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1", help="mock port address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="mock port; 0 picks a free one (default 8080)")
    serve.add_argument("--admin-host", default="127.0.0.1", help="admin address (default 127.0.0.1)")
    serve.add_argument("--admin-port", type=int, default=8081, help="admin port; 0 picks a free one (default 8081)")
    serve.add_argument("--mappings", type=Path, help="directory of route files (JSON or YAML) to load at start")
    serve.add_argument("--journal-size", type=int, default=10_000, help="requests kept per session (default 10000)")
    serve.add_argument("--log-format", choices=("console", "json"), default="console")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info",
                       help="debug logs one event per mock request")
    serve.add_argument("--ready-file", type=Path, help="write {mock_url, admin_url, pid} here once listening")
    serve.add_argument("--admin-token", help="require `Authorization: Bearer TOKEN` on the admin API")
    serve.add_argument("--tls-cert", type=Path, help="serve the mock port over HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    return parser


async def _serve(config: ServerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = ControlplaneServer(config)
    await server.start()
    try:
        await stop.wait()
    finally:
        _log.info("stopping")
        await server.stop()
        _log.info("stopped")


def _run(config: ServerConfig) -> None:
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on Windows): asyncio's loop works too
        asyncio.run(_serve(config))
    else:
        uvloop.run(_serve(config))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_format, args.log_level)
    if args.journal_size < 1:
        _log.error("bad_argument", argument="--journal-size", message="must be >= 1")
        return 2
    config = ServerConfig(
        host=args.host,
        port=args.port,
        admin_host=args.admin_host,
        admin_port=args.admin_port,
        mappings=args.mappings,
        journal_size=args.journal_size,
        admin_token=args.admin_token,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        ready_file=args.ready_file,
    )
    try:
        _run(config)
    except ControlplaneError as exc:
        _log.error("cannot_start", message=exc.message, location=exc.location)
        return 2
    except (OSError, ValueError) as exc:
        _log.error("cannot_start", message=str(exc))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
