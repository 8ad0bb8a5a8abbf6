"""Call assertions with asyncly's semantics, and failure messages a person reads at once.

`times` is exact over ALL calls to the handler; `json`, `body`, `headers` and `query`
pass when ONE call matches all of them (`headers`/`query` a subset, header names
case-insensitive; `json` and `body` exact).

`query` takes the shape a recorded call's `query` has, `{name: [values]}`: it holds when
each value given is among the call's values for that name (`{"tag": ["a", "b"]}` holds
for `?tag=b&tag=a&tag=c`). A plain string is shorthand for one value (`{"tag": "a"}` is
`{"tag": ["a"]}`); an empty list is refused, as it would hold for every call.

The native `verify` endpoint differs on purpose: it counts the calls that match its
predicates, as WireMock and MockServer do (and takes one value per query parameter).

A failure names what was expected and shows, for the closest calls, each difference
as a small diff: plain text, so it reads the same in pytest and outside it.
"""

from __future__ import annotations

import base64
import difflib
import json as jsonlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from controlplane_client._shapes import UNSET, RecordedRequest, StreamFrame

__all__ = [
    "QueryPredicate",
    "check_called",
    "check_not_called",
    "check_received",
    "describe_call",
    "query_values",
]

# pytest leaves this module's frames out of tracebacks (`--full-trace` keeps them): a
# failed assertion or an admin API error points at the test's line, not at the client.
__tracebackhide__ = True

#: `{name: [values]}` as in a recorded call's `query`; a plain string stands for one value.
QueryPredicate = Mapping[str, str | Sequence[str]]

_CLOSEST_SHOWN = 3
_CALLS_SHOWN = 5


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def describe_call(call: RecordedRequest) -> str:
    """`#3 POST /orders?debug=1 -> 201`: one line per call."""
    query = urlencode(call.query, doseq=True)
    return (
        f"#{call.seq} {call.method} {call.path}{'?' + query if query else ''}"
        f" -> {call.response.status}"
    )


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _pretty(value: Any) -> str:
    if isinstance(value, bytes | str | _Absent):
        return repr(value)
    return jsonlib.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)


def _diff_lines(expected: Any, actual: Any) -> list[str]:
    """`- expected` / `+ actual` lines; one line each for short values, a diff otherwise."""
    left, right = _pretty(expected).splitlines(), _pretty(actual).splitlines()
    if len(left) == 1 and len(right) == 1:
        return [f"- {left[0]}", f"+ {right[0]}"]
    return [
        line.rstrip("\n")
        for line in difflib.ndiff(left, right)
        if not line.startswith("?")  # ndiff's intraline hints are noise in a terminal
    ]


def query_values(query: QueryPredicate) -> dict[str, list[str]]:
    """`query` with every value a list (`{"a": "1"}` -> `{"a": ["1"]}`); ValueError on `[]`."""
    values = {
        name: [value] if isinstance(value, str) else list(value) for name, value in query.items()
    }
    empty = [name for name, given in values.items() if not given]
    if empty:
        raise ValueError(
            f"query {empty[0]!r}: give at least one value (an empty list would hold for every call)"
        )
    return values


def _call_json(call: RecordedRequest) -> Any:
    return "<body is not JSON>" if call.json is UNSET else call.json


def _mismatches(
    call: RecordedRequest,
    json: Any,
    body: bytes | str | None,
    headers: Mapping[str, str] | None,
    query: QueryPredicate | None,
) -> list[tuple[str, Any, Any]]:
    """(what, expected, actual) for each predicate the call does not meet."""
    found: list[tuple[str, Any, Any]] = []
    if json is not None and (call.json is UNSET or call.json != json):
        found.append(("json", json, _call_json(call)))
    if body is not None:
        wanted = body.encode() if isinstance(body, str) else body
        if call.content != wanted:
            actual: bytes | str = call.content if isinstance(body, bytes) else (call.body or "")
            found.append(("body", body, actual))
    for name, value in (headers or {}).items():
        values = call.header_values(name)
        if value not in values:
            got = values[0] if len(values) == 1 else (values or _ABSENT)
            found.append((f"header {name}", value, got))
    for name, required in query_values(query or {}).items():
        values = call.query.get(name, [])
        if any(value not in values for value in required):
            # Shown in the shape it was given: a string against a string when one value came.
            given = (query or {})[name]
            expected = given if isinstance(given, str) else required
            single = isinstance(given, str) and len(values) == 1
            found.append((f"query {name}", expected, values[0] if single else (values or _ABSENT)))
    return found


