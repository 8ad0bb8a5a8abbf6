"""The asynchronous client: the same API as `Client`, awaited, over aiohttp.

Needs the `async` extra (`pip install 'controlplane-client[async]'`).

    async with AsyncClient("http://127.0.0.1:8081") as client:
        session = await client.create_session()
        await session.add_route(Route(method="GET", path="/fact", handler="fact",
                                      response=JsonResponse({"fact": "Meow."})))
        ...
        await session.assert_called("fact", times=1)
        await session.delete_session()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from controlplane_client._assertions import QueryPredicate, check_called, check_not_called
from controlplane_client._base import BaseClient
from controlplane_client._callbacks import AsyncCallback, CallbackFunction, Registering, open_async
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

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AsyncClient"]

# pytest leaves this module's frames out of tracebacks (`--full-trace` keeps them): a
# failed assertion or an admin API error points at the test's line, not at the client.
__tracebackhide__ = True

T = TypeVar("T")


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            "AsyncClient needs aiohttp: pip install 'controlplane-client[async]'"
        ) from None
    return aiohttp


class _Pool:
    """One aiohttp session shared by a client and the session clients it made."""

    def __init__(self) -> None:
        self.http: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self.http is None or self.http.closed:
            self.http = _aiohttp().ClientSession()
        return self.http

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None


class AsyncClient(BaseClient):
    """The admin API at `admin_url`, bound to one session (`default` unless given)."""

    def _open(self) -> None:
        self._pool = _Pool()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close this client's callbacks and the connection pool (shared with the session
        clients made from this one)."""
        await self.close_callbacks()
        await self._pool.close()

    async def _run(self, op: Op[T]) -> T:
        data = await self._send(op)
        following = op.next_page(data)
        while following is not None:
            data = op.joined(data, more := await self._send(following))
            following = following.next_page(more)
        return op.parse(data)

    async def _send(self, op: Op[Any]) -> Any:
        aiohttp = _aiohttp()
        sent = self._request(op)
        try:
            async with self._pool.get().request(
                sent.method,
                sent.url,
                data=sent.body,
                headers=sent.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as answer:
                status, raw = answer.status, await answer.read()
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            raise self._unavailable(error) from None
        return self._answer(op, status, raw)

    # ------------------------------------------------------------ server and sessions

    async def health(self) -> Health:
        return await self._run(Ops.health())

    async def create_session(
        self,
        name: str | None = None,
        *,
        id: str | None = None,
    ) -> AsyncClient:
        """A new isolated session; the answer is an AsyncClient bound to it."""
        return await self._run(self._create_session(name, id))

    async def sessions(self) -> list[Session]:
        return await self._run(Ops.list_sessions())

    async def get_session(self, session_id: str | None = None) -> Session:
        return await self._run(self._get_session(session_id))

    async def delete_session(self, session_id: str | None = None) -> None:
        await self._run(self._delete_session(session_id))

    @property
    def mock_url(self) -> str:
        """This session's mock URL (known after `create_session` or `await get_session()`)."""
        if self._info is None:
            raise RuntimeError("call `await client.get_session()` first: the URL is not known yet")
        return self._info.mock_url

    # ------------------------------------------------------------ routes

    async def add_routes(self, *routes: Route) -> list[Route]:
        return await self._run(self._ops.add_routes(list(routes)))

    async def add_route(self, route: Route) -> Route:
        return await self._run(self._add_route(route))

    async def routes(self) -> list[Route]:
        return await self._run(self._ops.list_routes())

    async def get_route(self, route_id: str) -> Route:
        return await self._run(self._ops.get_route(route_id))

    async def replace_route(self, route_id: str, route: Route) -> Route:
        return await self._run(self._ops.replace_route(route_id, route))

    async def delete_route(self, route_id: str) -> None:
        await self._run(self._ops.delete_route(route_id))

    async def delete_routes(self) -> None:
        await self._run(self._ops.delete_routes())

    # ------------------------------------------------------------ handlers

    async def register(self, handler: str, response: AnyResponse) -> AnyResponse:
        return await self._run(self._ops.register(handler, response))

    async def handlers(self) -> list[HandlerInfo]:
        return await self._run(self._ops.handlers())

    async def calls(self, handler: str) -> CallList:
        return await self._run(self._ops.calls(handler))

    async def get_calls(self, handler: str) -> list[RecordedRequest]:
        return await self._run(self._get_calls(handler))

    async def last_call(self, handler: str) -> RecordedRequest:
        return await self._run(self._last_call(handler))

    async def verify(
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
        return await self._run(
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

    async def assert_verified(self, handler: str, **predicates: Any) -> VerifyResult:
        return await self._run(self._assert_verified(handler, **predicates))

    async def assert_called(
        self,
        handler: str,
        *,
        times: int | None = None,
        json: Any = None,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        query: QueryPredicate | None = None,
    ) -> None:
        check = partial(
            check_called, times=times, json=json, body=body, headers=headers, query=query
        )
        await self._run(self._assert_calls(handler, check))

    async def assert_not_called(self, handler: str) -> None:
        await self._run(self._assert_calls(handler, check_not_called))

    # ------------------------------------------------------------ callbacks

    def on_request(
        self, handler: str, fn: CallbackFunction, *, timeout_ms: int | None = None
    ) -> Registering:
        """Answer `handler`'s requests with `fn(request)` (sync or async) while registered.

        `await` it for the `AsyncCallback` (then `await callback.close()`), or use it as
        `async with client.on_request(...)`. The server waits `timeout_ms` (default
        5000) for each answer before answering 504 itself.
        """
        return Registering(self._register(handler, fn, timeout_ms))

    async def _register(
        self, handler: str, fn: CallbackFunction, timeout_ms: int | None
    ) -> AsyncCallback:
        callback = await open_async(self, self._pool.get(), handler, fn, timeout_ms)
        self._callbacks.append(callback)
        return callback

    async def close_callbacks(self) -> None:
        """Close every callback registered through this client."""
        while self._callbacks:
            await self._callbacks.pop().close()

    # ------------------------------------------------------------ streams and WebSockets

    async def push_event(self, handler: str, event: SseEvent) -> int:
        """Send `event` to every open `sse` stream of `handler`; how many it reached."""
        return await self._run(self._ops.push_event(handler, event))

    async def push_message(self, handler: str, message: WsMessage) -> int:
        """Send `message` to every open WebSocket of `handler`; how many it reached."""
        return await self._run(self._ops.push_message(handler, message))

    async def messages(self, handler: str) -> list[StreamFrame]:
        """Every frame in and out of `handler`'s WebSockets and SSE streams, oldest first."""
        return await self._run(self._messages(handler))

    async def close_connections(self, handler: str, code: int = 1000, reason: str = "") -> int:
        """Close every open WebSocket (with `code`) and SSE stream of `handler`; how many."""
        return await self._run(self._ops.close_connections(handler, code, reason))

    async def assert_received(
        self,
        handler: str,
        *,
        json: Any = UNSET,
        text: str | None = None,
        binary: bytes | None = None,
    ) -> None:
        """Fail unless `handler` received a message with this `json`, `text` or `binary`."""
        await self._run(self._assert_received(handler, json=json, text=text, binary=binary))

    # ------------------------------------------------------------ journal

    async def requests(
        self,
        *,
        handler: str | None = None,
        matched: bool | None = None,
        method: str | None = None,
        path: str | None = None,
        limit: int | None = None,
    ) -> RequestList:
        return await self._run(
            self._ops.requests(
                handler=handler, matched=matched, method=method, path=path, limit=limit
            )
        )

    async def unmatched(self) -> UnmatchedRequestList:
        return await self._run(self._ops.unmatched())

    async def clear_requests(self) -> None:
        await self._run(self._ops.clear_requests())

    async def webhooks(self) -> WebhookList:
        return await self._run(self._ops.webhooks())

    async def clear_webhooks(self) -> None:
        await self._run(self._ops.clear_webhooks())

    async def reset(self) -> None:
        await self._run(self._ops.reset())

    # ------------------------------------------------------------ scenarios, settings

    async def scenarios(self) -> list[ScenarioInfo]:
        """This session's scenarios with their current states."""
        return await self._run(self._ops.scenarios())

    async def set_scenario_state(self, name: str, state: str | None = None) -> ScenarioInfo:
        """Put scenario `name` in `state` (None: back to `Started`)."""
        return await self._run(self._ops.set_scenario_state(name, state))

    async def reset_scenarios(self) -> None:
        """Every scenario of this session back to `Started`."""
        await self._run(self._ops.reset_scenarios())

    async def settings(self) -> Settings:
        return await self._run(self._ops.settings())

    async def update_settings(self, settings: Settings) -> Settings:
        """Replace this session's settings (e.g. a delay added to every answer)."""
        return await self._run(self._ops.update_settings(settings))

    # ------------------------------------------------------------ recording

    async def start_recording(
        self,
        target: str,
        *,
        match: Match | None = None,
        capture_headers: Sequence[str] = (),
        add_routes: bool = True,
    ) -> RecordingStatus:
        """Proxy this session's unmatched requests to `target` and capture the exchanges."""
        return await self._run(
            self._ops.start_recording(target, match, list(capture_headers), add_routes)
        )

    async def recording_status(self) -> RecordingStatus:
        """Whether this session records, where to, and how many exchanges it captured."""
        return await self._run(self._ops.recording_status())

    async def stop_recording(self) -> RecordingResult:
        """Stop recording: one route per distinct request (added unless `add_routes` was false)."""
        return await self._run(self._ops.stop_recording())

    async def snapshot_recording(
        self,
        *,
        match: Match | None = None,
        capture_headers: Sequence[str] = (),
        add_routes: bool = True,
    ) -> RecordingResult:
        """Routes from the proxied exchanges in this session's journal."""
        return await self._run(
            self._ops.snapshot_recording(match, list(capture_headers), add_routes)
        )
