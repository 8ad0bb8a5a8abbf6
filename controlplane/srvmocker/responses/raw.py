"""`RawResponse`: bytes exactly as given."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web

from controlplane.srvmocker.responses.base import BaseMockResponse
from controlplane.srvmocker.responses.content import encoded_response

if TYPE_CHECKING:
    from controlplane_client import AnyResponse as NativeResponse

__all__ = ["RawResponse"]


class RawResponse(BaseMockResponse, native=True):
    """Arbitrary bytes with arbitrary headers: malformed data, odd content types, empty bodies."""

    def __init__(
        self, body: bytes = b"", status: int = HTTPStatus.OK, headers: dict[str, str] | None = None
    ) -> None:
        self.body = body
        self.status = int(status)
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"RawResponse({self.body!r}, status={self.status})"

    async def response(self, request: web.Request) -> web.Response:
        return web.Response(body=self.body, status=self.status, headers=self.headers)

    def _to_native(self) -> NativeResponse | None:
        return encoded_response(self.body, self.status, self.headers, None)
