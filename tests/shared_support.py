"""Several `controlplane serve --state` processes on one Redis, for the shared-state tests.

Until admin writes are replicated between processes, a test sets up the same session
and routes (same ids) on each process itself (`prepare`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import requests

from tests.process import ServerProcess, serve_process

__all__ = ["fire", "prepare", "serve_many"]


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
    """Create session `session_id` with `routes` (each with its `id`) on every process;
    the mock URL of the session on each."""
    urls = []
    for server in servers:
        created = requests.post(
            f"{server.admin_url}/api/sessions", json={"id": session_id}, timeout=10
        )
        assert created.status_code == 201, created.text
        added = requests.post(
            f"{server.admin_url}/api/sessions/{session_id}/routes", json=routes, timeout=10
        )
        assert added.status_code == 201, added.text
        urls.append(created.json()["mock_url"])
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
