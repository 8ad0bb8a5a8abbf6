"""Callbacks: this process answers a handler's mock requests (`on_request`).

    async with client.on_request("quote", fn):          # AsyncClient
        ...
    callback = client.on_request("quote", fn)           # Client: a background thread
    ...
    callback.close()

`fn(request)` gets a `CallbackRequest` (method, path, query, headers, path_params,
body, `json`, `content`, `header(name)`) and returns a response: a client shape
(`JsonResponse(...)`, `RawResponse(...)`, ...) or its wire dict (`{"type": "json",
"body": ...}`). It may be a plain function or an `async def`; plain functions run in a
worker thread, so a slow one holds up neither the event loop nor other requests. What
`fn` raises is logged here (logger `controlplane_client.callbacks`) and sent to the
server, which answers the mock request 500 (`callback_error`). Both clients need
aiohttp (the `async` extra): the protocol is a WebSocket to the admin API.

`_Link` is one registered WebSocket; `AsyncCallback` and `Callback` own one, on the
caller's event loop or on a thread of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json as jsonlib
import logging
import threading
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from controlplane_client._codec import from_wire, to_wire
from controlplane_client._shapes import AnyResponse, CallbackRegistered, CallbackRequest
from controlplane_client.errors import ServerUnavailable, WireFormatError, admin_error

if TYPE_CHECKING:
    import aiohttp

    from controlplane_client._base import BaseClient

__all__ = ["AsyncCallback", "Callback", "CallbackFunction", "Registering"]

#: What `on_request` takes: request -> response (a shape or its wire dict), maybe async.
CallbackFunction = Callable[
    [CallbackRequest],
    "AnyResponse | dict[str, Any] | Awaitable[AnyResponse | dict[str, Any]]",
]

_log = logging.getLogger("controlplane_client.callbacks")
#: Frames as large as the server takes (its admin request bodies).
_MAX_FRAME = 64 * 1024 * 1024


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            "on_request needs aiohttp (a WebSocket to the admin API): "
            "pip install 'controlplane-client[async]'"
        ) from None
    return aiohttp


def _wire_response(result: Any) -> Any:
    if isinstance(result, dict):
        return result
    if hasattr(result, "__wire_tag__") and result.__wire_tag__ is not None:
        return to_wire(result)
    raise TypeError(
        f"the callback returned {type(result).__name__}; return a response "
        '(JsonResponse(...), RawResponse(...)) or its wire dict ({"type": "json", ...})'
    )


class _Link:
    """One callback WebSocket: registered for `handler`, answering with `fn`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, handler: str, fn: Any) -> None:
        self.ws = ws
        self.handler = handler
        self._fn = fn
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an object with `async def __call__`
        )
        self._answering: set[asyncio.Task[None]] = set()
        #: Frames the server refused (`{"id", "error": {...}}`), newest last.
        self.refusals: list[dict[str, Any]] = []

    @classmethod
    async def open(
        cls,
        client: BaseClient,
        http: aiohttp.ClientSession,
        handler: str,
        fn: Any,
        timeout_ms: int | None,
    ) -> tuple[_Link, CallbackRegistered]:
        """Connect and wait until the server says the registration is live."""
        aiohttp = _aiohttp()
        query = "" if timeout_ms is None else "?" + urlencode({"timeout_ms": timeout_ms})
        url = (
            f"{client.admin_url}{client._ops.base}/handlers/{quote(handler, safe='')}"
            f"/callback{query}"
        )
        headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
        try:
            ws = await http.ws_connect(
                url, headers=headers, max_msg_size=_MAX_FRAME, timeout=_ws_timeout(client)
            )
        except aiohttp.WSServerHandshakeError:
            # The refusal's JSON body is not kept by aiohttp: ask again without upgrading.
            raise await _refusal(http, url, headers) from None
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            raise ServerUnavailable.at(client.admin_url, error) from None
        first = await ws.receive(timeout=client.timeout)
        try:
            registered = from_wire(CallbackRegistered, jsonlib.loads(first.data)["registered"])
        except (TypeError, ValueError, KeyError) as error:
            await ws.close()
            raise WireFormatError(f"callback for {handler!r}: unexpected first frame") from error
        return cls(ws, handler, fn), registered

    async def run(self) -> None:
        """Answer requests until the socket closes."""
        aiohttp = _aiohttp()
        try:
            async for message in self.ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                frame = jsonlib.loads(message.data)
                if "request" in frame:
                    task = asyncio.create_task(self._answer(frame["id"], frame["request"]))
                    self._answering.add(task)
                    task.add_done_callback(self._answering.discard)
                elif "error" in frame:
                    self.refusals.append(frame)
                    _log.warning(
                        "the server refused an answer of the callback for %r: %s",
                        self.handler,
                        frame["error"].get("message"),
                    )
        finally:
            for task in list(self._answering):
                task.cancel()

    async def _answer(self, call_id: str, data: Any) -> None:
        request = from_wire(CallbackRequest, data)
        try:
            if self._is_async:
                result = await self._fn(request)
            else:
                result = await asyncio.to_thread(self._fn, request)
            frame: dict[str, Any] = {"id": call_id, "response": _wire_response(result)}
        except Exception as error:
            _log.exception("the callback for %r raised", self.handler)
            frame = {"id": call_id, "error": f"{type(error).__name__}: {error}"}
        with contextlib.suppress(ConnectionError):
            await self.ws.send_str(jsonlib.dumps(frame))

    async def close(self) -> None:
        await self.ws.close()


