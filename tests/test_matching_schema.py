"""`json_schema` conditions: drafts, offline references, errors, near misses."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import requests
from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching.conditions import CompiledMatch, compile_match
from controlplane.request_view import RequestView
from tests.conftest import SessionHandle

PERSON = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
}


def match(**fields: Any) -> CompiledMatch:
    compiled = compile_match(msgspec.convert(fields, wire.Match))
    assert compiled is not None
    return compiled


def view(body: str) -> RequestView:
    return RequestView("POST", "/x", "", CIMultiDict(), body.encode())


def test_valid_bodies_match_and_invalid_or_non_json_ones_do_not() -> None:
    m = match(json_schema=[{"schema": PERSON}])
    assert m(view('{"name": "Tom"}')) and m(view('{"name": "Tom", "age": 0}'))
    assert not m(view('{"name": "Tom", "age": -1}'))
    assert not m(view('{"age": 3}'))
    assert not m(view("[]")) and not m(view("nope")) and not m(view(""))


@pytest.mark.parametrize(
    ("draft", "exclusive_3_holds_for_3"),
    [("4", False), ("6", True), ("7", True), ("2019-09", True), ("2020-12", True)],
)
def test_each_draft_is_its_own(draft: str, exclusive_3_holds_for_3: bool) -> None:
    # Draft 4's exclusiveMinimum is a boolean; later drafts ignore a boolean there
    # (it is not a number), so `3` is valid for them.
    schema = {"minimum": 3, "exclusiveMinimum": True}
    if draft != "4":
        schema = {"minimum": 3}
    m = match(json_schema=[{"schema": schema, "draft": draft}])
    assert m(view("3")) is exclusive_3_holds_for_3
    assert m(view("4"))


def test_dollar_schema_picks_the_draft_when_none_is_given() -> None:
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "minimum": 3,
        "exclusiveMinimum": True,
    }
    assert not match(json_schema=[{"schema": draft4}])(view("3"))
    # 2020-12 by default: prefixItems is a keyword there.
    tuple_schema = {"prefixItems": [{"type": "string"}]}
    assert not match(json_schema=[{"schema": tuple_schema}])(view("[1]"))


def test_local_references_resolve() -> None:
    schema = {"$defs": {"id": {"type": "integer"}}, "properties": {"id": {"$ref": "#/$defs/id"}}}
    m = match(json_schema=[{"schema": schema}])
    assert m(view('{"id": 1}')) and not m(view('{"id": "1"}'))


def test_near_miss_names_the_first_violation() -> None:
    m = match(json_schema=[{"schema": PERSON}])
    request = view('{"name": "Tom", "age": "x"}')
    diff = m.diffs(request)[0]
    assert diff.field == "json_schema"
    assert diff.actual == '/age: "x" is not of type "integer" in {"name":"Tom","age":"x"}'


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": 5}, "`schema` is not a valid schema: "),
        ([], "`schema` is not a JSON object (or true/false), which a schema is"),
        ({"$ref": "http://127.0.0.1:9/x.json"}, "`schema` is not a valid schema: "),
    ],
)
def test_bad_schemas_are_422_at_the_condition(cp: SessionHandle, schema: Any, message: str) -> None:
    route = {
        "method": "POST",
        "path": "/x",
        "handler": "x",
        "match": {"json_schema": [{"schema": schema}]},
    }
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=10)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["location"] == "$.match.json_schema[0].schema"
    assert error["message"].startswith(message)


def test_a_schema_route_answers_over_the_mock_port(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/people",
        handler="people",
        match={"json_schema": [{"schema": PERSON, "draft": "7"}]},
        response={"type": "json", "status": 201, "body": {"ok": True}},
    )
    assert requests.post(f"{cp.mock_url}/people", json={"name": "A"}, timeout=10).status_code == 201
    assert requests.post(f"{cp.mock_url}/people", json={"name": 1}, timeout=10).status_code == 404
