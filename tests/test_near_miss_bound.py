"""The near-miss ranking stops early: a route whose floor (a distance it cannot beat)
ranks after the limit-th best is never assessed. These pin that the pruning changes
nothing: the result is the one assessing every route gives, ties included."""

from __future__ import annotations

import random
from bisect import bisect_left

import pytest

from controlplane.matching import CompiledRoute, assess, near_miss, rank_near_misses
from controlplane.matching.near_miss import _where
from tests.matching_support import every_route_assessed, route, table, view


def test_a_route_whose_floor_equals_the_limit_th_distance_and_ranks_before_it_is_kept() -> None:
    # Both floors are exactly 0.3, their distances: "far"'s path shares 4 of its 8
    # characters with the request's, in order (0.15 + 0.35 * 3/7), and "at-bound"'s method
    # differs, nothing else. "at-bound" has the earlier key and wins the tie; "far",
    # reached once it is kept, ties on the floor and is skipped, not ended on.
    far = route("far", 2, path="/a/a/abc")
    at_bound = route("at-bound", 1, method="POST", path="/ab/cd")
    request = view("GET", "/ab/cd")
    assert assess(request, far).distance == 0.3
    assert assess(request, at_bound).distance == 0.3
    [miss] = rank_near_misses(request, [far, at_bound], limit=1)
    assert miss.route_id == "at-bound"
    assert [m.route_id for m in rank_near_misses(request, [far, at_bound], limit=2)] == [
        "at-bound",
        "far",
    ]


def test_a_route_whose_floor_ties_the_limit_th_distance_but_ranks_after_it_is_not_kept() -> None:
    far = route("far", 1, path="/a/a/abc")
    at_bound = route("at-bound", 2, method="POST", path="/ab/cd")
    [miss] = rank_near_misses(view("GET", "/ab/cd"), [far, at_bound], limit=1)
    assert miss.route_id == "far"


def test_equal_distances_keep_priority_then_declaration_order_past_the_floors() -> None:
    # Sixty routes (past the small-table threshold, so the table pools neighbours);
    # nine of the neighbours tie at 0.4957 with floors equal to their distances.
    t = table(*(route(f"r{i}", i, path=f"/items/{9940 + i}") for i in range(60)))
    request = view("POST", "/items/9999x")
    misses = t.near_misses(request)
    assert [(m.route_id, m.distance) for m in misses] == [
        ("r59", 0.4652),
        ("r50", 0.4957),
        ("r51", 0.4957),
    ]
    misses = t.near_misses(request, limit=12)
    assert [m.route_id for m in misses] == ["r59", *(f"r{i}" for i in range(50, 59))]
    # A higher priority number ranks later among equal distances, whatever the order.
    first = route("late-but-first", 99, path="/items/9995", priority=1)
    tied = [route(f"r{i}", i, path=f"/items/{9990 + i}", priority=5) for i in range(5)]
    ranked = rank_near_misses(request, [*tied, first], limit=3)
    assert [m.route_id for m in ranked] == ["late-but-first", "r0", "r1"]


def test_the_ranking_is_the_one_assessing_every_route_gives() -> None:
    # Routes of every path kind, methods, conditions, used-up `times` and priorities,
    # against requests near and far from them; every limit from 1 to all routes.
    rng = random.Random(15)
    words = ["users", "user", "items", "orders", "a", "ab", "v1", "v2", "x"]
    routes: list[CompiledRoute] = []
    for order in range(40):
        segments = [rng.choice(words) for _ in range(rng.randint(1, 3))]
        kind = rng.choice(["exact", "template", "regex"])
        fields: dict[str, object] = {"priority": rng.choice([1, 5, 5, 5])}
        if kind == "exact":
            fields["path"] = "/" + "/".join(segments)
        elif kind == "template":
            fields["path"] = "/" + "/".join(segments) + "/{id}"
        else:
            fields["path_regex"] = "/" + "/".join(segments) + "/[0-9]+"
        if rng.random() < 0.3:
            fields["match"] = {"headers": {"X-Tenant": rng.choice(["a", "b"])}}
        method = rng.choice(["GET", "GET", "POST", "*"])
        compiled = route(f"r{order}", order, method=method, **fields)
        if rng.random() < 0.2:
            compiled.remaining = 0
        routes.append(compiled)
    for _ in range(60):
        path = "/" + "/".join(rng.choice([*words, "7", "42"]) for _ in range(rng.randint(1, 4)))
        headers = [("X-Tenant", rng.choice(["a", "c"]))]
        request = view(rng.choice(["GET", "POST"]), path, headers=headers)
        pool = rng.sample(routes, rng.randint(1, len(routes)))
        for limit in range(1, len(pool) + 1):
            assert rank_near_misses(request, pool, limit) == every_route_assessed(
                request, pool, limit
            ), (request.method, path, limit)


