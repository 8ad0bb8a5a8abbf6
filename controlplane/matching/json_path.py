"""JSONPath as WireMock (Jayway) evaluates it, on top of jsonpath-ng's parser.

One difference from jsonpath-ng (which follows RFC 9535) matters to mappings written
for WireMock: a filter applied to an object tests **the object itself** (Jayway), not
each of its member values. `$.meta[?(@.gift == true)]` finds `meta` when `meta.gift`
is true; `$[?(@.total > 5)]` finds the whole body when its `total` exceeds 5. A filter
applied to an array tests each element, as before.
"""

from __future__ import annotations

from typing import Any

from jsonpath_ng import DatumInContext, JSONPath
from jsonpath_ng.ext.filter import Filter
from jsonpath_ng.ext.parser import parse as _parse

__all__ = ["compile_json_path"]


class _ObjectFilter(Filter):
    """A filter with Jayway's meaning on objects."""

    def find(self, datum: Any) -> list[DatumInContext]:
        datum = DatumInContext.wrap(datum)
        if isinstance(datum.value, dict):
            holds = all(expression.find(datum) for expression in self.expressions)
            return [datum] if holds else []
        return super().find(datum)


def _convert(node: Any, depth: int = 0) -> None:
    """Turn every `Filter` of a parsed path into an `_ObjectFilter`, in place."""
    if depth > 100:  # a parsed path is as deep as its text is long; bounded anyway
        return
    if isinstance(node, Filter):
        node.__class__ = _ObjectFilter
    children = node.__dict__.values() if hasattr(node, "__dict__") else ()
    for child in children:
        for item in child if isinstance(child, list | tuple) else (child,):
            if isinstance(item, JSONPath):
                _convert(item, depth + 1)


def compile_json_path(expression: str) -> Any:
    """A parsed JSONPath with Jayway's filter semantics; raises what jsonpath-ng raises."""
    path = _parse(expression)
    _convert(path)
    return path
