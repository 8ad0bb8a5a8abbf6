"""The `now` helper: the current time, shifted and formatted as WireMock's is.

Offsets and Java patterns are `controlplane.dates`' (the date matchers' too): `offset`
is `3 days`, `-24 seconds`, `now +1 years`; `format` a `DateTimeFormatter` pattern
(`yyyy-MM-dd HH:mm:ssZ`), or `epoch` and `unix` for milliseconds and seconds since 1970;
without a format, ISO 8601 in UTC (or in `timezone`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controlplane import dates
from controlplane.responses.template_model import Call, error_text, to_text

__all__ = ["RenderableDate", "now"]


class RenderableDate:
    """What `now` returns: a moment with the format and zone it renders in."""

    __slots__ = ("format", "moment", "zone")

    def __init__(self, moment: dt.datetime, format: str | None, zone: dt.tzinfo | None) -> None:
        self.moment = moment
        self.format = format
        self.zone = zone

    def __str__(self) -> str:
        millis = int(self.moment.timestamp() * 1000)
        if self.format == "epoch":
            return str(millis)
        if self.format == "unix":
            return str(millis // 1000)
        local = self.moment.astimezone(self.zone or dt.UTC)
        if self.format is not None:
            return dates.java_formatter(self.format)(local)
        if self.zone is None:
            return local.strftime("%Y-%m-%dT%H:%M:%SZ")
        offset = local.strftime("%z")
        if offset in ("+0000", "-0000"):
            return local.strftime("%Y-%m-%dT%H:%M:%SZ")
        return local.strftime("%Y-%m-%dT%H:%M:%S") + offset[:3] + ":" + offset[3:]


def _shift(moment: dt.datetime, offset: str) -> dt.datetime | str:
    """`moment` moved by `offset`, or the error text to render."""
    try:
        parsed = dates.parse_offset(offset)
    except ValueError as exc:
        return error_text(f"offset {offset!r}: {exc}")
    if parsed is None:
        return error_text(
            f"offset {offset!r}: give <amount> <unit> ({', '.join(dates.UNITS)}), "
            "e.g. '3 days' or '-24 seconds'"
        )
    try:
        return dates.shift(moment, *parsed)
    except OverflowError:
        return error_text(f"offset {offset!r} leaves the years 1-9999")


def now(call: Call) -> Any:
    moment = dt.datetime.now(dt.UTC)
    zone: dt.tzinfo | None = None
    timezone = call.hash.get("timezone")
    if timezone is not None:
        try:
            zone = ZoneInfo(to_text(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return error_text(f"unknown timezone {timezone!r}, e.g. 'Europe/Paris' or 'UTC'")
    offset = call.hash.get("offset")
    if offset is not None:
        shifted = _shift(moment, to_text(offset))
        if isinstance(shifted, str):
            return shifted
        moment = shifted
    format = call.hash.get("format")
    return RenderableDate(moment, None if format is None else to_text(format), zone)