def test_a_repeated_miss_sees_routes_added_replaced_and_removed_since() -> None:
    t = table(*(route(f"r{i}", i, path=f"/items/{i}") for i in range(60)))
    request = view("GET", "/items/7x")
    assert t.near_misses(request)[0].route_id == "r7"
    t.add(route("typo", 60, path="/items/7x", match={"headers": {"X-A": "1"}}))
    assert t.near_misses(request)[0].route_id == "typo"
    t.replace(route("typo", 60, path="/elsewhere"))
    assert "typo" not in [m.route_id for m in t.near_misses(request, limit=60)]
    assert t.near_misses(request)[0].route_id == "r7"
    t.remove("r7")
    assert t.near_misses(request)[0].route_id != "r7"
    t.clear()
    assert t.near_misses(request) == []


def test_a_repeated_miss_reads_times_and_conditions_afresh() -> None:
    near = route("near", 1, path="/items/1", match={"headers": {"X-A": "1"}}, times=1)
    t = table(near, *(route(f"r{i}", i + 2, path=f"/items/{i}") for i in range(2, 60)))
    assert t.near_misses(view("GET", "/items/1", headers=[("X-A", "2")]))[0].distance == 0.12
    assert t.near_misses(view("GET", "/items/1", headers=[("X-A", "1")]))[0].distance == 0.0
    near.remaining = 0
    [miss, *_] = t.near_misses(view("GET", "/items/1", headers=[("X-A", "1")]))
    assert (miss.route_id, miss.distance, [d.field for d in miss.diffs]) == (
        "near",
        0.05,
        ["times"],
    )


def test_more_distinct_misses_than_pools_kept_rank_as_fresh_ones() -> None:
    routes = [route(f"r{i}", i, path=f"/items/{i}") for i in range(60)]
    t = table(*routes)
    for round_ in range(2):
        for i in range(100):
            request = view("GET", f"/items/{i}x")
            fresh = table(*routes).near_misses(request)
            assert t.near_misses(request) == fresh, (round_, i)
    assert len(t._pools) == 64  # the memory bound: the newest 64 (method, path) pools


def test_rankings_of_neighbours_are_the_ones_assessing_every_route_gives() -> None:
    # A table past the small-table threshold pools the request path's sorted
    # neighbours: many tie (one character apart); priorities and declaration order
    # break the ties.
    rng = random.Random(7)
    routes = [
        route(f"r{i}", i, path=f"/items/{i}", priority=rng.choice([1, 5, 5]))
        for i in rng.sample(range(3000), 300)
    ]
    t = table(*routes)
    sources = sorted((r.pattern.source, r.id) for r in routes)
    by_id = {r.id: r for r in routes}
    for _ in range(150):
        path = f"/items/{rng.randint(0, 3100)}" + rng.choice(["", "x", "0", "/", "12"])
        request = view("GET", path)
        at = bisect_left(sources, (path,))
        pool = [by_id[i] for _, i in sources[max(0, at - 10) : at + 10]]
        pool += [r for r in routes if r.pattern.source == path and r not in pool]
        for limit in (0, 1, 2, 3, 7, len(pool) + 5):
            got = t.near_misses(request, limit)
            assert got == every_route_assessed(request, pool, limit), (path, limit)
            assert rank_near_misses(request, pool, limit) == got


def test_rankings_of_every_path_kind_are_the_ones_assessing_every_route_gives() -> None:
    rng = random.Random(11)
    words = ["items", "item", "users", "a", "ab", "v1", "x"]
    routes: list[CompiledRoute] = []
    for order in range(45):
        segments = "/" + "/".join(rng.choice(words) for _ in range(rng.randint(1, 3)))
        fields: dict[str, object] = rng.choice(
            [{"path": segments}, {"path": segments + "/{id}"}, {"path_regex": segments + "/[0-9]+"}]
        )
        method = rng.choice(["GET", "POST", "*"])
        routes.append(route(f"r{order}", order, method=method, **fields))
    t = table(*routes)  # small: every route is pooled
    for _ in range(120):
        path = "/" + "/".join(rng.choice([*words, "7"]) for _ in range(rng.randint(1, 4)))
        request = view(rng.choice(["GET", "POST"]), path)
        for limit in (0, 1, 3, 45):
            assert t.near_misses(request, limit) == every_route_assessed(request, routes, limit), (
                request.method,
                path,
                limit,
            )


