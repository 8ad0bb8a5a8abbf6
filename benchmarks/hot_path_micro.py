"""The mock handler alone, in process: µs per request, no network.

Run: `.venv/bin/python benchmarks/hot_path_micro.py` (run.py runs it too). It drives
controlplane's real `MockHandler` with prebuilt aiohttp requests against a 1-route
session whose journal (10,000 entries) is full before timing starts, so every request
also evicts one. aiohttp's own parsing and writing (about 25-30 µs per request on the
development machine) are not included: this is what controlplane adds.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from controlplane import wire
from controlplane.logs import configure_logging
from controlplane.mock_app import MockHandler
from controlplane.sessions import SessionStore

JOURNAL = 10_000
BATCH = 20_000


def _store() -> SessionStore:
    store = SessionStore(JOURNAL)
    route = wire.Route(
        method="GET", path="/hello", handler="hello", response=wire.JsonResponse(body={"ok": True})
    )
    store.default.add_routes([route])
    return store


def _requests(count: int, path: str = "/hello") -> list[web.BaseRequest]:
    shared = {
        "app": mock.Mock(),
        "protocol": mock.Mock(),
        "transport": mock.Mock(),
        "writer": mock.Mock(),
    }
    headers = {"Host": "127.0.0.1", "User-Agent": "wrk", "Accept": "*/*"}
    return [make_mocked_request("GET", path, headers=headers, **shared) for _ in range(count)]


async def measure(
    repeats: int = 5, store: SessionStore | None = None, path: str = "/hello"
) -> float:
    """Median µs per request of `MockHandler.__call__` over `repeats` fresh batches
    (by default of `GET /hello` against the 1-route session of `_store`)."""
    handler = MockHandler(store or _store())
    for request in _requests(JOURNAL, path):  # fill the journal: the steady state evicts
        await handler(request)
    timings = []
    for _ in range(repeats):
        batch = _requests(BATCH, path)  # fresh requests: aiohttp caches per request
        gc.collect()
        started = time.perf_counter()
        for request in batch:
            await handler(request)
        timings.append((time.perf_counter() - started) / BATCH * 1e6)
    return statistics.median(timings)


def main() -> None:
    configure_logging("console", "warning")  # as the suite runs the server: no debug events
    us = asyncio.run(measure())
    print(f"MockHandler.__call__, 1 route, full journal: {us:.2f} µs/request")


if __name__ == "__main__":
    main()
