"""Path patterns and the route table: lookup, ordering, limits, mutation, scale."""

from __future__ import annotations

import random
from typing import Any

import pytest

from controlplane import wire
from controlplane.matching import RouteTable, compile_path, compile_route, index
from tests.matching_support import route, table, view


def winner(t: RouteTable, method: str, path: str, **kw: Any) -> tuple[str, dict[str, str]] | None:
    found = t.find(view(method, path, **kw))
    return None if found is None else (found[0].id, found[1])


# ------------------------------------------------------------------ paths


@pytest.mark.parametrize(
    ("source", "path", "params"),
    [
        ("/users/42", "/users/42", {}),
        ("/users/42", "/users/42/", None),
        ("/users/{id}", "/users/42", {"id": "42"}),
        ("/users/{id}", "/users/", None),
        ("/users/{id}", "/users/4/2", None),
        ("/users/{id}/", "/users/42/", {"id": "42"}),
        ("/users/{id}/", "/users/42", None),
        ("/files/{path:.*}", "/files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("/files/{path:.*}", "/files/", {"path": ""}),
        ("/n/{n:[0-9]+}", "/n/123", {"n": "123"}),
        ("/n/{n:[0-9]+}", "/n/12a", None),
        ("/n/{n:[0-9]{2}}", "/n/12", {"n": "12"}),
        ("/n/{n:[0-9]{2}}", "/n/123", None),
        ("/v{version}/x", "/v2/x", {"version": "2"}),
        ("/v{version}/x", "/w2/x", None),
        ("/a/{x}/b/{y}.{ext}", "/a/1/b/report.pdf", {"x": "1", "y": "report", "ext": "pdf"}),
        ("/a.b/{x}", "/aXb/1", None),  # literal text is escaped, not a regex
        ("/search/{q}", "/search/a b%", {"q": "a b%"}),
    ],
)
def test_template_and_exact_paths(source: str, path: str, params: dict[str, str] | None) -> None:
    assert compile_path(source, None).match(path) == params


def test_path_kinds() -> None:
    assert compile_path("/a", None).kind == "exact"
    assert compile_path("/a/{b}", None).kind == "template"
    assert compile_path(None, "/a/.*").kind == "regex"


def test_path_regex_is_a_full_match_and_named_groups_become_params() -> None:
    p = compile_path(None, r"/orders/(?P<id>\d+)(?:/(?P<part>[a-z]+))?")
    assert p.match("/orders/7") == {"id": "7"}
    assert p.match("/orders/7/items") == {"id": "7", "part": "items"}
    assert p.match("/orders/7/8") is None
    assert p.match("/x/orders/7") is None


def test_param_regex_groups_do_not_leak_into_params() -> None:
    p = compile_path("/d/{date:(?P<y>[0-9]{4})-[0-9]{2}}", None)
    assert p.match("/d/2024-05") == {"date": "2024-05"}


@pytest.mark.parametrize("source", ["/{a}/{a}", "/x/{a}/v{a}", "/{a}/{a:[0-9]+}"])
def test_duplicate_param_name_is_rejected_naming_the_whole_path(source: str) -> None:
    # The second `a` of "/x/{a}/v{a}" is in the tail, whose regex is compiled alone:
    # the error still quotes the path the user wrote.
    with pytest.raises(ValueError) as raised:
        compile_path(source, None)
    assert str(raised.value) == f"path parameter {{a}} appears twice in {source!r}"


@pytest.mark.parametrize(
    ("source", "path", "params"),
    [
        # A parameter regex with a named group, behind a parameter segment (full regex)
        # and behind static segments only (the tail's match).
        ("/{a}/{date:(?P<y>[0-9]{4})}", "/1/2024", {"a": "1", "date": "2024"}),
        ("/d/{date:(?P<y>[0-9]{4})}", "/d/2024", {"date": "2024"}),
        # Groups without a name: the same params either way.
        ("/{a}/{x:(?:ab)+}", "/1/abab", {"a": "1", "x": "abab"}),
        ("/d/{x:(ab)+}", "/d/abab", {"x": "abab"}),
    ],
)
def test_params_are_the_declared_names_whatever_groups_a_param_regex_has(
    source: str, path: str, params: dict[str, str]
) -> None:
    assert compile_path(source, None).match(path) == params


def test_a_templates_full_regex_is_compiled_once_when_first_asked_for() -> None:
    pattern = compile_path("/users/{id}/v{n:[0-9]+}", None)
    regex = pattern.regex
    assert regex is not None and pattern.regex is regex
    assert set(regex.groupindex) == {"id", "n"}
    assert compile_path("/users/me", None).regex is None


# ------------------------------------------------------------------ lookup


def test_exact_template_and_regex_routes_are_all_found() -> None:
    t = table(
        route("exact", 0, path="/users/me"),
        route("tmpl", 1, path="/users/{id}"),
        route("re", 2, path_regex=r"/orders/(?P<n>\d+)"),
        route("tail", 3, path="/files/{path:.*}"),
        route("mixed", 4, path="/api/v{version}/ping"),
    )
    assert winner(t, "GET", "/users/me") == ("exact", {})
    assert winner(t, "GET", "/users/7") == ("tmpl", {"id": "7"})
    assert winner(t, "GET", "/orders/12") == ("re", {"n": "12"})
    assert winner(t, "GET", "/files/a/b") == ("tail", {"path": "a/b"})
    assert winner(t, "GET", "/api/v3/ping") == ("mixed", {"version": "3"})
    assert winner(t, "GET", "/nothing") is None
    assert winner(t, "GET", "/users/7/") is None


def test_declaration_order_wins_within_a_priority() -> None:
    t = table(route("first", 0, path="/users/{id}"), route("second", 1, path="/users/me"))
    assert winner(t, "GET", "/users/me") == ("first", {"id": "me"})


def test_lower_priority_number_wins_over_declaration_order() -> None:
    t = table(
        route("general", 0, path="/users/{id}"),
        route("specific", 1, path="/users/me", priority=1),
    )
    assert winner(t, "GET", "/users/me") == ("specific", {})


def test_order_comes_from_the_caller_not_insertion() -> None:
    # The WireMock dialect passes a decreasing order so the newest route wins.
    t = table(route("older", 10, path="/x"), route("newer", 9, path="/x"))
    assert winner(t, "GET", "/x") == ("newer", {})
    t2 = table(route("older", 10, path="/t/{a}"), route("newer", 9, path_regex="/t/.*"))
    assert winner(t2, "GET", "/t/1") == ("newer", {})


def test_overlapping_templates_merge_by_priority_and_order() -> None:
    t = table(
        route("static-then-param", 2, path="/a/b/{y}"),
        route("param-then-static", 1, path="/a/{x}/c"),
        route("catch-all", 3, path="/a/{rest:.*}", priority=9),
        route("regex", 0, path_regex="/a/b/c", priority=6),
    )
    assert winner(t, "GET", "/a/b/c") == ("param-then-static", {"x": "b"})
    assert winner(t, "GET", "/a/b/d") == ("static-then-param", {"y": "d"})
    assert winner(t, "GET", "/a/z/z/z") == ("catch-all", {"rest": "z/z/z"})


def test_method_must_match_and_star_means_any() -> None:
    t = table(route("post", 0, path="/x", method="POST"), route("any", 1, path="/x", method="*"))
    assert winner(t, "POST", "/x") == ("post", {})
    assert winner(t, "DELETE", "/x") == ("any", {})


def test_route_with_times_used_up_no_longer_matches() -> None:
    limited = route("limited", 0, path="/x", times=1)
    t = table(limited, route("fallback", 1, path="/x"))
    assert limited.remaining == 1
    assert winner(t, "GET", "/x") == ("limited", {})
    assert limited.remaining == 1  # find never decrements; the caller does
    limited.remaining = 0
    assert winner(t, "GET", "/x") == ("fallback", {})


def test_conditions_are_checked_after_path_and_method() -> None:
    t = table(
        route("tenant-a", 0, path="/x", match={"headers": {"X-Tenant": "a"}}),
        route("other", 1, path="/x"),
    )
    assert winner(t, "GET", "/x", headers=[("X-Tenant", "a")]) == ("tenant-a", {})
    assert winner(t, "GET", "/x", headers=[("X-Tenant", "b")]) == ("other", {})


# ------------------------------------------------------------------ mutation


def test_remove_replace_get_iter_len_and_clear() -> None:
    t = table(
        route("a", 0, path="/a"),
        route("b", 1, path="/b/{id}"),
        route("c", 2, path_regex="/c.*"),
    )
    assert [r.id for r in t] == ["a", "b", "c"]
    assert len(t) == 3
    assert t.remove("b").id == "b"
    assert t.get("b") is None
    assert winner(t, "GET", "/b/1") is None
    with pytest.raises(KeyError):
        t.remove("b")

    t.replace(route("a", 0, path="/a2", method="POST"))
    assert [r.id for r in t] == ["a", "c"]  # keeps its place
    assert winner(t, "GET", "/a") is None
    assert winner(t, "POST", "/a2") == ("a", {})

    t.remove("c")
    assert winner(t, "GET", "/cc") is None
    t.clear()
    assert len(t) == 0 and list(t) == []
    assert winner(t, "POST", "/a2") is None


def test_adding_a_taken_id_is_an_error() -> None:
    t = table(route("a", 0, path="/a"))
    with pytest.raises(ValueError, match="already exists"):
        t.add(route("a", 1, path="/b"))


def test_removing_one_of_two_routes_on_a_template_keeps_the_other() -> None:
    t = table(route("a", 0, path="/u/{id}/x"), route("b", 1, path="/u/{uid}/x"))
    t.remove("a")
    assert winner(t, "GET", "/u/1/x") == ("b", {"uid": "1"})
    t.remove("b")
    assert winner(t, "GET", "/u/1/x") is None
    t.add(route("c", 2, path="/u/{id}/x"))
    assert winner(t, "GET", "/u/1/x") == ("c", {"id": "1"})


def test_route_needs_an_id_to_compile() -> None:
    spec = wire.Route(method="GET", handler="h", path="/x")
    with pytest.raises(ValueError, match="id"):
        compile_route(spec, 0)


# ------------------------------------------------------------------ scale


def test_ten_thousand_exact_routes_find_the_right_one() -> None:
    t = table(*(route(f"r{i}", i, path=f"/items/{i}") for i in range(10_000)))
    assert winner(t, "GET", "/items/9999") == ("r9999", {})
    assert winner(t, "GET", "/items/0") == ("r0", {})
    assert winner(t, "GET", "/items/10000") is None


def test_ten_thousand_template_routes_find_the_right_one() -> None:
    routes = [route(f"t{i}", i, path=f"/t{i}/{{id}}") for i in range(10_000)]
    routes += [route(f"v{i}", 10_000 + i, path=f"/items/{{id}}/v{i}") for i in range(10_000)]
    t = table(*routes)
    assert winner(t, "GET", "/t9999/abc") == ("t9999", {"id": "abc"})
    assert winner(t, "GET", "/items/42/v9999") == ("v9999", {"id": "42"})
    assert winner(t, "GET", "/items/42/v10000") is None
    assert winner(t, "GET", "/t9999/abc/def") is None


def test_index_agrees_with_trying_every_route_in_order() -> None:
    # The trie, tails and regex list are an optimisation: they must pick exactly the
    # route a naive scan in (priority, order) would pick.
    sources = [
        "/a",
        "/a/",
        "/a/{x}",
        "/a/{x}/",
        "/a/b",
        "/a/{x}/c",
        "/a/b/{y}",
        "/a/{rest:.*}",
        "/{first}/b/{last}",
        "/a/v{n}",
        "/a/{n:[0-9]+}",
        "/a/{n:[0-9]+}/c",
        "/{p:a/b}/c",
        "/{any:.*}",
        "/a/{x}.{ext}",
    ]
    rng = random.Random(7)
    orders = rng.sample(range(100), len(sources) + 1)  # distinct: no ties to break
    routes = [
        route(f"r{i}", orders[i], path=source, priority=rng.choice([1, 5, 5, 9]))
        for i, source in enumerate(sources)
    ]
    routes.append(route("re", orders[-1], path_regex=r"/a/(?P<d>[0-9])/?", priority=5))
    t = table(*routes)
    by_key = sorted(routes, key=lambda r: r.key)
    pieces = ["a", "b", "c", "v1", "12", "7", "x.y", ""]
    hits = 0
    for _ in range(2_000):
        path = "/" + "/".join(rng.choice(pieces) for _ in range(rng.randrange(1, 5)))
        naive = next(((r.id, p) for r in by_key if (p := r.pattern.match(path)) is not None), None)
        assert winner(t, "GET", path) == naive, path
        hits += naive is not None
    assert hits > 1_000


#: Tables of each kind the index looks up differently: exact paths and templates whose
#: only parameter is the last segment (`find`'s two dict lookups); templates of several
#: shapes (parameters elsewhere, several, a trailing slash, empty segments); and those
#: with a tail and a path_regex too (the walk, the regexes, the kept hits).
TABLE_KINDS = {
    "last_segment": ["/a", "/a/b", "/a/{x}", "/{x}", "/a/b/{y}", "/b/{y}", "/a//{y}", "/a/b/c"],
    "shapes": [
        "/a/{x}",
        "/a/{x}/",
        "/a/{x}/c",
        "/a/{x}/b",
        "/{x}/b/c",
        "/{x}/{y}",
        "/{x}/{y}/c",
        "/a/{x}/{y}",
        "/{x}/b/{y}",
        "/a//{x}/",
        "/{x}//c",
        "/a/b",
        "/a/b/c",
    ],
    "mixed": ["/a/{x}", "/a/{x}/c", "/{x}/b", "/a/b", "/a/{n:[0-9]+}", "/a/v{n}", "/{p:.*}"],
}


@pytest.mark.parametrize("kind", TABLE_KINDS)
def test_each_kind_of_table_agrees_with_trying_every_route_in_order(kind: str) -> None:
    sources = TABLE_KINDS[kind]
    rng = random.Random(11)
    orders = rng.sample(range(100), len(sources))
    routes = [
        route(f"r{i}", orders[i], path=source, priority=rng.choice([1, 5, 9]))
        for i, source in enumerate(sources)
    ]
    if kind == "mixed":
        routes.append(route("re", 100, path_regex="/a/(?P<d>[0-9])/?", priority=5))
    t = table(*routes)
    alive = sorted(routes, key=lambda r: r.key)
    pieces = ["a", "b", "c", "1", "v2", ""]
    gone = list(routes)
    rng.shuffle(gone)
    hits = 0
    while True:
        for _ in range(300):
            path = "/" + "/".join(rng.choice(pieces) for _ in range(rng.randrange(1, 4)))
            path = rng.choice([path, path, path.lstrip("/"), "*"])
            naive = next(
                ((r.id, p) for r in alive if (p := r.pattern.match(path)) is not None), None
            )
            assert winner(t, "GET", path) == naive, path
            assert winner(t, "GET", path) == naive, path  # again: kept or not, the same
            hits += naive is not None
        if not gone:
            break
        t.remove(gone[0].id)
        alive.remove(gone.pop(0))
    assert hits > 150
    assert t.find(view("GET", "/a/1")) is None


def test_a_template_and_an_exact_path_on_one_path_merge_by_priority_and_order() -> None:
    # Both found by `find`'s two dict lookups: the lower (priority, order) wins, and a
    # route that does not accept the request leaves it to the other.
    t = table(
        route("tpl", 2, path="/users/{id}"),
        route("me", 1, path="/users/me", method="POST"),
        route("late", 3, path="/users/me"),
    )
    assert winner(t, "GET", "/users/me") == ("tpl", {"id": "me"})
    assert winner(t, "POST", "/users/me") == ("me", {})
    assert winner(t, "GET", "/users/you") == ("tpl", {"id": "you"})
    assert winner(t, "GET", "/users/") is None
    assert winner(t, "GET", "users/me") is None
    t.remove("tpl")
    assert winner(t, "GET", "/users/me") == ("late", {})
    assert winner(t, "GET", "/users/you") is None


def test_lookups_stay_right_while_routes_are_removed_in_any_order() -> None:
    sources = ["/a/{x}", "/a/{x}/c", "/a/{n:[0-9]+}", "/a/{n:[0-9]+}/c", "/a/b", "/{p:.*}"]
    paths = ["/a/1", "/a/1/c", "/a/b", "/a/x/c", "/zz"]
    rng = random.Random(3)
    for _ in range(20):
        routes = [route(f"r{i}", i, path=s) for i, s in enumerate(sources)]
        routes.append(route("re", len(sources), path_regex="/a/.*"))
        t = table(*routes)
        alive = list(routes)
        rng.shuffle(routes)
        for gone in routes:
            t.remove(gone.id)
            alive.remove(gone)
            for path in paths:
                naive = next(
                    ((r.id, p) for r in alive if (p := r.pattern.match(path)) is not None), None
                )
                assert winner(t, "GET", path) == naive
        assert len(t) == 0
    # Trie nodes start with shared empty containers and take their own when first
    # written: the shared ones never hold anything.
    assert (index._NO_STATIC, index._NO_TAILS) == ({}, {})


def test_a_trie_node_takes_each_kind_of_entry_after_holding_another() -> None:
    # Each node below first holds one kind (routes, a static child, the wildcard child,
    # a tail), then the others are added to it.
    sources = ["/a", "/a/b", "/a/{x}", "/a/v{n}", "/{y}", "/{y}/b", "/{y}/v{n}", "/{y}/{z}"]
    for first in range(len(sources)):
        order = sources[first:] + sources[:first]
        t = table(*(route(f"r{i}", i, path=s) for i, s in enumerate(order)))
        for path, expected in [
            ("/a", "/a"),
            ("/a/b", "/a/b"),
            ("/a/c", "/a/{x}"),
            ("/a/v2", "/a/{x}"),
            ("/q", "/{y}"),
            ("/q/b", "/{y}/b"),
            ("/q/c", "/{y}/{z}"),
        ]:
            found = t.find(view("GET", path))
            assert found is not None, path
            # First declared wins among the routes whose path matches.
            matching = [s for s in order if compile_path(s, None).match(path) is not None]
            assert found[0].pattern.source == matching[0] and expected in matching, path
    assert (index._NO_STATIC, index._NO_TAILS) == ({}, {})


# ------------------------------------------------------------------ narrowing by a header


def _tenant(id: str, order: int, tenant: Any, priority: int = 5, **match: Any) -> Any:
    headers = {"X-Tenant": tenant} if tenant is not None else {}
    return route(
        id,
        order,
        method="POST",
        path="/orders",
        priority=priority,
        match={"headers": headers, **match},
    )


def test_a_decoy_with_the_same_header_value_but_another_condition_is_passed_over() -> None:
    t = table(
        _tenant("globex", 0, "globex"),
        _tenant("acme-us", 1, "acme", query={"region": "us"}),
        _tenant("acme", 2, "acme"),
    )
    request = view("POST", "/orders", headers=[("X-Tenant", "acme")])
    found = t.find(request)
    assert found is not None and found[0].id == "acme"


def test_routes_without_the_header_condition_keep_their_place_in_priority_and_order() -> None:
    t = table(
        _tenant("acme-late", 3, "acme"),
        _tenant("any-early", 1, None),
        _tenant("globex", 0, "globex"),
        _tenant("acme-urgent", 9, "acme", priority=1),
        _tenant("any-urgent", 8, None, priority=2),
    )
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "acme")]) == ("acme-urgent", {})
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "globex")]) == ("any-urgent", {})
    t.remove("acme-urgent")
    t.remove("any-urgent")
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "acme")]) == ("any-early", {})
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "globex")]) == ("globex", {})
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "initech")]) == ("any-early", {})
    assert winner(t, "POST", "/orders") == ("any-early", {})
    t.remove("any-early")
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "acme")]) == ("acme-late", {})
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "initech")]) is None
    assert winner(t, "POST", "/orders") is None


