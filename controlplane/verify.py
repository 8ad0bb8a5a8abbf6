"""Verification: count a handler's calls that match predicates, explain a failure.

The predicates of `verify` are expressed as a `wire.Match` and compiled by the same
matching code that routes requests, so "matched" means one thing everywhere:
headers and query are subsets (any of a repeated value may match), json and body exact.
"""

from __future__ import annotations

import msgspec

from controlplane import wire
from controlplane.journal import JournalEntry
from controlplane.matching import compile_match
from controlplane.sessions import SessionState

__all__ = ["verify_calls"]

_CLOSEST_SHOWN = 3


def _as_match(request: wire.VerifyRequest) -> wire.Match:
    return wire.Match(
        headers=dict(request.headers) if request.headers else None,
        query=dict(request.query) if request.query else None,
        json=request.json,
        body=request.body,
    )


def _count_rule(request: wire.VerifyRequest) -> str:
    rules = []
    if request.times is not None:
        rules.append(f"exactly {request.times}")
    if request.at_least is not None:
        rules.append(f"at least {request.at_least}")
    if request.at_most is not None:
        rules.append(f"at most {request.at_most}")
    return " and ".join(rules) or "at least 1"


def _count_holds(request: wire.VerifyRequest, count: int) -> bool:
    if request.times is None and request.at_least is None and request.at_most is None:
        return count >= 1
    return (
        (request.times is None or count == request.times)
        and (request.at_least is None or count >= request.at_least)
        and (request.at_most is None or count <= request.at_most)
    )


def _plural(n: int) -> str:
    return "call" if n == 1 else "calls"


def verify_calls(
    session: SessionState, handler: str, request: wire.VerifyRequest
) -> wire.VerifyResult:
    """Count the journaled calls of `handler` that match; say what differed when it fails."""
    session.require_handler(handler)
    journal = session.journal
    calls = [entry for entry in journal if entry.handler == handler]
    predicate = compile_match(_as_match(request))
    matching = calls if predicate is None else [c for c in calls if predicate(c.view)]
    count = len(matching)
    evicted = journal.evicted
    if _count_holds(request, count):
        return wire.VerifyResult(ok=True, count=count, evicted=evicted)

    rule = _count_rule(request)
    lines = [
        f"expected handler {handler!r} to be called {rule} "
        f"time{'s' if rule != 'exactly 1' else ''}"
        + (f" with {_describe(request)}" if predicate is not None else "")
        + f", but {count} {_plural(count)} matched"
        + (f" ({len(calls)} {_plural(len(calls))} in all)" if predicate is not None else "")
        + "."
    ]
    if predicate is not None:
        unmatched = [c for c in calls if c not in matching]
        ranked = sorted(((predicate.diffs(c.view), c) for c in unmatched), key=lambda p: len(p[0]))
        if ranked:
            lines.append("Closest calls that did not match:")
        for diffs, entry in ranked[:_CLOSEST_SHOWN]:
            lines.append(f"  call #{entry.seq} {entry.view.method} {entry.view.path}:")
            lines.extend(
                f"    {d.field}: expected {d.expected}, got {d.actual}" for d in diffs
            )
    elif calls:
        lines.append("Calls received:")
        lines.extend(_summary(entry) for entry in calls[-_CLOSEST_SHOWN:])
    if evicted:
        lines.append(
            f"Warning: {evicted} earlier requests were evicted from this session's journal "
            "(--journal-size); the count may be short."
        )
    return wire.VerifyResult(ok=False, count=count, evicted=evicted, message="\n".join(lines))


def _summary(entry: JournalEntry) -> str:
    view = entry.view
    query = f"?{view.query_string}" if view.query_string else ""
    return f"  call #{entry.seq} {view.method} {view.path}{query} -> {entry.status}"


def _describe(request: wire.VerifyRequest) -> str:
    parts = []
    if request.headers:
        parts.append(f"headers {request.headers}")
    if request.query:
        parts.append(f"query {request.query}")
    if request.json is not wire.UNSET:
        parts.append(f"json {msgspec.json.encode(request.json).decode()}")
    if request.body is not None:
        parts.append(f"body {request.body!r}")
    return " and ".join(parts)
