"""Helpers mixed into generated shapes (methods over their wire fields, no new state)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controlplane_client._shapes import RecordedRequest

__all__ = ["CallListMixin", "RecordedRequestMixin"]


class RecordedRequestMixin:
    """Conveniences of a recorded call: its bytes and its headers by name."""

    # Declared for the type checker; the generated dataclass holds the values.
    body_base64: str
    headers: list[tuple[str, str]]

    @property
    def content(self) -> bytes:
        """The body's bytes, exactly as received."""
        return base64.b64decode(self.body_base64)

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]


class CallListMixin:
    """A handler's calls as a sequence: `for call in client.calls("h")`, `len()`, `[i]`.

    `.calls` (the list) and `.evicted` (how many earlier calls the journal dropped)
    stay available.
    """

    calls: list[RecordedRequest]

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.calls)

    def __len__(self) -> int:
        return len(self.calls)

    def __getitem__(self, index: int) -> RecordedRequest:
        return self.calls[index]
