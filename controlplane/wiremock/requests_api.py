"""WireMock's journal endpoints: requests, counts, finds, removals and near misses.

All read the session's native journal. A request pattern is compiled like a route
(`translate.compile_pattern`) and tested with the route's own matching code; near
misses are the core's (`matching.assess`, `RouteTable.near_misses`), at most 3, closest
first. Requests are listed newest first, as WireMock lists them; `GET /requests` takes
WireMock's `since` and `limit` and, like WireMock, lists every request without them;
`matchingStub={id}` keeps the requests that stub answered, `unmatched=true` those no
route matched (`meta.total` counts what these two keep).
Listings are streamed (`admin.streaming`): an entry is rendered only when its chunk is
written; patterns are tested a slice of entries at a time (`journal.yielding`). So a
long journal never freezes the mock port.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice

from aiohttp import web

from controlplane.admin.decoding import decode_body, int_query, json_response
from controlplane.admin.streaming import stream_json
from controlplane.errors import InvalidInput, NotFound
from controlplane.journal import JournalEntry, yielding
from controlplane.matching import CompiledRoute, assess
from controlplane.request_view import RequestView
from controlplane.sessions import SessionState
from controlplane.wiremock import shapes, state
from controlplane.wiremock.admin import WireMockAdmin
from controlplane.wiremock.journal import logged_request, serve_event, view_of
from controlplane.wiremock.translate import compile_pattern

__all__ = ["RequestsAdmin"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NEAR_MISSES = 3


def _hits(route: CompiledRoute, view: RequestView) -> bool:
    # A request pattern compiles to a route without `times`: the core's one `match`.
    return route.match(view) is not None


def _since(request: web.Request) -> float | None:
    raw = request.query.get("since")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise InvalidInput(
            f"`since` must be an ISO 8601 date-time, got {raw!r}", location="?since"
        ) from None


class RequestsAdmin:
    """Journal handlers; shares session lookup and the store with `WireMockAdmin`."""

    def __init__(self, admin: WireMockAdmin) -> None:
        self.admin = admin

    def _mock_url(self, session: SessionState) -> str:
        return self.admin.store.describe(session).mock_url

    def _renderer(self, session: SessionState) -> Callable[[JournalEntry], shapes.ServeEvent]:
        """Renders the session's entries as serve events (what is shared, looked up once)."""
        journal, url = session.journal, self._mock_url(session)
        stubs = state.dialect(session).mappings

        def render(entry: JournalEntry) -> shapes.ServeEvent:
            stub = None if entry.route_id is None else stubs.get(entry.route_id)
            return serve_event(journal, entry, url, stub)

        return render

    def _event(self, session: SessionState, entry: JournalEntry) -> shapes.ServeEvent:
        return self._renderer(session)(entry)

    async def _pattern(self, request: web.Request) -> CompiledRoute:
        return compile_pattern(await decode_body(request, shapes.RequestPattern))

    def _find_entry(self, session: SessionState, request_id: str) -> JournalEntry:
        journal = session.journal
        for entry in journal:
            if journal.entry_id(entry) == request_id:
                return entry
        raise NotFound(f"no request {request_id!r} in the journal of session {session.id!r}")

    async def list_requests(self, request: web.Request) -> web.StreamResponse:
        session = self.admin.session(request)
        since = _since(request)
        limit = int_query(request, "limit")
        journal = session.journal
        entries: Iterable[JournalEntry] = reversed(journal)
        total = len(journal)
        stub_id = request.query.get("matchingStub")
        only_unmatched = request.query.get("unmatched") == "true"
        if stub_id is not None or only_unmatched:
            kept = [
                e
                for e in entries
                if (not only_unmatched or not e.matched)
                and (stub_id is None or (e.matched and e.route_id == stub_id))
            ]
            entries, total = kept, len(kept)
        if since is not None:
            entries = (e for e in entries if e.time > since)
        # References only, taken now: the journal may change while the answer streams.
        chosen = list(islice(entries, limit))
        envelope = shapes.ServeEventList(requests=[], meta=shapes.Meta(total=total))
        events = map(self._renderer(session), chosen)
        return await stream_json(request, envelope, "requests", events)

    async def clear_requests(self, request: web.Request) -> web.Response:
        self.admin.session(request).journal.clear()
        return web.Response(status=200)

    async def get_request(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        return json_response(
            self._event(session, self._find_entry(session, request.match_info["id"]))
        )

    async def delete_request(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        target = self._find_entry(session, request.match_info["id"])
        session.journal.remove_where(lambda entry: entry.seq == target.seq)
        return web.Response(status=200)

    async def _hits_in(self, request: web.Request, session: SessionState) -> list[JournalEntry]:
        """The session's entries that the posted request pattern matches."""
        route = await self._pattern(request)
        return [e async for e in yielding(list(session.journal)) if _hits(route, e.view)]

    async def count(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        return json_response(shapes.Count(count=len(await self._hits_in(request, session))))

    async def find(self, request: web.Request) -> web.StreamResponse:
        session = self.admin.session(request)
        return await self._logged(request, session, await self._hits_in(request, session))

    async def _logged(
        self, request: web.Request, session: SessionState, entries: list[JournalEntry]
    ) -> web.StreamResponse:
        url = self._mock_url(session)
        logged = (logged_request(entry, url) for entry in entries)
        return await stream_json(request, shapes.FoundRequests(requests=[]), "requests", logged)

    async def remove(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        doomed = {entry.seq for entry in await self._hits_in(request, session)}
        removed = session.journal.remove_where(lambda e: e.seq in doomed)
        return json_response(
            shapes.RemovedEvents(serveEvents=list(map(self._renderer(session), removed)))
        )

    async def remove_by_metadata(self, request: web.Request) -> web.Response:
        """Remove the requests answered by stubs whose metadata the posted matcher holds."""
        session = self.admin.session(request)
        pattern = await decode_body(request, shapes.ContentPattern)
        stubs = {m.id for m in self.admin.by_metadata(session, pattern)}
        removed = session.journal.remove_where(lambda e: e.matched and e.route_id in stubs)
        return json_response(
            shapes.RemovedEvents(serveEvents=list(map(self._renderer(session), removed)))
        )

    async def unmatched(self, request: web.Request) -> web.StreamResponse:
        session = self.admin.session(request)
        return await self._logged(request, session, [e for e in session.journal if e.unanswered])

    def _stub_near_miss(
        self, session: SessionState, logged: shapes.LoggedRequest, route_id: str, distance: float
    ) -> shapes.NearMiss | None:
        stub = state.dialect(session).mappings.get(route_id)
        if stub is None:
            return None
        return shapes.NearMiss(
            request=logged,
            stubMapping=stub,
            requestPattern=stub.request,
            matchResult=shapes.MatchResult(distance=distance),
        )

    async def unmatched_near_misses(self, request: web.Request) -> web.StreamResponse:
        session = self.admin.session(request)
        unmatched = [e for e in session.journal if not e.matched and e.near_misses]
        misses = self._recorded_near_misses(session, unmatched)
        return await stream_json(request, shapes.NearMisses(nearMisses=[]), "nearMisses", misses)

    def _recorded_near_misses(
        self, session: SessionState, entries: list[JournalEntry]
    ) -> Iterator[shapes.NearMiss]:
        """The near misses computed when each entry arrived, of routes that are stubs."""
        url = self._mock_url(session)
        for entry in entries:
            logged = logged_request(entry, url)
            for miss in entry.near_misses or ():
                item = self._stub_near_miss(session, logged, miss.route_id, miss.distance)
                if item is not None:
                    yield item

    async def near_misses_for_request(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        logged = await decode_body(request, shapes.LoggedRequest)
        view = view_of(logged)
        found = []
        # Ask for more than 3: native routes have no stub to show and are skipped.
        for miss in session.routes.near_misses(view, limit=_NEAR_MISSES * 4):
            item = self._stub_near_miss(session, logged, miss.route_id, miss.distance)
            if item is not None:
                found.append(item)
        return json_response(shapes.NearMisses(nearMisses=found[:_NEAR_MISSES]))

    async def near_misses_for_pattern(self, request: web.Request) -> web.Response:
        session = self.admin.session(request)
        pattern = await decode_body(request, shapes.RequestPattern)
        route = compile_pattern(pattern)
        url = self._mock_url(session)
        journal = list(session.journal)
        distances = [assess(e.view, route).distance async for e in yielding(journal)]
        # Closest first; ties: newest first.
        order = sorted(range(len(journal)), key=lambda i: (distances[i], -journal[i].seq))
        return json_response(
            shapes.NearMisses(
                nearMisses=[
                    shapes.NearMiss(
                        request=logged_request(journal[i], url),
                        requestPattern=pattern,
                        matchResult=shapes.MatchResult(distance=distances[i]),
                    )
                    for i in order[:_NEAR_MISSES]
                ]
            )
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/requests", self.list_requests),
            ("DELETE", "/requests", self.clear_requests),
            # WireMock's Python client resets the journal this way (WireMock 3 does not).
            ("POST", "/requests/reset", self.clear_requests),
            ("POST", "/requests/count", self.count),
            ("POST", "/requests/find", self.find),
            ("POST", "/requests/remove", self.remove),
            ("POST", "/requests/remove-by-metadata", self.remove_by_metadata),
            ("GET", "/requests/unmatched", self.unmatched),
            ("GET", "/requests/unmatched/near-misses", self.unmatched_near_misses),
            ("GET", "/requests/{id}", self.get_request),
            ("DELETE", "/requests/{id}", self.delete_request),
            ("POST", "/near-misses/request", self.near_misses_for_request),
            ("POST", "/near-misses/request-pattern", self.near_misses_for_pattern),
        ]
