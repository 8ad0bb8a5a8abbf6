"""Conditions asked again: a condition keeps its verdict on the last body, query string
or header value it judged (the same request again costs one comparison), and still
judges every request by its own values."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import msgspec
import pytest
import requests
from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching.conditions import _MEMO_TEXT, CompiledMatch, compile_match
from controlplane.request_view import RequestView
from tests.conftest import SessionHandle


def fresh(data: bytes | str) -> Any:
    """An equal but distinct object, as aiohttp parses each request's anew."""
    if isinstance(data, bytes):
        return bytes(bytearray(data))
    return "".join(list(data))


def view(
    body: bytes = b"", query: str = "", headers: list[tuple[str, str]] | None = None
) -> RequestView:
    return RequestView("POST", "/x", fresh(query), CIMultiDict(headers or []), fresh(body))


def match(**fields: Any) -> CompiledMatch:
    compiled = compile_match(msgspec.convert(fields, wire.Match))
    assert compiled is not None
    return compiled


GOLD = b'{"customer":{"id":42,"tier":"gold"},"note":"a"}'
# As long as GOLD, differing inside: one comparison of equal lengths tells them apart.
GREY = b'{"customer":{"id":42,"tier":"grey"},"note":"a"}'
BODIES = [GOLD, GOLD, GREY, GOLD, b"{not json", b"", GOLD, GREY, GREY]
EXPECTED = [True, True, False, True, False, False, True, False, False]


@pytest.mark.parametrize(
    "fields",
    [
        {"json_subset": {"customer": {"tier": "gold"}}},
        {"json": {"customer": {"id": 42, "tier": "gold"}, "note": "a"}},
        {"json_path": [{"expression": "$.customer.tier", "matcher": "gold"}]},
        {"json_compare": [{"value": {"customer": {"tier": "gold"}}, "ignore_extra_fields": True}]},
    ],
    ids=["json_subset", "json", "json_path", "json_compare"],
)
def test_a_json_condition_judges_each_body_whatever_it_judged_before(
    fields: dict[str, Any],
) -> None:
    assert GOLD != GREY and len(GOLD) == len(GREY)
    m = match(**fields)
    assert [m(view(body)) for body in BODIES] == EXPECTED


def test_a_body_longer_than_the_kept_length_is_judged_each_time() -> None:
    m = match(json_subset={"tier": "gold"})
    pad = " " * _MEMO_TEXT
    gold = f'{{"tier":"gold","pad":"{pad}"}}'.encode()
    grey = f'{{"tier":"grey","pad":"{pad}"}}'.encode()
    assert len(gold) == len(grey) > _MEMO_TEXT
    assert [m(view(body)) for body in (gold, gold, grey, grey, gold)] == [
        True,
        True,
        False,
        False,
        True,
    ]


def test_query_conditions_judge_each_query_string_whatever_they_judged_before() -> None:
    m = match(query={"region": "eu", "dry_run": {"absent": True}})
    queries = [
        "region=eu&debug=0",
        "region=eu&debug=0",
        "region=us&debug=0",  # as long, differing inside
        "region=eu&debug=0",
        "region=eu&dry_run=1",
        "region=eu&dry_run=1",
        "region=%65u",  # encoded: parsed, and "eu"
        "",
        "region=eu",
    ]
    assert [m(view(query=q)) for q in queries] == [
        True,
        True,
        False,
        True,
        False,
        False,
        True,
        False,
        True,
    ]


def test_a_long_query_string_is_judged_each_time() -> None:
    m = match(query={"region": "eu"})
    pad = "p=" + "x" * _MEMO_TEXT
    eu, us = f"region=eu&{pad}", f"region=us&{pad}"
    assert [m(view(query=q)) for q in (eu, eu, us, us, eu)] == [True, True, False, False, True]


def test_a_header_matcher_judges_each_value_and_every_repeat_of_the_header() -> None:
    m = match(headers={"Authorization": {"starts_with": "Bearer "}})
    requests_headers = [
        [("Authorization", "Bearer a")],
        [("Authorization", "Bearer a")],
        [("Authorization", "Basic ab")],  # as long, differing inside
        [("Authorization", "Basic ab")],
        # The first value fails, a repeat holds: the repeat is read each time.
        [("Authorization", "Basic ab"), ("Authorization", "Bearer b")],
        [("Authorization", "Basic ab"), ("Authorization", "Bearer b")],
        [("Authorization", "Basic ab"), ("Authorization", "Basic cd")],
        [],
        [("Authorization", "Bearer a")],
    ]
    verdicts = [m(view(headers=[(n, fresh(v)) for n, v in h])) for h in requests_headers]
    assert verdicts == [True, True, False, False, True, True, False, False, True]


