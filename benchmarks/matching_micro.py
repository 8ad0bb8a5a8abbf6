"""The mock handler alone, in process, on the scenarios that match more than a path.

Run: `.venv/bin/python benchmarks/matching_micro.py` (all scenarios, interleaved rounds,
µs per request and the ratio to 1 route). It drives the real `MockHandler` as
`hot_path_micro.py` does (prebuilt aiohttp requests, a full journal that evicts one
entry per request) on the suite's setups (`setups.py`): 1 route, the conditions POST
(4 routes on `/orders`, the request matching the 4th), the same POST to one route
without conditions (`post_plain`), 10,000 template routes (the last declared hit; on
one path, then a new id each request), 100 sessions served round-robin through
`/_s/{id}`, and an unmatched GET at 10,000 exact routes (answered 404 with near
misses), on one path and on a new path each request.

`--scenario NAME --handled N` builds `--count` requests of one scenario (2,000) and
handles the first N, untimed: run it under `valgrind --tool=cachegrind --cache-sim=no`
with N = 0 and N = 2,000 and divide the difference of the instruction counts (`I refs`)
by 2,000, for instructions per request that the machine's load does not disturb.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import msgspec
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from setups import (
    COND_BODY,
    COND_HEADERS,
    COND_PATH,
    ROUTES,
    SESSIONS,
    condition_routes,
    exact_routes,
    plain_post_route,
)
from setups import one_route as one_route_spec
from setups import template_routes as template_route_specs

from controlplane import wire
from controlplane.logs import configure_logging
from controlplane.mock_app import MockHandler
from controlplane.sessions import SessionStore

JOURNAL = 10_000
BATCH = 10_000


def _routes(specs: list[dict[str, Any]]) -> list[wire.Route]:
    return msgspec.convert(specs, list[wire.Route])


def _one_route(journal: int) -> SessionStore:
    store = SessionStore(journal)
    store.default.add_routes(_routes([one_route_spec()]))
    return store


def _conditions(journal: int) -> SessionStore:
    store = SessionStore(journal)
    store.default.add_routes(_routes(condition_routes()))
    return store


def _post_plain(journal: int) -> SessionStore:
    store = SessionStore(journal)
    store.default.add_routes(_routes([plain_post_route()]))
    return store


def _templates(journal: int) -> SessionStore:
    store = SessionStore(journal)
    store.default.add_routes(_routes(template_route_specs()))
    return store


def _exact(journal: int) -> SessionStore:
    store = SessionStore(journal)
    store.default.add_routes(_routes(exact_routes()))
    return store


def _sessions(journal: int) -> SessionStore:
    store = SessionStore(journal)
    for i in range(1, SESSIONS + 1):
        store.create(session_id=f"bench{i}").add_routes(_routes([one_route_spec()]))
    return store


_SHARED = {"app": None, "protocol": None, "transport": None, "writer": None}
_WRK_HEADERS = {"Host": "127.0.0.1:8080"}


def _shared() -> dict[str, Any]:
    if _SHARED["app"] is None:
        for key in _SHARED:
            _SHARED[key] = mock.Mock()
    return _SHARED


def _get(path: str) -> Callable[[int], web.BaseRequest]:
    def build(i: int) -> web.BaseRequest:
        return make_mocked_request("GET", path, headers=_WRK_HEADERS, **_shared())

    return build


class _Protocol:
    """What a request body's stream calls back on the connection (a `Mock` costs more
    than aiohttp's own protocol does)."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def _post(i: int) -> web.BaseRequest:
    shared = _shared()
    payload = StreamReader(_Protocol(), 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    payload.feed_data(COND_BODY)
    payload.feed_eof()
    headers = {**_WRK_HEADERS, **COND_HEADERS, "Content-Length": str(len(COND_BODY))}
    return make_mocked_request("POST", COND_PATH, headers=headers, payload=payload, **shared)


def _round_robin(i: int) -> web.BaseRequest:
    return _get(f"/_s/bench{i % SESSIONS + 1}/hello")(i)


#: name -> (store factory, request factory by index, the status it must answer)
SCENARIOS: dict[
    str, tuple[Callable[[int], SessionStore], Callable[[int], web.BaseRequest], int]
] = {
    "1_route": (_one_route, _get("/hello"), 200),
    "conditions": (_conditions, _post, 201),
    "10k_template": (_templates, _get(f"/svc{ROUTES - 1}/items/42"), 200),
    # The same routes, a new id each request (as lua/template_ids.lua): nothing kept
    # from one request helps the next, and each journal record is new.
    "10k_template_ids": (_templates, lambda i: _get(f"/svc{ROUTES - 1}/items/{i}")(i), 200),
    "100_sessions": (_sessions, _round_robin, 200),
    # Unmatched at 10,000 exact routes: one path, then a new path each request (more
    # than the near-miss pools kept), as setups.py's cp_unmatched_10k(_paths).
    "10k_unmatched": (_exact, _get(f"/items/{ROUTES - 1}x"), 404),
    "10k_unmatched_paths": (_exact, lambda i: _get(f"/items/{i % ROUTES}x")(i), 404),
    # The conditions POST to one route asking nothing of it (setups.py's cp_post_plain):
    # the floor the conditions are measured from.
    "post_plain": (_post_plain, _post, 201),
}


async def _prepared(
    name: str, journal: int
) -> tuple[MockHandler, Callable[[int], web.BaseRequest]]:
    make_store, make_request, status = SCENARIOS[name]
    handler = MockHandler(make_store(journal))
    response = await handler(make_request(0))
    assert response.status == status, (name, response.status, getattr(response, "text", ""))
    for i in range(journal):  # fill the journal(s): the steady state evicts
        await handler(make_request(i))
    return handler, make_request


async def timed(repeats: int) -> dict[str, list[float]]:
    """µs per request of each scenario, `repeats` interleaved rounds."""
    prepared = {name: await _prepared(name, JOURNAL) for name in SCENARIOS}
    timings: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    for _ in range(repeats):
        for name, (handler, make_request) in prepared.items():
            batch = [make_request(i) for i in range(BATCH)]  # fresh: aiohttp caches per request
            gc.collect()
            started = time.perf_counter()
            for request in batch:
                await handler(request)
            timings[name].append((time.perf_counter() - started) / BATCH * 1e6)
    return timings


async def counted(name: str, count: int, handled: int, journal: int) -> None:
    """Build `count` requests of one scenario and handle the first `handled`, for an
    instruction counter outside (two runs that differ only in `handled`)."""
    handler, make_request = await _prepared(name, journal)
    batch = [make_request(i) for i in range(count)]
    for request in batch[:handled]:
        await handler(request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--count", type=int, default=2_000, help="requests built")
    parser.add_argument("--handled", type=int, default=0, help="requests handled")
    parser.add_argument("--journal", type=int, default=1_000)
    args = parser.parse_args()
    configure_logging("console", "warning")  # as the suite runs the server
    if args.scenario is not None:
        asyncio.run(counted(args.scenario, args.count, args.handled, args.journal))
        return
    timings = asyncio.run(timed(args.repeats))
    base = statistics.median(timings["1_route"])
    for name, runs in timings.items():
        us = statistics.median(runs)
        print(
            f"{name:<20} {us:6.2f} µs/request  (min {min(runs):.2f})  "
            f"1 route / this = {base / us:.2f}"
        )


if __name__ == "__main__":
    main()
