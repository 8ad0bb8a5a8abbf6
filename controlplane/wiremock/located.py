"""Locations in a mapping as the client sent it, and wire structs built with them.

Every error of the dialect is an `InvalidInput` located in the mapping
(`$.request.bodyPatterns[0].equalToJson`); these helpers build such locations and
turn a wire struct's own checks into errors at them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

from controlplane.admin.decoding import Step, leading_steps, render_location
from controlplane.errors import InvalidInput

__all__ = ["build", "key"]

_T = TypeVar("_T")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def key(location: str, name: str) -> str:
    if _IDENT.fullmatch(name):
        return f"{location}.{name}"
    return f"{location}[{msgspec.json.encode(name).decode()}]"


def build(
    location: str,
    make: Callable[..., _T],
    names: Mapping[tuple[Step, ...], str] | None = None,
    /,
    **fields: Any,
) -> _T:
    """Construct a wire struct; its own checks (a bad regex) are reported at `location`.

    With `names` (native location steps -> the mapping's name for them), a check that
    names what it is about (`headers["Content-Length"]`, `uniform_ms[1]`) points at
    that place in the mapping, in the mapping's words (longest known prefix renamed).
    """
    try:
        return make(**fields)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        steps = leading_steps(message) if names is not None else []
        for size in range(len(steps), 0, -1):
            if names is not None and (known := names.get(tuple(steps[:size]))) is not None:
                location = render_location([known, *steps[size:]], location)
                break
        raise InvalidInput(message, location=location) from None
