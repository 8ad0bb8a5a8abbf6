"""A route compiled for matching: its path pattern, method and conditions, built once."""

from __future__ import annotations

from controlplane import wire
from controlplane.matching.checks import Check
from controlplane.matching.conditions import CompiledMatch, compile_match
from controlplane.matching.paths import PathPattern, compile_path
from controlplane.request_view import RequestView
from controlplane.scenarios import ScenarioSlot

__all__ = ["CompiledRoute", "compile_route"]


class _ScenarioState(Check):
    """The route's scenario is in its required state (checked before anything else)."""

    __slots__ = ("_required", "_slot")
    cost = -1

    def __init__(self, slot: ScenarioSlot, required: str) -> None:
        self.field = f"scenario {slot.name}"
        self.expected = f"state {required!r}"
        self._slot = slot
        self._required = required

    def __call__(self, view: RequestView) -> bool:
        return self._slot.state == self._required

    def actual(self, view: RequestView) -> str:
        return f"state {self._slot.state!r}"


class CompiledRoute:
    """One route ready for lookup; candidates are tried by `key` = (priority, order)."""

    __slots__ = (
        "_checks",
        "_remembered",
        "conditions",
        "effects",
        "handler",
        "id",
        "id_header",
        "key",
        "method",
        "new_state",
        "order",
        "pattern",
        "remaining",
        "scenario",
        "spec",
    )

    def __init__(self, spec: wire.Route, order: int, scenario: ScenarioSlot | None = None) -> None:
        if spec.id is None:
            raise ValueError("a route needs an id before it is compiled")
        scenario_spec = spec.scenario if isinstance(spec.scenario, wire.Scenario) else None
        if (scenario_spec is None) != (scenario is None):
            raise ValueError("a route with a scenario is compiled with its scenario's slot")
        self.spec = spec
        self.id: str = spec.id
        self.handler = spec.handler
        #: None matches any method (declared as "*").
        self.method: str | None = None if spec.method == "*" else spec.method.upper()
        self.pattern: PathPattern = compile_path(spec.path, spec.path_regex)
        extra: list[Check] = []
        required = None if scenario_spec is None else scenario_spec.required_state
        if scenario is not None and required is not None:
            extra.append(_ScenarioState(scenario, required))
        self.conditions: CompiledMatch | None = compile_match(spec.match, self.pattern, extra)
        #: The conditions cheapest first, as `accepts` runs them: their bound `__call__`s,
        #: which Python calls directly (calling the instance looks `__call__` up on its
        #: type and builds an argument tuple each time: about 40% more per check).
        self._checks = tuple(
            check.__call__
            for check in (() if self.conditions is None else self.conditions.in_cost_order)
        )
        #: What the last request all of them held for sent, when that decides them.
        self._remembered = None if self.conditions is None else self.conditions.remembered
        self.order = order
        self.key = (spec.priority, order)
        #: Times left: None is unlimited, 0 is used up (the route no longer matches).
        self.remaining: int | None = spec.times
        self.scenario = scenario
        self.new_state = None if scenario_spec is None else scenario_spec.new_state
        self.id_header = spec.id_header if isinstance(spec.id_header, str) else None
        #: Whether winning has side effects (`took` must run): false for most routes,
        #: so the hot path pays one attribute test for all of these features.
        self.effects = (
            spec.times is not None or self.new_state is not None or self.id_header is not None
        )

    def match(self, view: RequestView) -> dict[str, str] | None:
        """The path params when this route matches `view`, else None.

        The one definition of "matches", for the mock port (`RouteTable.find`), the
        WireMock dialect's journal queries and, through `near_miss.assess` reporting no
        diffs exactly then, the near misses: everything `accepts` checks, and the path.
        """
        return self.pattern.match(view.path) if self.accepts(view) else None

    def accepts(self, view: RequestView) -> bool:
        """Whether `view` matches all but the path: the method (unless `*`), `times`
        left, every condition. `RouteTable.find` calls it for routes its index found by
        path, with the params the index read while finding them. A request sending what
        the last one that all conditions held for sent holds without asking them
        (`conditions.Remembered`: only routes whose conditions that decides)."""
        if self.remaining == 0 or (self.method is not None and self.method != view.method):
            return False
        kept = self._remembered
        if kept is not None and view.body == kept.body and view.query_string == kept.query:
            headers = view.headers
            for name, first in kept.firsts:
                if headers.get(name) != first:
                    break
            else:
                return True  # what the last request they all held for sent
        for holds in self._checks:
            if not holds(view):
                return False
        if kept is not None:
            # Kept when the same body comes twice in a row: a body sent once costs this.
            if view.body == kept.last:
                kept.keep(view)
            else:
                kept.last = view.body
        return True

    def took(self) -> None:
        """This route won a request: spend one of its `times`, move its scenario."""
        if self.remaining is not None:
            self.remaining -= 1
        if self.new_state is not None and self.scenario is not None:
            self.scenario.state = self.new_state

    def __repr__(self) -> str:
        method = self.method or "*"
        return f"<CompiledRoute {self.id} {method} {self.pattern.source} -> {self.handler}>"


def compile_route(
    spec: wire.Route, order: int, scenario: ScenarioSlot | None = None
) -> CompiledRoute:
    """Compile `spec` (whose `id` is set); `order` breaks ties within a priority, lower first.

    A route with a `scenario` needs that scenario's slot (from `Scenarios.slot`).
    """
    return CompiledRoute(spec, order, scenario)
