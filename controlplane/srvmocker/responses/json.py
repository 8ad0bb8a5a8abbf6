"""`JsonResponse`: `body` as JSON, `application/json`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.srvmocker.responses.content import FormatResponse
from controlplane.srvmocker.serialization.json import JsonSerializer

if TYPE_CHECKING:
    from controlplane_client import AnyResponse as NativeResponse

__all__ = ["JsonResponse"]


class JsonResponse(FormatResponse, native=True):
    """`body` as JSON, `application/json`.

    Registered as the server's own `json` response, so the admin API shows the body as
    JSON; a body JSON cannot carry (a `datetime`) is refused by `register`, where
    asyncly's `json.dumps` would fail on the first request instead.
    """

    serializer = JsonSerializer

    def _to_native(self) -> NativeResponse | None:
        import controlplane_client as native

        return native.JsonResponse(self.body, status=self.status, headers=dict(self.headers or {}))
