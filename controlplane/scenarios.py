"""Scenarios: named state machines that routes consult and advance, per session.

A scenario starts in `Started`. A route with `scenario.required_state` matches only
while its scenario is in that state; a winning route with `scenario.new_state` moves
it there. The check is one of the route's conditions and the move happens in the mock
handler right after the lookup, with no `await` in between: the event loop serves one
request at a time, so no request ever sees a half-made transition, and of many
concurrent requests racing for one transition exactly one makes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from controlplane import wire
from controlplane.errors import NotFound

__all__ = ["STARTED", "ScenarioSlot", "Scenarios"]

STARTED = "Started"


class ScenarioSlot:
    """The current state of one scenario; routes hold the slot itself, not its name."""

    __slots__ = ("name", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = STARTED

    def __repr__(self) -> str:
        return f"<ScenarioSlot {self.name!r}: {self.state!r}>"


class Scenarios:
    """The scenarios of one session, by name."""

    def __init__(self) -> None:
        self._slots: dict[str, ScenarioSlot] = {}

    def slot(self, name: str) -> ScenarioSlot:
        """The slot of `name`, created in `Started` when new."""
        found = self._slots.get(name)
        if found is None:
            found = self._slots[name] = ScenarioSlot(name)
        return found

    def __iter__(self) -> Iterator[ScenarioSlot]:
        return iter(self._slots.values())

    def __len__(self) -> int:
        return len(self._slots)

    def require(self, name: str) -> ScenarioSlot:
        found = self._slots.get(name)
        if found is None:
            known = ", ".join(repr(n) for n in sorted(self._slots)) or "none"
            raise NotFound(f"no scenario {name!r} in this session (known scenarios: {known})")
        return found

    def reset(self) -> None:
        """Every scenario back to `Started`."""
        for found in self._slots.values():
            found.state = STARTED

    def keep_only(self, names: Iterable[str]) -> list[str]:
        """Forget the scenarios no route names any more; the names forgotten."""
        wanted = set(names)
        forgotten = [n for n in self._slots if n not in wanted]
        for name in forgotten:
            del self._slots[name]
        return forgotten

    def describe(self, routes: Iterable[tuple[str, wire.Scenario]]) -> list[wire.ScenarioInfo]:
        """Each scenario with its possible states and routes, given (route id, scenario)."""
        states: dict[str, list[str]] = {name: [STARTED] for name in self._slots}
        route_ids: dict[str, list[str]] = {name: [] for name in self._slots}
        for route_id, scenario in routes:
            if scenario.name not in states:
                continue
            route_ids[scenario.name].append(route_id)
            for state in (scenario.required_state, scenario.new_state):
                if state is not None and state not in states[scenario.name]:
                    states[scenario.name].append(state)
        return [
            wire.ScenarioInfo(
                name=slot.name,
                state=slot.state,
                possible_states=states[slot.name],
                route_ids=route_ids[slot.name],
            )
            for slot in sorted(self._slots.values(), key=lambda s: s.name)
        ]
