"""The synchronous client: the whole native admin API over `urllib` (standard library only).

    client = Client("http://127.0.0.1:8081")          # session `default`
    session = client.create_session(name="orders")    # a Client bound to a new session
    session.add_route(Route(method="GET", path="/fact", handler="fact",
                            response=JsonResponse({"fact": "Meow."})))
    requests.get(f"{session.mock_url}/fact")
    session.assert_called("fact", times=1)
    session.delete_session()

Safe to call from async tests: it never touches an event loop, it only blocks the
calling thread for one admin request (the server must not run in that same loop).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from controlplane_client._assertions import QueryPredicate, check_called, check_not_called
from controlplane_client._base import BaseClient
from controlplane_client._callbacks import Callback, CallbackFunction
from controlplane_client._ops import Op, Ops
from controlplane_client._shapes import (
    UNSET,
    AnyResponse,
    CallList,
    HandlerInfo,
    Health,
    Match,
    RecordedRequest,
    RecordingResult,
    RecordingStatus,
    RequestList,
    Route,
    ScenarioInfo,
    Session,
    Settings,
    SseEvent,
    StreamFrame,
    UnmatchedRequestList,
    UnsetType,
    VerifyResult,
    WebhookList,
    WsMessage,
)

__all__ = ["Client"]

# pytest leaves this module's frames out of tracebacks (`--full-trace` keeps them): a
# failed assertion or an admin API error points at the test's line, not at the client.
__tracebackhide__ = True

T = TypeVar("T")


class Client(BaseClient):
    """The admin API at `admin_url`, bound to one session (`default` unless given)."""

    def _run(self, op: Op[T]) -> T:
        data = self._send(op)
        following = op.next_page(data)
        while following is not None:
            data = op.joined(data, more := self._send(following))
            following = following.next_page(more)
        return op.parse(data)

    def _send(self, op: Op[Any]) -> Any:
        sent = self._request(op)
        request = urllib.request.Request(
            sent.url, data=sent.body, method=sent.method, headers=sent.headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            with error:
                status, raw = error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            raise self._unavailable(getattr(error, "reason", error)) from None
        return self._answer(op, status, raw)

    # ------------------------------------------------------------ server and sessions

    def health(self) -> Health:
        return self._run(Ops.health())

    def create_session(self, name: str | None = None, *, id: str | None = None) -> Client:
        """A new isolated session; the answer is a Client bound to it."""
        return self._run(self._create_session(name, id))

    def sessions(self) -> list[Session]:
        return self._run(Ops.list_sessions())

    def get_session(self, session_id: str | None = None) -> Session:
        """This session's description (or `session_id`'s)."""
        return self._run(self._get_session(session_id))

    def delete_session(self, session_id: str | None = None) -> None:
        """Delete this session (or `session_id`) with its routes and journal."""
        self._run(self._delete_session(session_id))

    @property
    def info(self) -> Session:
        """This session's description, fetched once."""
        return self._info if self._info is not None else self.get_session()

    @property
    def mock_url(self) -> str:
        """Where the code under test sends its requests for this session."""
        return self.info.mock_url

    # ------------------------------------------------------------ routes

    def add_routes(self, *routes: Route) -> list[Route]:
        """Add routes (all or none); the answer has their ids."""
        return self._run(self._ops.add_routes(list(routes)))

    def add_route(self, route: Route) -> Route:
        return self._run(self._add_route(route))

    def routes(self) -> list[Route]:
        return self._run(self._ops.list_routes())

    def get_route(self, route_id: str) -> Route:
        return self._run(self._ops.get_route(route_id))

    def replace_route(self, route_id: str, route: Route) -> Route:
        return self._run(self._ops.replace_route(route_id, route))

    def delete_route(self, route_id: str) -> None:
        self._run(self._ops.delete_route(route_id))

    def delete_routes(self) -> None:
        self._run(self._ops.delete_routes())

    # ------------------------------------------------------------ handlers

    def register(self, handler: str, response: AnyResponse) -> AnyResponse:
        """Set (or replace) the response of `handler`."""
        return self._run(self._ops.register(handler, response))

    def handlers(self) -> list[HandlerInfo]:
        return self._run(self._ops.handlers())

    def calls(self, handler: str) -> CallList:
        """The handler's calls with the journal's eviction count."""
        return self._run(self._ops.calls(handler))

    def get_calls(self, handler: str) -> list[RecordedRequest]:
        return self._run(self._get_calls(handler))

    def last_call(self, handler: str) -> RecordedRequest:
        """The latest call of `handler`; AssertionError when there is none."""
        return self._run(self._last_call(handler))

    def verify(
        self,
        handler: str,
        *,
        times: int | None = None,
        at_least: int | None = None,
        at_most: int | None = None,
        json: Any | UnsetType = UNSET,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: QueryPredicate | None = None,
    ) -> VerifyResult:
        """The native verify: counts the calls that match the predicates, checks the count."""
        return self._run(
            self._ops.verify(
                handler,
                times=times,
                at_least=at_least,
                at_most=at_most,
                json=json,
                body=body,
                headers=headers,
                query=query,
            )
        )

    def assert_verified(self, handler: str, **predicates: Any) -> VerifyResult:
        """`verify`, raising AssertionError with the server's explanation when it fails."""
        return self._run(self._assert_verified(handler, **predicates))

    def assert_called(
        self,
        handler: str,
        *,
        times: int | None = None,
        json: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        query: QueryPredicate | None = None,
    ) -> None:
        """asyncly's assertion: `times` over all calls, the predicates on one call."""
        check = partial(
            check_called, times=times, json=json, body=body, headers=headers, query=query
        )
        self._run(self._assert_calls(handler, check))

    def assert_not_called(self, handler: str) -> None:
        self._run(self._assert_calls(handler, check_not_called))

    # ------------------------------------------------------------ callbacks

    def on_request(
        self, handler: str, fn: CallbackFunction, *, timeout_ms: int | None = None
    ) -> Callback:
        """Answer `handler`'s requests with `fn(request)` (sync or async) until `close()`.

        A thread of its own holds the WebSocket (aiohttp, the `async` extra); returns
        once the server has registered it. The server waits `timeout_ms` (default 5000)
        for each answer before answering 504 itself. Usable as `with`.
        """
        callback = Callback(self, handler, fn, timeout_ms)
        self._callbacks.append(callback)
        return callback

    def close_callbacks(self) -> None:
        """Close every callback registered through this client."""
        while self._callbacks:
            self._callbacks.pop().close()

    # ------------------------------------------------------------ streams and WebSockets

    def push_event(self, handler: str, event: SseEvent) -> int:
        """Send `event` to every open `sse` stream of `handler`; how many it reached."""
        return self._run(self._ops.push_event(handler, event))

    def push_message(self, handler: str, message: WsMessage) -> int:
        """Send `message` to every open WebSocket of `handler`; how many it reached."""
        return self._run(self._ops.push_message(handler, message))

    def messages(self, handler: str) -> list[StreamFrame]:
        """Every frame in and out of `handler`'s WebSockets and SSE streams, oldest first."""
        return self._run(self._messages(handler))

    def close_connections(self, handler: str, code: int = 1000, reason: str = "") -> int:
        """Close every open WebSocket (with `code`) and SSE stream of `handler`; how many."""
        return self._run(self._ops.close_connections(handler, code, reason))

    def assert_received(
        self,
        handler: str,
        *,
        json: Any = UNSET,
        text: str | None = None,
        binary: bytes | None = None,
    ) -> None:
        """Fail unless `handler` received a message with this `json`, `text` or `binary`."""
        self._run(self._assert_received(handler, json=json, text=text, binary=binary))

    # ------------------------------------------------------------ journal

    def requests(
        self,
        *,
        handler: str | None = None,
        matched: bool | None = None,
        method: str | None = None,
        path: str | None = None,
        limit: int | None = None,
    ) -> RequestList:
        """The journal, oldest first, filtered."""
        return self._run(
            self._ops.requests(
                handler=handler, matched=matched, method=method, path=path, limit=limit
            )
        )

    def unmatched(self) -> UnmatchedRequestList:
        """Requests no route matched, with their near misses."""
        return self._run(self._ops.unmatched())

    def clear_requests(self) -> None:
        self._run(self._ops.clear_requests())

    def webhooks(self) -> WebhookList:
        """The webhook calls this session's routes made (oldest first), and how many are
        still under way (`pending`)."""
        return self._run(self._ops.webhooks())

    def clear_webhooks(self) -> None:
        self._run(self._ops.clear_webhooks())

    def reset(self) -> None:
        """Remove this session's routes, responses and journal."""
        self._run(self._ops.reset())

    # ------------------------------------------------------------ scenarios, settings

    def scenarios(self) -> list[ScenarioInfo]:
        """This session's scenarios with their current states."""
        return self._run(self._ops.scenarios())

    def set_scenario_state(self, name: str, state: str | None = None) -> ScenarioInfo:
        """Put scenario `name` in `state` (None: back to `Started`)."""
        return self._run(self._ops.set_scenario_state(name, state))

    def reset_scenarios(self) -> None:
        """Every scenario of this session back to `Started`."""
        self._run(self._ops.reset_scenarios())

    def settings(self) -> Settings:
        return self._run(self._ops.settings())

    def update_settings(self, settings: Settings) -> Settings:
        """Replace this session's settings (e.g. a delay added to every answer)."""
        return self._run(self._ops.update_settings(settings))

    # ------------------------------------------------------------ recording

    def start_recording(
        self,
        target: str,
        *,
        match: Match | None = None,
        capture_headers: Sequence[str] = (),
        add_routes: bool = True,
    ) -> RecordingStatus:
        """Proxy this session's unmatched requests to `target` and capture the exchanges."""
        return self._run(
            self._ops.start_recording(target, match, list(capture_headers), add_routes)
        )

    def recording_status(self) -> RecordingStatus:
        """Whether this session records, where to, and how many exchanges it captured."""
        return self._run(self._ops.recording_status())

    def stop_recording(self) -> RecordingResult:
        """Stop recording: one route per distinct request (added unless `add_routes` was false)."""
        return self._run(self._ops.stop_recording())

    def snapshot_recording(
        self,
        *,
        match: Match | None = None,
        capture_headers: Sequence[str] = (),
        add_routes: bool = True,
    ) -> RecordingResult:
        """Routes from the proxied exchanges in this session's journal."""
        return self._run(self._ops.snapshot_recording(match, list(capture_headers), add_routes))
