"""What every match condition is (`Check`) and how conditions show values to a person."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from controlplane import wire
from controlplane.request_view import NOT_JSON, RequestView

__all__ = [
    "ABSENT",
    "Check",
    "clip",
    "json_text",
    "show_body",
    "show_json_body",
    "show_values",
]

ABSENT = "<absent>"
_CLIP = 300
_encode = msgspec.json.encode


def clip(text: str) -> str:
    return text if len(text) <= _CLIP else text[:_CLIP] + "…"


def json_text(value: Any) -> str:
    return _encode(value).decode()


def show_values(values: Sequence[str]) -> str:
    if not values:
        return ABSENT
    if len(values) == 1:
        return clip(values[0])
    return clip(json_text(list(values)))


def show_body(view: RequestView) -> str:
    if not view.body:
        return ABSENT
    text = view.text
    if text is None:
        return f"<{len(view.body)} bytes, not UTF-8>"
    return clip(text)


def show_json_body(view: RequestView) -> str:
    data = view.json
    if data is NOT_JSON:
        return ABSENT if not view.body else f"<not JSON> {show_body(view)}"
    return clip(json_text(data))


class Check:
    """One condition: `__call__` decides, `actual` describes what the request had."""

    __slots__ = ("expected", "field")

    #: Lower runs first in the hot path.
    cost = 0
    #: Near misses: a condition on the path itself (`path_params`) says nothing more
    #: once the path has failed, so it is not judged then.
    reads_path = False
    #: Near misses: the literal text of a `url` condition, which locates the request
    #: like a path does (None for every other condition).
    skeleton: str | None = None
    field: str
    expected: str

    def __call__(self, view: RequestView) -> bool:
        raise NotImplementedError

    def actual(self, view: RequestView) -> str:
        raise NotImplementedError

    def holds_at(self, view: RequestView, path: str) -> bool:
        """Whether the check holds had `view` been sent to `path` (near misses)."""
        return self(view)  # conditions other than `url` and `path_params` ignore the path

    def describe(self, view: RequestView) -> wire.Diff:
        """The difference, as shown to a person (whether or not the check holds)."""
        return wire.Diff(field=self.field, expected=self.expected, actual=self.actual(view))

    def diff(self, view: RequestView) -> wire.Diff | None:
        return None if self(view) else self.describe(view)
