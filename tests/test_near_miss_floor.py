"""The path floor of a near miss (`_RequestPath.where_floor`): a cost bound from the
prefix and suffix a skeleton shares with the request path, and the characters of the
middles between them, without difflib. Pinned: it is never above the cost difflib's
ratio gives, it is that cost wherever its bounds meet (then the cost is kept and no
difflib runs for it), and the rankings built on it are the ones assessing every route
gives, over many generated paths, limits and ties."""

from __future__ import annotations

import random
from bisect import bisect_left

import pytest

from controlplane.matching import CompiledRoute, assess, rank_near_misses
from controlplane.matching.near_miss import _RequestPath, _where
from controlplane.matching.paths import compile_path
from tests.matching_support import every_route_assessed, route, table, view


def floor_and_cost(skeleton_source: str, path: str) -> tuple[float, float, float]:
    """(floor, the cost it bounds, the cost the request path then gives)."""
    pattern = compile_path(skeleton_source, None)
    request_path = _RequestPath(path)
    floor = request_path.where_floor(pattern)
    return floor, _where(pattern.skeleton, path), request_path.where(pattern.skeleton)


@pytest.mark.parametrize(
    ("skeleton", "path"),
    [
        ("/items/123", "/items/123x"),  # one is the other's beginning
        ("/items/123x", "/items/123"),
        ("/items/1230", "/items/123x"),  # equal lengths, one character apart
        ("/items/124", "/items/123x"),  # the longer middle lacks the shorter's characters
        ("/items/5000", "/items/5x"),
        ("/x/items", "/items"),  # one is the other's end
        ("/a", "/b"),
        ("/", "/items"),
    ],
)
def test_a_floor_whose_bounds_meet_is_the_cost(skeleton: str, path: str) -> None:
    floor, cost, kept = floor_and_cost(skeleton, path)
    assert floor == cost == kept


@pytest.mark.parametrize(
    ("skeleton", "path"),
    [
        ("/items/1244", "/items/1234x"),  # "44" in "34x": counted twice, matched once
        ("/items/1243", "/items/1234x"),  # "43" in "34x": both there, in the other order
        ("/ab/cd", "/a/a/abc"),  # prefix and suffix both, and a middle besides
    ],
)
def test_a_loose_floor_is_below_the_cost_and_the_cost_is_difflibs(skeleton: str, path: str) -> None:
    floor, cost, kept = floor_and_cost(skeleton, path)
    assert floor < cost == kept


def test_the_floor_of_an_empty_skeleton_is_the_whole_cost() -> None:
    # A regex without literal characters has an empty skeleton: similarity 0.
    pattern = compile_path(None, "[a-z]+")
    assert pattern.skeleton == ""
    assert _RequestPath("/items").where_floor(pattern) == _where("", "/items") == 0.5


def test_the_floor_compares_only_the_first_compared_characters() -> None:
    # Past 256 characters nothing counts: two paths alike in their first 256 are
    # exactly as similar as their first 256, whatever follows.
    head = "/a" * 128
    floor, cost, kept = floor_and_cost(head + "/x" * 50, head + "/y" * 80)
    assert floor == cost == kept == _where(head, head)
    floor, cost, kept = floor_and_cost("/b" * 10 + head, head + "/b" * 10)
    assert floor <= cost == kept


def test_the_floor_is_never_above_the_cost_and_exact_where_kept() -> None:
    rng = random.Random(15)
    exact = 0
    for alphabet in ("ab", "/ab1", "/itemsx0123456789", "/ab\u00e9\U0001f600"):
        for _ in range(1500):
            skeleton = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
            path = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
            if rng.random() < 0.4:  # neighbours: a shared beginning
                path = skeleton[: rng.randint(0, len(skeleton))] + path
            if rng.random() < 0.1:  # past the compared characters
                skeleton, path = skeleton * 30, path * 30
            floor, cost, kept = floor_and_cost(skeleton, path)
            assert floor <= cost == kept, (skeleton, path)
            exact += floor == cost
    assert exact > 1000  # the bounds meet often enough to matter


def test_rankings_of_neighbours_are_the_ones_assessing_every_route_gives() -> None:
    # A table past the small-table threshold pools the request path's sorted
    # neighbours: many tie (one character apart), some have floors that are exact,
    # some loose; priorities and declaration order break the ties.
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
    floors = [_RequestPath(path).where_floor(r.pattern) for r in (near, far)]
    assert floors == [_where(r.pattern.skeleton, path) for r in (near, far)]
    assert floors[0] < floors[1]
    for limit in (1, 2, 3):
        ranked = rank_near_misses(request, [near, twin, far], limit)
        assert [m.route_id for m in ranked] == ["far", "near", "twin"][:limit]
