"""`FunctionResponse`: a plain function (or `async def`) that answers each request.

`MockService.register(name, fn)` wraps a callable in one, so a test computes answers
itself, as pytest-httpserver's `respond_with_handler` allows. `fn(request)` gets the
server's aiohttp request (with `match_info`, the body already read) and returns an
aiohttp response or a srvmocker response (`JsonResponse(...)`). It runs in the
server's process (in-process, no WebSocket): an `async def` on the server's event loop
(its own thread, not the test's loop), a plain function in a worker thread, so it may
block and may call the service's own synchronous methods.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from aiohttp import web

from controlplane.srvmocker.responses.base import BaseMockResponse

__all__ = ["FunctionResponse", "ResponseFunction"]

#: What `register` takes as a function: request -> an aiohttp or srvmocker response.
ResponseFunction: TypeAlias = Callable[
    [web.Request],
    "web.StreamResponse | BaseMockResponse | Awaitable[web.StreamResponse | BaseMockResponse]",
]


class FunctionResponse(BaseMockResponse):
    """The answer of `fn(request)`, computed for each request."""

    def __init__(self, fn: ResponseFunction) -> None:
        self.fn = fn
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an object with `async def __call__`
        )
        #: What the handler listing shows (`{"type": "in_process", "name"}`).
        self.name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"

    def __repr__(self) -> str:
        return f"FunctionResponse({self.name})"

    async def response(self, request: web.Request) -> web.StreamResponse:
        result: Any
        if self._is_async:
            result = await self.fn(request)  # type: ignore[misc]
        else:
            result = await asyncio.to_thread(self.fn, request)
        if isinstance(result, BaseMockResponse):
            return await result.response(request)
        if isinstance(result, web.StreamResponse):
            return result
        raise TypeError(
            f"{self.name} returned {type(result).__name__}; return an aiohttp response or a "
            "srvmocker response (JsonResponse(...), RawResponse(...))"
        )
