"""Match conditions: each field, JSON semantics, JSONPath, and the diffs they explain."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest
from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching.conditions import CompiledMatch, compile_match
from controlplane.request_view import KnownPeer, RequestView


def view(
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes | str = b"",
    json: Any = wire.UNSET,
) -> RequestView:
    hdrs: CIMultiDict[str] = CIMultiDict(headers or [])
    if json is not wire.UNSET:
        body = msgspec.json.encode(json)
        hdrs.setdefault("Content-Type", "application/json")
    raw = body.encode() if isinstance(body, str) else body
    return RequestView("POST", "/x", query, hdrs, raw)


def match(**fields: Any) -> CompiledMatch:
    compiled = compile_match(msgspec.convert(fields, wire.Match))
    assert compiled is not None
    return compiled


def test_no_conditions_compile_to_none() -> None:
    assert compile_match(None) is None
    assert compile_match(wire.Match()) is None


# ------------------------------------------------------------------ headers, query, cookies, form


def test_header_names_are_case_insensitive_and_values_case_sensitive() -> None:
    m = match(headers={"X-Tenant": "a"})
    assert m(view(headers=[("x-tenant", "a")]))
    assert not m(view(headers=[("X-TENANT", "A")]))
    assert not m(view())


def test_header_value_case_insensitive_when_asked() -> None:
    m = match(headers={"X-Tenant": {"equals": "acme", "case_insensitive": True}})
    assert m(view(headers=[("X-Tenant", "ACME")]))


def test_repeated_header_matches_when_any_value_matches() -> None:
    m = match(headers={"Accept": {"contains": "json"}})
    assert m(view(headers=[("Accept", "text/html"), ("Accept", "application/json")]))
    assert not m(view(headers=[("Accept", "text/html"), ("Accept", "text/plain")]))


def test_a_header_matcher_judging_value_by_value_is_decided_by_any_value() -> None:
    """The first value decides when it matches; a missing header is the matcher's
    answer for no value; otherwise every value is tried."""
    prefix = match(headers={"Authorization": {"starts_with": "Bearer "}})
    assert prefix(view(headers=[("Authorization", "Bearer t")]))
    assert prefix(view(headers=[("Authorization", "Basic x"), ("Authorization", "Bearer t")]))
    assert not prefix(view(headers=[("Authorization", "Basic x"), ("Authorization", "b")]))
    assert not prefix(view())
    assert match(headers={"X-Debug": {"absent": True}})(view())
    assert not match(headers={"X-Debug": {"absent": True}})(view(headers=[("X-Debug", "1")]))
    assert match(headers={"X-Debug": {"not": {"contains": "1"}}})(view())


def test_includes_and_has_exactly_headers_judge_all_values_at_once() -> None:
    """A first value that would match alone does not decide: `has_exactly` counts them."""
    m = match(headers={"X-Tag": {"has_exactly": ["a"]}})
    assert m(view(headers=[("X-Tag", "a")]))
    assert not m(view(headers=[("X-Tag", "a"), ("X-Tag", "b")]))
    both = match(headers={"X-Tag": {"includes": ["a", "b"]}})
    assert both(view(headers=[("X-Tag", "a"), ("X-Tag", "b")]))
    assert not both(view(headers=[("X-Tag", "a")]))


def test_an_equals_header_holds_when_the_request_is_known_to_carry_that_value() -> None:
    """`known_header` is what the route table found looking the header up (one value,
    that one): an `equals` condition on it is not looked up again. A name multidict
    would not fold the same (non-ASCII: the Kelvin sign lower-cases to `k`) is."""
    request = view()
    request.known_header = ("x-tenant", "acme")
    assert match(headers={"X-Tenant": "acme"})(request)
    assert not match(headers={"X-Tenant": "globex"})(request)
    assert not match(headers={"X-Plan": "acme"})(request)
    request.known_header = ("x-key", "v")
    assert not match(headers={"X-\u212aey": "v"})(request)


def test_query_absent_and_repeated_values() -> None:
    m = match(query={"debug": {"absent": True}, "tag": "b"})
    assert m(view(query="tag=a&tag=b"))
    assert not m(view(query="tag=a&tag=b&debug=1"))
    assert not m(view(query="tag=a"))


def test_query_blank_value_is_present() -> None:
    assert match(query={"debug": ""})(view(query="debug="))
    assert not match(query={"debug": {"absent": True}})(view(query="debug="))


_QUERIES = [
    "", "region=eu", "region=eu&debug=0", "debug=0&region=eu", "&&region=eu&&", "region=eu=x",
    "region=", "region", "region=EU", "xregion=eu", "region=eux", "region=e%75", "region=e+u",
    "region=e u", "region=eu;x=1", "region=x&region=eu", "dry_run", "dry_run=", "dry_run=1",
    "a=b+c&dry_run=1", "a=%26&region=eu", "region=eu&dry_run&", "Region=eu",
]  # fmt: skip


@pytest.mark.parametrize("query", _QUERIES)
@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("region", "eu"),
        ("region", "eu=x"),
        ("region", "e u"),
        ("region", ""),
        ("dry_run", {"absent": True}),
        ("region", {"absent": True}),
    ],
)
def test_query_equals_and_absent_read_from_the_text_agree_with_the_parsed_query(
    query: str, name: str, spec: Any
) -> None:
    """`equals` and `absent` are answered from the query text when nothing is encoded;
    the answer is always the parsed query's."""
    values = view(query=query).query.getall(name, ())
    expected = not values if isinstance(spec, dict) else spec in values
    assert match(query={name: spec})(view(query=query)) is expected


