"""`TomlResponse`: `body` (a table) as TOML, `application/toml`."""

from __future__ import annotations

from controlplane.srvmocker.responses.content import FormatResponse
from controlplane.srvmocker.serialization.toml import TomlSerializer

__all__ = ["TomlResponse"]


class TomlResponse(FormatResponse, native=True):
    """`body` (a table) as TOML, `application/toml`.

    Encoded when registered, by the format's serializer:
    msgspec writes a datetime as a TOML date-time.
    """

    serializer = TomlSerializer
