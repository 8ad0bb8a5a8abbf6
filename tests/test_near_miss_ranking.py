"""Near-miss ranking over a real server: count differences once, scale with distance."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from multidict import CIMultiDict

from controlplane.matching import assess
from controlplane.matching.paths import regex_skeleton
from controlplane.request_view import RequestView
from tests.conftest import SessionHandle
from tests.matching_support import route as compiled_route
from tests.matching_support import similarity as ratio


def near_misses(cp: SessionHandle, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    """The near misses of one unmatched request, as the journal keeps them (a session
    used through the WireMock dialect answers with WireMock's plain-text report)."""
    answer = requests.request(method, cp.mock_url + path, timeout=10, **kwargs)
    assert answer.status_code == 404, answer.text
    unmatched = requests.get(f"{cp.api}/requests/unmatched", timeout=10).json()["requests"]
    misses: list[dict[str, Any]] = unmatched[-1]["near_misses"]
    if answer.headers["Content-Type"].startswith("application/json"):
        assert answer.json()["near_misses"] == misses
    return misses


def handlers(misses: list[dict[str, Any]]) -> list[str]:
    return [miss["handler"] for miss in misses]


def fields(miss: dict[str, Any]) -> list[str]:
    return [diff["field"] for diff in miss["diffs"]]


def stub(cp: SessionHandle, request: dict[str, Any]) -> str:
    """A WireMock stub; its handler's name (the dialect names it after the stub id)."""
    mapping = {"request": request, "response": {"status": 200}}
    answer = requests.post(f"{cp.api}/__admin/mappings", json=mapping, timeout=10)
    assert answer.status_code == 201, answer.text
    return f"wiremock-{answer.json()['id']}"


def test_one_differing_condition_ranks_before_two_wherever_declared(cp: SessionHandle) -> None:
    # Two of four conditions differ on the first route, one of one on the second:
    # counted by share, the first used to win.
    cp.add_route(
        method="GET",
        path="/x",
        handler="two_of_four",
        match={"headers": {"A": "1", "B": "2", "C": "3", "D": "4"}},
    )
    cp.add_route(method="GET", path="/x", handler="one_of_one", match={"headers": {"E": "5"}})
    headers = {"A": "1", "B": "0", "C": "3", "D": "0", "E": "0"}
    misses = near_misses(cp, "GET", "/x", headers=headers)
    assert handlers(misses) == ["one_of_one", "two_of_four"]
    assert fields(misses[1]) == ["header B", "header D"]
    assert misses[0]["distance"] < 0.15 <= misses[1]["distance"]


def test_a_failing_condition_ranks_before_any_path_difference(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/facts", handler="typo")
    cp.add_route(method="GET", path="/fact", handler="header", match={"headers": {"T": "a"}})
    misses = near_misses(cp, "GET", "/fact")
    assert handlers(misses) == ["header", "typo"]


def test_a_wiremock_url_stub_pays_for_a_wrong_path_once(cp: SessionHandle) -> None:
    stub(cp, {"method": "GET", "url": "/items?a=1"})
    misses = near_misses(cp, "GET", "/itemz?a=1")
    assert [miss["diffs"] for miss in misses] == [
        [{"field": "path", "expected": "/items", "actual": "/itemz"}]
    ]
    # With the query wrong too, that is a second difference, and it shows.
    misses = near_misses(cp, "GET", "/itemz?a=2")
    assert fields(misses[0]) == ["path", "url"]
    assert misses[0]["diffs"][1]["actual"] == "/itemz?a=2"
    # The right path and a wrong query: the url alone, as one condition.
    misses = near_misses(cp, "GET", "/items?a=2")
    assert fields(misses[0]) == ["url"] and misses[0]["distance"] <= 0.12


def test_a_url_pattern_stub_costs_as_far_as_the_request_is_from_it(cp: SessionHandle) -> None:
    far_pattern = stub(cp, {"method": "GET", "urlPattern": "/far/away/[0-9]+"})
    cp.add_route(method="GET", path="/users/12", handler="exact_typo")
    # A one-character typo of an exact path ranks before a far pattern (it used to
    # rank after every urlPattern stub, which all scored 0.15).
    typo = near_misses(cp, "GET", "/users/13")
    assert handlers(typo) == ["exact_typo", far_pattern]
    # A request close to a pattern ranks it before a far exact path.
    close_pattern = stub(cp, {"method": "GET", "urlPattern": "/users/[0-9]+"})
    close = near_misses(cp, "GET", "/users/abc")
    assert handlers(close) == [close_pattern, "exact_typo", far_pattern]
    assert fields(close[0]) == ["url"]
    cost = {miss["handler"]: miss["distance"] for miss in close}
    assert cost[close_pattern] < cost["exact_typo"] < cost[far_pattern]


@pytest.mark.parametrize(
    ("kind", "route"),
    [
        ("path_regex", {"path_regex": "/files/[a-z]+/[0-9]+"}),
        ("template", {"path": "/files/{name}/v{n:[0-9]+}"}),
    ],
)
def test_regex_and_template_paths_cost_in_proportion(
    cp: SessionHandle, kind: str, route: dict[str, Any]
) -> None:
    cp.add_route(method="GET", handler=kind, **route)
    cp.add_route(method="GET", path="/other/resource/entirely", handler="elsewhere")
    close = near_misses(cp, "GET", "/files/report/latest")
    far = near_misses(cp, "GET", "/zzz")
    close_cost = next(m["distance"] for m in close if m["handler"] == kind)
    far_cost = next(m["distance"] for m in far if m["handler"] == kind)
    assert 0.15 <= close_cost < far_cost <= 0.5
    assert handlers(close)[0] == kind


def test_a_path_param_condition_is_not_counted_again_when_the_path_fails(
    cp: SessionHandle,
) -> None:
    cp.add_route(
        method="GET",
        path="/users/{id}",
        handler="user",
        match={"path_params": {"id": {"matches": "[0-9]+"}}},
    )
    misses = near_misses(cp, "GET", "/user/5")
    assert [miss["diffs"] for miss in misses] == [
        [{"field": "path", "expected": "/users/{id}", "actual": "/user/5"}]
    ]
    # The path matches, the parameter does not: that is the one difference.
    misses = near_misses(cp, "GET", "/users/abc")
    assert fields(misses[0]) == ["path_param id"]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_ties_keep_declaration_order(cp: SessionHandle, count: int) -> None:
    names = [f"h{i}" for i in range(count)]
    for name in names:
        cp.add_route(method="GET", path="/same", handler=name, match={"headers": {"T": "a"}})
    misses = near_misses(cp, "GET", "/same")
    assert handlers(misses) == names
    assert len({miss["distance"] for miss in misses}) == 1


def test_no_routes_no_near_misses(cp: SessionHandle) -> None:
    assert near_misses(cp, "GET", "/nothing") == []


@pytest.mark.parametrize(
    ("pattern", "skeleton"),
    [
        ("/users/[0-9]+", "/users/"),
        ("/r/(a+)+", "/r/a"),
        ("(?s).*", ""),
        (r"/a\.b/(?P<id>\d+)/x{2,3}", "/a.b//x"),
        ("/[]x]y", "/y"),
        ("(?i)/Foo|/bar", "/Foo/bar"),
        (r"/v\{1\}", "/v{1}"),
        ("", ""),
    ],
)
def test_regex_skeleton_keeps_only_the_literal_characters(pattern: str, skeleton: str) -> None:
    assert regex_skeleton(pattern) == skeleton


# ------------------------------------------------------------------ the formula, exactly


def request(method: str, path: str, query: str = "", **headers: str) -> RequestView:
    return RequestView(method, path, query, CIMultiDict(headers), b"")


def test_each_difference_adds_its_own_cost() -> None:
    exact = compiled_route("r", 0, path="/abcd")
    assert assess(request("GET", "/abcd"), exact).distance == 0.0
    assert assess(request("POST", "/abcd"), exact).distance == 0.3
    # "/abcd" vs "/abce": ratio 0.8, so 0.15 + 0.35 * 0.2.
    assert assess(request("GET", "/abce"), exact).distance == 0.22
    assert assess(request("POST", "/abce"), exact).distance == 0.52  # method + path
    # A regex without literal characters is as far as a path can be: 0.15 + 0.35.
    digits = compiled_route("d", 0, path_regex="[0-9]+")
    assert assess(request("GET", "/abc"), digits).distance == 0.5


def test_a_failing_condition_costs_a_tenth_plus_its_distance() -> None:
    tenant = compiled_route("t", 0, path="/x", match={"headers": {"T": "acme"}})
    miss = assess(request("GET", "/x", T="acm"), tenant)
    [diff] = miss.diffs
    assert (diff.expected, diff.actual) == ('equals "acme"', "acm")
    assert miss.distance == round(0.1 + 0.02 * (1 - ratio('equals "acme"', "acm")), 4)
    assert miss.distance < 0.12


def test_times_used_up_adds_005_to_the_rest() -> None:
    once = compiled_route("o", 0, path="/x", times=1)
    once.took()
    assert assess(request("GET", "/x"), once).distance == 0.05
    assert assess(request("POST", "/x"), once).distance == 0.35


def test_the_distance_is_capped_at_one_and_rounded_to_four_places() -> None:
    many = compiled_route(
        "m", 0, method="POST", path="/qqqq", match={"headers": {f"H{i}": "v" for i in range(6)}}
    )
    assert assess(request("GET", "/zz"), many).distance == 1.0
    odd = compiled_route("o", 0, path="/abc")
    distance = assess(request("GET", "/abd"), odd).distance
    assert distance == round(0.15 + 0.35 * (1 - ratio("/abc", "/abd")), 4) == 0.2375
    far = assess(request("GET", "/abxyz"), compiled_route("p", 0, path="/abcd")).distance
    assert far == 0.3091  # 0.3090909...


def test_a_long_path_with_one_typo_stays_close() -> None:
    # A similarity with difflib's "autojunk" would treat the repeated characters as junk
    # and call these far.
    long = "/" + "ab/" * 70
    typo = long[:105] + "Z" + long[106:]
    assert assess(request("GET", typo), compiled_route("l", 0, path=long)).distance < 0.16


def test_after_a_url_that_holds_at_the_route_path_the_other_conditions_still_count() -> None:
    stub = compiled_route("s", 0, path="/items", match={"url": "/items?a=1", "headers": {"T": "x"}})
    miss = assess(request("GET", "/itemz", "a=1"), stub)
    assert [d.field for d in miss.diffs] == ["path", "header T"]


def test_a_locating_url_adds_to_the_method_cost() -> None:
    pattern = compiled_route("p", 0, path_regex="(?s).*", match={"url": {"matches": "/a/[0-9]+"}})
    same_method = assess(request("GET", "/a/x"), pattern).distance
    assert assess(request("POST", "/a/x"), pattern).distance == round(same_method + 0.3, 4)


def test_a_url_on_a_template_route_is_judged_at_the_request_path() -> None:
    template = compiled_route("t", 0, path="/u/{id}", match={"url": {"starts_with": "/u/"}})
    miss = assess(request("GET", "/v/5"), template)
    assert [d.field for d in miss.diffs] == ["path", "url"]


# ------------------------------------------------------------------ one definition of "matches"

ROUTES = {
    "exact": {"path": "/items"},
    "any_method": {"method": "*", "path": "/items"},
    "template": {"path": "/items/{id}", "match": {"path_params": {"id": {"matches": "[0-9]+"}}}},
    "regex": {"path_regex": "/items/[a-z]+"},
    "url": {"path": "/items", "match": {"url": "/items?a=1"}},
    "header": {"path": "/items", "match": {"headers": {"T": "x"}}},
    "once": {"path": "/items", "times": 1},
}
REQUESTS = [
    ("GET", "/items", "", {}),
    ("POST", "/items", "", {}),
    ("GET", "/items", "a=1", {"T": "x"}),
    ("GET", "/items/42", "", {}),
    ("GET", "/items/abc", "", {}),
    ("GET", "/itemz", "a=1", {"T": "x"}),
]


@pytest.mark.parametrize("name", sorted(ROUTES))
@pytest.mark.parametrize("spent", [False, True])
def test_a_route_matches_exactly_when_its_near_miss_has_no_diffs(name: str, spent: bool) -> None:
    fields = dict(ROUTES[name])
    method = fields.pop("method", "GET")
    for method_sent, path, query, headers in REQUESTS:
        compiled = compiled_route(name, 0, method=method, **fields)
        if spent and compiled.remaining is not None:
            compiled.took()
        sent = request(method_sent, path, query, **headers)
        matched = compiled.match(sent) is not None
        assert matched == (assess(sent, compiled).diffs == []), (name, method_sent, path, query)


def test_a_wiremock_url_stub_scores_its_wrong_path_once(cp: SessionHandle) -> None:
    # The same wrong path costs the same on a url stub as on a route with that path.
    stub(cp, {"method": "GET", "url": "/items"})
    cp.add_route(method="GET", path="/items", handler="native")
    misses = near_misses(cp, "GET", "/itemz")
    assert len({miss["distance"] for miss in misses}) == 1 and len(misses) == 2


def test_ties_beyond_the_limit_keep_the_first_three_declared(cp: SessionHandle) -> None:
    names = [f"h{i}" for i in range(5)]
    for name in names:
        cp.add_route(method="GET", path="/same", handler=name, match={"headers": {"T": "a"}})
    assert handlers(near_misses(cp, "GET", "/same")) == names[:3]


def test_a_native_catch_all_template_costs_by_its_static_part(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/files/{rest:.*}", handler="files")
    close = near_misses(cp, "GET", "/file/a/b")[0]["distance"]
    far = near_misses(cp, "GET", "/zzz")[0]["distance"]
    assert 0.15 <= close < far <= 0.5