@pytest.mark.parametrize("query", _QUERIES)
@pytest.mark.parametrize(
    "specs",
    [
        {"region": "eu", "dry_run": {"absent": True}},
        {"dry_run": {"absent": True}, "region": {"absent": True}},
        {"region": "eu", "debug": "0"},
        {"region": "eu", "a": "b c", "dry_run": {"absent": True}},
        {"region": "eu", "debug": {"starts_with": "0"}, "dry_run": {"absent": True}},
    ],
)
def test_query_conditions_read_from_the_text_together_agree_with_the_parsed_query(
    query: str, specs: dict[str, Any]
) -> None:
    """A route's text-answered query conditions run as one check (encoded queries still
    parse); it holds exactly when each would alone, and `diffs` still lists each."""
    parsed = view(query=query).query
    expected = all(
        (not parsed.getall(name, ()))
        if spec == {"absent": True}
        else match(query={name: spec})(view(query=query))
        for name, spec in specs.items()
    )
    m = match(query=specs)
    assert m(view(query=query)) is expected
    assert len(m.in_cost_order) < len(m.checks)
    failing = {d.field for d in m.diffs(view(query=query))}
    assert failing == {
        f"query {name}"
        for name, spec in specs.items()
        if not match(query={name: spec})(view(query=query))
    }


def test_query_names_are_case_sensitive() -> None:
    assert not match(query={"Debug": "1"})(view(query="debug=1"))


def test_cookie_matches_by_name() -> None:
    m = match(cookies={"sid": {"starts_with": "s-"}})
    assert m(view(headers=[("Cookie", "theme=dark; sid=s-123")]))
    assert not m(view(headers=[("Cookie", "sid=x")]))
    assert not m(view())
    assert match(cookies={"sid": {"absent": True}})(view(headers=[("Cookie", "a=b")]))


def test_form_fields_need_a_form_content_type() -> None:
    m = match(form={"name": "Whiskers", "age": {"matches": "[0-9]+"}})
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    assert m(view(headers=form, body="name=Whiskers&age=3&extra=1"))
    assert not m(view(headers=form, body="name=Whiskers&age=three"))
    assert not m(view(headers=[("Content-Type", "text/plain")], body="name=Whiskers&age=3"))


# ------------------------------------------------------------------ body


def test_body_is_exact_text() -> None:
    m = match(body="héllo")
    assert m(view(body="héllo"))
    assert not m(view(body="héllo "))
    assert not m(view())


def test_body_base64_is_exact_bytes() -> None:
    raw = b"\x00\xff\x10binary"
    m = match(body_base64=base64.b64encode(raw).decode())
    assert m(view(body=raw))
    assert not m(view(body=raw + b"\x00"))