def test_narrowing_header_names_are_case_insensitive_and_values_are_not() -> None:
    t = table(
        route("a", 0, method="POST", path="/orders", match={"headers": {"x-tenant": "acme"}}),
        route("b", 1, method="POST", path="/orders", match={"headers": {"X-TENANT": "globex"}}),
        route(
            "folded",
            2,
            method="POST",
            path="/orders",
            match={"headers": {"X-Tenant": {"equals": "ACME", "case_insensitive": True}}},
        ),
    )
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "globex")]) == ("b", {})
    assert winner(t, "POST", "/orders", headers=[("x-TENANT", "acme")]) == ("a", {})
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "Acme")]) == ("folded", {})


def test_a_repeated_header_matches_a_route_requiring_any_of_its_values() -> None:
    t = table(
        _tenant("globex", 0, "globex", query={"region": "us"}),
        _tenant("acme", 1, "acme"),
        _tenant("initech", 2, "initech"),
    )
    both = [("X-Tenant", "globex"), ("X-Tenant", "acme")]
    assert winner(t, "POST", "/orders", headers=both) == ("acme", {})
    t.replace(_tenant("acme", 1, "umbrella"))
    assert winner(t, "POST", "/orders", headers=both) is None
    assert winner(t, "POST", "/orders", headers=[*both, ("X-Tenant", "initech")]) == (
        "initech",
        {},
    )


