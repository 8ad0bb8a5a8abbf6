"""`SequenceResponse`: a different response on each call, in order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from aiohttp import web

from controlplane.srvmocker.exceptions import SequenceExhausted
from controlplane.srvmocker.responses.base import BaseMockResponse, native_form

if TYPE_CHECKING:
    from controlplane_client import AnyResponse as NativeResponse

__all__ = ["OnExhausted", "SequenceResponse"]

OnExhausted = Literal["raise", "cycle", "last"]


class SequenceResponse(BaseMockResponse, native=True):
    """Each response in turn; after the last, `on_exhausted` decides.

    - `"raise"` (default): the next call raises `SequenceExhausted` (through the
      server: a 500);
    - `"cycle"`: start over from the first;
    - `"last"`: keep answering the last.

    An empty list raises `ValueError` at once. When every item has a native form the
    server runs the sequence; otherwise the whole sequence runs in-process.
    """

    def __init__(
        self, responses: Iterable[BaseMockResponse], on_exhausted: OnExhausted = "raise"
    ) -> None:
        self.responses: list[BaseMockResponse] = list(responses)
        if not self.responses:
            raise ValueError("SequenceResponse requires at least one response")
        self.on_exhausted: OnExhausted = on_exhausted
        self._index = 0

    def __repr__(self) -> str:
        return f"SequenceResponse({self.responses!r}, on_exhausted={self.on_exhausted!r})"

    async def response(self, request: web.Request) -> web.StreamResponse:
        return await self._pick().response(request)

    def _pick(self) -> BaseMockResponse:
        count = len(self.responses)
        if self._index < count:
            picked = self.responses[self._index]
            self._index += 1
            return picked
        if self.on_exhausted == "raise":
            raise SequenceExhausted(f"SequenceResponse exhausted after {count} response(s)")
        if self.on_exhausted == "cycle":
            picked = self.responses[self._index % count]
            self._index += 1
            return picked
        return self.responses[-1]

    def _to_native(self) -> NativeResponse | None:
        import controlplane_client as native

        items = [native_form(item) for item in self.responses]
        if any(item is None for item in items):
            return None
        return native.SequenceResponse(
            [item for item in items if item is not None], on_exhausted=self.on_exhausted
        )
