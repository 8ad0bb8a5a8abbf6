"""`Match`: the conditions that pick one of several routes sharing a method and path."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from controlplane_client import Match as NativeMatch

__all__ = ["Match"]


@dataclass(frozen=True)
class Match:
    """All set fields must hold for the route to win.

    - `json`: the body, parsed as JSON, equals this value exactly;
    - `body`: the raw body bytes equal these exactly;
    - `headers`: every name/value is present (names case-insensitive, values exact);
    - `query`: every name/value is present. Unlike asyncly, which looked at a repeated
      parameter's first value only, any of its values may equal.

    `headers` and `query` are copied at construction, so later changes to the dicts
    passed in do not change the match.
    """

    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] | None = None
    query: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.headers is not None:
            object.__setattr__(self, "headers", dict(self.headers))
        if self.query is not None:
            object.__setattr__(self, "query", dict(self.query))

    def to_native(self) -> NativeMatch:
        """This match as the server's route conditions."""
        import controlplane_client as native

        return native.Match(
            json=self.json if self.json is not None else native.UNSET,
            body_base64=base64.b64encode(self.body).decode() if self.body is not None else None,
            headers=dict(self.headers) if self.headers else None,
            query=dict(self.query) if self.query else None,
        )
