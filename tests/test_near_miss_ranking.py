"""Near-miss ranking over a real server: count differences once, scale with distance."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from controlplane.matching.paths import regex_skeleton
from tests.conftest import SessionHandle


def near_misses(cp: SessionHandle, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    answer = requests.request(method, cp.mock_url + path, timeout=10, **kwargs)
    assert answer.status_code == 404, answer.text
    misses: list[dict[str, Any]] = answer.json()["near_misses"]
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
