"""Several `controlplane serve --state` processes on one Redis, for the shared-state tests.

A test sets up its session and routes through one process (`prepare`): admin writes
reach every process through the op log.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import requests

from tests.process import ServerProcess, serve_process

__all__ = ["OwnRedis", "fire", "prepare", "serve_many", "wait_until"]


@contextmanager
def serve_many(
    tmp_path: Path, redis_url: str, count: int, *args: str
) -> Iterator[list[ServerProcess]]:
    """`count` processes sharing `redis_url`, stopped (SIGTERM) when the block ends."""
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                serve_process(
                    tmp_path,
                    "--state",
                    redis_url,
                    *args,
                    ready_file=tmp_path / f"ready-{index}.json",
                )
            )
            for index in range(count)
        ]
        yield servers


def prepare(
    servers: Sequence[ServerProcess], session_id: str, routes: list[dict[str, Any]]
) -> list[str]:
    """Create session `session_id` with `routes` (each with its `id`) through the first
    process (admin writes reach every process); the mock URL of the session on each."""
    first = servers[0].admin_url
    created = requests.post(f"{first}/api/sessions", json={"id": session_id}, timeout=10)
    assert created.status_code == 201, created.text
    added = requests.post(f"{first}/api/sessions/{session_id}/routes", json=routes, timeout=10)
    assert added.status_code == 201, added.text
    urls = []
    for server in servers:
        shown = requests.get(f"{server.admin_url}/api/sessions/{session_id}", timeout=10)
        assert shown.status_code == 200, shown.text
        urls.append(shown.json()["mock_url"])
    return urls


async def _fire(
    urls: Sequence[str], paths: Sequence[str], concurrency: int, method: str
) -> list[tuple[int, str]]:
    limit = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as client:

        async def one(index: int) -> tuple[int, str]:
            async with limit:
                url = urls[index % len(urls)] + paths[index % len(paths)]
                async with client.request(method, url) as answer:
                    return answer.status, await answer.text()

        return await asyncio.gather(*(one(i) for i in range(len(paths))))


def fire(
    urls: Sequence[str], paths: Sequence[str], concurrency: int = 100, method: str = "GET"
) -> list[tuple[int, str]]:
    """Request every path of `paths` at once (at most `concurrency` in flight), the i-th
    through `urls[i % len(urls)]`; (status, body) of each, in order."""
    return asyncio.run(_fire(urls, paths, concurrency, method))


class OwnRedis:
    """A redis-server of one test's own, which the test may stop and start again on the
    same port; its data survives a restart (append-only file in `directory`)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed: `apt-get install redis-server`")
        self._binary = binary
        self._directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                self._binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self._directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:  # a bounded wait for the first answer
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Wait (bounded) until `condition()` holds: for what another process does in its
    own time (a backlog written once Redis is back)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)
