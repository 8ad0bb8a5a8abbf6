"""A route compiled for matching: its path pattern, method and conditions, built once."""

from __future__ import annotations

from controlplane import wire
from controlplane.matching.conditions import CompiledMatch, compile_match
from controlplane.matching.paths import PathPattern, compile_path

__all__ = ["CompiledRoute", "compile_route"]


class CompiledRoute:
    """One route ready for lookup; candidates are tried by `key` = (priority, order)."""

    __slots__ = (
        "conditions",
        "handler",
        "id",
        "key",
        "method",
        "order",
        "pattern",
        "priority",
        "remaining",
        "spec",
    )

    def __init__(self, spec: wire.Route, order: int) -> None:
        if spec.id is None:
            raise ValueError("a route needs an id before it is compiled")
        self.spec = spec
        self.id: str = spec.id
        self.handler = spec.handler
        #: None matches any method (declared as "*").
        self.method: str | None = None if spec.method == "*" else spec.method.upper()
        self.pattern: PathPattern = compile_path(spec.path, spec.path_regex)
        self.conditions: CompiledMatch | None = compile_match(spec.match)
        self.priority = spec.priority
        self.order = order
        self.key = (spec.priority, order)
        #: Times left: None is unlimited, 0 is used up (the route no longer matches).
        self.remaining: int | None = spec.times

    def __repr__(self) -> str:
        method = self.method or "*"
        return f"<CompiledRoute {self.id} {method} {self.pattern.source} -> {self.handler}>"


def compile_route(spec: wire.Route, order: int) -> CompiledRoute:
    """Compile `spec` (whose `id` is set); `order` breaks ties within a priority, lower first."""
    return CompiledRoute(spec, order)
