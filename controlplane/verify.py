"""Verification: count a handler's calls that match predicates, explain a failure.

The predicates of `verify` are expressed as a `wire.Match` and compiled by the same
matching code that routes requests, so "matched" means one thing everywhere:
headers and query are subsets (any of a repeated value may match), json and body exact.

Verification reads the journal, so it sees each call as the journal kept it: a body
longer than `--journal-body-limit` was cut there (matching saw all of it when the
request came in), so `json` and `body` predicates do not hold for a cut body, and a
failure message says which calls were cut. Nothing is encoded but the few lines of
the message, and the work yields to the event loop every few milliseconds.
"""

from __future__ import annotations

import msgspec

from controlplane import wire
from controlplane.journal import JournalEntry, yielding
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


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _count_rule(request: wire.VerifyRequest) -> str:
    rules = []
    if request.times is not None:
        rules.append(f"exactly {_times(request.times)}")
    if request.at_least is not None:
        rules.append(f"at least {_times(request.at_least)}")
    if request.at_most is not None:
        rules.append(f"at most {_times(request.at_most)}")
    return " and ".join(rules) or "at least once"


def _count_holds(request: wire.VerifyRequest, count: int) -> bool:
    if request.times is None and request.at_least is None and request.at_most is None:
        return count >= 1
    return (
        (request.times is None or count == request.times)
        and (request.at_least is None or count >= request.at_least)
        and (request.at_most is None or count <= request.at_most)
    )


def _calls(n: int) -> str:
    return "1 call" if n == 1 else f"{n} calls"


async def verify_calls(
    session: SessionState, handler: str, request: wire.VerifyRequest
) -> wire.VerifyResult:
    """Count the journaled calls of `handler` that match; say what differed when it fails.

    The calls are those in the journal when it starts; it yields to the event loop
    while it works through them.
    """
    session.require_handler(handler)
    journal = session.journal
    calls = [entry for entry in journal if entry.handler == handler]
    evicted = journal.evicted
    predicate = compile_match(_as_match(request))
    matching: list[JournalEntry] = calls if predicate is None else []
    missed: list[JournalEntry] = []
    if predicate is not None:
        async for call in yielding(calls):
            (matching if predicate(call.view) else missed).append(call)
    count = len(matching)
    if _count_holds(request, count):
        warning = _eviction_warning(evicted)
        return wire.VerifyResult(ok=True, count=count, evicted=evicted, message=warning)

    wanted = f" with {_describe(request)}" if predicate is not None else ""
    seen = f" ({_calls(len(calls))} in all)" if predicate is not None else ""
    lines = [
        f"expected handler {handler!r} to be called {_count_rule(request)}{wanted}, "
        f"but {_calls(count)} matched{seen}."
    ]
    if predicate is not None and missed:
        # Ranked by how many conditions failed (ties: journal order); a view holds its
        # decoded body, so none is kept beyond its own call's turn.
        distances = [len(predicate.diffs(entry.view)) async for entry in yielding(missed)]
        ranked = sorted(range(len(missed)), key=distances.__getitem__)
        lines.append("Closest calls that did not match:")
        for index in ranked[:_CLOSEST_SHOWN]:
            entry = missed[index]
            lines.append(_summary(entry) + ":")
            lines.extend(
                f"    {d.field}: expected {d.expected}, got {d.actual}"
                for d in predicate.diffs(entry.view)
            )
    elif calls:
        lines.append("Calls received (latest last):")
        lines.extend(_summary(entry) for entry in calls[-_CLOSEST_SHOWN:])
    if (warning := _eviction_warning(evicted)) is not None:
        lines.append(warning)
    return wire.VerifyResult(ok=False, count=count, evicted=evicted, message="\n".join(lines))


def _eviction_warning(evicted: int) -> str | None:
    """Said whenever eviction could make the count wrong, whether or not it held."""
    if not evicted:
        return None
    were = "1 earlier request was" if evicted == 1 else f"{evicted} earlier requests were"
    return (
        f"Warning: {were} evicted from this session's journal (--journal-size); "
        "the count may be short."
    )


def _summary(entry: JournalEntry) -> str:
    query = f"?{entry.query_string}" if entry.query_string else ""
    line = f"  call #{entry.seq} {entry.method} {entry.path}{query} -> {entry.status}"
    if entry.body_truncated:
        line += (
            f" (journal kept {len(entry.body)} of its {entry.body_size} body bytes: "
            "--journal-body-limit)"
        )
    return line


def _describe(request: wire.VerifyRequest) -> str:
    parts = [
        f"{name} {_json(value)}"
        for name, value in (("headers", request.headers), ("query", request.query))
        if value
    ]
    if request.json is not wire.UNSET:
        parts.append(f"json {_json(request.json)}")
    if request.body is not None:
        parts.append(f"body {_json(request.body)}")
    return " and ".join(parts)


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()