def test_narrowing_tells_the_request_the_one_value_it_looked_up() -> None:
    """Only one value that picked its routes is known; a repeated, unknown or missing
    header leaves nothing known."""
    t = table(_tenant("acme", 0, "acme"), _tenant("globex", 1, "globex"))
    cases = [
        ([("x-TENANT", "acme")], ("x-tenant", "acme")),
        ([("X-Tenant", "initech")], None),
        ([("X-Tenant", "acme"), ("X-Tenant", "globex")], None),
        ([], None),
    ]
    for headers, known in cases:
        request = view("POST", "/orders", headers=headers)
        t.find(request)
        assert request.known_header == known, headers


def test_narrowed_lookups_agree_with_trying_every_route_in_order() -> None:
    rng = random.Random(11)
    tenants = ["acme", "globex", "initech"]
    for _ in range(30):
        routes = []
        for i in range(rng.randrange(2, 9)):
            headers: dict[str, Any] = {}
            kind = rng.choice(["equals", "equals", "folded", "prefix", "none"])
            name = rng.choice(["X-Tenant", "x-tenant", "X-TENANT"])
            tenant = rng.choice(tenants)
            if kind == "equals":
                headers[name] = tenant
            elif kind == "folded":
                headers[name] = {"equals": tenant.upper(), "case_insensitive": True}
            elif kind == "prefix":
                headers[name] = {"starts_with": tenant[:2]}
            if rng.random() < 0.3:
                headers["X-Plan"] = rng.choice(["gold", "free"])
            routes.append(
                route(
                    f"r{i}",
                    rng.randrange(100),
                    method="POST",
                    path="/orders",
                    priority=rng.choice([1, 5, 5]),
                    match={"headers": headers},
                )
            )
        t = table(*routes)
        by_key = sorted(routes, key=lambda r: r.key)
        for _ in range(40):
            sent = [("X-Tenant", rng.choice([*tenants, "ACME", "other"]))]
            sent = sent[: rng.choice([0, 1, 1, 1])] + [
                ("X-Tenant", rng.choice(tenants)) for _ in range(rng.choice([0, 0, 0, 1]))
            ]
            if rng.random() < 0.5:
                sent.append(("X-Plan", rng.choice(["gold", "free"])))
            request = view("POST", "/orders", headers=sent)
            naive = next((r.id for r in by_key if r.accepts(request)), None)
            found = t.find(request)
            assert (None if found is None else found[0].id) == naive, (sent, by_key)


def test_narrowing_follows_a_path_going_from_several_routes_to_one_and_back() -> None:
    t = table(_tenant("acme", 0, "acme"), _tenant("globex", 1, "globex"))
    acme = [("X-Tenant", "acme")]
    assert winner(t, "POST", "/orders", headers=acme) == ("acme", {})
    t.remove("globex")
    assert winner(t, "POST", "/orders", headers=acme) == ("acme", {})
    assert winner(t, "POST", "/orders", headers=[("X-Tenant", "globex")]) is None
    t.add(_tenant("any", 2, None, priority=1))
    assert winner(t, "POST", "/orders", headers=acme) == ("any", {})
    t.remove("acme")
    t.remove("any")
    t.add(_tenant("globex", 3, "globex"))
    t.add(_tenant("acme", 4, "acme"))
    assert winner(t, "POST", "/orders", headers=acme) == ("acme", {})
    t.clear()
    t.add(_tenant("acme", 0, "acme"))
    assert winner(t, "POST", "/orders", headers=acme) == ("acme", {})
