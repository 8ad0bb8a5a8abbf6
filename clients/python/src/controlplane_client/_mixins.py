"""Helpers mixed into the generated `RecordedRequest` (properties over its wire fields)."""

from __future__ import annotations

import base64

__all__ = ["RecordedRequestMixin"]


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
