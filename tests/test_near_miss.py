"""Near misses: which routes came closest to an unmatched request, and what differed."""

from __future__ import annotations

import gc
import time

from controlplane import wire
from controlplane.matching import RouteTable
from tests.matching_support import route, table, view


def diffs(miss: wire.NearMiss) -> dict[str, tuple[str, str]]:
    return {d.field: (d.expected, d.actual) for d in miss.diffs}


def test_method_difference_is_named() -> None:
    t = table(route("get-user", 0, path="/users/{id}"))
    [miss] = t.near_misses(view("POST", "/users/7"))
    assert miss.route_id == "get-user"
    assert miss.handler == "h-get-user"
    assert diffs(miss) == {"method": ("GET", "POST")}
    assert 0 < miss.distance < 1


def test_path_difference_shows_the_pattern_and_the_path() -> None:
    t = table(route("users", 0, path="/users/{id}"))
    [miss] = t.near_misses(view("GET", "/user/7"))
    assert diffs(miss) == {"path": ("/users/{id}", "/user/7")}


def test_header_and_json_differences_are_named() -> None:
    t = table(
        route(
            "create",
            0,
            method="POST",
            path="/users",
            match={"headers": {"X-Tenant": "a"}, "json": {"name": "Whiskers"}},
        )
    )
    [miss] = t.near_misses(view("POST", "/users", headers=[("X-Tenant", "b")], json={"name": "x"}))
    assert diffs(miss) == {
        "header X-Tenant": ('equals "a"', "b"),
        "json": ('{"name":"Whiskers"}', '{"name":"x"}'),
    }


def test_used_up_route_says_so() -> None:
    r = route("once", 0, path="/x", times=1)
    r.remaining = 0
    [miss] = table(r).near_misses(view("GET", "/x"))
    assert diffs(miss) == {"times": ("at most 1 call(s)", "used up")}


def test_closest_first_and_limited() -> None:
    t = table(
        route("far", 0, method="DELETE", path="/totally/else"),
        route("wrong-method", 1, method="PUT", path="/users/7"),
        route("typo", 2, path="/users/8"),
        route("wrong-header", 3, path="/users/7", match={"headers": {"X-A": "1"}}),
    )
    misses = t.near_misses(view("GET", "/users/7"))
    assert [m.route_id for m in misses] == ["wrong-header", "typo", "wrong-method"]
    assert [m.distance for m in misses] == sorted(m.distance for m in misses)
    assert [m.route_id for m in t.near_misses(view("GET", "/users/7"), limit=1)] == ["wrong-header"]
    assert t.near_misses(view("GET", "/users/7"), limit=0) == []


def test_partial_condition_failure_is_closer_than_total_failure() -> None:
    t = table(
        route("both-wrong", 0, path="/x", match={"headers": {"A": "1", "B": "2"}}),
        route("one-wrong", 1, path="/x", match={"headers": {"A": "1", "B": "3"}}),
    )
    misses = t.near_misses(view("GET", "/x", headers=[("B", "3")]))
    assert [m.route_id for m in misses] == ["one-wrong", "both-wrong"]


def test_empty_table_has_no_near_misses() -> None:
    assert RouteTable().near_misses(view("GET", "/x")) == []


def test_large_table_finds_same_path_and_neighbouring_routes_quickly() -> None:
    routes = [route(f"r{i}", i, path=f"/items/{i:05d}") for i in range(10_000)]
    routes.append(route("post-only", 10_000, method="POST", path="/orders/{id}"))
    routes.append(route("tenant", 10_001, path="/orders/{id}", match={"headers": {"T": "a"}}))
    t = table(*routes)

    misses = t.near_misses(view("GET", "/orders/5"))
    assert [m.route_id for m in misses][:2] == ["tenant", "post-only"]

    neighbours = t.near_misses(view("GET", "/items/04242x"))
    assert neighbours[0].route_id == "r4242"
    assert diffs(neighbours[0]) == {"path": ("/items/04242", "/items/04242x")}

    started = time.perf_counter()
    for _ in range(20):
        t.near_misses(view("GET", "/items/04242x"))
    per_call = (time.perf_counter() - started) / 20
    assert per_call < 0.02  # generous for slow CI; the benchmark shows ~1 ms


def test_near_misses_are_left_out_of_the_garbage_collector() -> None:
    # The journal keeps every unmatched request's near misses: the collector would walk
    # them on every full collection. They hold strings and a float, so no cycle can form.
    t = table(route("r1", 1, method="POST", path="/orders"))
    [miss] = t.near_misses(view("GET", "/order"))
    assert [d.field for d in miss.diffs] == ["method", "path"]
    assert not gc.is_tracked(miss)
    assert not any(gc.is_tracked(diff) for diff in miss.diffs)


def test_neighbours_on_one_path_are_found_and_removed_by_their_own_id() -> None:
    # Past the small-table threshold: the neighbours come from the table's sorted
    # sources, where routes on one path sit by id, whatever their declaration order.
    routes = [route(f"r{i:02d}", i, path=f"/items/{i:02d}") for i in range(60)]
    routes += [route(name, 60 + i, path="/items/07") for i, name in enumerate("cab")]
    t = table(*routes)
    request = view("GET", "/items/07x")
    assert [m.route_id for m in t.near_misses(request, limit=4)] == ["r07", "c", "a", "b"]
    t.remove("a")
    t.replace(route("c", 60, path="/elsewhere"))
    assert [m.route_id for m in t.near_misses(request, limit=3)] == ["r07", "b", "r00"]