def test_a_floor_that_rounds_to_the_limit_th_distance_but_is_above_it_does_not_end_it() -> None:
    # Floors are sorted unrounded and rounded as distances when reached: "near" and
    # "twin" cost 0.385454..., "far" 0.385534...; all three round to 0.3855. "twin"
    # ties "near" with a later key and is skipped, and the ranking goes on: "far",
    # further unrounded, ties too, with the earliest key, and wins.
    path = "/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"
    near = route("near", 5, path=path[:9] + "012345")
    twin = route("twin", 6, path=path[:9] + "012345")
    far = route("far", 1, path=path[:26] + "0123456789" * 9 + "012")
    request = view("GET", path)
    assert [assess(request, r).distance for r in (near, twin, far)] == [0.3855] * 3
    floors = [_where(r.pattern.skeleton, path) for r in (near, far)]
    assert floors[0] < floors[1]
    for limit in (1, 2, 3):
        ranked = rank_near_misses(request, [near, twin, far], limit)
        assert [m.route_id for m in ranked] == ["far", "near", "twin"][:limit]


@pytest.mark.parametrize("methods", [["GET"], ["GET", "*"], ["POST"], ["GET", "POST"]])
def test_pools_ranked_by_similarity_are_the_ones_assessing_every_route_gives(
    methods: list[str],
) -> None:
    # When no path matches and the method costs every pooled route the same (all take
    # the request's method, or none does), rapidfuzz ranks the pool by similarity and
    # floors are computed only as far as the ranking goes. Exact paths, templates and
    # regexes of many lengths (equal similarities of unequal lengths: 2/4 and 4/8),
    # routes with conditions and `times` (ranked afresh on a repeated miss).
    rng = random.Random(13)
    routes: list[CompiledRoute] = []
    for order, i in enumerate(rng.sample(range(3000), 240)):
        fields: dict[str, object] = rng.choice(
            [{"path": f"/items/{i}"}, {"path": f"/it/{i}/{{id}}"}, {"path_regex": f"/i/{i}/[a-z]+"}]
        )
        fields |= rng.choice([{}, {}, {"match": {"headers": {"X-A": "1"}}}, {"times": 1}])
        method = rng.choice(methods)
        routes.append(route(f"r{i}", order, method=method, priority=rng.choice([1, 5]), **fields))
    t = table(*routes)
    sources = sorted((r.pattern.source, r.id) for r in routes)
    by_id = {r.id: r for r in routes}
    checked = 0
    for _ in range(200):
        path = rng.choice(["/items/", "/it/", "/i/", "/"]) + str(rng.randint(0, 3100))
        path += rng.choice(["", "x", "0", "/", "/ab/c"])
        if any(r.pattern.match(path) is not None for r in routes):
            continue  # the table pools the routes whose path matches too
        checked += 1
        request = view(rng.choice(["GET", "POST", "PUT"]), path)
        at = bisect_left(sources, (path,))
        pool = [by_id[i] for _, i in sources[max(0, at - 10) : at + 10]]
        for limit in (1, 3, 7):
            expected = every_route_assessed(request, pool, limit)
            assert t.near_misses(request, limit) == expected, (request.method, path, limit)
            assert t.near_misses(request, limit) == expected  # again, from the kept pool
    assert checked > 100


def test_the_floors_kept_by_similarity_are_bounded_and_start_again_when_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A pool rapidfuzz ranks reads each run's path term and rounded floor from a table
    # keyed by the similarity (without and with the method's term); it holds at most
    # `_FLOORS` entries, then starts again, and the ranking is the same either way.
    monkeypatch.setattr(near_miss, "_FLOORS", 2)
    near_miss._UNSHIFTED.clear()
    near_miss._SHIFTED.clear()
    routes = [route(f"r{i}", i, path=f"/items/{i}") for i in range(200)]
    t = table(*routes)
    sources = sorted(routes, key=lambda r: r.pattern.source)
    for method in ("GET", "POST"):
        for path in ("/items/1x", "/items/10x", "/items/1yy", "/items/199/z", "/items/5"):
            request = view(method, path)
            at = bisect_left([r.pattern.source for r in sources], path)
            pool = sources[max(0, at - 10) : at + 10]
            assert t.near_misses(request) == every_route_assessed(request, pool, 3), path
            assert len(near_miss._UNSHIFTED) <= 2
            assert len(near_miss._SHIFTED) <= 2
    assert near_miss._UNSHIFTED
    assert near_miss._SHIFTED
