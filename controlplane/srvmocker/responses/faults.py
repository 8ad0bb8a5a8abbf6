"""Socket faults: `DisconnectResponse` and `TruncatedResponse`."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web

from controlplane.srvmocker.responses.base import BaseMockResponse

if TYPE_CHECKING:
    from controlplane_client import AnyResponse as NativeResponse

__all__ = ["DisconnectResponse", "TruncatedResponse"]


class DisconnectResponse(BaseMockResponse, native=True):
    """Close the connection before a byte of the response is sent."""

    def __repr__(self) -> str:
        return "DisconnectResponse()"

    async def response(self, request: web.Request) -> web.Response:
        transport = request.transport
        if transport is None:
            raise RuntimeError("request transport is unavailable")
        transport.abort()
        return web.Response()

    def _to_native(self) -> NativeResponse | None:
        import controlplane_client as native

        return native.FaultResponse("disconnect")


class TruncatedResponse(BaseMockResponse):
    """Send `status`, `headers` and `body` declaring `declared_length` bytes, then close.

    `declared_length` defaults to one more byte than `body`, and must exceed it. The
    client sees a body cut short (aiohttp: `ClientPayloadError`). Answered in-process,
    exactly as asyncly sends it.
    """

    def __init__(
        self,
        body: bytes = b"",
        *,
        declared_length: int | None = None,
        status: int = HTTPStatus.OK,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        length = len(body) + 1 if declared_length is None else declared_length
        if length <= len(body):
            raise ValueError("declared_length must be greater than the body length")
        self.body = body
        self.declared_length = length
        self.status = int(status)
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"TruncatedResponse({self.body!r}, declared_length={self.declared_length})"

    async def response(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=self.status, headers=self.headers)
        response.content_length = self.declared_length
        await response.prepare(request)
        if self.body:
            await response.write(self.body)
        transport = request.transport
        if transport is None:
            raise RuntimeError("request transport is unavailable")
        transport.close()
        return response
