"""`MsgpackResponse`: `body` as MessagePack, `application/msgpack`."""

from __future__ import annotations

from controlplane.srvmocker.responses.content import FormatResponse
from controlplane.srvmocker.serialization.msgpack import MsgpackSerializer

__all__ = ["MsgpackResponse"]


class MsgpackResponse(FormatResponse, native=True):
    """`body` as MessagePack, `application/msgpack`.

    Encoded when registered, by the format's serializer:
    msgspec writes a naive datetime as an ISO 8601 string, an aware one as a timestamp.
    """

    serializer = MsgpackSerializer