def test_body_matcher_applies_to_utf8_text_only() -> None:
    m = match(body_matcher={"contains": "needle"})
    assert m(view(body="hay needle hay"))
    assert not m(view(body=b"\xffneedle"))
    assert match(body_matcher={"absent": True})(view(body=b"\xff\xfe"))


# ------------------------------------------------------------------ json


def test_json_is_deep_equality() -> None:
    m = match(json={"name": "Whiskers", "tags": ["a", "b"], "owner": None})
    assert m(view(json={"tags": ["a", "b"], "owner": None, "name": "Whiskers"}))
    assert not m(view(json={"name": "Whiskers", "tags": ["a", "b"], "owner": None, "x": 1}))
    assert not m(view(json={"name": "Whiskers", "tags": ["b", "a"], "owner": None}))


def test_json_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    m = match(json={"n": 1, "flag": True})
    assert m(view(body='{"n": 1.0, "flag": true}'))
    assert not m(view(body='{"n": 1, "flag": 1}'))
    assert not m(view(body='{"n": true, "flag": true}'))
    assert not match(json=[0])(view(body="[false]"))


def test_json_null_is_a_value_to_match() -> None:
    assert match(json=None)(view(body="null"))
    assert not match(json=None)(view())


def test_json_fails_when_the_body_is_not_json() -> None:
    assert not match(json="text")(view(body="text"))
    assert not match(json_subset={})(view(body="{not json"))


def test_json_subset_ignores_extra_keys_recursively() -> None:
    m = match(json_subset={"user": {"name": "Whiskers"}})
    assert m(view(json={"user": {"name": "Whiskers", "age": 3}, "id": 7}))
    assert not m(view(json={"user": {"age": 3}}))
    assert not m(view(json={"user": "Whiskers"}))
    assert not match(json={"user": {"name": "Whiskers"}})(
        view(json={"user": {"name": "Whiskers", "age": 3}})
    )


def test_json_subset_of_nested_strings_and_nulls_reads_each_by_its_key_path() -> None:
    m = match(json_subset={"a": {"b": {"c": "x", "n": None}, "d": "y"}, "e": None})
    assert m(view(json={"a": {"b": {"c": "x", "n": None, "z": 1}, "d": "y"}, "e": None}))
    assert not m(view(json={"a": {"b": {"c": "x"}, "d": "y"}, "e": None}))  # n missing
    assert not m(view(json={"a": {"b": {"c": "x", "n": None}, "d": "y"}}))  # e missing
    assert not m(view(json={"a": {"b": {"c": "x", "n": 0}, "d": "y"}, "e": None}))
    assert not m(view(json={"a": {"b": {"c": "x", "n": False}, "d": "y"}, "e": None}))
    assert not m(view(json={"a": {"b": ["x"], "d": "y"}, "e": None}))
    assert not m(view(json={"a": {"b": "x", "d": "y"}, "e": None}))
    assert not m(view(json={"a": {"b": {"c": "X", "n": None}, "d": "y"}, "e": None}))
    assert not m(view(json=[{"a": {}}]))
    assert not m(view(json="a"))
    assert not m(view(json=None))
    # An empty object still asks for an object there.
    empty = match(json_subset={"a": {"b": {}}})
    assert empty(view(json={"a": {"b": {"c": 1}}}))
    assert not empty(view(json={"a": {"b": []}}))


def test_json_subset_arrays_need_same_length_and_match_element_wise() -> None:
    m = match(json_subset={"items": [{"id": 1}, {"id": 2}]})
    assert m(view(json={"items": [{"id": 1, "x": "a"}, {"id": 2}]}))
    assert not m(view(json={"items": [{"id": 1}, {"id": 2}, {"id": 3}]}))
    assert not m(view(json={"items": [{"id": 2}, {"id": 1}]}))


def test_json_subset_keeps_booleans_apart_from_numbers() -> None:
    assert not match(json_subset={"a": 1})(view(json={"a": True}))
    assert match(json_subset={"a": 1})(view(json={"a": 1.0, "b": True}))


# ------------------------------------------------------------------ json_path