def _ws_timeout(client: BaseClient) -> Any:
    return _aiohttp().ClientWSTimeout(ws_receive=None, ws_close=client.timeout)


async def _refusal(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Exception:
    async with http.get(url, headers=headers) as answer:
        raw = await answer.read()
        try:
            body = jsonlib.loads(raw)
        except ValueError:
            body = None
        return admin_error(answer.status, body, raw.decode("utf-8", "replace")[:500])


class AsyncCallback:
    """A registered callback on the caller's event loop; `await close()` ends it."""

    def __init__(
        self, link: _Link, registered: CallbackRegistered, http: aiohttp.ClientSession | None
    ) -> None:
        self._link = link
        #: The server's confirmation: session, handler and `timeout_ms`.
        self.registered = registered
        self._http = http  # owned (closed with the callback) when not None
        self._task = asyncio.get_running_loop().create_task(link.run())

    @property
    def handler(self) -> str:
        return self._link.handler

    @property
    def refusals(self) -> list[dict[str, Any]]:
        """Answers the server refused (`{"id", "error": {"code", "message", "location"}}`)."""
        return self._link.refusals

    @property
    def closed(self) -> bool:
        return self._task.done()

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once closed: 1000 by `close()`, 1001 when the server
        closed it (a reset, the session deleted, the server stopping)."""
        return self._link.ws.close_code

    async def close(self) -> None:
        """Unregister: the handler answers what it answered before (idempotent)."""
        await self._link.close()
        await asyncio.gather(self._task, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> AsyncCallback:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Registering:
    """`client.on_request(...)`: await it for the `AsyncCallback`, or `async with` it."""

    def __init__(self, opening: Awaitable[AsyncCallback]) -> None:
        self._opening = opening
        self._callback: AsyncCallback | None = None

    def __await__(self) -> Generator[Any, None, AsyncCallback]:
        return self._opening.__await__()

    async def __aenter__(self) -> AsyncCallback:
        self._callback = await self._opening
        return self._callback

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._callback is not None:
            await self._callback.close()


async def open_async(
    client: BaseClient,
    http: aiohttp.ClientSession,
    handler: str,
    fn: Any,
    timeout_ms: int | None,
    *,
    own_http: bool = False,
) -> AsyncCallback:
    """Register `fn` for `handler` over `http`; with `own_http`, the callback closes it."""
    try:
        async with asyncio.timeout(client.timeout):
            link, registered = await _Link.open(client, http, handler, fn, timeout_ms)
    except TimeoutError as error:
        if own_http:
            await http.close()
        raise ServerUnavailable.at(client.admin_url, error) from None
    except BaseException:
        if own_http:
            await http.close()
        raise
    return AsyncCallback(link, registered, http if own_http else None)


class Callback:
    """A registered callback served by a thread of its own; `close()` ends it.

    The thread runs an event loop with the WebSocket; plain functions run in its
    worker threads, `async def` ones on its loop.
    """

    def __init__(self, client: BaseClient, handler: str, fn: Any, timeout_ms: int | None) -> None:
        self.handler = handler
        self._loop = asyncio.new_event_loop()
        self._callback: AsyncCallback | None = None
        self._failure: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve,
            args=(client, handler, fn, timeout_ms),
            name=f"controlplane-callback-{handler}",
            daemon=True,
        )
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure

    def _serve(self, client: BaseClient, handler: str, fn: Any, timeout_ms: int | None) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main(client, handler, fn, timeout_ms))
        finally:
            # Without waiting for the worker threads: a callback stuck in user code must
            # not make `close()` hang (the server has answered its request 504 already).
            self._loop.close()

    async def _main(
        self, client: BaseClient, handler: str, fn: Any, timeout_ms: int | None
    ) -> None:
        try:
            http = _aiohttp().ClientSession()
            self._callback = await open_async(client, http, handler, fn, timeout_ms, own_http=True)
        except BaseException as failure:
            self._failure = failure
            return
        finally:
            self._ready.set()
        await asyncio.gather(self._callback._task, return_exceptions=True)
        await self._callback.close()

    @property
    def registered(self) -> CallbackRegistered:
        """The server's confirmation: session, handler and `timeout_ms`."""
        assert self._callback is not None
        return self._callback.registered

    @property
    def refusals(self) -> list[dict[str, Any]]:
        """Answers the server refused (`{"id", "error": {"code", "message", "location"}}`)."""
        assert self._callback is not None
        return self._callback.refusals

    @property
    def closed(self) -> bool:
        return not self._thread.is_alive()

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once closed (see `AsyncCallback.close_code`)."""
        return None if self._callback is None else self._callback.close_code

    def close(self) -> None:
        """Unregister and stop the thread (idempotent)."""
        if self._thread.is_alive():
            callback = self._callback
            assert callback is not None
            with contextlib.suppress(RuntimeError):  # the loop stopped meanwhile
                asyncio.run_coroutine_threadsafe(callback._link.close(), self._loop)
            self._thread.join()

    def __enter__(self) -> Callback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
