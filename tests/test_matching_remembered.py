"""A route asked the same request again: it remembers what the last request all its
conditions held for sent (body, query string, the first values of the headers they
read) and still judges every request by its own values."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import msgspec
import pytest
import requests
from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching.route import CompiledRoute, compile_route
from controlplane.request_view import RequestView
from tests.conftest import SessionHandle

GOLD = b'{"customer":{"id":42,"tier":"gold"},"note":"a"}'
# As long as GOLD, differing inside.
GREY = b'{"customer":{"id":42,"tier":"grey"},"note":"a"}'
ACME = [("X-Tenant", "acme"), ("Authorization", "Bearer t")]


def fresh(data: bytes | str) -> Any:
    """An equal but distinct object, as aiohttp parses each request's anew."""
    if isinstance(data, bytes):
        return bytes(bytearray(data))
    return "".join(list(data))


def view(
    headers: list[tuple[str, str]], body: bytes = GOLD, query: str = "region=eu"
) -> RequestView:
    pairs = [(fresh(name), fresh(value)) for name, value in headers]
    return RequestView("POST", "/orders", fresh(query), CIMultiDict(pairs), fresh(body))


def route(**match: Any) -> CompiledRoute:
    spec = {"id": "r", "method": "POST", "path": "/orders", "handler": "h", "match": match}
    return compile_route(msgspec.convert(spec, wire.Route), 0)


def test_a_route_asked_the_same_request_again_judges_each_request_by_its_own_values() -> None:
    r = route(
        headers={"X-Tenant": "acme", "Authorization": {"starts_with": "Bearer "}},
        query={"region": "eu", "dry_run": {"absent": True}},
        json_subset={"customer": {"tier": "gold"}},
    )
    sent = [
        view(ACME),
        view(ACME),  # the same twice in a row: remembered
        view(ACME),
        view(ACME, GREY),
        view(ACME),
        view(ACME, query="region=eu&dry_run=1"),
        view([("X-Tenant", "acme"), ("Authorization", "Basic tt")]),
        view([("X-Tenant", "globex"), ("Authorization", "Bearer t")]),
        view([("Authorization", "Bearer t")]),
        view([*ACME, ("X-Tenant", "globex")]),  # the first value is the one remembered
        view(ACME, b""),
        view(ACME),
    ]
    verdicts = [r.accepts(v) for v in sent]
    T, F = True, False
    assert verdicts == [T, T, T, F, T, F, F, F, F, T, F, T]


@pytest.mark.parametrize("matcher", ["acme", {"starts_with": "ac"}], ids=["equals", "starts_with"])
def test_a_header_that_held_by_its_repeat_is_not_remembered_by_its_first_value(
    matcher: Any,
) -> None:
    r = route(headers={"X-Tenant": matcher}, json_subset={"customer": {"tier": "gold"}})
    repeated = [("X-Tenant", "other"), ("X-Tenant", "acme")]
    assert [r.accepts(view(repeated)) for _ in range(3)] == [True, True, True]
    assert not r.accepts(view([("X-Tenant", "other")]))
    assert [r.accepts(view([("X-Tenant", "acme")])) for _ in range(3)] == [True, True, True]
    assert not r.accepts(view([("X-Tenant", "other")]))


def test_a_header_an_absent_condition_wants_missing_is_remembered_missing() -> None:
    r = route(headers={"X-Debug": {"absent": True}}, json_subset={"customer": {"tier": "gold"}})
    assert [r.accepts(view([])) for _ in range(3)] == [True, True, True]
    assert not r.accepts(view([("X-Debug", "1")]))
    assert not r.accepts(view([("X-Debug", "")]))
    assert r.accepts(view([]))


@pytest.mark.parametrize("on", ["header", "json_path"])
def test_a_route_with_a_condition_on_the_time_now_remembers_nothing(on: str) -> None:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.3)
    expires = moment.isoformat().replace("+00:00", "Z")
    after_now = {"after": "now"}
    if on == "header":
        r = route(headers={"X-Expires": after_now}, json_subset={"customer": {}})
        sent = view([("X-Expires", expires)])
    else:
        r = route(
            headers={"X-Tenant": "acme"},
            json_path=[{"expression": "$.expires", "matcher": after_now}],
        )
        sent = view(ACME, f'{{"expires":"{expires}","customer":{{}}}}'.encode())
    assert [r.accepts(sent) for _ in range(3)] == [True, True, True]
    # The clock itself is what is tested: the same request, later, no longer holds.
    time.sleep(max(0.0, moment.timestamp() - time.time()) + 0.05)
    assert not r.accepts(sent)


def _orders(**extra: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/orders",
        "handler": "orders",
        "match": {"headers": {"X-Tenant": "acme"}, "json_subset": {"customer": {"tier": "gold"}}},
        "response": {"type": "json", "status": 201, "body": {}},
        **extra,
    }


def _post(cp: SessionHandle) -> int:
    headers = {"X-Tenant": "acme", "Content-Type": "application/json"}
    answer = requests.post(f"{cp.mock_url}/orders", headers=headers, data=GOLD, timeout=10)
    return answer.status_code


def test_the_same_request_again_follows_the_routes_scenario_state(cp: SessionHandle) -> None:
    cp.add_route(**_orders(scenario={"name": "flow", "required_state": "Started"}))
    assert [_post(cp) for _ in range(3)] == [201, 201, 201]
    put = requests.put(f"{cp.api}/scenarios/flow/state", json={"state": "done"}, timeout=10)
    assert put.status_code == 200
    assert _post(cp) == 404


def test_the_same_request_again_stops_matching_when_the_routes_times_are_used_up(
    cp: SessionHandle,
) -> None:
    cp.add_route(**_orders(times=3))
    assert [_post(cp) for _ in range(4)] == [201, 201, 201, 404]


def test_a_long_bearer_token_and_a_long_body_are_judged_by_their_own_values() -> None:
    r = route(
        headers={"Authorization": {"starts_with": "Bearer "}},
        json_subset={"customer": {"tier": "gold"}},
    )
    token = "Bearer " + "t" * 2_000
    basic = "Basic x" + "t" * 2_000  # as long, differing inside
    pad = "p" * 2_000
    gold = f'{{"customer":{{"tier":"gold"}},"pad":"{pad}"}}'.encode()
    grey = f'{{"customer":{{"tier":"grey"}},"pad":"{pad}"}}'.encode()
    sent = [
        view([("Authorization", token)]),
        view([("Authorization", token)]),
        view([("Authorization", token)]),
        view([("Authorization", basic)]),
        view([("Authorization", token)], gold),
        view([("Authorization", token)], gold),
        view([("Authorization", token)], grey),
        view([("Authorization", basic)], gold),
        view([("Authorization", token)]),
    ]
    assert [r.accepts(v) for v in sent] == [True, True, True, False, True, True, False, False, True]
