"""The native answer to a request no route matched: a 404 whose JSON body says which
route came closest and how, with the near misses (`wire.NoRouteBody`).

A route table gives the same near-miss list object again while its ranking cannot
change (`matching.near_miss.Pool`: from the third request that misses on the same
method and path, the routes it was near having no conditions and no `times`; a path
that missed once keeps no pool). The answer to such a list is the same
bytes every time, so it is encoded once, on the second request that brings it, and
sent in one write (`responses.one_write.Canned`); a list seen once is only noted, so
a request with a new path pays a dict lookup for it, not an encoding it will not reuse,
and its answer goes out in one write too, from its parts (`one_write.Relayed`).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Final

import msgspec
from aiohttp import web

from controlplane import wire
from controlplane.request_view import RequestView
from controlplane.responses.one_write import Canned, Relayed, encode_header_lines
from controlplane.sessions import DEFAULT_SESSION, SessionState, SessionStore

__all__ = ["NoRouteAnswers"]

_encode = msgspec.json.encode
_field_of = attrgetter("field")
_JSON_HEADERS: Final = {"Content-Type": "application/json"}
#: The same, as the header lines a one-write answer sends (`Relayed`).
_JSON_LINES: Final = encode_header_lines(_JSON_HEADERS.items()) or b""
_JSON_NAMES: Final = frozenset(name.lower() for name in _JSON_HEADERS)
#: Near-miss lists whose answer is kept (or noted, when seen once); emptied when full.
_KEPT: Final = 256


class NoRouteAnswers:
    """The 404s of one mock port, with the answers of near-miss lists seen again kept."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        #: id(near-miss list) -> (that list, its session id, its answer once seen twice).
        #: The entry holds the list, so its id is not reused while the entry lives.
        self._kept: dict[int, tuple[list[wire.NearMiss], str, Canned | None]] = {}

    def answer(
        self,
        request: web.BaseRequest,
        session: SessionState,
        view: RequestView,
        near_misses: list[wire.NearMiss],
    ) -> web.StreamResponse:
        """`no route matched METHOD PATH: closest route ... differed in ...`."""
        kept = self._kept
        key = id(near_misses)
        seen = kept.get(key)
        if seen is None or seen[0] is not near_misses or seen[1] != session.id:
            if len(kept) >= _KEPT:
                kept.clear()
            kept[key] = (near_misses, session.id, None)
            body = _encode(_body(session, view, _hint(session, near_misses), near_misses))
            fresh = Relayed.build(request, 404, "Not Found", _JSON_LINES, _JSON_NAMES, None, body)
            return _response(body) if fresh is None else fresh
        canned = seen[2]
        if canned is None:
            body = _encode(_body(session, view, _hint(session, near_misses), near_misses))
            canned = Canned.build(
                "no_route", 404, None, _JSON_HEADERS.items(), body, lambda: _response(body)
            )
            if canned is None:  # never for this answer: aiohttp can frame it as we do
                return _response(body)
            kept[key] = (near_misses, session.id, canned)
        return canned.response(request, None, "")

    @staticmethod
    def admin_elsewhere(
        store: SessionStore,
        session: SessionState,
        view: RequestView,
        near_misses: list[wire.NearMiss],
    ) -> web.Response:
        """The 404 for `/__admin/...` on the mock port: the admin API is on its own port."""
        base = store.admin_base_url
        if session.id != DEFAULT_SESSION:
            base += f"/api/sessions/{session.id}"
        hint = (
            f"the admin API (WireMock's /__admin too) is on the admin port, {base}{view.path}; "
            "start the server with --admin-on-mock-port to serve it on this port as well"
        )
        return _response(_body(session, view, hint, near_misses))


def _hint(session: SessionState, near_misses: list[wire.NearMiss]) -> str:
    if not near_misses:
        return f"session {session.id!r} has no routes near it"
    closest = near_misses[0]
    differed = ", ".join(map(_field_of, closest.diffs))  # no generator: 1,000 fewer instructions
    return f"closest route {closest.route_id} (handler {closest.handler!r}) differed in {differed}"


def _body(
    session: SessionState, view: RequestView, hint: str, near_misses: list[wire.NearMiss]
) -> wire.NoRouteBody:
    return wire.NoRouteBody(
        message=f"no route matched {view.method} {view.path}: {hint}",
        session=session.id,
        method=view.method,
        path=view.path,
        near_misses=near_misses,
    )


def _response(body: wire.NoRouteBody | bytes) -> web.Response:
    encoded = body if isinstance(body, bytes) else _encode(body)
    return web.Response(status=404, body=encoded, headers=_JSON_HEADERS)
