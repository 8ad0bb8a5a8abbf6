"""`LatencyResponse`: another response, after a delay (for testing timeouts)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from controlplane.srvmocker.responses.base import BaseMockResponse, native_form

if TYPE_CHECKING:
    from controlplane_client import AnyResponse as NativeResponse

__all__ = ["LatencyResponse", "TimeoutType"]

TimeoutType = int | float


@dataclass
class LatencyResponse(BaseMockResponse, native=True):
    """`wrapped`, answered after `latency` seconds; other requests are not held up."""

    wrapped: BaseMockResponse
    latency: TimeoutType

    async def response(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.latency)
        return await self.wrapped.response(request)

    def _to_native(self) -> NativeResponse | None:
        import controlplane_client as native

        wrapped = native_form(self.wrapped)
        return None if wrapped is None else native.LatencyResponse(wrapped, self.latency)
