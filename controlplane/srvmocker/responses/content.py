"""`ContentResponse`: a body through a `Serializer`, the base of the format responses."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web

from controlplane.srvmocker.responses.base import BaseMockResponse
from controlplane.srvmocker.serialization.base import Serializer

if TYPE_CHECKING:
    from controlplane_client import AnyResponse as NativeResponse

__all__ = ["ContentResponse", "encoded_response"]


@dataclass
class ContentResponse(BaseMockResponse, native=True):
    """`body` through `serializer` (which sets `Content-Type`), or as it is without one.

    Without a serializer, `body` is what aiohttp's `Response(body=...)` takes: bytes,
    text (sent as UTF-8, `text/plain` unless `headers` say otherwise) or None.
    """

    body: Any = None
    status: int = HTTPStatus.OK
    headers: Mapping[str, str] | None = None
    serializer: Serializer | None = None

    async def response(self, request: web.Request) -> web.Response:
        headers: dict[str, str] = dict(self.headers or {})
        if self.serializer:
            headers[hdrs.CONTENT_TYPE] = self.serializer.content_type
        return web.Response(status=self.status, body=self.serialize(), headers=headers)

    def serialize(self) -> Any:
        """The body as sent: `serializer.dumps(body)`, or `body` without a serializer."""
        if not self.serializer:
            return self.body
        return self.serializer.dumps(self.body)

    def _to_native(self) -> NativeResponse | None:
        # Encoded here, in the test's process, by the serializer itself: a datetime in
        # a msgpack, YAML or TOML body comes out as that format writes one.
        content_type = self.serializer.content_type if self.serializer else None
        return encoded_response(self.serialize(), int(self.status), self.headers, content_type)


def encoded_response(
    body: object, status: int, headers: Mapping[str, str] | None, content_type: str | None
) -> NativeResponse | None:
    """A native raw response sending `body` (bytes, text or None); None for other bodies.

    `content_type` replaces any `Content-Type` in `headers`; without either, text is
    labelled `text/plain; charset=utf-8` as aiohttp labels it.
    """
    import controlplane_client as native

    kept = {k: v for k, v in (headers or {}).items()}
    if content_type is not None:
        kept = {k: v for k, v in kept.items() if k.lower() != "content-type"}
        kept["Content-Type"] = content_type
    labelled = any(k.lower() == "content-type" for k in kept)
    if isinstance(body, str):
        body = body.encode()
        if not labelled:
            kept["Content-Type"] = "text/plain; charset=utf-8"
    elif body is None:
        body = b""
    elif not isinstance(body, bytes | bytearray | memoryview):
        return None  # aiohttp decides at answer time (usually: it cannot send it)
    return native.RawResponse(
        body_base64=base64.b64encode(bytes(body)).decode(),
        status=status,
        headers=dict(kept),
    )


class FormatResponse(BaseMockResponse, native=True):
    """A `ContentResponse` with its format's serializer: the base of the format responses."""

    serializer: Serializer

    def __init__(
        self, body: Any, status: int = HTTPStatus.OK, headers: Mapping[str, str] | None = None
    ) -> None:
        self._content = ContentResponse(
            body=body, status=status, headers=headers, serializer=self.serializer
        )

    @property
    def body(self) -> Any:
        return self._content.body

    @property
    def status(self) -> int:
        return int(self._content.status)

    @property
    def headers(self) -> Mapping[str, str] | None:
        return self._content.headers

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.body!r}, status={self.status})"

    async def response(self, request: web.Request) -> web.Response:
        return await self._content.response(request)

    def _to_native(self) -> NativeResponse | None:
        return self._content._to_native()
