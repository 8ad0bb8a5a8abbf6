"""Every admin API operation as data: method, path, body, which statuses are answers.

The sync and the async client only differ in how they send an `Op`; what to send and
how to read the answer is decided here, once. A body is a generated shape (or a list of
them), never a hand-written dict: the client's `_base` encodes it with `to_wire`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from controlplane_client._assertions import QueryPredicate, query_values
from controlplane_client._codec import from_wire
from controlplane_client._shapes import (
    STRUCTS,
    AnyResponse,
    CallList,
    ConnectionsClosed,
    Delivered,
    HandlerInfo,
    HandlerList,
    Health,
    Match,
    RecordingResult,
    RecordingStart,
    RecordingStatus,
    RequestList,
    Route,
    RouteList,
    ScenarioInfo,
    ScenarioList,
    ScenarioStateUpdate,
    Session,
    SessionCreate,
    SessionList,
    Settings,
    SnapshotRequest,
    SseEvent,
    StreamFrameList,
    UnmatchedRequestList,
    VerifyRequest,
    VerifyResult,
    WebhookList,
    WsMessage,
)
from controlplane_client.errors import WireFormatError

__all__ = ["NO_BODY", "Op", "Ops"]

# pytest leaves this module's frames out of tracebacks (`--full-trace` keeps them): a
# failed assertion or an admin API error points at the test's line, not at the client.
__tracebackhide__ = True

T = TypeVar("T")
U = TypeVar("U")

#: An operation without a request body (distinct from a JSON `null` body).
NO_BODY: Any = object()


@dataclass(frozen=True)
class Op(Generic[T]):
    """One request to the admin API and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    #: A generated shape or a list of them (`NO_BODY`: the request has none).
    body: Any = NO_BODY
    query: Mapping[str, str] | None = None
    ok: tuple[int, ...] = (200,)
    #: For a paged listing (the journal's, a handler's frames), the field holding its
    #: entries: the answer's `next` cursor is followed (`after=`) and every page's
    #: entries joined, so none is missed.
    paged: str | None = None

    def url(self, admin_url: str) -> str:
        query = f"?{urlencode(self.query)}" if self.query else ""
        return f"{admin_url.rstrip('/')}{self.path}{query}"

    def then(self, follow: Callable[[T], U]) -> Op[U]:
        """The same request, its parsed answer passed on to `follow` (a part, a check)."""
        parse = self.parse
        return Op(
            self.method,
            self.path,
            lambda data: follow(parse(data)),
            self.body,
            self.query,
            self.ok,
            self.paged,
        )

    def next_page(self, data: Any) -> Op[T] | None:
        """The request for the page after `data` (an answer's JSON), or None at the last."""
        if self.paged is None or not isinstance(data, dict) or data.get("next") is None:
            return None
        return replace(self, query={**(self.query or {}), "after": str(data["next"])})

    def joined(self, data: Any, following: Any) -> Any:
        """The answer `following` with the entries of `data` (the pages before it) first."""
        assert self.paged is not None
        return {**following, self.paged: [*data[self.paged], *following[self.paged]]}


def _nothing(_: Any) -> None:
    return None


def _response(data: Any) -> AnyResponse:
    # The tagged union: pick the class by `type`, as the server does.
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise WireFormatError("$: expected a response object with a `type`")
    for cls in STRUCTS.values():
        if getattr(cls, "__wire_tag__", None) == data["type"]:
            parsed: AnyResponse = from_wire(cls, data)
            return parsed
    raise WireFormatError(f"$.type: unknown response type {data['type']!r}")


def _one_value_each(query: QueryPredicate) -> dict[str, str]:
    """`query` as the verify endpoint takes it: one value per name."""
    values = query_values(query)
    for name, given in values.items():
        if len(given) > 1:
            raise ValueError(
                f"verify: the server matches one value per query parameter, and {name!r} "
                f"has {len(given)}; assert_called(query=...) checks several on one call"
            )
    return {name: given[0] for name, given in values.items()}


def _query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _q(part: str) -> str:
    return quote(part, safe="")


