"""`BaseMockResponse`, asyncly's response interface, and how the server is told about one.

A response is anything with `async def response(request) -> StreamResponse`, as in
asyncly; subclass `BaseMockResponse` to write your own. `MockService.register` sends
the server the cheapest faithful form:

- srvmocker's own responses whose answer never depends on the request (`JsonResponse`,
  `RawResponse`, `ContentResponse` and its format variants, `DisconnectResponse`, and
  sequences and latencies of those) become native controlplane responses, answered by
  the server like any other (`native_form`);
- everything else, including every subclass that defines its own `response`, runs
  in-process: the server, in its own thread of this process, awaits `response(request)`
  for each request. `request` is the server's aiohttp request with `match_info` set to
  the route's path parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from aiohttp.web import Request, StreamResponse
    from controlplane_client import AnyResponse as NativeResponse

__all__ = ["BaseMockResponse", "native_form"]


class BaseMockResponse(ABC):
    """An answer to a mock request; implement `response`."""

    #: Whether `_to_native` describes this class's `response` exactly. A subclass that
    #: defines its own `response` is answered in-process, whatever its base offers.
    _native_capable: ClassVar[bool] = False

    def __init_subclass__(cls, *, native: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if native:
            cls._native_capable = True
        elif "response" in cls.__dict__:
            cls._native_capable = False

    @abstractmethod
    async def response(self, request: Request) -> StreamResponse:
        """The aiohttp response to `request`."""

    def _to_native(self) -> NativeResponse | None:
        """The native form of this response, or None when it must run in-process."""
        return None


def native_form(response: object) -> NativeResponse | None:
    """`response` as a native controlplane response, or None: answer it in-process."""
    if isinstance(response, BaseMockResponse):
        return response._to_native() if type(response)._native_capable else None
    return response  # type: ignore[return-value]  # already a native client response
