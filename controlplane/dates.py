"""Date-times as WireMock reads and writes them: its date matchers, offsets, Java patterns.

One implementation serves the matchers (`before`, `after`, `equalToDateTime`) and the
template helper `now`: `parse_offset` and `shift` (`now -1 months`), and one reading of
Java `DateTimeFormatter` patterns (`java_pattern_parts`) both to parse
(`java_pattern_regex`) and to write (`java_formatter`).

Everything about a matcher is resolved once (`DateTimeSpec.compile`): the expected
moment (a literal, or `now` with an offset, evaluated per request), the truncations,
and the parser of actual values. Per request only the value is parsed.

- Expected: ISO 8601 with an offset (`2026-01-01T10:00:00Z`), without one
  (`2026-01-01T10:00:00`, a *local* date-time) or a date (`2026-01-01`, its start);
  or `now`, `now +3 days`, `now -1 months` (units: seconds, minutes, hours, days,
  weeks, months, years). `now` is a moment in UTC.
- Actual: with `actual_format` a Java `DateTimeFormatter` pattern (`dd/MM/yyyy`,
  `yyyy-MM-dd HH:mm:ss Z`) or `unix` (seconds) / `epoch` (milliseconds); without it,
  ISO 8601 as above or RFC 1123 (`Tue, 01 Jun 2021 15:16:17 GMT`, HTTP's `Date`).
- Comparison: two moments with offsets compare as instants, two local ones as local
  date-times; when one side is local it is read in the other side's offset.
- `truncate_expected` rounds `now` (before its offset is added, as WireMock does; a
  literal expected is not truncated); `truncate_actual` rounds the actual value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Final

__all__ = [
    "TRUNCATIONS",
    "UNITS",
    "DateTimeSpec",
    "java_formatter",
    "java_pattern_parts",
    "parse_iso",
    "parse_offset",
    "problem",
    "shift",
]

UNITS: Final = ("seconds", "minutes", "hours", "days", "weeks", "months", "years")
_NOW = re.compile(r"now|(?:now\s+)?([+-]?\d{1,9})\s+([A-Za-z]+)", re.IGNORECASE)


def _days_in(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    return moment.replace(year=year, month=month, day=min(moment.day, _days_in(year, month)))


def shift(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """`moment` plus `amount` `unit`s (months and years keep the day where it exists)."""
    if unit in ("months", "years"):
        return _add_months(moment, amount * (12 if unit == "years" else 1))
    return moment + dt.timedelta(**{unit: amount})


def parse_offset(text: str) -> tuple[int, str] | None:
    """`now`, `3 days`, `now -1 months` as (amount, unit); None when `text` is not one.

    Raises ValueError saying so when the unit is not one of `UNITS`.
    """
    found = _NOW.fullmatch(text.strip())
    if found is None:
        return None
    if found.group(1) is None:
        return 0, "seconds"
    unit = found.group(2).lower()
    if unit not in UNITS:
        raise ValueError(f"unit {unit!r}: give one of {', '.join(UNITS)}")
    return int(found.group(1)), unit


def _start_of_day(moment: dt.datetime) -> dt.datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


#: WireMock's truncations, by the name mappings use (`first day of month`).
TRUNCATIONS: Final[dict[str, Callable[[dt.datetime], dt.datetime]]] = {
    "first minute of hour": lambda m: m.replace(minute=0, second=0, microsecond=0),
    "first hour of day": _start_of_day,
    "first day of month": lambda m: _start_of_day(m).replace(day=1),
    "first day of next month": lambda m: _add_months(_start_of_day(m).replace(day=1), 1),
    "last day of month": lambda m: _start_of_day(m).replace(day=_days_in(m.year, m.month)),
    "first day of year": lambda m: _start_of_day(m).replace(month=1, day=1),
    "first day of next year": lambda m: _start_of_day(m).replace(year=m.year + 1, month=1, day=1),
    "last day of year": lambda m: _start_of_day(m).replace(month=12, day=31),
}


def _truncation(name: str | None) -> Callable[[dt.datetime], dt.datetime] | None:
    if name is None:
        return None
    found = TRUNCATIONS.get(name.replace("_", " ").lower())
    if found is None:
        raise ValueError(f"is not a truncation; give one of {', '.join(TRUNCATIONS)}")
    return found


def parse_iso(text: str) -> dt.datetime | None:
    """ISO 8601 date-time (with or without an offset) or date; None when it is not one."""
    text = text.strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        if "T" not in text and "t" not in text:
            return None
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _default_parse(text: str) -> dt.datetime | None:
    found = parse_iso(text)
    if found is not None or "," not in text:
        return found
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


# ------------------------------------------------------------------ Java patterns


def java_pattern_parts(pattern: str) -> list[tuple[str, int]]:
    """A Java `DateTimeFormatter` pattern as runs, in order: (letter, how many times).

    Literal text comes as (text, 0): quoted (`'T'`; in quotes two quotes are one, as in
    `'o''clock'`) or `''` outside quotes (one quote).
    """
    parts: list[tuple[str, int]] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            if pattern.startswith("''", index):
                parts.append(("'", 0))
                index += 2
            else:
                text, index = _quoted(pattern, index + 1)
                parts.append((text, 0))
            continue
        run = 1
        while index + run < len(pattern) and pattern[index + run] == char:
            run += 1
        parts.append((char, run))
        index += run
    return parts


def _quoted(pattern: str, index: int) -> tuple[str, int]:
    """The text quoted from `index` (past the opening quote) and the index after it."""
    text: list[str] = []
    while index < len(pattern):
        end = pattern.find("'", index)
        if end < 0:
            break
        text.append(pattern[index:end])
        if not pattern.startswith("''", end):
            return "".join(text), end + 1
        text.append("'")
        index = end + 2
    text.append(pattern[index:])
    return "".join(text), len(pattern)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_OFFSET = r"Z|[+-]\d{2}(?::?\d{2})?"


def _year(n: int) -> str:
    if n == 2:
        return r"(?P<y>\d{2})"
    return r"(?P<Y>[+-]?\d{1,9})" if n == 1 else rf"(?P<Y>\d{{{max(n, 4)}}})"


def _number(group: str) -> Callable[[int], str]:
    """A one- or two-digit field: exactly two digits when the pattern doubles the letter."""
    return lambda n: rf"(?P<{group}>\d{{2}})" if n == 2 else rf"(?P<{group}>\d{{1,2}})"


def _month(n: int) -> str:
    return r"(?P<Mn>[A-Za-z]+)" if n >= 3 else _number("M")(n)


_JAVA_FIELDS: Final[dict[str, Callable[[int], str]]] = {
    "y": _year,
    "u": _year,
    "M": _month,
    "L": _month,
    "d": _number("d"),
    "H": _number("H"),
    "h": _number("h"),
    "m": _number("m"),
    "s": _number("s"),
    "S": lambda n: rf"(?P<S>\d{{{n}}})",
    "a": lambda n: r"(?P<a>[AaPp][Mm])",
    "E": lambda n: r"[A-Za-z]+",
    "Z": lambda n: rf"(?P<Z>{_OFFSET})",
    "X": lambda n: rf"(?P<Z>{_OFFSET})",
    "x": lambda n: rf"(?P<Z>{_OFFSET})",
    "z": lambda n: r"(?P<zone>[A-Za-z_/]+)",
    "V": lambda n: r"(?P<zone>[A-Za-z_/]+)",
}


def java_pattern_regex(pattern: str) -> re.Pattern[str]:
    """A Java `DateTimeFormatter` pattern as a regex with one named group per field."""
    parts: list[str] = []
    seen: set[str] = set()
    for letter, run in java_pattern_parts(pattern):
        if run == 0:
            parts.append(re.escape(letter))
            continue
        field = _JAVA_FIELDS.get(letter)
        if field is None:
            if letter.isalpha():
                raise ValueError(
                    f"is not a supported pattern: the letter {letter!r} is not a field"
                )
            parts.append(re.escape(letter * run))
            continue
        piece = field(run)
        group = re.search(r"\?P<(\w+)>", piece)
        if group is not None:
            if group.group(1) in seen:
                raise ValueError(f"is not a supported pattern: {letter!r} appears twice")
            seen.add(group.group(1))
        parts.append(piece)
    if not seen & {"Y", "y"} or not seen & {"M", "Mn"} or "d" not in seen:
        raise ValueError("needs a year (yyyy), a month (MM) and a day (dd)")
    return re.compile("".join(parts))


def _zone_offset(moment: dt.datetime, colon: bool, z_for_zero: bool) -> str:
    offset = moment.strftime("%z")
    if z_for_zero and offset in ("+0000", "-0000", ""):
        return "Z"
    return offset[:3] + ":" + offset[3:] if colon else offset


_Format = Callable[[dt.datetime], str]

_FORMAT_FIELDS: Final[dict[str, Callable[[int], _Format]]] = {
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


def _literal(text: str) -> _Format:
    return lambda moment: text


@lru_cache(maxsize=256)
def java_formatter(pattern: str) -> Callable[[dt.datetime], str]:
    """A Java `DateTimeFormatter` pattern as a function writing a moment in it.

    A letter that is not a field is written as it stands (WireMock would refuse it).
    """
    pieces: list[_Format] = []
    for letter, run in java_pattern_parts(pattern):
        field = _FORMAT_FIELDS.get(letter) if run else None
        if field is None:
            pieces.append(_literal(letter if run == 0 else letter * run))
        else:
            pieces.append(field(run))
    return lambda moment: "".join(piece(moment) for piece in pieces)


def _offset(text: str) -> dt.tzinfo:
    if text == "Z":
        return dt.UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    return dt.timezone(dt.timedelta(minutes=minutes if text[0] == "+" else -minutes))


def _zone(name: str) -> dt.tzinfo | None:
    if name.upper() in ("UTC", "GMT", "Z"):
        return dt.UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only for named zones

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _from_fields(found: re.Match[str]) -> dt.datetime | None:
    g = found.groupdict()
    try:
        year = int(g["Y"]) if g.get("Y") else 2000 + int(g["y"])
        month = _MONTHS.index(g["Mn"][:3].lower()) + 1 if g.get("Mn") else int(g["M"])
        hour = int(g["H"]) if g.get("H") else 0
        if g.get("h"):
            hour = int(g["h"]) % 12 + (12 if (g.get("a") or "am").lower() == "pm" else 0)
        fraction = g.get("S") or "0"
        zone: dt.tzinfo | None = None
        if g.get("Z"):
            zone = _offset(g["Z"])
        elif g.get("zone"):
            zone = _zone(g["zone"])
            if zone is None:
                return None
        return dt.datetime(
            year,
            month,
            int(g["d"]),
            hour,
            int(g.get("m") or 0),
            int(g.get("s") or 0),
            int(fraction[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except (ValueError, OverflowError):
        return None


def _parser(actual_format: str | None) -> Callable[[str], dt.datetime | None]:
    if actual_format is None:
        return _default_parse
    if actual_format.lower() in ("unix", "epoch"):
        scale = 1 if actual_format.lower() == "unix" else 1000

        def from_number(text: str) -> dt.datetime | None:
            text = text.strip()
            if not text.lstrip("-").isdigit() or len(text) > 20:
                return None
            try:
                return dt.datetime.fromtimestamp(int(text) / scale, dt.UTC)
            except (OverflowError, OSError, ValueError):
                return None

        return from_number
    regex = java_pattern_regex(actual_format)

    def from_pattern(text: str) -> dt.datetime | None:
        found = regex.fullmatch(text.strip())
        return None if found is None else _from_fields(found)

    return from_pattern


# ------------------------------------------------------------------ the spec


def _compare(a: dt.datetime, b: dt.datetime) -> int:
    """-1, 0 or 1 as `a` is before, at or after `b` (a local side takes the other's zone)."""
    if (a.tzinfo is None) != (b.tzinfo is None):
        if a.tzinfo is None:
            a = a.replace(tzinfo=b.tzinfo)
        else:
            b = b.replace(tzinfo=a.tzinfo)
    return (a > b) - (a < b)


_OPERATORS: Final[dict[str, Callable[[int], bool]]] = {
    "before": lambda order: order < 0,
    "after": lambda order: order > 0,
    "equals_date_time": lambda order: order == 0,
}


class DateTimeSpec:
    """A compiled date-time test: `holds(value)` parses `value` and compares it."""

    __slots__ = ("_fixed", "_offset", "_parse", "_test", "_truncate_actual", "_truncate_now")

    def __init__(
        self,
        operator: str,
        expected: str,
        actual_format: str | None = None,
        truncate_expected: str | None = None,
        truncate_actual: str | None = None,
    ) -> None:
        """Raises ValueError("field", message) naming what is wrong."""
        self._test = _OPERATORS[operator]
        self._fixed: dt.datetime | None = None
        self._offset: tuple[int, str] = (0, "seconds")
        try:
            offset = parse_offset(expected)
        except ValueError as exc:
            raise ValueError("expected", str(exc)) from None
        if offset is not None:
            self._offset = offset
        else:
            self._fixed = parse_iso(expected)
            if self._fixed is None:
                raise ValueError(
                    "expected",
                    f"{expected!r} is not a date-time: give ISO 8601 "
                    "(2026-01-01T10:00:00Z, 2026-01-01), now, or now +3 days",
                )
        try:
            self._truncate_now = _truncation(truncate_expected)
        except ValueError as exc:
            raise ValueError("truncate_expected", str(exc)) from None
        try:
            self._truncate_actual = _truncation(truncate_actual)
        except ValueError as exc:
            raise ValueError("truncate_actual", str(exc)) from None
        try:
            self._parse = _parser(actual_format)
        except ValueError as exc:
            raise ValueError("actual_format", str(exc)) from None

    def expected(self) -> dt.datetime:
        """The expected moment now (a literal is the same every time)."""
        if self._fixed is not None:
            return self._fixed
        moment = dt.datetime.now(dt.UTC)
        if self._truncate_now is not None:
            moment = self._truncate_now(moment)
        amount, unit = self._offset
        return shift(moment, amount, unit) if amount else moment

    def actual(self, value: str) -> dt.datetime | None:
        """`value` read as a date-time (truncated when asked), or None when it is not one."""
        moment = self._parse(value)
        if moment is not None and self._truncate_actual is not None:
            try:
                moment = self._truncate_actual(moment)
            except (ValueError, OverflowError):
                return None
        return moment

    def holds(self, value: str | None) -> bool:
        if value is None:
            return False
        moment = self.actual(value)
        if moment is None:
            return False
        try:
            return self._test(_compare(moment, self.expected()))
        except (OverflowError, ValueError):
            return False


def problem(
    operator: str,
    expected: str,
    actual_format: str | None,
    truncate_expected: str | None,
    truncate_actual: str | None,
) -> tuple[str, str] | None:
    """(field, message) of what is wrong with a date-time matcher, or None."""
    try:
        DateTimeSpec(operator, expected, actual_format, truncate_expected, truncate_actual)
    except ValueError as exc:
        field, message = exc.args
        return str(field), str(message)
    return None
