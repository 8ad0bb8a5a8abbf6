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

The similarity is difflib's ratio (`SequenceMatcher(None, a, b, autojunk=False)`),
found by substring searches (`_matching`) at about a quarter of difflib's cost.

Ties keep the routes' order (priority, then declaration). Ranking does real work per
route (conditions, a ratio on at most 256 characters), so callers pass a small pool
(see `RouteTable.near_misses`), never every route of a large table, and the ranking
assesses that pool cheapest-first: each route first gets a *floor*, a distance it
cannot beat (its method exactly, whether its path matches, and for a path that does
not, difflib's ratio bounded by the prefix and suffix both sides share and the
characters of the middles between them, found by one xor of the sides' codes, no
difflib: where the bounds meet the floor is the path's cost, and no difflib runs for
it; conditions and `times` count 0, so a `Pool`'s floors hold for later requests with
the same method and path). Routes are
assessed in (floor, priority, order) order; once `limit` are kept, a route whose
floor, rounded as a distance, ranks after the `limit`-th best is skipped, and the
ranking stops at the first whose rounded floor is above that distance: every later one
ranks after it too (rounded only when reached: a pool of 20 would round 20). The
floor adds the same terms in the same order as `assess`, each no greater, so it is
never above the distance, rounding included; the result is the one assessing every
route of the pool gives.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Container, Iterable
from operator import itemgetter

from controlplane import wire
from controlplane.matching.paths import CODE, PathPattern
from controlplane.matching.paths import COMPARED as _COMPARED
from controlplane.matching.route import CompiledRoute
from controlplane.request_view import RequestView

__all__ = ["Pool", "assess", "rank_near_misses"]

_METHOD = 0.3
_WHERE_FLOOR = 0.15
_WHERE_SPREAD = 0.35
_CONDITION_FLOOR = 0.1
_CONDITION_SPREAD = 0.02
_TIMES = 0.05
#: (distance or floor, route key, place in the pool): the ranking order.
_rank = itemgetter(0, 1, 2)


def _matching(a: str, b: str) -> int:
    """The characters `SequenceMatcher(None, a, b, autojunk=False)` finds matching (its
    matching blocks' sizes added up), found as difflib finds them but by substring
    searches: the longest block common to both ranges, the first in `a` among equally
    long ones and then the first in `b`, then the same left and right of it. Scanning
    `a`, a window one longer than the longest so far is looked for in `b`; found, the
    longest window found there is bisected (a window found has every prefix found). A
    range costs about its length in `str.find` calls, not difflib's loop over every
    pair of equal characters."""
    total = 0
    find = b.find
    ranges = [(0, len(a), 0, len(b))]
    while ranges:
        alo, ahi, blo, bhi = ranges.pop()
        size = besti = bestj = 0
        i = alo
        while i + size < ahi:
            j = find(a[i : i + size + 1], blo, bhi)
            if j >= 0:
                # The longest window at i found in b: `low` found, `high + 1` not.
                low, high = size + 1, min(ahi - i, bhi - blo)
                while low < high:
                    middle = (low + high + 1) // 2
                    found = find(a[i : i + middle], blo, bhi)
                    if found >= 0:
                        low, j = middle, found
                    else:
                        high = middle - 1
                size, besti, bestj = low, i, j
            i += 1
        if size:
            total += size
            if alo < besti and blo < bestj:
                ranges.append((alo, besti, blo, bestj))
            if besti + size < ahi and bestj + size < bhi:
                ranges.append((besti + size, ahi, bestj + size, bhi))
    return total


def _similarity(expected: str, actual: str) -> float:
    """difflib's ratio of the two (their first `_COMPARED` characters each)."""
    if not expected or not actual:
        return 0.0
    a, b = expected[:_COMPARED], actual[:_COMPARED]
    return 2.0 * _matching(a, b) / (len(a) + len(b))


def _where(skeleton: str, actual: str) -> float:
    """The cost of a path (or a locating url) that does not match."""
    return _WHERE_FLOOR + _WHERE_SPREAD * (1.0 - _similarity(skeleton, actual))


class _RequestPath:
    """The request path, compared with many skeletons: its characters are encoded once
    for the floors, each skeleton's cost is kept for a pool asked again."""

    __slots__ = ("_costs", "code", "path", "size")

    def __init__(self, path: str) -> None:
        self.path = path
        compared = path[:_COMPARED]
        self.size = len(compared)
        self.code = int.from_bytes(compared.encode(CODE, "surrogatepass"))
        #: Skeleton -> its cost, for a pool answering the same request path again, and
        #: for the skeletons whose floor is their cost (`where_floor`).
        self._costs: dict[str, float] = {}

    def where(self, skeleton: str) -> float:
        """`_where(skeleton, self.path)`."""
        cost = self._costs.get(skeleton)
        if cost is None:
            cost = self._costs[skeleton] = _where(skeleton, self.path)
        return cost

    def where_floor(self, pattern: PathPattern) -> float:
        """A cost `where(pattern.skeleton)` cannot go below, without difflib; when the
        bounds below meet, it is that cost, and is kept as it. difflib's ratio is
        2 * matched / (both lengths), and of the matched characters:

        - at least the common prefix, or the common suffix: difflib's first block is
          the longest common one, at least as long as either;
        - at most the longest common subsequence (the blocks are one): the common
          prefix, the common suffix of the rest, and of the middles between them at
          most the characters of the shorter that the longer has, and fewer than the
          shorter's length when the two are equally long (they differ where the prefix
          ends).

        Prefix and suffix come from one xor of the two sides' codes (32 bits a character)."""
        size = pattern.skeleton_size
        length = self.size
        if not size or not length:
            return _WHERE_FLOOR + _WHERE_SPREAD * (1.0 - 0.0)
        shorter = size if size < length else length
        code = pattern.skeleton_code
        mine = self.code
        head = (code >> 32 * (size - shorter)) ^ (mine >> 32 * (length - shorter))
        prefix = shorter - (head.bit_length() + 31) // 32
        if prefix == shorter:  # one is the other's beginning
            least = most = shorter
        else:
            skeleton = pattern.skeleton
            path = self.path
            if skeleton[size - 1] != path[length - 1]:
                suffix = 0
            else:
                tail = (code ^ mine) & ((1 << 32 * shorter) - 1)
                suffix = ((tail & -tail).bit_length() - 1) // 32 if tail else shorter
            least = prefix if prefix > suffix else suffix
            if suffix > shorter - prefix:
                suffix = shorter - prefix
            # The subsequence: prefix, suffix of the rest, and of the middles at most
            # the shorter one's characters that the longer one has, and one less than
            # the shorter one when they are equally long (they differ where the prefix
            # ends).
            ours = skeleton[prefix : size - suffix]
            theirs = path[prefix : length - suffix]
            if size < length:
                found = sum(map(theirs.__contains__, ours))
                most = prefix + suffix + found
            else:
                found = sum(map(ours.__contains__, theirs))
                middle = shorter - prefix - suffix - (size == length)
                most = prefix + suffix + (found if found < middle else middle)
        cost = _WHERE_FLOOR + _WHERE_SPREAD * (1.0 - 2.0 * most / (size + length))
        if least == most:
            self._costs[pattern.skeleton] = cost
        return cost