class Ops:
    """The operations of one session (`session`) on an admin API."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.base = f"/api/sessions/{_q(session)}"

    # ------------------------------------------------------------ server and sessions

    @staticmethod
    def health() -> Op[Health]:
        return Op("GET", "/health", lambda d: from_wire(Health, d))

    @staticmethod
    def create_session(name: str | None, session_id: str | None) -> Op[Session]:
        body = SessionCreate(name=name, id=session_id)
        return Op("POST", "/api/sessions", lambda d: from_wire(Session, d), body=body, ok=(201,))

    @staticmethod
    def list_sessions() -> Op[list[Session]]:
        return Op("GET", "/api/sessions", lambda d: from_wire(SessionList, d).sessions)

    @staticmethod
    def get_session(session_id: str) -> Op[Session]:
        return Op("GET", f"/api/sessions/{_q(session_id)}", lambda d: from_wire(Session, d))

    @staticmethod
    def delete_session(session_id: str) -> Op[None]:
        return Op("DELETE", f"/api/sessions/{_q(session_id)}", _nothing, ok=(204,))

    # ------------------------------------------------------------ routes

    def add_routes(self, routes: list[Route] | Route) -> Op[list[Route]]:
        """A list is all-or-nothing; one route is sent alone, so errors point at `$.field`."""
        return Op(
            "POST",
            f"{self.base}/routes",
            lambda d: from_wire(RouteList, d).routes,
            body=routes,
            ok=(201,),
        )

    def list_routes(self) -> Op[list[Route]]:
        return Op("GET", f"{self.base}/routes", lambda d: from_wire(RouteList, d).routes)

    def get_route(self, route_id: str) -> Op[Route]:
        return Op("GET", f"{self.base}/routes/{_q(route_id)}", lambda d: from_wire(Route, d))

    def replace_route(self, route_id: str, route: Route) -> Op[Route]:
        return Op(
            "PUT",
            f"{self.base}/routes/{_q(route_id)}",
            lambda d: from_wire(Route, d),
            body=route,
        )

    def delete_route(self, route_id: str) -> Op[None]:
        return Op("DELETE", f"{self.base}/routes/{_q(route_id)}", _nothing, ok=(204,))

    def delete_routes(self) -> Op[None]:
        return Op("DELETE", f"{self.base}/routes", _nothing, ok=(204,))

    # ------------------------------------------------------------ handlers

    def register(self, handler: str, response: AnyResponse) -> Op[AnyResponse]:
        return Op(
            "PUT",
            f"{self.base}/handlers/{_q(handler)}/response",
            _response,
            body=response,
        )

    def handlers(self) -> Op[list[HandlerInfo]]:
        return Op("GET", f"{self.base}/handlers", lambda d: from_wire(HandlerList, d).handlers)

    def calls(self, handler: str) -> Op[CallList]:
        return Op(
            "GET",
            f"{self.base}/handlers/{_q(handler)}/calls",
            lambda d: from_wire(CallList, d),
            paged="calls",
        )

    def verify(self, handler: str, **predicates: Any) -> Op[VerifyResult]:
        """`predicates` are `Client.verify`'s keywords, the fields of `VerifyRequest`."""
        headers, query = predicates.pop("headers", None), predicates.pop("query", None)
        spec = VerifyRequest(
            **predicates,
            headers=None if headers is None else dict(headers),
            query=None if query is None else _one_value_each(query),
        )
        return Op(
            "POST",
            f"{self.base}/handlers/{_q(handler)}/verify",
            lambda d: from_wire(VerifyResult, d),
            body=spec,
            ok=(200, 409),
        )

    # ------------------------------------------------------------ streams and WebSockets

    def push_event(self, handler: str, event: SseEvent) -> Op[int]:
        return Op(
            "POST",
            f"{self.base}/handlers/{_q(handler)}/events",
            lambda d: from_wire(Delivered, d).delivered,
            body=event,
        )

    def push_message(self, handler: str, message: WsMessage) -> Op[int]:
        return Op(
            "POST",
            f"{self.base}/handlers/{_q(handler)}/messages",
            lambda d: from_wire(Delivered, d).delivered,
            body=message,
        )

    def messages(self, handler: str) -> Op[StreamFrameList]:
        return Op(
            "GET",
            f"{self.base}/handlers/{_q(handler)}/messages",
            lambda d: from_wire(StreamFrameList, d),
            paged="messages",
        )

    def close_connections(self, handler: str, code: int, reason: str) -> Op[int]:
        return Op(
            "DELETE",
            f"{self.base}/handlers/{_q(handler)}/connections",
            lambda d: from_wire(ConnectionsClosed, d).closed,
            query={"code": str(code), "reason": reason},
        )

    # ------------------------------------------------------------ journal

    def requests(self, **filters: str | int | bool | None) -> Op[RequestList]:
        """`filters` are `Client.requests`'s keywords, sent as query parameters."""
        query = {name: _query_value(value) for name, value in filters.items() if value is not None}
        return Op(
            "GET",
            f"{self.base}/requests",
            lambda d: from_wire(RequestList, d),
            query=query,
            paged="requests",
        )

    def unmatched(self) -> Op[UnmatchedRequestList]:
        return Op(
            "GET",
            f"{self.base}/requests/unmatched",
            lambda d: from_wire(UnmatchedRequestList, d),
            paged="requests",
        )

    def clear_requests(self) -> Op[None]:
        return Op("DELETE", f"{self.base}/requests", _nothing, ok=(204,))

    def reset(self) -> Op[None]:
        return Op("POST", f"{self.base}/reset", _nothing, ok=(204,))

    # ------------------------------------------------------------ webhooks

    def webhooks(self) -> Op[WebhookList]:
        return Op("GET", f"{self.base}/webhooks", lambda d: from_wire(WebhookList, d))

    def clear_webhooks(self) -> Op[None]:
        return Op("DELETE", f"{self.base}/webhooks", _nothing, ok=(204,))

    # ------------------------------------------------------------ scenarios, settings

    def scenarios(self) -> Op[list[ScenarioInfo]]:
        return Op("GET", f"{self.base}/scenarios", lambda d: from_wire(ScenarioList, d).scenarios)

    def set_scenario_state(self, name: str, state: str | None) -> Op[ScenarioInfo]:
        return Op(
            "PUT",
            f"{self.base}/scenarios/{_q(name)}/state",
            lambda d: from_wire(ScenarioInfo, d),
            body=ScenarioStateUpdate(state=state),
        )

    def reset_scenarios(self) -> Op[None]:
        return Op("POST", f"{self.base}/scenarios/reset", _nothing, ok=(204,))

    def settings(self) -> Op[Settings]:
        return Op("GET", f"{self.base}/settings", lambda d: from_wire(Settings, d))

    def update_settings(self, settings: Settings) -> Op[Settings]:
        return Op("PUT", f"{self.base}/settings", lambda d: from_wire(Settings, d), body=settings)

    # ------------------------------------------------------------ recording

    def start_recording(
        self,
        target: str,
        match: Match | None,
        capture_headers: list[str],
        add_routes: bool,
    ) -> Op[RecordingStatus]:
        body = RecordingStart(
            target=target, match=match, capture_headers=capture_headers, add_routes=add_routes
        )
        return Op(
            "POST",
            f"{self.base}/recordings",
            lambda d: from_wire(RecordingStatus, d),
            body=body,
            ok=(201,),
        )

    def recording_status(self) -> Op[RecordingStatus]:
        return Op("GET", f"{self.base}/recordings", lambda d: from_wire(RecordingStatus, d))

    def stop_recording(self) -> Op[RecordingResult]:
        return Op("POST", f"{self.base}/recordings/stop", lambda d: from_wire(RecordingResult, d))

    def snapshot_recording(
        self, match: Match | None, capture_headers: list[str], add_routes: bool
    ) -> Op[RecordingResult]:
        body = SnapshotRequest(match=match, capture_headers=capture_headers, add_routes=add_routes)
        return Op(
            "POST",
            f"{self.base}/recordings/snapshot",
            lambda d: from_wire(RecordingResult, d),
            body=body,
        )