def test_json_path_without_matcher_means_the_path_exists() -> None:
    m = match(json_path=[{"expression": "$.a.b[0]"}])
    assert m(view(json={"a": {"b": [None]}}))
    assert not m(view(json={"a": {"b": []}}))
    assert not m(view(body="a.b"))


def test_json_path_matches_strings_as_is_and_numbers_and_bools_by_json_text() -> None:
    assert match(json_path=[{"expression": "$.name", "matcher": "Whiskers"}])(
        view(json={"name": "Whiskers"})
    )
    assert match(json_path=[{"expression": "$.n", "matcher": "42"}])(view(json={"n": 42}))
    assert match(json_path=[{"expression": "$.ok", "matcher": "true"}])(view(json={"ok": True}))
    assert not match(json_path=[{"expression": "$.ok", "matcher": "True"}])(view(json={"ok": True}))
    assert match(json_path=[{"expression": "$.x", "matcher": "null"}])(view(json={"x": None}))


def test_json_path_matches_when_any_found_value_matches() -> None:
    m = match(json_path=[{"expression": "$.items[*].id", "matcher": {"matches": "[0-9]+"}}])
    assert m(view(json={"items": [{"id": "a"}, {"id": 7}]}))
    assert not m(view(json={"items": [{"id": "a"}, {"id": "b"}]}))


def test_json_path_with_absent_matcher_holds_when_nothing_is_found() -> None:
    m = match(json_path=[{"expression": "$.debug", "matcher": {"absent": True}}])
    assert m(view(json={"x": 1}))
    assert not m(view(json={"debug": False}))


def test_json_path_filter_expressions_work() -> None:
    m = match(json_path=[{"expression": "$.items[?(@.price > 10)].name", "matcher": "big"}])
    assert m(view(json={"items": [{"price": 5, "name": "small"}, {"price": 20, "name": "big"}]}))
    assert not m(view(json={"items": [{"price": 5, "name": "big"}]}))


def test_invalid_json_path_is_rejected_when_the_match_is_built() -> None:
    with pytest.raises(ValueError, match="not valid JSONPath"):
        match(json_path=[{"expression": "$$["}])


# ------------------------------------------------------------------ combination and diffs


def test_all_conditions_must_hold() -> None:
    m = match(headers={"X-Tenant": "a"}, query={"v": "2"}, json_subset={"ok": True})
    good = view(query="v=2", headers=[("X-Tenant", "a")], json={"ok": True, "n": 1})
    assert m(good)
    assert not m(view(query="v=1", headers=[("X-Tenant", "a")], json={"ok": True}))
    assert m.diffs(good) == []
    assert len(m) == 3


def test_diffs_name_each_failing_condition_with_expected_and_actual() -> None:
    m = match(
        headers={"X-Tenant": "a", "Accept": {"contains": "json"}},
        query={"debug": {"absent": True}},
        cookies={"sid": "s1"},
        json={"name": "Whiskers"},
    )
    request = view(
        query="debug=1&debug=2",
        headers=[("Accept", "application/json"), ("Cookie", "sid=s2")],
        json={"name": "Tom"},
    )
    diffs = {d.field: (d.expected, d.actual) for d in m.diffs(request)}
    assert diffs == {
        "header X-Tenant": ('equals "a"', "<absent>"),
        "query debug": ("absent", '["1","2"]'),
        "cookie sid": ('equals "s1"', "s2"),
        "json": ('{"name":"Whiskers"}', '{"name":"Tom"}'),
    }


def test_diffs_for_body_json_path_and_form() -> None:
    m = match(
        body_matcher={"contains": "x"},
        json_subset={"a": 1},
        json_path=[{"expression": "$.a.b", "matcher": "2"}],
        form={"name": "a"},
    )
    diffs = {d.field: (d.expected, d.actual) for d in m.diffs(view(body="plain"))}
    assert diffs == {
        "body": ('contains "x"', "plain"),
        "json_subset": ('{"a":1}', "<not JSON> plain"),
        "json_path $.a.b": ('equals "2"', "<not JSON> plain"),
        "form name": ('equals "a"', "<absent>"),
    }
    found = {d.field: d.actual for d in m.diffs(view(json={"a": {"b": 3}}))}
    assert found["json_path $.a.b"] == "3"


