"""Near misses: how close each route came to matching a request nobody matched.

The distance is in [0, 1], 0 meaning "would have matched". It is a sum, capped at 1:

- method differs: 0.3;
- path does not match: 0.15, plus up to 0.35 as the path and the route's path
  *skeleton* differ (their similarity, below): an exact path itself, a template without its
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

The similarity of two strings is 2 * their longest common subsequence / their lengths
added (the Indel ratio; 0 when either is empty), of their first 256 characters each,
the subsequence found by rapidfuzz in C (`LCSseq`). It was difflib's ratio until
issue 15, the same figure wherever difflib's blocks make a longest common subsequence,
as they nearly always do for paths (docs/decisions.md).

Ties keep the routes' order (priority, then declaration). Ranking does real work per
route (conditions, a similarity on at most 256 characters), so callers pass a small
pool (see `RouteTable.near_misses`), never every route of a large table, and the
ranking assesses that pool cheapest-first: each route first gets a *floor*, a distance
it cannot beat, its method and path costs exactly (conditions and `times` count 0, so
a `Pool`'s floors hold for later requests with the same method and path). Routes are
assessed in floor order (equal floors in any order); once `limit` are kept, a route
whose floor, rounded as a distance, ranks after the `limit`-th best (by distance, then
priority, order and place) is skipped, and the ranking stops at the first whose
rounded floor is above that distance: every later one ranks after it too (rounded
only when reached, each distinct floor once: a pool of 20 would round 20; a pool
ranked by similarity reads them from a bounded table by similarity, `_floor`). A route
without conditions and `times` has its floor as its distance, rounded the same. The
floor adds the same terms as `assess`, without the conditions and `times`, so it is
never above the distance, rounding included; the result is the one assessing every
route of the pool gives.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Collection, Container, Iterable, Sequence
from operator import attrgetter, itemgetter

from rapidfuzz.distance import Indel, LCSseq
from rapidfuzz.process import extract as _extract

from controlplane import wire
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
#: The length of the longest common subsequence of two strings.
_common = LCSseq.similarity
_floor_of = itemgetter(0)
_miss_of = itemgetter(3)
_skeleton_of = attrgetter("pattern.skeleton")
_method_of = attrgetter("method")
#: The similarity as rapidfuzz computes it, 1 - the Indel distance / the lengths added:
#: not the same float as `_similarity`'s, but in the same order (`Pool`).
_SIMILARITY = Indel.normalized_similarity


def _similarity(expected: str, actual: str) -> float:
    """2 * their longest common subsequence / their lengths added, of their first
    `_COMPARED` characters each; 0 when either is empty."""
    if not expected or not actual:
        return 0.0
    a, b = expected[:_COMPARED], actual[:_COMPARED]
    return 2.0 * _common(a, b) / (len(a) + len(b))


def _where(skeleton: str, actual: str) -> float:
    """The cost of a path (or a locating url) that does not match."""
    return _WHERE_FLOOR + _WHERE_SPREAD * (1.0 - _similarity(skeleton, actual))


def assess(view: RequestView, route: CompiledRoute) -> wire.NearMiss:
    """How far `route` is from matching `view`, and every difference (each once)."""
    path = view.path
    matches = route.pattern.match(path) is not None
    return _assess(view, route, None if matches else _where(route.pattern.skeleton, path))


def _assess(
    view: RequestView, route: CompiledRoute, where: float | None, rounded: float | None = None
) -> wire.NearMiss:
    """`assess`, given the path's cost (`_where`), None when the path matches, and,
    for a route without conditions and `times`, its distance when already rounded."""
    diffs: list[wire.Diff] = []
    distance = 0.0
    if route.method is not None and route.method != view.method:
        diffs.append(wire.Diff(field="method", expected=route.method, actual=view.method))
        distance += _METHOD
    pattern = route.pattern
    path_matches = where is None
    if where is not None:
        diffs.append(wire.Diff(field="path", expected=pattern.source, actual=view.path))
        distance += where
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
        distance=round(min(distance, 1.0), 4) if rounded is None else rounded,
        diffs=diffs,
    )


def _shift_of(kinds: set[str | None], method: str) -> float | None:
    """The method's term every route of a pool with these methods (None: any) pays
    against `method`: 0 when each accepts it, `_METHOD` when none does; None when
    they differ (then the floors do not rank as the path similarities)."""
    same = {None, method}
    if kinds <= same:
        return 0.0
    return None if kinds & same else _METHOD


def _plain_miss(
    route: CompiledRoute, path: str, method: str, shift: float, distance: float
) -> wire.NearMiss:
    """`_assess` of a route without conditions and `times` that no path matches, whose
    method differs when `shift` (then every route's of its pool does): `distance` is
    its rounded floor, which is its distance. Built directly, not through `_assess`:
    the two plain rankings keep three a request, and this skips every test that
    cannot apply."""
    diffs = [wire.Diff(field="path", expected=route.pattern.source, actual=path)]
    if shift:
        other = route.method or ""  # never None: shifted, it differs
        diffs.insert(0, wire.Diff(field="method", expected=other, actual=method))
    return wire.NearMiss(route_id=route.id, handler=route.handler, distance=distance, diffs=diffs)


#: (path term, rounded floor) of a route by rapidfuzz's similarity of its skeleton
#: (`Pool`: equal similarities are equal ratios, so the same terms), without and with
#: the method's term: a rounding costs about 3,000 instructions, a lookup 100.
_UNSHIFTED: dict[float, tuple[float, float]] = {}
_SHIFTED: dict[float, tuple[float, float]] = {}
_FLOORS = 4096  # entries each keeps, at most (then it starts again)


#: A table's sorted columns (`RouteTable`): routes, their skeletons, methods and keys.
_Columns = tuple[Sequence[CompiledRoute], Sequence[str], Sequence[str | None], Sequence[int]]

#: A near miss kept by a ranking, with what orders it: (distance, key, place, miss).
_Kept = tuple[float, tuple[int, int], int, wire.NearMiss]


def _keep(best: list[_Kept], kept: _Kept, limit: int) -> tuple[float, tuple[int, int], int] | None:
    """Put `kept` in its place in `best` (sorted), at most `limit` staying; the
    (distance, key, place) of the limit-th best once there are `limit`, else None."""
    insort(best, kept)
    if len(best) < limit:
        return None
    del best[limit:]
    return best[-1][:3]


def _floor(
    floors: dict[float, tuple[float, float]], skeleton: str, actual: str, shift: float, key: float
) -> tuple[float, float]:
    """The path term and rounded floor of `skeleton` against `actual`, kept in `floors`
    under `key`, rapidfuzz's similarity of the two."""
    common = _common(skeleton, actual)
    similarity = 2.0 * common / (len(skeleton) + len(actual)) if common else 0.0
    where = _WHERE_FLOOR + _WHERE_SPREAD * (1.0 - similarity)
    if len(floors) >= _FLOORS:
        floors.clear()
    found = floors[key] = (where, round(where + shift, 4))
    return found


class Pool:
    """Routes to rank for one request method and path, sorted by floor: what does not
    change while the routes do not (`RouteTable` keeps a few, for requests that miss
    again). Ranking reads conditions and `times` afresh each time, unless every route
    it assessed has neither: then the ranking cannot change (the same routes are
    assessed again, to the same distances), and the list it gave is given again, the
    same object, so a caller may keep what it derived from it (`controlplane.no_route`).
    """

    __slots__ = ("_actual", "_kept", "_keys", "_offset", "_routes", "_shift", "_similar", "_steps")

    def __init__(
        self,
        method: str,
        path: str,
        routes: Iterable[CompiledRoute],
        matching: Container[str] | None = None,
    ) -> None:
        """`matching`, when given, holds the ids of the routes whose path matches `path`
        (the table's index found them): no route's pattern is matched again."""
        # The floor of a route, a distance `assess` cannot go below: its method and
        # path terms (conditions and `times` count 0, so the floors outlive calls),
        # added in any order: floating point addition commutes, and adding more cannot
        # round lower. At most 0.3 + 0.5, so `assess`'s cap at 1 cannot lower the
        # distance below it. Rounded as a distance only when the ranking reaches it.
        # The path's term is `_where`, inline (a call per route costs as much again):
        # skeletons hold their compared characters only.
        self._routes: Sequence[CompiledRoute] = list(routes)
        routes = self._routes
        #: Where the pool's routes start in `_routes` (`neighbours`: the table's list).
        self._offset = 0
        #: The routes' (priority, order) keys, by their place in `_routes`, when every
        #: route has neither conditions nor `times` (`neighbours`): `_rank_plain`.
        self._keys: Sequence[int] | None = None
        self._actual = actual = path[:_COMPARED]
        size = len(actual)
        #: (limit, its ranking) when that ranking read no condition and no `times`.
        self._kept: tuple[int, list[wire.NearMiss]] | None = None
        #: (skeleton, similarity, place) of each route, most similar first, equal ones
        #: by place (rapidfuzz's order), when the floors rank as the similarities; else
        #: `_steps`, (floor, path term, place) of each route by floor.
        self._similar: list[tuple[str, float, int]] | None = None
        self._steps: list[tuple[float, float | None, int]] = []
        self._shift = 0.0  # the method's term, when it is every route's
        shift = _shift_of(set(map(_method_of, routes)), method)
        if size and matching is not None and not matching and shift is not None:
            # No path matches and the method costs every route the same: the floors
            # rank as the similarities, and rapidfuzz ranks those in one call, in C.
            # A similarity is a ratio of integers at most 512, so distinct ones are
            # distinct floats, and equal ones the same floor: the floor is computed
            # once for each distinct similarity the ranking reaches (`_by_similarity`).
            self._shift = shift
            skeletons = list(map(_skeleton_of, routes))
            self._similar = _extract(actual, skeletons, scorer=_SIMILARITY, limit=None)
            return
        steps = self._steps
        for place, route in enumerate(routes):
            if matching is None:
                matches = route.pattern.match(path) is not None
            else:
                matches = route.id in matching
            if matches:
                floor = 0.0
                where = None
            else:
                skeleton = route.pattern.skeleton
                common = _common(skeleton, actual)
                similarity = 2.0 * common / (len(skeleton) + size) if common else 0.0
                floor = where = _WHERE_FLOOR + _WHERE_SPREAD * (1.0 - similarity)
            if route.method is not None and route.method != method:
                floor += _METHOD
            steps.append((floor, where, place))
        # By floor alone, equal floors in any order: the ranking never stops inside a
        # tie and judges each tied route by its own key and place.
        steps.sort(key=_floor_of)

    @classmethod
    def neighbours(
        cls,
        method: str,
        path: str,
        table: _Columns,
        start: int,
        stop: int,
        kinds: Collection[str | None],
        plain: bool,
    ) -> Pool:
        """The pool of `table`'s routes from `start` to `stop` (sorted columns: routes,
        skeletons, methods, keys), none of whose paths matches `path`. `kinds` holds
        every method of the table's routes, `plain` says none has conditions or `times`:
        facts of the table, known when its routes change, so a pool of one method's
        routes needs no set of the slice's methods, and a plain one reads no route
        object until it builds the near misses it keeps (`_rank_plain`)."""
        routes, skeletons, methods, keys = table
        actual = path[:_COMPARED]
        if len(kinds) == 1:  # `_shift_of` of the table's one method, no set built
            shift: float | None = 0.0 if None in kinds or method in kinds else _METHOD
        else:
            shift = _shift_of(set(methods[start:stop]), method)
        if not actual or shift is None:
            return cls(method, path, routes[start:stop], ())
        pool = cls.__new__(cls)
        pool._routes, pool._offset, pool._actual = routes, start, actual
        pool._keys = keys if plain else None
        pool._kept, pool._steps, pool._shift = None, [], shift
        pool._similar = _extract(actual, skeletons[start:stop], scorer=_SIMILARITY, limit=None)
        return pool

    def _rank_plain(self, view: RequestView, limit: int) -> list[wire.NearMiss]:
        """`rank` of a pool rapidfuzz ordered whose routes have no conditions and no
        `times`: each distance is its rounded floor, so the routes are taken a group of
        equal distances at a time (in rapidfuzz's order, every later group ranks after
        it), by key within the group, until `limit` are taken; only those are read.
        A group is its routes' places in the table, sorted by the table's keys (unique:
        a place never decides): no (key, place) pair is built per route, and only the
        keys of the routes grouped are read."""
        offset, shift, actual = self._offset, self._shift, self._actual
        keys = self._keys or []
        floors = _SHIFTED if shift else _UNSHIFTED
        routes, path, method = self._routes, view.path, view.method
        ranked: list[wire.NearMiss] = []
        pending = iter(self._similar or ())
        entry = next(pending, None)  # the first route of the next group, if any
        while entry is not None and len(ranked) < limit:
            skeleton, score, place = entry
            found = floors.get(score)
            if found is None:
                found = _floor(floors, skeleton, actual, shift, score)
            least = found[1]
            group = [offset + place]
            for entry in pending:
                skeleton, other, place = entry
                if other != score:  # a new similarity: the same group if it rounds the same
                    found = floors.get(other)
                    if found is None:
                        found = _floor(floors, skeleton, actual, shift, other)
                    if found[1] != least:
                        break
                    score = other
                group.append(offset + place)
            else:
                entry = None
            if len(group) > 1:
                group.sort(key=keys.__getitem__)
            for at in group[: limit - len(ranked)]:
                ranked.append(_plain_miss(routes[at], path, method, shift, least))
        self._kept = (limit, ranked)
        return ranked

    def _rank_similar(self, view: RequestView, limit: int) -> list[wire.NearMiss]:
        """`rank` of a pool rapidfuzz ordered (`_similar`), a run of equal similarities
        at a time: the run's routes share a floor, and are taken by (key, place), so
        the first that ranks after the limit-th best ends the run (every later one
        ranks after it too, conditions or not) and its routes need no step each."""
        routes, actual, similar = self._routes, self._actual, self._similar or []
        count, shift, offset = len(similar), self._shift, self._offset
        path, method = view.path, view.method
        best: list[_Kept] = []
        bound: tuple[float, tuple[int, int], int] | None = None
        fixed = True
        start = 0
        floors = _SHIFTED if shift else _UNSHIFTED
        while start < count:
            similar_to = similar[start][1]
            found = floors.get(similar_to)
            if found is None:
                found = _floor(floors, similar[start][0], actual, shift, similar_to)
            where, least = found
            if bound is not None and least > bound[0]:
                break  # this run, and every one after it, ranks after the limit-th
            run: list[tuple[tuple[int, int], int]] = []
            for _, score, place in similar[start:]:
                if score != similar_to:
                    break
                run.append((routes[offset + place].key, place))
            start += len(run)
            if len(run) > 1:
                run.sort()
            for key, place in run:
                if bound is not None and (least, key, place) > bound:
                    break  # so do the rest of the run: later keys, the same floor
                route = routes[offset + place]
                if route.conditions is None and route.remaining is None:
                    miss = _plain_miss(route, path, method, shift, least)
                else:
                    miss = _assess(view, route, where)
                    fixed = False
                bound = _keep(best, (miss.distance, key, place, miss), limit)
        return self._ranked(best, limit, fixed)

    def _ranked(self, best: list[_Kept], limit: int, fixed: bool) -> list[wire.NearMiss]:
        """The near misses of `best`, kept for the next call when `fixed` (the ranking
        read no condition and no `times`)."""
        ranked = list(map(_miss_of, best))
        if fixed:
            self._kept = (limit, ranked)
        return ranked

    def rank(self, view: RequestView, limit: int) -> list[wire.NearMiss]:
        """`rank_near_misses` of these routes; `view` has the pool's method and path."""
        kept = self._kept
        if kept is not None and kept[0] == limit:
            return kept[1]
        if limit <= 0:
            return []
        if self._similar is not None:
            if self._keys is not None:
                return self._rank_plain(view, limit)
            return self._rank_similar(view, limit)
        best: list[_Kept] = []
        routes = self._routes
        fixed = True
        seen = least = -1.0  # the last floor rounded, and its rounding
        #: (distance, key, place) of the limit-th best, once `limit` are kept.
        bound: tuple[float, tuple[int, int], int] | None = None
        for floor, where, place in self._steps:
            if floor != seen:  # ties on the floor are many among neighbours
                seen, least = floor, round(floor, 4)
            route = routes[place]
            if bound is not None:
                if least > bound[0]:
                    break  # this route, and every one after it, ranks after the limit-th
                if (least, route.key, place) > bound:
                    continue  # a tie on the distance, with a later key or place
            if route.conditions is None and route.remaining is None:
                # Its floor is its distance: the same terms, and at most 0.8.
                miss = _assess(view, route, where, least)
            else:
                miss = _assess(view, route, where)
                fixed = False
            bound = _keep(best, (miss.distance, route.key, place, miss), limit)
        return self._ranked(best, limit, fixed)


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
