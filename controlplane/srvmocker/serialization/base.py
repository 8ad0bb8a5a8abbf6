"""`Serializer`: how a `ContentResponse` turns its body into bytes, and its content type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Serializer"]


@dataclass(frozen=True)
class Serializer:
    """`dumps(body)` gives the bytes (or text) sent; `content_type` labels them."""

    dumps: Callable[[Any], str | bytes]
    content_type: str
