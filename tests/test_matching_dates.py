"""Date-time string matchers: `before`, `after`, `equals_date_time`, formats, truncations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
import requests

from controlplane import wire
from controlplane.matching.strings import compile_string_matcher
from tests.conftest import SessionHandle


def matcher(**fields: Any) -> Any:
    return compile_string_matcher(msgspec.convert(fields, wire.StringMatcher))


def test_literal_expected_compares_instants_across_offsets() -> None:
    before = matcher(before="2021-06-01T12:00:00Z")
    assert before("2021-06-01T11:59:59Z")
    assert not before("2021-06-01T12:00:00Z")  # strictly before
    assert before("2021-06-01T13:59:59+02:00")
    assert not before("2021-06-01T14:00:00+02:00")
    after = matcher(after="2021-06-01T12:00:00Z")
    assert after("2021-06-01T12:00:01Z") and not after("2021-06-01T12:00:00Z")
    at = matcher(equals_date_time="2021-06-01T12:00:00Z")
    assert at("2021-06-01T14:00:00+02:00") and not at("2021-06-01T12:00:00.001Z")


def test_local_dates_and_rfc_1123() -> None:
    at = matcher(equals_date_time="2021-06-01")
    assert at("2021-06-01T00:00:00") and at("2021-06-01")
    assert at("2021-06-01T00:00:00Z")  # a local side is read in the other side's offset
    assert matcher(before="2021-06-02")("Tue, 01 Jun 2021 15:16:17 GMT")
    assert not matcher(after="2021-06-02")("Tue, 01 Jun 2021 15:16:17 GMT")


def test_missing_or_unparsable_values_never_match() -> None:
    for m in (matcher(before="now"), matcher(after="2000-01-01"), matcher(equals_date_time="now")):
        assert not m(None) and not m("") and not m("yesterday") and not m("2021-13-01")


def test_now_with_offsets_is_evaluated_per_call() -> None:
    now = dt.datetime.now(dt.UTC)
    soon = matcher(before="now +1 hours")
    assert soon((now + dt.timedelta(minutes=59)).isoformat())
    assert not soon((now + dt.timedelta(minutes=61)).isoformat())
    assert matcher(after="now -2 days")((now - dt.timedelta(days=1)).isoformat())
    assert matcher(after="-2 days")((now - dt.timedelta(days=1)).isoformat())
    assert not matcher(after="now -2 days")((now - dt.timedelta(days=3)).isoformat())
    assert matcher(before="now +1 months")((now + dt.timedelta(days=27)).isoformat())
    assert matcher(before="now +1 years")((now + dt.timedelta(days=360)).isoformat())
    assert matcher(after="now -1 weeks")((now - dt.timedelta(days=6)).isoformat())


def test_actual_format_java_patterns_and_epochs() -> None:
    assert matcher(equals_date_time="2021-06-24", actual_format="dd/MM/yyyy")("24/06/2021")
    assert not matcher(equals_date_time="2021-06-24", actual_format="dd/MM/yyyy")("2021-06-24")
    stamp = matcher(
        equals_date_time="2021-06-24T15:04:05+02:00", actual_format="yyyy-MM-dd HH:mm:ss Z"
    )
    assert stamp("2021-06-24 15:04:05 +0200") and stamp("2021-06-24 13:04:05 Z")
    named = matcher(equals_date_time="2021-06-24T15:04:05", actual_format="d MMM yyyy h:mm:ss a")
    assert named("24 Jun 2021 3:04:05 PM")
    literal = matcher(equals_date_time="2021-06-24", actual_format="'day' yyyyMMdd")
    assert literal("day 20210624") and not literal("20210624")
    quoted = matcher(equals_date_time="2021-06-24", actual_format="'o''clock' yyyyMMdd''")
    assert quoted("o'clock 20210624'") and not quoted("oclock 20210624")
    assert matcher(equals_date_time="2021-06-24T00:00:00Z", actual_format="unix")("1624492800")
    assert matcher(equals_date_time="2021-06-24T00:00:00Z", actual_format="epoch")("1624492800000")
    assert not matcher(equals_date_time="2021-06-24T00:00:00Z", actual_format="unix")("16x")


def test_truncations() -> None:
    now = dt.datetime.now(dt.UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    at_month = matcher(equals_date_time="now", truncate_expected="first day of month")
    assert at_month(month.isoformat()) and not at_month(now.replace(microsecond=0).isoformat())
    # The offset is added after truncating `now`, as WireMock does.
    nextish = matcher(equals_date_time="now +1 days", truncate_expected="FIRST_DAY_OF_MONTH")
    assert nextish((month + dt.timedelta(days=1)).isoformat())
    same_hour = matcher(
        equals_date_time="2021-06-24T15:00:00Z", truncate_actual="first minute of hour"
    )
    assert same_hour("2021-06-24T15:42:10Z") and not same_hour("2021-06-24T16:00:00Z")
    cases = {
        "first hour of day": "2021-06-24T00:00:00Z",
        "first day of next month": "2021-07-01T00:00:00Z",
        "last day of month": "2021-06-30T00:00:00Z",
        "first day of year": "2021-01-01T00:00:00Z",
        "first day of next year": "2022-01-01T00:00:00Z",
        "last day of year": "2021-12-31T00:00:00Z",
    }
    for name, expected in cases.items():
        m = matcher(equals_date_time=expected, truncate_actual=name)
        assert m("2021-06-24T15:42:10Z"), name


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"before": "soon"}, "`before` 'soon' is not a date-time: give ISO 8601"),
        ({"after": "now +3 fortnights"}, "`after` unit 'fortnights': give one of seconds"),
        ({"before": "now", "truncate_expected": "x"}, "`truncate_expected` is not a truncation"),
        ({"before": "now", "actual_format": "yyyy-QQ"}, "`actual_format` is not a supported"),
        ({"before": "now", "actual_format": "HH:mm"}, "`actual_format` needs a year (yyyy)"),
        ({"equals": "x", "actual_format": "yyyy"}, "`actual_format` goes only with before"),
    ],
)
def test_bad_date_time_matchers_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(fields, wire.StringMatcher)
    assert str(caught.value).startswith(message)


def test_description_names_the_moment_and_options() -> None:
    m = matcher(
        after="now -1 days", actual_format="dd/MM/yyyy", truncate_actual="first hour of day"
    )
    assert m.description == (
        'a date-time after "now -1 days" (actual format "dd/MM/yyyy", '
        'truncate actual "first hour of day")'
    )


def test_native_route_with_a_date_header_and_its_near_miss(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/d",
        handler="d",
        match={"headers": {"X-Due": {"before": "2030-01-01T00:00:00Z"}}},
        response={"type": "raw", "body": "ok"},
    )
    ok = requests.get(f"{cp.mock_url}/d", headers={"X-Due": "2029-12-31T23:59:59Z"}, timeout=10)
    assert ok.status_code == 200
    late = requests.get(f"{cp.mock_url}/d", headers={"X-Due": "2030-01-01T00:00:00Z"}, timeout=10)
    assert late.status_code == 404
    assert late.json()["near_misses"][0]["diffs"] == [
        {
            "field": "header X-Due",
            "expected": 'a date-time before "2030-01-01T00:00:00Z"',
            "actual": "2030-01-01T00:00:00Z",
        }
    ]
    answer = requests.post(
        f"{cp.api}/routes",
        json={
            "method": "GET",
            "path": "/x",
            "handler": "x",
            "match": {"query": {"d": {"after": "x"}}},
        },
        timeout=10,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["location"] == "$.match.query.d.after"
