"""Builders for the matching unit tests: requests, routes and tables without a server."""

from __future__ import annotations

import heapq
from typing import Any

import msgspec
from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching import CompiledRoute, RouteTable, assess, compile_route
from controlplane.request_view import RequestView


def view(
    method: str, path: str, *, headers: list[tuple[str, str]] | None = None, json: Any = wire.UNSET
) -> RequestView:
    """A request as the mock port would see it; `json` becomes the body when given."""
    body = b"" if json is wire.UNSET else msgspec.json.encode(json)
    return RequestView(method, path, "", CIMultiDict(headers or []), body)


def route(id: str, order: int, *, method: str = "GET", **fields: Any) -> CompiledRoute:
    """A compiled route from wire fields; the handler defaults to `h-{id}`."""
    fields.setdefault("handler", f"h-{id}")
    spec = msgspec.convert({"id": id, "method": method, **fields}, wire.Route)
    return compile_route(spec, order)


def table(*routes: CompiledRoute) -> RouteTable:
    t = RouteTable()
    for r in routes:
        t.add(r)
    return t


def every_route_assessed(
    request: RequestView, routes: list[CompiledRoute], limit: int
) -> list[wire.NearMiss]:
    """The near-miss ranking without floors, the reference the pruned one must equal:
    assess every route, keep the `limit` smallest by (distance, priority and order, place)."""
    scored = [(assess(request, r), r.key, place) for place, r in enumerate(routes)]
    best = heapq.nsmallest(limit, scored, key=lambda item: (item[0].distance, item[1], item[2]))
    return [miss for miss, *_ in best]


def similarity(a: str, b: str) -> float:
    """The near-miss similarity by brute force, the reference `near_miss` must equal:
    2 * the longest common subsequence / both lengths, of the first 256 characters of
    each (0 when either is empty), the subsequence by a dynamic programme over every
    pair of characters."""
    a, b = a[:256], b[:256]
    if not a or not b:
        return 0.0
    row = [0] * (len(b) + 1)
    for char in a:
        diagonal = 0
        for j, other in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if char == other else max(row[j], row[j - 1])
    return 2.0 * row[-1] / (len(a) + len(b))
