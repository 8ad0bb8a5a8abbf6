"""A templated response against the same canned one, in process: µs per request.

Run: `.venv/bin/python benchmarks/templating_micro.py`. Drives the real `MockHandler`
as `hot_path_micro.py` does (full journal, no network), once for a route answering a
canned JSON body and once for the same route with `template: true` rendering two of
its strings from the request (a path parameter and a query parameter), and prints both
and the difference (the budget: at most ~25 µs).
"""

from __future__ import annotations

import asyncio
import statistics

from hot_path_micro import measure

from controlplane import wire
from controlplane.logs import configure_logging
from controlplane.sessions import SessionStore

PATH = "/users/42?q=x"
ROUNDS = 5


def _store(body: dict[str, object], template: bool) -> SessionStore:
    store = SessionStore(10_000)
    response = (
        wire.JsonResponse(body=body, template=True) if template else wire.JsonResponse(body=body)
    )
    route = wire.Route(method="GET", path="/users/{id}", handler="user", response=response)
    store.default.add_routes([route])
    return store


async def compare() -> tuple[float, float]:
    """Median µs per request of the canned and of the templated route, interleaved."""
    canned_body = {"id": "42", "q": "x", "ok": True}
    templated_body = {"id": "{{request.path.id}}", "q": "{{request.query.q}}", "ok": True}
    canned, templated = [], []
    for _ in range(ROUNDS):
        canned.append(await measure(1, _store(canned_body, False), PATH))
        templated.append(await measure(1, _store(templated_body, True), PATH))
    return statistics.median(canned), statistics.median(templated)


def main() -> None:
    configure_logging("console", "warning")
    canned, templated = asyncio.run(compare())
    print(f"canned JSON route:    {canned:.2f} µs/request")
    print(f"templated JSON route: {templated:.2f} µs/request")
    print(f"templating costs {templated - canned:.2f} µs ({templated / canned:.2f}x)")


if __name__ == "__main__":
    main()
