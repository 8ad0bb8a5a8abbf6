"""MessagePack through msgspec (datetimes and other msgspec types included), as asyncly."""

from __future__ import annotations

from typing import Final

import msgspec

from controlplane.srvmocker.serialization.base import Serializer

__all__ = ["MsgpackSerializer"]

MsgpackSerializer: Final = Serializer(
    dumps=msgspec.msgpack.encode, content_type="application/msgpack"
)