def test_diffs_for_exact_body_and_body_base64() -> None:
    m = match(body="expected", body_base64=base64.b64encode(b"expected").decode())
    diffs = {d.field: (d.expected, d.actual) for d in m.diffs(view(body=b"\xff"))}
    assert diffs == {
        "body": ("expected", "<1 bytes, not UTF-8>"),
        "body_base64": ("ZXhwZWN0ZWQ=", "/w=="),
    }
    assert {d.actual for d in m.diffs(view())} == {"<absent>"}


# ------------------------------------------------------------------ JSONPath filters (Jayway)


def test_a_filter_on_an_object_tests_the_object_itself() -> None:
    gift = match(json_path=[{"expression": "$.meta[?(@.gift == true)]"}])
    assert gift(view(json={"meta": {"gift": True}}))
    assert not gift(view(json={"meta": {"gift": False}}))
    assert not gift(view(json={"meta": {"inner": {"gift": True}}}))  # not its members' values
    total = match(json_path=[{"expression": "$[?(@.total > 5)]"}])
    assert total(view(json={"total": 7})) and not total(view(json={"total": 5}))
    assert not total(view(json={"a": {"total": 7}}))


def test_a_filter_on_an_array_still_tests_each_element() -> None:
    m = match(json_path=[{"expression": "$.items[?(@.qty > 1)].sku", "matcher": "b"}])
    assert m(view(json={"items": [{"qty": 1, "sku": "a"}, {"qty": 2, "sku": "b"}]}))
    assert not m(view(json={"items": [{"qty": 2, "sku": "a"}, {"qty": 1, "sku": "b"}]}))
    found = match(json_path=[{"expression": "$[?(@.n == 1)]"}])
    assert found(view(json=[{"n": 1}])) and not found(view(json=[{"n": 2}]))


def test_a_filter_on_an_object_may_read_the_root() -> None:
    m = match(json_path=[{"expression": "$.a[?(@.v == $.want)]"}])
    assert m(view(json={"a": {"v": 3}, "want": 3}))
    assert not m(view(json={"a": {"v": 3}, "want": 4}))


# ------------------------------------------------------------------ scheme and port


def test_port_from_the_host_header_or_the_schemes_default() -> None:
    m = match(port=8080)
    assert m(view(headers=[("Host", "api.test:8080")]))
    assert not m(view(headers=[("Host", "api.test")])) and not m(view())
    assert match(port=80)(view(headers=[("Host", "api.test")]))
    assert match(port=443)(
        RequestView("GET", "/", "", CIMultiDict({"Host": "a.test"}), b"", scheme="https")
    )
    assert match(port=80)(view(headers=[("Host", "[::1]")]))
    assert match(port=81)(view(headers=[("Host", "[::1]:81")]))
    assert match(port=8080).diffs(view(headers=[("Host", "a.test")]))[0].actual == "80"
    assert match(port=8080).diffs(view())[0].actual == "<absent>"


def test_scheme() -> None:
    assert match(scheme="http")(view())
    https = RequestView("GET", "/", "", CIMultiDict(), b"", scheme="https")
    assert match(scheme="https")(https) and not match(scheme="https")(view())
    assert match(scheme={"starts_with": "http"})(https)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_a_port_is_1_to_65535(port: int) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"port": port}, wire.Match)


# ------------------------------------------------------------------ client address


def test_client_ip_is_the_peer_address() -> None:
    def from_(address: str | None) -> RequestView:
        return RequestView("GET", "/", "", CIMultiDict(), b"", peer=KnownPeer(address))

    m = match(client_ip="127.0.0.1")
    assert m(from_("127.0.0.1")) and not m(from_("10.0.0.1"))
    assert match(client_ip={"starts_with": "10."})(from_("10.0.0.1"))
    assert match(client_ip={"matches": "::1|127\\..*"})(from_("::1"))
    # No peer (a request rebuilt from the journal): only `absent` holds.
    assert not m(view()) and match(client_ip={"absent": True})(view())
    [diff] = m.diffs(from_("10.0.0.1"))
    assert (diff.field, diff.expected, diff.actual) == (
        "client_ip",
        'equals "127.0.0.1"',
        "10.0.0.1",
    )
    assert m.diffs(view())[0].actual == "<absent>"


