"""TOML through msgspec (datetimes as TOML date-times).

asyncly used the `toml` package; msgspec writes the same documents (a datetime as
`2025-01-02 12:15:00`, which TOML readers parse alike) and is already a dependency.
"""

from __future__ import annotations

from typing import Final

import msgspec

from controlplane.srvmocker.serialization.base import Serializer

__all__ = ["TomlSerializer"]

TomlSerializer: Final = Serializer(dumps=msgspec.toml.encode, content_type="application/toml")
