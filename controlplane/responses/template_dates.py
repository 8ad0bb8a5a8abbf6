"""The `now` helper: the current time, shifted and formatted as WireMock's is.

Formats are Java `DateTimeFormatter` patterns (`yyyy-MM-dd HH:mm:ssZ`), translated once
per pattern into the pieces that render it; `epoch` and `unix` are milliseconds and
seconds since 1970; without a format, ISO 8601 in UTC (or in `timezone`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controlplane.responses.template_model import Call, error_text, to_text

__all__ = ["RenderableDate", "now"]


_UNITS: Final = {"seconds", "minutes", "hours", "days", "months", "years"}


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
            return "".join(part(local) for part in _java_format(self.format))
        if self.zone is None:
            return local.strftime("%Y-%m-%dT%H:%M:%SZ")
        offset = local.strftime("%z")
        if offset in ("+0000", "-0000"):
            return local.strftime("%Y-%m-%dT%H:%M:%SZ")
        return local.strftime("%Y-%m-%dT%H:%M:%S") + offset[:3] + ":" + offset[3:]


def _shift(moment: dt.datetime, offset: str) -> dt.datetime | str:
    parts = offset.split()
    if offset.strip().lower() == "now":
        return moment
    if len(parts) == 3 and parts[0].lower() == "now":
        parts = parts[1:]
    if len(parts) != 2 or parts[1].lower() not in _UNITS:
        return error_text(
            f"offset {offset!r}: give <amount> <unit> (seconds, minutes, hours, days, "
            "months, years), e.g. '3 days' or '-24 seconds'"
        )
    try:
        amount = int(parts[0])
    except ValueError:
        return error_text(f"offset {offset!r}: the amount must be a whole number")
    unit = parts[1].lower()
    if unit in ("months", "years"):
        months = moment.month - 1 + amount * (12 if unit == "years" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        if not 1 <= year <= 9999:
            return error_text(f"offset {offset!r} leaves the years 1-9999")
        day = min(moment.day, _days_in(year, month))
        return moment.replace(year=year, month=month, day=day)
    try:
        return moment + dt.timedelta(**{unit: amount})
    except OverflowError:
        return error_text(f"offset {offset!r} leaves the years 1-9999")


def _days_in(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


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


_Part = Callable[[dt.datetime], str]


def _zone_offset(moment: dt.datetime, colon: bool, z_for_zero: bool) -> str:
    offset = moment.strftime("%z")
    if z_for_zero and offset in ("+0000", "-0000", ""):
        return "Z"
    return offset[:3] + ":" + offset[3:] if colon else offset


_FIELDS: Final[dict[str, Callable[[int], _Part]]] = {
    "y": lambda n: (lambda m: f"{m.year % 100:02d}") if n == 2 else (lambda m: f"{m.year:0{n}d}"),
    "u": lambda n: lambda m: f"{m.year:0{n}d}",
    "M": lambda n: (
        (lambda m: m.strftime("%B"))
        if n >= 4
        else (lambda m: m.strftime("%b"))
        if n == 3
        else (lambda m: f"{m.month:0{n}d}")
    ),
    "d": lambda n: lambda m: f"{m.day:0{n}d}",
    "D": lambda n: lambda m: f"{m.timetuple().tm_yday:0{n}d}",
    "H": lambda n: lambda m: f"{m.hour:0{n}d}",
    "h": lambda n: lambda m: f"{(m.hour % 12) or 12:0{n}d}",
    "m": lambda n: lambda m: f"{m.minute:0{n}d}",
    "s": lambda n: lambda m: f"{m.second:0{n}d}",
    "S": lambda n: lambda m: f"{m.microsecond:06d}"[:n].ljust(n, "0"),
    "a": lambda n: lambda m: m.strftime("%p"),
    "E": lambda n: (lambda m: m.strftime("%A")) if n >= 4 else (lambda m: m.strftime("%a")),
    "Z": lambda n: lambda m: _zone_offset(m, colon=n >= 4, z_for_zero=False),
    "X": lambda n: lambda m: _zone_offset(m, colon=n >= 3, z_for_zero=True),
    "x": lambda n: lambda m: _zone_offset(m, colon=n >= 3, z_for_zero=False),
    "z": lambda n: lambda m: m.strftime("%Z"),
    "V": lambda n: lambda m: str(getattr(m.tzinfo, "key", "UTC")),
}


def _literal(text: str) -> _Part:
    return lambda moment: text


@lru_cache(maxsize=256)
def _java_format(pattern: str) -> tuple[_Part, ...]:
    """A Java `DateTimeFormatter` pattern as the pieces that render it."""
    parts: list[_Part] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            end = len(pattern) if end < 0 else end
            literal = pattern[index + 1 : end] or "'"
            parts.append(_literal(literal))
            index = end + 1
            continue
        run = 1
        while index + run < len(pattern) and pattern[index + run] == char:
            run += 1
        field = _FIELDS.get(char)
        if field is not None:
            parts.append(field(run))
        else:
            parts.append(_literal(char * run))
        index += run
    return tuple(parts)
