"""Near misses: how close each route came to matching a request nobody matched.

The distance is in [0, 1], 0 meaning "would have matched". It is a weighted sum:

- method differs: 0.3;
- path does not match: 0.15, plus up to 0.35 more as the path and the route's pattern
  source differ (difflib's ratio, so a typo costs less than another resource);
- conditions: 0.15 times the share of the route's conditions that fail;
- `times` used up: 0.05.

So a route with the request's method and path that fails on headers or body ranks
before one whose path is a near typo, which ranks before one with another method.

Ranking does real work per route (conditions, difflib), so callers pass a small pool
(see `RouteTable.near_misses`), never every route of a large table.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from difflib import SequenceMatcher

from controlplane import wire
from controlplane.matching.route import CompiledRoute
from controlplane.request_view import RequestView

__all__ = ["assess", "rank_near_misses"]

_METHOD = 0.3
_PATH_FLOOR = 0.15
_PATH_SPREAD = 0.35
_CONDITIONS = 0.15
_TIMES = 0.05


def assess(view: RequestView, route: CompiledRoute) -> wire.NearMiss:
    """How far `route` is from matching `view`, and every difference."""
    diffs: list[wire.Diff] = []
    distance = 0.0
    if route.method is not None and route.method != view.method:
        diffs.append(wire.Diff(field="method", expected=route.method, actual=view.method))
        distance += _METHOD
    source = route.pattern.source
    if route.pattern.match(view.path) is None:
        similarity = SequenceMatcher(None, source, view.path, autojunk=False).ratio()
        diffs.append(wire.Diff(field="path", expected=source, actual=view.path))
        distance += _PATH_FLOOR + _PATH_SPREAD * (1.0 - similarity)
    if route.conditions is not None:
        failing = route.conditions.diffs(view)
        diffs.extend(failing)
        distance += _CONDITIONS * len(failing) / len(route.conditions)
    if route.remaining == 0:
        times = route.spec.times
        diffs.append(
            wire.Diff(field="times", expected=f"at most {times} call(s)", actual="used up")
        )
        distance += _TIMES
    return wire.NearMiss(
        route_id=route.id,
        handler=route.handler,
        distance=round(min(distance, 1.0), 4),
        diffs=diffs,
    )


def rank_near_misses(
    view: RequestView, routes: Iterable[CompiledRoute], limit: int = 3
) -> list[wire.NearMiss]:
    """The `limit` routes closest to matching `view`, closest first; ties by (priority, order)."""
    if limit <= 0:
        return []
    scored = ((assess(view, route), route.key) for route in routes)
    best = heapq.nsmallest(limit, scored, key=lambda item: (item[0].distance, item[1]))
    return [miss for miss, _ in best]
