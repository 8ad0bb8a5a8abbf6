"""A real `redis-server` for the shared-state tests (`serve --state redis://...`).

`redis_url` gives each test an empty database of its own Redis:

- `CONTROLPLANE_TEST_REDIS` (e.g. `redis://127.0.0.1:6390`) names a running server,
  as `.ci/run` starts one; each pytest-xdist worker takes its own database number;
- otherwise, with `redis-server` on PATH, one is started per worker on a free loopback
  port, persistence off, and stopped at the end of the run;
- otherwise the test skips saying what to install, and under CI (`CI` set) it fails:
  CI must prove the shared state works.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

__all__ = ["RedisProcess", "flushed_database", "redis_server", "redis_url"]

_MISSING = (
    "redis-server is not installed: `apt-get install redis-server` (Debian's package; "
    ".ci/run installs it) or set CONTROLPLANE_TEST_REDIS=redis://host:port"
)
_START_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _worker_db() -> int:
    """gw0 -> 0, gw1 -> 1...: xdist workers sharing one server never share a database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0) % 16


def _binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"{_MISSING}; CI must run the shared-state tests", pytrace=False)
        pytest.skip(_MISSING)
    return binary


class RedisProcess:
    """A `redis-server` of a test's own on a free loopback port, persistence off, that
    the test may stop and start again (on the same port, empty)."""

    def __init__(self) -> None:
        self.binary = _binary()
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(self.binary, "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:  # a bounded wait for the server's first answer
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """`redis://127.0.0.1:PORT`: the Redis these tests use (see the module's text)."""
    given = os.environ.get("CONTROLPLANE_TEST_REDIS")
    if given:
        yield given.rstrip("/")
        return
    with RedisProcess() as server:
        yield server.url


@contextmanager
def flushed_database(server: str) -> Iterator[str]:
    """`redis://127.0.0.1:PORT/DB`: this xdist worker's database, emptied before and after."""
    url = f"{server}/{_worker_db()}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """An empty database for this test (emptied after it too)."""
    with flushed_database(redis_server) as url:
        yield url