def assess(view: RequestView, route: CompiledRoute) -> wire.NearMiss:
    """How far `route` is from matching `view`, and every difference (each once)."""
    path = view.path
    return _assess(view, route, route.pattern.match(path) is not None, _RequestPath(path))


def _assess(
    view: RequestView, route: CompiledRoute, path_matches: bool, request_path: _RequestPath
) -> wire.NearMiss:
    diffs: list[wire.Diff] = []
    distance = 0.0
    if route.method is not None and route.method != view.method:
        diffs.append(wire.Diff(field="method", expected=route.method, actual=view.method))
        distance += _METHOD
    pattern = route.pattern
    if not path_matches:
        diffs.append(wire.Diff(field="path", expected=pattern.source, actual=view.path))
        distance += request_path.where(pattern.skeleton)
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


class Pool:
    """Routes to rank for one request method and path, sorted by floor: what does not
    change while the routes do not (`RouteTable` keeps a few, for requests that miss
    again). Ranking reads conditions and `times` afresh each time, unless every route
    it assessed has neither: then the ranking cannot change (the same routes are
    assessed again, to the same distances), and the list it gave is given again, the
    same object, so a caller may keep what it derived from it (`controlplane.no_route`).
    """

    __slots__ = ("_floors", "_kept", "_request_path")

    def __init__(
        self,
        method: str,
        path: str,
        routes: Iterable[CompiledRoute],
        matching: Container[str] | None = None,
    ) -> None:
        """`matching`, when given, holds the ids of the routes whose path matches `path`
        (the table's index found them): no route's pattern is matched again."""
        request_path = self._request_path = _RequestPath(path)
        floors: list[tuple[float, tuple[int, int], int, CompiledRoute, bool]] = []
        for place, route in enumerate(routes):
            if matching is None:
                matches = route.pattern.match(path) is not None
            else:
                matches = route.id in matching
            # The floor, a distance `assess` cannot go below: its terms in its order,
            # each no greater (conditions and `times` count 0, so the floors outlive
            # calls), so floating point rounds it no higher; at most 0.3 + 0.5, so
            # `assess`'s cap at 1 cannot lower the distance below it. Rounded as a
            # distance only when the ranking reaches it. Inline: a pool of 120 routes
            # would pay 120 calls more.
            floor = 0.0
            if route.method is not None and route.method != method:
                floor += _METHOD
            if not matches:
                floor += request_path.where_floor(route.pattern)
            floors.append((floor, route.key, place, route, matches))
        floors.sort(key=_rank)
        self._floors = floors
        #: (limit, its ranking) when that ranking read no condition and no `times`.
        self._kept: tuple[int, list[wire.NearMiss]] | None = None

    def rank(self, view: RequestView, limit: int) -> list[wire.NearMiss]:
        """`rank_near_misses` of these routes; `view` has the pool's method and path."""
        kept = self._kept
        if kept is not None and kept[0] == limit:
            return kept[1]
        request_path = self._request_path
        best: list[tuple[float, tuple[int, int], int, wire.NearMiss]] = []
        if limit <= 0:
            return []
        fixed = True
        for floor, key, place, route, matches in self._floors:
            if len(best) == limit:
                least = round(floor, 4)
                last = best[-1]
                if least > last[0]:
                    break  # this route, and every one after it, ranks after the limit-th
                if (least, key, place) > last[:3]:
                    continue  # a tie on the distance, with a later key or place
            miss = _assess(view, route, matches, request_path)
            if route.conditions is not None or route.remaining is not None:
                fixed = False
            insort(best, (miss.distance, key, place, miss), key=_rank)
            del best[limit:]
        ranked = [miss for *_, miss in best]
        if fixed:
            self._kept = (limit, ranked)
        return ranked


def rank_near_misses(
    view: RequestView, routes: Iterable[CompiledRoute], limit: int
) -> list[wire.NearMiss]:
    """The `limit` routes closest to matching `view`, closest first; ties by (priority,
    order), then by their place in `routes`.

    A `limit` of 0 or less gives [] without assessing a route.
    """
    if limit <= 0:
        return []
    return Pool(view.method, view.path, routes).rank(view, limit)
