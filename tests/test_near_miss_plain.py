"""A table's pool of neighbours knows, from facts the table keeps as its routes change,
whether every route has one method and none has conditions or `times`: then it ranks
by rapidfuzz's order and the routes' keys alone (`Pool._rank_plain`); else it reads
each route (the fallbacks). Either way the result is the one assessing every pooled
route gives; these pin each branch, and that the facts follow every change."""

from __future__ import annotations

import random
from bisect import bisect_left

import pytest

from controlplane.matching import CompiledRoute, RouteTable, assess
from tests.matching_support import every_route_assessed, route, table, view


def _neighbours(routes: list[CompiledRoute], path: str) -> list[CompiledRoute]:
    """The pool a table of more than 50 routes ranks for a path no route matches."""
    ordered = sorted(routes, key=lambda r: (r.pattern.source, r.id))
    at = bisect_left([r.pattern.source for r in ordered], path)
    return ordered[max(0, at - 10) : at + 10]


@pytest.mark.parametrize("method", ["GET", "*", "POST"])
def test_plain_pools_rank_as_assessing_every_route_gives(method: str) -> None:
    # One method for every route (the request's, any, or another: the method's term is
    # every route's); priorities shuffle the keys against the sources' order, so the
    # routes tied on a distance are taken by key, not by rapidfuzz's place.
    rng = random.Random(17)
    routes: list[CompiledRoute] = []
    for order, i in enumerate(rng.sample(range(3000), 240)):
        fields: dict[str, object] = rng.choice(
            [{"path": f"/items/{i}"}, {"path": f"/it/{i}/{{id}}"}, {"path_regex": f"/i/{i}/[a-z]+"}]
        )
        routes.append(
            route(f"r{i}", order, method=method, priority=rng.choice([1, 5, 9]), **fields)
        )
    t = table(*routes)
    checked = 0
    for _ in range(200):
        path = rng.choice(["/items/", "/it/", "/i/", "/"]) + str(rng.randint(0, 3100))
        path += rng.choice(["", "x", "0", "/", "/ab/c"])
        if any(r.pattern.match(path) is not None for r in routes):
            continue
        checked += 1
        request = view("GET", path)
        pool = _neighbours(routes, path)
        for limit in (1, 2, 3, 12, 25):
            expected = every_route_assessed(request, pool, limit)
            assert t.near_misses(request, limit) == expected, (path, limit)
    assert checked > 100


def test_similarities_that_round_to_one_distance_are_one_group_taken_by_key() -> None:
    # "near" and "far" have different similarities to the request path whose distances
    # both round to 0.3855; "far" is declared first, so it ranks first, though
    # rapidfuzz puts "near" (more similar) before it. Sixty routes: a pool of neighbours.
    path = "/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"
    far = route("far", 1, path=path[:26] + "0123456789" * 9 + "012")
    near = route("near", 2, path=path[:9] + "012345")
    others = [route(f"z{i}", 10 + i, path=f"/zz/{i}") for i in range(58)]
    request = view("GET", path)
    assert assess(request, near).distance == assess(request, far).distance == 0.3855
    t = table(far, near, *others)
    for limit in (1, 2):
        ranked = t.near_misses(request, limit)
        assert [m.route_id for m in ranked] == ["far", "near"][:limit]
        assert ranked == every_route_assessed(
            request, _neighbours([far, near, *others], path), limit
        )


def test_the_facts_follow_added_replaced_and_removed_routes() -> None:
    # A plain table of GET routes; then a route near the path gets a condition, `times`
    # (used up), another method: each must show in its near miss, as it does when every
    # route is assessed; and back again when the route is plain once more.
    routes = [route(f"r{i}", i, path=f"/items/{i}") for i in range(60)]
    t = table(*routes)
    request = view("GET", "/items/7x")

    def check(expected_fields: list[str]) -> None:
        current = [t.get(r.id) or r for r in routes]
        pool = _neighbours(current, "/items/7x")
        ranked = t.near_misses(request, 12)
        assert ranked == every_route_assessed(request, pool, 12)
        [r7] = [miss for miss in ranked if miss.route_id == "r7"]
        assert [d.field for d in r7.diffs] == expected_fields

    check(["path"])
    t.replace(route("r7", 7, path="/items/7", match={"headers": {"X-A": "1"}}))
    check(["path", "header X-A"])
    used_up = route("r7", 7, path="/items/7", times=1)
    used_up.remaining = 0
    t.replace(used_up)
    check(["path", "times"])
    t.replace(route("r7", 7, method="POST", path="/items/7"))
    check(["method", "path"])
    t.remove("r7")
    t.add(route("r7", 7, path="/items/7"))
    check(["path"])
    assert t.near_misses(request, 1)[0].route_id == "r7"


def test_a_slice_of_one_method_in_a_table_of_several_is_ranked_by_similarity() -> None:
    # The table has GET and POST routes, but the request path's neighbours are all
    # POST (the method's term is every pooled route's) or mixed (each route's floor).
    gets = [route(f"g{i}", i, path=f"/get/{i}") for i in range(40)]
    posts = [route(f"p{i}", 100 + i, method="POST", path=f"/post/{i}") for i in range(40)]
    mixed = [
        route(f"m{i}", 200 + i, method="POST" if i % 2 else "GET", path=f"/mixed/{i}")
        for i in range(40)
    ]
    every = [*gets, *posts, *mixed]
    t = table(*every)
    for path in ("/post/3x", "/get/3x", "/mixed/3x", "/mixed/", "/post/"):
        for method in ("GET", "POST", "PUT"):
            request = view(method, path)
            pool = _neighbours(every, path)
            for limit in (1, 3, 12):
                assert t.near_misses(request, limit) == every_route_assessed(request, pool, limit)


def test_a_path_that_misses_once_keeps_no_pool_and_one_that_misses_again_does() -> None:
    t = table(*(route(f"r{i}", i, path=f"/items/{i}") for i in range(60)))
    request = view("GET", "/items/7x")
    first = t.near_misses(request)
    assert t._pools == {}
    second = t.near_misses(request)
    assert second == first and second is not first
    assert list(t._pools) == [("GET", "/items/7x")]
    assert t.near_misses(request) is second  # the kept pool's ranking, given again
    t.add(route("new", 99, path="/items/77"))  # any change drops the pools
    assert t._pools == {}


def test_the_misses_noted_once_are_bounded() -> None:
    t = RouteTable()
    for i in range(60):
        t.add(route(f"r{i}", i, path=f"/items/{i}"))
    for i in range(1000):
        t.near_misses(view("GET", f"/items/{i}x"))
    assert len(t._missed) <= 256
    assert t._pools == {}


def test_keys_of_any_priority_and_newest_first_orders_rank_as_the_pairs() -> None:
    # The table compares a route's (priority, order) as one int: WireMock's dialect
    # declares newest first (orders 0, -1, -2, ...), and a priority may be any int.
    rng = random.Random(23)
    priorities = [-(2**70), -3, 0, 1, 5, 2**70]
    routes = [
        route(f"r{i}", -997 * i, path=f"/items/{i}", priority=rng.choice(priorities))
        for i in range(300)
    ]
    t = table(*routes)
    for i in range(0, 300, 7):
        path = f"/items/{i}x"
        request = view("GET", path)
        for limit in (1, 3, 12):
            expected = every_route_assessed(request, _neighbours(routes, path), limit)
            assert t.near_misses(request, limit) == expected, (path, limit)
