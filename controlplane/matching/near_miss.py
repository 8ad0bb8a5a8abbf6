"""Near misses: how close each route came to matching a request nobody matched.

The distance is in [0, 1], 0 meaning "would have matched". It is a sum, capped at 1:

- method differs: 0.3;
- path does not match: 0.15, plus up to 0.35 as the path and the route's path
  *skeleton* differ (difflib's ratio): an exact path itself, a template without its
  parameters, a regex's literal characters (`/users/[0-9]+` -> `/users/`). So a typo
  costs little, another resource much, and a regex costs as far as the request is from
  it, not a flat figure;
- each failing condition: 0.1, plus up to 0.02 as its value is far from the expected
  one. A condition costs no more than 0.12, so one failing condition always ranks
  before two (up to four), and a failing condition before any path difference;
- a `url` condition on a route whose path does not fix it (a WireMock `urlPattern`
  stub: its path is a catch-all) locates the request as a path does, and costs as a
  path: 0.15 plus up to 0.35 by its skeleton;
- `times` used up: 0.05.

One difference is counted once. When the path fails, the `path_params` conditions
are not judged (they read the path), and a `url` condition on an exact path is judged
as if the request had gone to that path: a WireMock `url` stub pays for a wrong path
once, as the path, and its `url` diff appears only when its query differs too.

Ties keep the routes' order (priority, then declaration). Ranking does real work per
route (conditions, difflib on at most 256 characters), so callers pass a small pool
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
_WHERE_FLOOR = 0.15
_WHERE_SPREAD = 0.35
_CONDITION_FLOOR = 0.1
_CONDITION_SPREAD = 0.02
_TIMES = 0.05
#: Characters of each side difflib compares: bounded work for long paths and urls.
_COMPARED = 256


def _similarity(expected: str, actual: str) -> float:
    if not expected or not actual:
        return 0.0
    return SequenceMatcher(None, expected[:_COMPARED], actual[:_COMPARED], autojunk=False).ratio()


def _where(skeleton: str, actual: str) -> float:
    """The cost of a path (or a locating url) that does not match."""
    return _WHERE_FLOOR + _WHERE_SPREAD * (1.0 - _similarity(skeleton, actual))


def assess(view: RequestView, route: CompiledRoute) -> wire.NearMiss:
    """How far `route` is from matching `view`, and every difference (each once)."""
    diffs: list[wire.Diff] = []
    distance = 0.0
    if route.method is not None and route.method != view.method:
        diffs.append(wire.Diff(field="method", expected=route.method, actual=view.method))
        distance += _METHOD
    pattern = route.pattern
    path_matches = pattern.match(view.path) is not None
    if not path_matches:
        diffs.append(wire.Diff(field="path", expected=pattern.source, actual=view.path))
        distance += _where(pattern.skeleton, view.path)
    if route.conditions is not None:
        exact = pattern.kind == "exact"
        for check in route.conditions.checks:
            if path_matches:
                if check(view):
                    continue
            elif check.reads_path or check.holds_at(view, pattern.source if exact else view.path):
                continue
            diff = check.describe(view)
            diffs.append(diff)
            if check.skeleton is not None and not exact:
                distance += _where(check.skeleton, diff.actual)
            else:
                closeness = _similarity(diff.expected, diff.actual)
                distance += _CONDITION_FLOOR + _CONDITION_SPREAD * (1.0 - closeness)
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
    view: RequestView, routes: Iterable[CompiledRoute], limit: int
) -> list[wire.NearMiss]:
    """The `limit` routes closest to matching `view`, closest first; ties by (priority, order).

    A `limit` of 0 or less gives [] without assessing a route (`heapq.nsmallest`).
    """
    scored = ((assess(view, route), route.key) for route in routes)
    best = heapq.nsmallest(limit, scored, key=lambda item: (item[0].distance, item[1]))
    return [miss for miss, _ in best]
