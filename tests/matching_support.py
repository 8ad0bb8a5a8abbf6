"""Builders for the matching unit tests: requests, routes and tables without a server."""

from __future__ import annotations

from typing import Any

import msgspec
from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching import CompiledRoute, RouteTable, compile_route
from controlplane.request_view import RequestView


def view(
    method: str, path: str, *, headers: list[tuple[str, str]] | None = None, json: Any = wire.UNSET
) -> RequestView:
    """A request as the mock port would see it; `json` becomes the body when given."""
    body = b"" if json is wire.UNSET else msgspec.json.encode(json)
    return RequestView(method, path, "", CIMultiDict(headers or []), body)


def route(id: str, order: int, *, method: str = "GET", **fields: Any) -> CompiledRoute:
    """A compiled route from wire fields; the handler defaults to `h-{id}`."""
    fields.setdefault("handler", f"h-{id}")
    spec = msgspec.convert({"id": id, "method": method, **fields}, wire.Route)
    return compile_route(spec, order)


def table(*routes: CompiledRoute) -> RouteTable:
    t = RouteTable()
    for r in routes:
        t.add(r)
    return t