# ------------------------------------------------------------------ JSON placeholders


def compare(value: Any, **options: Any) -> CompiledMatch:
    return match(json_compare=[{"value": value, "placeholders": True, **options}])


def test_type_placeholders_match_values_of_their_type() -> None:
    m = compare(
        {
            "s": "${json-unit.any-string}",
            "n": "${json-unit.any-number}",
            "b": "${json-unit.any-boolean}",
            "i": "${json-unit.ignore}",
        }
    )
    assert m(view(json={"s": "x", "n": 1.5, "b": False, "i": None}))
    assert m(view(json={"s": "", "n": -3, "b": True, "i": {"deep": [1]}}))
    for wrong in ({"s": 1}, {"n": "1"}, {"n": True}, {"b": 0}, {"b": "true"}):
        assert not m(view(json={"s": "x", "n": 1, "b": True, "i": 0, **wrong})), wrong
    # `ignore` stands for a value, not for a missing key.
    assert not m(view(json={"s": "x", "n": 1, "b": True}))


def test_a_regex_placeholder_is_a_full_match_on_a_string() -> None:
    m = compare({"id": "${json-unit.regex}[A-Z]{2}-\\d+"})
    assert m(view(json={"id": "AB-12"}))
    assert not m(view(json={"id": "AB-12x"})) and not m(view(json={"id": "xAB-12"}))
    assert not compare({"n": "${json-unit.regex}\\d+"})(view(json={"n": 12}))


def test_placeholders_keep_the_leniencies() -> None:
    items = ["${json-unit.any-number}", "${json-unit.any-string}"]
    m = compare({"items": items}, ignore_array_order=True, ignore_extra_fields=True)
    assert m(view(json={"items": ["a", 2], "extra": 1}))
    assert not m(view(json={"items": ["a", "b"]}))
    extra_items = compare(["${json-unit.any-string}"], ignore_extra_items=True)
    assert extra_items(view(json=["a", 1, 2])) and not extra_items(view(json=[1, "a"]))


def test_without_the_option_a_placeholder_is_a_plain_string() -> None:
    literal = match(json_compare=[{"value": {"s": "${json-unit.any-string}"}}])
    assert not literal(view(json={"s": "x"}))
    assert literal(view(json={"s": "${json-unit.any-string}"}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"a": ["${json-unit.ignore-element}"]},
            "unknown placeholder '${json-unit.ignore-element}' at $.a[0] (known: "
            "${json-unit.any-string}, ${json-unit.any-number}, ${json-unit.any-boolean}, "
            "${json-unit.ignore}, ${json-unit.regex}RE)",
        ),
        ({"a": "${json-unit.regex}(a"}, "placeholder '${json-unit.regex}(a' at $.a: "),
    ],
)
def test_an_unusable_placeholder_is_refused_at_registration(value: Any, message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as refused:
        msgspec.convert({"value": value, "placeholders": True}, wire.JsonCompare)
    assert str(refused.value).startswith(message)


def test_a_json_path_can_compare_what_it_finds_as_json() -> None:
    found = {"value": {"id": "${json-unit.any-number}"}, "placeholders": True}
    m = match(json_path=[{"expression": "$.a", "json_compare": found}])
    assert m(view(json={"a": {"id": 1}})) and not m(view(json={"a": {"id": "1"}}))
    assert not m(view(json={"b": {"id": 1}}))
    [diff] = m.diffs(view(json={"a": {"id": "1"}}))
    assert (diff.field, diff.expected, diff.actual) == (
        "json_path $.a",
        'json_compare {"id":"${json-unit.any-number}"}',
        '{"id":"1"}',
    )
    with pytest.raises(msgspec.ValidationError, match="give `matcher` or `json_compare`"):
        msgspec.convert(
            {"expression": "$.a", "matcher": "x", "json_compare": {"value": 1}},
            wire.JsonPathCondition,
        )
