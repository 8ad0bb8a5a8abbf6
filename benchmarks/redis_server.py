"""A redis-server for the benchmarks of `serve --state`: started on a free loopback
port, persistence off (what is measured is controlplane, not the disk), stopped with
the `Procs` that started it. Its CPU time and command counts are read here too."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import redis
from harness import Procs, cpu_seconds, pinned

__all__ = ["RedisServer", "start_redis"]


@dataclass
class RedisServer:
    """A started redis-server: its URL (no db) and pid."""

    url: str
    pid: int

    def cpu_s(self) -> float:
        return cpu_seconds(self.pid)

    def calls(self, *commands: str) -> list[int]:
        """How many times it served each command (`INFO commandstats`), e.g. `evalsha`."""
        client = redis.Redis.from_url(self.url)
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        return [int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in commands]

    def flush(self) -> None:
        """Empty every db and forget the scripts: the next server starts from nothing."""
        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
            client.script_flush()
        finally:
            client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_redis(procs: Procs, core: str | None = None) -> RedisServer:
    """Start redis-server (pinned to `core` when given); exit saying what to install
    when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is missing: apt-get install redis-server")
    port = _free_port()
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    popen = procs.spawn(
        argv if core is None else pinned(core, argv),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:  # a bounded wait for its first answer
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return RedisServer(f"redis://127.0.0.1:{port}", popen.pid)
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"redis-server on port {port} did not start")
        time.sleep(0.02)