def test_a_long_header_value_is_judged_each_time() -> None:
    m = match(headers={"Authorization": {"starts_with": "Bearer "}})
    bearer = "Bearer " + "x" * _MEMO_TEXT
    basic = "Basic x" + "x" * _MEMO_TEXT
    values = (bearer, bearer, basic, basic, bearer)
    verdicts = [m(view(headers=[("Authorization", v)])) for v in values]
    assert verdicts == [True, True, False, False, True]


def _tenant_route(tenant: str) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/orders",
        "handler": f"orders_{tenant}",
        "match": {
            "headers": {"X-Tenant": tenant, "Authorization": {"starts_with": "Bearer "}},
            "query": {"region": "eu", "dry_run": {"absent": True}},
            "json_subset": {"customer": {"tier": "gold"}},
        },
        "response": {"type": "json", "status": 201, "body": {"tenant": tenant}},
    }


def test_the_mock_port_answers_repeated_and_changed_requests_each_by_its_own_values(
    cp: SessionHandle,
) -> None:
    for tenant in ("globex", "acme"):
        cp.add_route(**_tenant_route(tenant))
    acme = {"X-Tenant": "acme", "Authorization": "Bearer t", "Content-Type": "application/json"}
    sent = [
        ("region=eu", acme, GOLD),
        ("region=eu", acme, GOLD),
        ("region=eu", acme, GREY),
        ("region=eu", {**acme, "X-Tenant": "globex"}, GOLD),
        ("region=eu&dry_run=1", acme, GOLD),
        ("region=eu", {**acme, "Authorization": "Basic t"}, GOLD),
        ("region=eu", acme, GOLD),
    ]
    statuses = []
    for query, headers, body in sent:
        answer = requests.post(
            f"{cp.mock_url}/orders?{query}", headers=headers, data=body, timeout=10
        )
        statuses.append((answer.status_code, answer.json().get("tenant")))
    assert statuses == [
        (201, "acme"),
        (201, "acme"),
        (404, None),
        (201, "globex"),
        (404, None),
        (404, None),
        (201, "acme"),
    ]
    journal = requests.get(f"{cp.api}/requests", timeout=10).json()["requests"]
    assert [e["handler"] for e in journal] == [
        "orders_acme",
        "orders_acme",
        None,
        "orders_globex",
        None,
        None,
        "orders_acme",
    ]
    assert [dict(e["headers"])["Authorization"] for e in journal][-2:] == ["Basic t", "Bearer t"]


def _soon(seconds: float) -> tuple[str, float]:
    """A date-time `seconds` from now (ISO 8601, UTC), and that moment's epoch time."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z"), moment.timestamp()


def _pass(moment: float) -> None:
    """Let the clock pass `moment`: the verdict under test depends on the time itself."""
    time.sleep(max(0.0, moment - time.time()) + 0.05)


@pytest.mark.parametrize(
    "on",
    [
        "header",
        "header in any_of",
        "query",
        "json_path",
        "json_path in not",
    ],
)
def test_a_condition_on_the_time_now_judges_the_same_value_again_when_asked_again(
    on: str,
) -> None:
    # `after: now` reads the clock per request: the same value, later, may not hold.
    after_now: dict[str, Any] = {"after": "now"}
    if on == "header in any_of":
        after_now = {"any_of": [{"equals": "never"}, after_now]}
    if on == "json_path in not":
        after_now = {"not": {"not": after_now}}
    fields: dict[str, Any] = {
        "header": {"headers": {"X-Expires": after_now}},
        "header in any_of": {"headers": {"X-Expires": after_now}},
        "query": {"query": {"expires": after_now}},
        "json_path": {"json_path": [{"expression": "$.expires", "matcher": after_now}]},
        "json_path in not": {"json_path": [{"expression": "$.expires", "matcher": after_now}]},
    }[on]
    m = match(**fields)
    value, moment = _soon(0.3)

    def ask() -> bool:
        if on.startswith("header"):
            return m(view(headers=[("X-Expires", value)]))
        if on == "query":
            return m(view(query=f"expires={value}"))
        return m(view(f'{{"expires":"{value}"}}'.encode()))

    assert ask() and ask()
    _pass(moment)
    assert not ask()
