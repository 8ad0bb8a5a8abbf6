"""The `now` helper: offsets, Java patterns, zones, `epoch`/`unix`, and what it refuses.

The formatting is pinned on a fixed moment (`RenderableDate`, what `now` returns); the
offsets and the errors through a real server, against the clock read around the request.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import requests

from controlplane.responses.template_dates import RenderableDate
from tests.conftest import SessionHandle

MOMENT = dt.datetime(2026, 3, 5, 14, 7, 9, 123456, tzinfo=dt.UTC)  # a Thursday


@pytest.mark.parametrize(
    ("pattern", "zone", "rendered"),
    [
        ("yyyy-MM-dd HH:mm:ss", None, "2026-03-05 14:07:09"),
        ("yy y uuuu", None, "26 2026 2026"),
        ("M MM MMM MMMM", None, "3 03 Mar March"),
        ("d dd D DDD", None, "5 05 64 064"),
        ("H h hh a", None, "14 2 02 PM"),
        ("m s S SSS SSSSSS", None, "7 9 1 123 123456"),
        ("E EEEE", None, "Thu Thursday"),
        ("Z ZZZZ X XXX x xxx", None, "+0000 +00:00 Z Z +0000 +00:00"),
        ("Z ZZZZ X XXX x xxx", "Asia/Kolkata", "+0530 +05:30 +0530 +05:30 +0530 +05:30"),
        ("HH:mm z VV", "Europe/Paris", "15:07 CET Europe/Paris"),
        ("yyyy-MM-dd'T'HH:mm 'o''clock' ''", None, "2026-03-05T14:07 o'clock '"),
        ("QQ-ww", None, "QQ-ww"),  # not a field in templates: written as it stands
    ],
)
def test_a_java_pattern_renders_each_field(pattern: str, zone: str | None, rendered: str) -> None:
    assert str(RenderableDate(MOMENT, pattern, None if zone is None else ZoneInfo(zone))) == (
        rendered
    )


@pytest.mark.parametrize(
    ("format", "zone", "rendered"),
    [
        (None, None, "2026-03-05T14:07:09Z"),
        (None, "UTC", "2026-03-05T14:07:09Z"),
        (None, "Asia/Kolkata", "2026-03-05T19:37:09+05:30"),
        (None, "America/New_York", "2026-03-05T09:07:09-05:00"),
        ("epoch", None, "1772719629123"),
        ("unix", "Asia/Kolkata", "1772719629"),
    ],
)
def test_without_a_pattern_now_is_iso_8601_or_a_count_since_1970(
    format: str | None, zone: str | None, rendered: str
) -> None:
    assert str(RenderableDate(MOMENT, format, None if zone is None else ZoneInfo(zone))) == (
        rendered
    )


def rendered(cp: SessionHandle, template: str) -> tuple[dt.datetime, str, dt.datetime]:
    """The clock before the request, the rendered body, the clock after."""
    cp.add_route(
        method="GET",
        path="/now",
        handler="h",
        response={"type": "raw", "template": True, "body": template},
    )
    before = dt.datetime.now(dt.UTC)
    answer = requests.get(f"{cp.mock_url}/now", timeout=10)
    after = dt.datetime.now(dt.UTC)
    assert answer.status_code == 200, answer.text
    return before, answer.text, after


@pytest.mark.parametrize(
    ("offset", "shift"),
    [
        ("3 days", dt.timedelta(days=3)),
        ("-24 seconds", dt.timedelta(seconds=-24)),
        ("now +2 hours", dt.timedelta(hours=2)),
        ("now -90 minutes", dt.timedelta(minutes=-90)),
        ("1 weeks", dt.timedelta(weeks=1)),
        ("now", dt.timedelta()),
    ],
)
def test_an_offset_shifts_now(cp: SessionHandle, offset: str, shift: dt.timedelta) -> None:
    before, text, after = rendered(cp, f"{{{{now offset='{offset}' format='epoch'}}}}")
    moment = dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
    assert before + shift - dt.timedelta(milliseconds=1) <= moment <= after + shift


def test_months_and_years_move_the_calendar(cp: SessionHandle) -> None:
    before, text, after = rendered(
        cp, "{{now offset='-1 months' format='yyyy-MM'}} {{now offset='10 years' format='yyyy'}}"
    )
    expected = {
        f"{(m.year * 12 + m.month - 2) // 12}-{(m.month - 2) % 12 + 1:02d} {m.year + 10}"
        for m in (before, after)
    }
    assert text in expected


@pytest.mark.parametrize(
    ("template", "error"),
    [
        (
            "{{now offset='soon'}}",
            "[ERROR: offset 'soon': give <amount> <unit> (seconds, minutes, hours, days, "
            "weeks, months, years), e.g. '3 days' or '-24 seconds']",
        ),
        (
            "{{now offset='1.5 days'}}",
            "[ERROR: offset '1.5 days': give <amount> <unit> (seconds, minutes, hours, days, "
            "weeks, months, years), e.g. '3 days' or '-24 seconds']",
        ),
        (
            "{{now offset='3 fortnights'}}",
            "[ERROR: offset '3 fortnights': unit 'fortnights': give one of seconds, minutes, "
            "hours, days, weeks, months, years]",
        ),
        ("{{now offset='9000 years'}}", "[ERROR: offset '9000 years' leaves the years 1-9999]"),
        (
            "{{now offset='-999999999 days'}}",
            "[ERROR: offset '-999999999 days' leaves the years 1-9999]",
        ),
        (
            "{{now timezone='Mars/Olympus'}}",
            "[ERROR: unknown timezone 'Mars/Olympus', e.g. 'Europe/Paris' or 'UTC']",
        ),
    ],
)
def test_what_now_cannot_use_renders_an_error_in_place(
    cp: SessionHandle, template: str, error: str
) -> None:
    assert rendered(cp, template)[1] == error
