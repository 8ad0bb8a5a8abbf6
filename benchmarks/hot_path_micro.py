"""The mock handler alone, in process: µs per request, no network.

Run: `.venv/bin/python benchmarks/hot_path_micro.py` (run.py runs it too). It drives
controlplane's real `MockHandler` with prebuilt aiohttp requests against a 1-route
session whose journal (10,000 entries) is full before timing starts, so every request
also evicts one. aiohttp's own parsing and writing (about 25-30 µs per request on the
development machine) are not included: this is what controlplane adds.

The second figure is the whole request in process: pipelined `GET /hello` requests fed
to aiohttp's own connection handler (`web.Server`, its parser, the handler, the answer
written) over a transport that only counts what it is given, for controlplane's
`MockHandler` and for the bare server's handler (`bare_server.py`) in the same run. No
sockets, so `valgrind --tool=callgrind` counts instructions per request for both
(`--full`: only these figures; `--requests N`; `--only controlplane|bare`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
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


class _Sink(asyncio.Transport):
    """A connection's transport that takes every write at once and counts the writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes += 1

    def writelines(self, list_of_data: Any) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
_PIPELINE = 50  # requests per packet, as wrk's connections keep aiohttp busy


async def measure_full(handler: Handler, requests: int) -> float:
    """µs per request of aiohttp's connection handler serving `handler`: `requests`
    pipelined `GET /hello`, `_PIPELINE` per packet, after `JOURNAL` to warm up (and
    fill the journal: the steady state evicts). For instruction counts, run two
    `requests` and divide the difference: the warm-up and start-up cancel out."""
    server = web.Server(handler, access_log=None)
    protocol = server()
    transport = _Sink()
    protocol.connection_made(transport)
    packet = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: wrk\r\n\r\n" * _PIPELINE

    async def serve(count: int) -> None:
        answered = transport.writes
        for _ in range(count // _PIPELINE):
            protocol.data_received(packet)
            answered += _PIPELINE
            spins = 0
            while transport.writes < answered and spins < 100 * _PIPELINE:  # bounded
                await asyncio.sleep(0)
                spins += 1
        assert transport.writes == answered, (transport.writes, answered)

    await serve(JOURNAL)
    gc.collect()
    started = time.perf_counter()
    await serve(requests)
    elapsed = time.perf_counter() - started
    protocol.connection_lost(None)
    await server.shutdown(0.1)
    return elapsed / requests * 1e6


async def _full(requests: int, only: str | None) -> tuple[float, float]:
    import bare_server  # benchmarks/ is on sys.path when this file runs

    bare = await measure_full(bare_server.handle, requests) if only != "controlplane" else 0.0
    ours = await measure_full(MockHandler(_store()), requests) if only != "bare" else 0.0
    return ours, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="only the whole-request figures")
    parser.add_argument("--requests", type=int, default=20_000, help="per whole-request run")
    parser.add_argument(
        "--only", choices=("controlplane", "bare"), help="one server (for callgrind's counts)"
    )
    args = parser.parse_args()
    configure_logging("console", "warning")  # as the suite runs the server: no debug events
    if not args.full:
        us = asyncio.run(measure())
        print(f"MockHandler.__call__, 1 route, full journal: {us:.2f} µs/request")
    ours, bare = _run(_full(args.requests, args.only))
    ratio = f", bare/controlplane {bare / ours:.2f}" if ours and bare else ""
    print(
        f"whole request through aiohttp's handler, in process: controlplane {ours:.2f} µs, "
        f"bare {bare:.2f} µs{ratio}"
    )


def _run(coroutine: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


if __name__ == "__main__":
    main()
