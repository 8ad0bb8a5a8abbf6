"""Route lookup cost against table size: `find` for the last-declared route, and near misses.

Run: `.venv/bin/python benchmarks/route_lookup.py`. Prints µs per lookup for tables of
10, 1,000 and 10,000 routes of each kind and the 10k/10 ratio, which should stay near 1;
then the unmatched path at 10,000 routes, for a path not seen before and for the same
path again (the table keeps the near-miss pools of recent misses).
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from functools import partial
from itertools import cycle

from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching import RouteTable, compile_route
from controlplane.request_view import RequestView

SIZES = (10, 1_000, 10_000)

# Each kind: a path source for route i, and the request path that hits route i.
KINDS: dict[str, tuple[Callable[[int], str], Callable[[int], str]]] = {
    "exact /items/{i}": (lambda i: f"/items/{i}", lambda i: f"/items/{i}"),
    "template /t{i}/{id}": (lambda i: f"/t{i}/{{id}}", lambda i: f"/t{i}/abc"),
    "template /items/{id}/v{i}": (lambda i: f"/items/{{id}}/v{i}", lambda i: f"/items/42/v{i}"),
}


def build(size: int, source: Callable[[int], str]) -> RouteTable:
    table = RouteTable()
    for i in range(size):
        spec = wire.Route(method="GET", handler=f"h{i}", path=source(i), id=f"r{i}")
        table.add(compile_route(spec, i))
    return table


def view(path: str, method: str = "GET") -> RequestView:
    return RequestView(method, path, "", CIMultiDict(), b"")


def unmatched(table: RouteTable, request: RequestView) -> list[wire.NearMiss]:
    """What the mock app does for a request no route takes: look up, then explain."""
    assert table.find(request) is None
    return table.near_misses(request)


def per_call_us(func: Callable[[], object], number: int) -> float:
    best = min(timeit.repeat(func, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    tables: dict[str, RouteTable] = {}
    for kind, (source, request) in KINDS.items():
        timings: dict[int, float] = {}
        for size in SIZES:
            table = build(size, source)
            tables[f"{kind} {size}"] = table
            target = view(request(size - 1))
            found = table.find(target)
            assert found is not None and found[0].id == f"r{size - 1}", found
            timings[size] = per_call_us(partial(table.find, target), 20_000)
        cells = "  ".join(f"{size:>6}: {us:5.2f} µs" for size, us in timings.items())
        ratio = timings[SIZES[-1]] / timings[SIZES[0]]
        print(f"find    {kind:<28} {cells}   10k/10 = {ratio:.2f}")

    for kind, (_, request) in KINDS.items():
        table = tables[f"{kind} {SIZES[-1]}"]
        miss = view(request(SIZES[-1] - 1) + "x", method="POST")
        assert table.find(miss) is None
        again = per_call_us(partial(unmatched, table, miss), 200)
        # 1,000 distinct misses in turn: the table keeps 64 pools, so each one is new.
        misses = cycle([view(request(i) + "x", method="POST") for i in range(1_000)])
        new = per_call_us(lambda: unmatched(table, next(misses)), 200)  # noqa: B023
        print(
            f"unmatched + near_misses {kind:<28} 10,000 routes: {new:6.1f} µs a new path, "
            f"{again:5.1f} µs the same path again"
        )


if __name__ == "__main__":
    main()
