"""What each proposed hot-path change saves, measured in process (no network).

Run: `.venv/bin/python benchmarks/hot_path_micro.py` (run.py runs it too). It drives
controlplane's real `MockHandler` with prebuilt aiohttp requests for a 1-route session
(default journal of 10,000, full before timing starts) and compares it with variants of
the same handler that apply the proposals of RESULTS.md's Profile section one at a time,
cumulatively. The variants live here only: they show the gain; the code change belongs in
controlplane/. Figures are µs per request of the handler alone (aiohttp's parsing and
writing, about 25-30 µs per request, are not included).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any
from unittest import mock

import msgspec
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from controlplane import wire
from controlplane.journal import JournalEntry
from controlplane.logs import configure_logging
from controlplane.mock_app import MockHandler
from controlplane.request_view import RequestView
from controlplane.sessions import SessionStore

JOURNAL = 10_000
BATCH = 20_000
_EMPTY: dict[str, str] = {}


class Entry(msgspec.Struct, gc=False):
    """Proposed JournalEntry: a C-built struct the cyclic GC never walks."""

    seq: int
    time: float
    view: Any
    route_id: str | None
    handler: str | None
    path_params: dict[str, str]
    status: int
    response_type: str
    delay_ms: float
    error: str | None
    near_misses: Any = None


def _store() -> SessionStore:
    store = SessionStore(JOURNAL)
    store.default.add_routes(
        [
            wire.Route(
                method="GET",
                path="/hello",
                handler="hello",
                response=wire.JsonResponse(body={"ok": True}),
            )
        ]
    )
    return store


def _requests(count: int) -> list[web.BaseRequest]:
    shared = {
        "app": mock.Mock(),
        "protocol": mock.Mock(),
        "transport": mock.Mock(),
        "writer": mock.Mock(),
    }
    headers = {"Host": "127.0.0.1", "User-Agent": "wrk", "Accept": "*/*"}
    return [make_mocked_request("GET", "/hello", headers=headers, **shared) for _ in range(count)]


def _variant(level: int) -> Callable[[MockHandler, web.BaseRequest], Coroutine[Any, Any, Any]]:
    """The matched-request path of `MockHandler.__call__` with proposals 1..level applied."""
    seq = itertools.count(1)
    clock = time.time

    async def handle(self: MockHandler, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        session_id = request.headers.get("X-Controlplane-Session")
        store = self.store
        session = store.default if session_id is None else store.get(session_id)
        assert session is not None
        # 1: no read of an absent body (a GET has EMPTY_PAYLOAD).
        if level >= 1 and not request.body_exists:
            body = b""
        else:
            body = await request.read()
        view = RequestView(request.method, path, request.query_string, request.headers, body)
        found = session.routes.find(view)
        assert found is not None
        route, params = found
        if route.remaining is not None:
            route.remaining -= 1
        handler = route.handler
        responder = session.responses[handler]
        outcome = responder.answer(view)
        journal = session.journal
        if level >= 2:
            # 2: the entry is a gc=False msgspec struct built positionally, its seq from an
            # itertools.count, appended straight to the deque (evicted = seq - len).
            journal._entries.append(
                Entry(next(seq), clock(), view, route.id, handler, params or _EMPTY,
                      outcome.status, outcome.type, outcome.delay_ms, outcome.error)
            )  # fmt: skip
        else:
            journal.append(
                JournalEntry(
                    journal.next_seq(),
                    clock(),
                    view,
                    route_id=route.id,
                    handler=handler,
                    path_params=params or _EMPTY,
                    status=outcome.status,
                    response_type=outcome.type,
                    delay_ms=outcome.delay_ms,
                    error=outcome.error,
                )
            )
        if outcome.delay_ms:
            await asyncio.sleep(outcome.delay_ms / 1000)
        return outcome.response

    return handle


async def _time(call: Callable[[web.BaseRequest], Coroutine[Any, Any, Any]]) -> float:
    """µs per request over a fresh batch (fresh requests: aiohttp caches per request)."""
    requests = _requests(BATCH)
    gc.collect()
    started = time.perf_counter()
    for request in requests:
        await call(request)
    return (time.perf_counter() - started) / BATCH * 1e6


async def measure(repeats: int = 5) -> dict[str, float]:
    names = {
        "current MockHandler.__call__": -1,
        "variant 0 (same code, inlined here)": 0,
        "+1 skip read() of an absent body": 1,
        "+2 journal entry as gc=False struct, count(), deque.append": 2,
    }
    results: dict[str, list[float]] = {name: [] for name in names}
    handlers: dict[str, Callable[[web.BaseRequest], Coroutine[Any, Any, Any]]] = {}
    for name, level in names.items():
        handler = MockHandler(_store())
        if level >= 0:
            bound = _variant(level).__get__(handler)
            handlers[name] = bound
        else:
            handlers[name] = handler
        # Fill the journal first: the steady state is a full journal evicting one per request.
        for request in _requests(JOURNAL):
            await handlers[name](request)
    for _ in range(repeats):
        for name in names:
            results[name].append(await _time(handlers[name]))
    return {name: statistics.median(values) for name, values in results.items()}


def micro_parts(number: int = 200_000) -> dict[str, float]:
    """Isolated costs (µs) of single operations the proposals remove or replace."""
    import timeit

    view = RequestView("GET", "/hello", "", mock.Mock(), b"")

    def current() -> None:
        JournalEntry(1, 0.0, view, route_id="r", handler="h", path_params=_EMPTY,
                     status=200, response_type="json", delay_ms=0.0, error=None)  # fmt: skip

    def proposed() -> None:
        Entry(1, 0.0, view, "r", "h", _EMPTY, 200, "json", 0.0, None)

    out = {}
    for name, func in (
        ("JournalEntry(...) with keywords", current),
        ("Entry(...) gc=False struct, positional", proposed),
    ):
        best = min(timeit.repeat(func, number=number, repeat=5))
        out[name] = best / number * 1e6
    return out


def main() -> None:
    configure_logging("console", "warning")  # as the suite runs the server: no debug events
    results = asyncio.run(measure())
    base = results["variant 0 (same code, inlined here)"]
    for name, us in results.items():
        print(f"{name:<62} {us:6.2f} µs/request  ({us - base:+.2f})")
    for name, us in micro_parts().items():
        print(f"{name:<62} {us:6.3f} µs")


if __name__ == "__main__":
    main()