def _wanted(
    json: Any,
    body: bytes | str | None,
    headers: Mapping[str, str] | None,
    query: QueryPredicate | None,
) -> str:
    parts = []
    if json is not None:
        parts.append(f"json {jsonlib.dumps(json, sort_keys=True, default=repr)}")
    if body is not None:
        parts.append(f"body {body!r}")
    if headers:
        parts.append(f"headers {dict(headers)}")
    if query:
        parts.append(f"query {dict(query)}")
    return " and ".join(parts)


def _listing(calls: Sequence[RecordedRequest]) -> list[str]:
    shown = calls[-_CALLS_SHOWN:]
    lines = [f"  {describe_call(c)}" for c in shown]
    if len(calls) > len(shown):
        lines.insert(0, f"  ... {len(calls) - len(shown)} earlier")
    return lines


def check_called(
    name: str,
    calls: Sequence[RecordedRequest],
    *,
    times: int | None = None,
    json: Any = None,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    query: QueryPredicate | None = None,
) -> str | None:
    """None when the assertion holds, else the failure message (ValueError: bad `query`)."""
    if query:
        query_values(query)  # refuse a malformed predicate even when there are no calls
    if times is not None and len(calls) != times:
        lines = [
            f"expected handler {name!r} to be called {_times(times)}, "
            f"but it was called {_times(len(calls)) if calls else 'never'}."
        ]
        return "\n".join(lines + (["Calls:", *_listing(calls)] if calls else []))
    has_predicates = json is not None or body is not None or bool(headers) or bool(query)
    if not has_predicates:
        if times is None and not calls:
            return f"expected handler {name!r} to be called, but it was never called."
        return None
    wanted = _wanted(json, body, headers, query)
    if not calls:
        return f"expected handler {name!r} to be called with {wanted}, but it was never called."
    ranked = sorted(
        ((_mismatches(c, json, body, headers, query), c) for c in calls),
        key=lambda pair: len(pair[0]),
    )
    if not ranked[0][0]:
        return None
    lines = [
        f"expected handler {name!r} to be called with {wanted}, "
        f"but none of its {len(calls)} call(s) matched.",
        "Closest calls (- expected, + actual):",
    ]
    for diffs, call in ranked[:_CLOSEST_SHOWN]:
        lines.append(f"  {describe_call(call)}")
        for what, expected, actual in diffs:
            lines.append(f"    {what}:")
            lines.extend(f"      {line}" for line in _diff_lines(expected, actual))
    return "\n".join(lines)


def check_not_called(name: str, calls: Sequence[RecordedRequest]) -> str | None:
    """None when the handler was never called, else the failure message."""
    if not calls:
        return None
    return "\n".join(
        [
            f"expected handler {name!r} not to be called, but it was called {_times(len(calls))}:",
            *_listing(calls),
        ]
    )


def _describe_frame(frame: StreamFrame) -> str:
    if frame.kind == "binary":
        return f"#{frame.seq} binary (base64) {frame.binary_base64}"
    if frame.kind == "close":
        return f"#{frame.seq} close {frame.code} {frame.reason!r}"
    return f"#{frame.seq} {frame.kind} {frame.text!r}"


def check_received(
    name: str,
    frames: Sequence[StreamFrame],
    *,
    json: Any = UNSET,
    text: str | None = None,
    binary: bytes | None = None,
) -> str | None:
    """None when a message the handler received (`in`) matches every predicate given
    (`json` equal to its JSON parse, `text` to its text, `binary` to its bytes)."""
    received = [f for f in frames if f.direction == "in" and f.kind in ("text", "binary")]
    wanted: list[str] = []
    if json is not UNSET:
        wanted.append(f"json {jsonlib.dumps(json)}")
    if text is not None:
        wanted.append(f"text {text!r}")
    if binary is not None:
        wanted.append(f"binary {binary!r}")

    def holds(frame: StreamFrame) -> bool:
        if json is not UNSET and (frame.json is UNSET or frame.json != json):
            return False
        if text is not None and frame.text != text:
            return False
        return binary is None or (
            frame.binary_base64 is not None and base64.b64decode(frame.binary_base64) == binary
        )

    if any(holds(frame) for frame in received):
        return None
    expected = " and ".join(wanted) or "any message"
    if not received:
        return (
            f"expected handler {name!r} to receive a message with {expected}, but it received none"
        )
    shown = received[-_CALLS_SHOWN:]
    return "\n".join(
        [
            f"expected handler {name!r} to receive a message with {expected}; "
            f"it received {len(received)}, none matching (latest {len(shown)}):",
            *(f"  {_describe_frame(frame)}" for frame in shown),
        ]
    )
