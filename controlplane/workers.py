"""`controlplane serve --workers N`: one supervisor, N `serve` processes on the same ports.

The supervisor serves nothing itself. It fixes the ports first (port 0 becomes a free
port, held by a SO_REUSEPORT socket that never listens until every worker listens),
then starts each worker as `controlplane serve` with the same command line, the fixed
ports, `--workers 1`, a ready file of its own and the hidden `--reuse-port`: the
kernel spreads connections over the workers' listening sockets. The workers share
their admin state through `--state` (`controlplane.cluster.replica`).

Once every worker is ready the supervisor logs `ready` and writes the ready file:
`{"mock_url", "admin_url", "pid" (the supervisor's), "workers": [pids]}`. SIGINT and
SIGTERM are forwarded to every worker; the supervisor exits when they have, and so it
does when a worker stops cleanly (exit 0: WireMock's `/__admin/shutdown` reached it).
A worker that dies otherwise is logged (`worker_exited`) and started again (`worker_restarted`;
the ready file then names its new pid), at most `MAX_RESTARTS` times in
`RESTART_WINDOW_S`; beyond that the supervisor stops everything and exits 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.atomic import remove_stale_temporaries, write_atomically
from controlplane.logs import get_logger
from controlplane.server import ServerConfig, StartupError

__all__ = ["MAX_RESTARTS", "RESTART_WINDOW_S", "supervise"]

#: Restarts of crashed workers allowed within `RESTART_WINDOW_S` (then: give up).
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
#: Seconds a worker has to become ready, and to stop after SIGTERM (then SIGKILL).
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.02
#: The longest log line relayed whole (a traceback in JSON can be long).
_LINE_LIMIT = 16 * 1024 * 1024
_log = get_logger("workers")


@dataclass
class _Worker:
    index: int
    ready_file: Path
    proc: asyncio.subprocess.Process
    relay: asyncio.Task[None]
    ready: dict[str, Any] = field(default_factory=dict)


async def _relay(stream: asyncio.StreamReader) -> None:
    """A worker's log lines to ours, each in one write: lines of several workers written
    to one shared stderr would interleave mid-line."""
    out = sys.stderr.buffer
    while line := await stream.readline():
        out.write(line)
        out.flush()


def _reserve(host: str, port: int) -> tuple[socket.socket | None, int]:
    """A port for every worker: `port` itself, or for 0 a free one held (not listening)
    by a SO_REUSEPORT socket, so that no one else takes it before the workers do."""
    if port != 0:
        return None, port
    family, kind, proto, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    holder = socket.socket(family, kind, proto)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind(address)
    except OSError as exc:
        holder.close()
        raise StartupError(f"cannot reserve a port on {host}: {exc.strerror or exc}") from None
    chosen: int = holder.getsockname()[1]
    return holder, chosen


class _Supervisor:
    def __init__(self, config: ServerConfig, argv: Sequence[str]) -> None:
        self.config = config
        self.argv = list(argv)
        self.directory = Path(tempfile.mkdtemp(prefix="controlplane-workers-"))
        self.workers: list[_Worker] = []
        self.stopping = asyncio.Event()
        self.restarts: list[float] = []
        self.ports = (config.port, config.admin_port)

    def _command(self, ready_file: Path) -> list[str]:
        # argparse keeps the last value of a repeated flag: these override the user's.
        mock_port, admin_port = self.ports
        return [
            sys.executable,
            "-m",
            "controlplane",
            *self.argv,
            "--workers",
            "1",
            "--port",
            str(mock_port),
            "--admin-port",
            str(admin_port),
            "--ready-file",
            str(ready_file),
            "--reuse-port",
        ]

    async def _spawn(self, index: int) -> _Worker:
        ready_file = self.directory / f"worker-{index}.json"
        ready_file.unlink(missing_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *self._command(ready_file),
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        assert proc.stderr is not None
        relay = asyncio.create_task(_relay(proc.stderr), name=f"controlplane-worker-{index}-log")
        return _Worker(index, ready_file, proc, relay)

    async def _until_ready(self, worker: _Worker) -> bool:
        """Wait (bounded) for the worker's ready file; False when it exited first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not worker.ready_file.exists():
            if (
                worker.proc.returncode is not None
                or self.stopping.is_set()
                or time.monotonic() > deadline
            ):
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.proc.wait(), _POLL_S)
        worker.ready = json.loads(worker.ready_file.read_text())
        return True

    def _write_ready(self) -> None:
        """The ready file, then the `ready` event (a reader of the log finds the file)."""
        first = self.workers[0].ready
        content = {
            "mock_url": first["mock_url"],
            "admin_url": first["admin_url"],
            "pid": os.getpid(),
            "workers": [w.proc.pid for w in self.workers],
        }
        ready = self.config.ready_file
        if ready is not None:
            remove_stale_temporaries(ready.parent, ready.name)
            write_atomically(ready, json.dumps(content).encode())
        _log.info("ready", **content)

    async def start(self) -> bool:
        holders: list[socket.socket] = []
        try:
            mock, mock_port = _reserve(self.config.host, self.config.port)
            admin, admin_port = _reserve(self.config.admin_host, self.config.admin_port)
            holders = [h for h in (mock, admin) if h is not None]
            self.ports = (mock_port, admin_port)
            for index in range(self.config.workers):
                self.workers.append(await self._spawn(index))
            for worker in self.workers:
                if not await self._until_ready(worker):
                    _log.error(
                        "cannot_start",
                        message=f"worker {worker.index} (pid {worker.proc.pid}) did not "
                        "become ready: see its log above",
                        exit_code=worker.proc.returncode,
                    )
                    return False
        finally:
            for holder in holders:
                holder.close()
        self._write_ready()
        return True

    async def watch(self) -> int:
        """Restart workers that die, until a signal or too many restarts; the exit code."""
        while not self.stopping.is_set():
            waits = {asyncio.ensure_future(w.proc.wait()): w for w in self.workers}
            stop = asyncio.ensure_future(self.stopping.wait())
            done, _ = await asyncio.wait([stop, *waits], return_when=asyncio.FIRST_COMPLETED)
            for pending in (stop, *waits):
                pending.cancel()
            if self.stopping.is_set():
                break
            for finished in done:
                worker = waits.get(finished)
                if worker is None:
                    continue
                if worker.proc.returncode == 0:  # asked to stop: `/__admin/shutdown`
                    _log.info("worker_stopped", worker=worker.index, pid=worker.proc.pid)
                    return 0
                if not await self._restart(worker):
                    return 1
        return 0

    async def _restart(self, worker: _Worker) -> bool:
        code = worker.proc.returncode
        _log.error("worker_exited", worker=worker.index, pid=worker.proc.pid, exit_code=code)
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
        if len(self.restarts) > MAX_RESTARTS:
            _log.error(
                "workers_failing",
                message=f"more than {MAX_RESTARTS} worker restarts within "
                f"{RESTART_WINDOW_S:g} s: stopping; see the workers' logs above",
            )
            return False
        replacement = await self._spawn(worker.index)
        self.workers[self.workers.index(worker)] = replacement
        _log.warning("worker_restarted", worker=worker.index, pid=replacement.proc.pid)
        if await self._until_ready(replacement):
            self._write_ready()
        return True

    async def stop(self) -> None:
        for worker in self.workers:
            if worker.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                await asyncio.wait_for(worker.proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                _log.error("worker_killed", worker=worker.index, pid=worker.proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()
                await worker.proc.wait()
            await worker.relay  # the last lines of its log
        ready = self.config.ready_file
        if ready is not None:
            ready.unlink(missing_ok=True)
        shutil.rmtree(self.directory, ignore_errors=True)


async def _supervise(config: ServerConfig, argv: Sequence[str]) -> int:
    supervisor = _Supervisor(config, argv)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, supervisor.stopping.set)
    try:
        if not await supervisor.start():
            return 2
        code = await supervisor.watch()
        _log.info("stopping")
        return code
    finally:
        await supervisor.stop()
        _log.info("stopped")


def supervise(config: ServerConfig, argv: Sequence[str]) -> int:
    """Run `config.workers` workers given the `serve` command line `argv`; the exit code."""
    return asyncio.run(_supervise(config, argv))
