"""Side-effect counters on Redis (`--state`): `times`, scenarios and sequences, exact
across every process.

Matching stays in this process. When the winning route has a side effect that other
processes share (a `times` limit, a scenario it requires or moves, a `sequence`
response), `Counters.claim` asks Redis with one Lua script (`CLAIM`, by EVALSHA), which
atomically:

- refuses when the scenario is not in the required state (a missing field is `Started`);
- spends one of the route's `times` (`HINCRBY` of its `used` count) and refuses past
  the limit, leaving the count at the limit;
- moves the scenario to its new state;
- hands out the sequence's next turn (`HINCRBY`).

A refusal updates this process's view (the route is spent, the scenario is elsewhere)
and the request is matched again, at most `MAX_CLAIMS` times (then it is unmatched,
never served with a side effect Redis did not grant: `claim_contended`). A granted claim leaves the
local view one step before the request (`remaining` one above what Redis says is left,
the scenario in the state it was in, the sequence at its turn), so the mock handler's
usual `route.took()` and `responder.answer()` make that step as in memory mode.

A session with scenarios reads their states from Redis before matching (one HGETALL),
since a route's required state filters the lookup itself. Admin views read Redis first
(`refresh`), and admin writes change it (`ops`, queued and run after the handler):
setting or resetting scenarios, replacing or removing a route, registering a response.

Keys: `cp:{sid}:used` (route id -> times used), `cp:{sid}:scenarios` (name -> state),
`cp:{sid}:sequences` (handler -> turns handed out).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from controlplane import wire
from controlplane.cluster import Cluster
from controlplane.cluster.journal_stream import Script
from controlplane.logs import get_logger
from controlplane.matching import CompiledRoute, RouteTable
from controlplane.request_view import RequestView
from controlplane.responses import Responder
from controlplane.responses.sequence import SequenceResponder
from controlplane.scenarios import STARTED, Scenarios

__all__ = ["CLAIM", "MAX_CLAIMS", "Counters"]

_log = get_logger("cluster")

#: Matches tried per request when Redis refuses the winner (spent, scenario moved).
#: Each refusal means another request won meanwhile, so this many lost races in a
#: row take a pile of concurrent requests on one scenario or `times` route.
MAX_CLAIMS = 64
#: Seconds a claim may take before Redis counts as lost (this process's view decides,
#: and may spend a `times` another process spent: so only a Redis that is gone, not one
#: slowed by a loaded machine or a queue for the connection pool, should reach it; 1 s
#: was reached with 150 concurrent requests on a 2-core machine at load 8).
CLAIM_TIMEOUT_S = 5.0
#: Seconds claims skip Redis after it was lost, before they try it again.
RETRY_S = 0.5

# KEYS: used, scenarios, sequences. ARGV: route id, times limit or '', scenario name or
# '', required state or '', new state or '', sequence handler or ''.
# Returns {code, used, scenario state before, sequence turn}: code 0 granted, 1 the
# scenario is elsewhere, 2 the route is spent.
_CLAIM = """
local state = ''
if ARGV[3] ~= '' then
  state = redis.call('HGET', KEYS[2], ARGV[3]) or 'Started'
  if ARGV[4] ~= '' and state ~= ARGV[4] then return {1, 0, state, 0} end
end
local used = 0
if ARGV[2] ~= '' then
  used = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  if used > tonumber(ARGV[2]) then
    redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
    return {2, used - 1, state, 0}
  end
end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], ARGV[5]) end
local turn = 0
if ARGV[6] ~= '' then turn = redis.call('HINCRBY', KEYS[3], ARGV[6], 1) end
return {0, used, state, turn}
"""
CLAIM = Script(_CLAIM)

_Found = tuple[CompiledRoute, dict[str, str]] | None
Op = Callable[[Any], None]


def _claims(route: CompiledRoute, responses: Mapping[str, Responder]) -> bool:
    """Whether winning `route` has a side effect other processes share."""
    return (
        route.spec.times is not None
        or route.scenario is not None
        or isinstance(responses.get(route.handler), SequenceResponder)
    )


class Counters:
    """One session's shared side effects: claims on the mock port, views and resets for
    the admin API."""

    def __init__(
        self, session_id: str, client: aioredis.Redis, ops: Callable[[Op], object]
    ) -> None:
        self.session_id = session_id
        self._redis = client
        self._queue_op = ops
        self._used = Cluster.key(session_id, "used")
        self._scenarios = Cluster.key(session_id, "scenarios")
        self._sequences = Cluster.key(session_id, "sequences")
        self._keys = [self._used, self._scenarios, self._sequences]
        self._failing = False
        self._lost_until = 0.0

    async def claim(
        self,
        view: RequestView,
        found: _Found,
        routes: RouteTable,
        scenarios: Scenarios,
        responses: Mapping[str, Responder],
    ) -> _Found:
        """The route that wins `view` once Redis granted its side effects (None: none
        does). Redis lost: this process's view decides, as in memory mode."""
        if not scenarios and (found is None or not _claims(found[0], responses)):
            return found  # nothing shared to claim: no Redis, no timer
        if self._lost_until and time.monotonic() < self._lost_until:
            return found  # Redis lost a moment ago: this process's view decides
        try:
            async with asyncio.timeout(CLAIM_TIMEOUT_S):
                return await self._claim(view, found, routes, scenarios, responses)
        except (RedisError, OSError, TimeoutError) as exc:
            self._lost_until = time.monotonic() + RETRY_S
            if not self._failing:
                self._failing = True
                _log.warning(
                    "counters_unshared",
                    session=self.session_id,
                    error=str(exc) or type(exc).__name__,
                    message="Redis does not answer: times, scenarios and sequences count "
                    "in this process until it does",
                )
            return found

    async def _claim(
        self,
        view: RequestView,
        found: _Found,
        routes: RouteTable,
        scenarios: Scenarios,
        responses: Mapping[str, Responder],
    ) -> _Found:
        if scenarios:
            await self._pull_scenarios(scenarios)
            found = routes.find(view)
        for _ in range(MAX_CLAIMS):
            if found is None:
                return None
            route = found[0]
            if not _claims(route, responses):
                return found
            scenario = route.scenario
            responder = responses.get(route.handler)
            sequence = responder if isinstance(responder, SequenceResponder) else None
            spec = route.spec.scenario
            required = spec.required_state if isinstance(spec, wire.Scenario) else None
            code, used, state, turn = await CLAIM.run(
                self._redis,
                self._keys,
                [
                    route.id,
                    "" if route.spec.times is None else route.spec.times,
                    "" if scenario is None else scenario.name,
                    required or "",
                    route.new_state or "",
                    "" if sequence is None else route.handler,
                ],
            )
            if scenario is not None:
                scenario.state = state.decode()
            if route.spec.times is not None:
                # Granted: one above what is left, for `took()` to spend.
                left = route.spec.times - used
                route.remaining = left + 1 if code == 0 else max(left, 0)
            if code == 0:
                if sequence is not None:
                    sequence.seek(turn - 1)
                self._recovered()
                return found
            found = routes.find(view)
        if found is None or not _claims(found[0], responses):
            return found
        # Never serve a side effect Redis did not grant: answer as if no route matched.
        _log.warning(
            "claim_contended", session=self.session_id, route=found[0].id, tries=MAX_CLAIMS
        )
        return None

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            _log.info("counters_shared", session=self.session_id)

    async def _pull_scenarios(self, scenarios: Scenarios) -> None:
        states: dict[bytes, bytes] = await self._redis.hgetall(self._scenarios)  # type: ignore[misc]
        for slot in scenarios:
            slot.state = states.get(slot.name.encode(), b"").decode() or STARTED

    async def refresh(self, routes: RouteTable, scenarios: Scenarios) -> None:
        """This process's view of times left and scenario states, from Redis."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._used)
            pipe.hgetall(self._scenarios)
            used, states = await pipe.execute()
        for route in routes:
            times = route.spec.times
            if times is not None:
                route.remaining = max(times - int(used.get(route.id.encode(), 0)), 0)
        for slot in scenarios:
            slot.state = states.get(slot.name.encode(), b"").decode() or STARTED

    # ---------------------------------------------------------------- admin writes

    def route_installed(self, route: CompiledRoute, responder: Responder | None) -> None:
        """A new or replaced route starts with all its `times`, a new sequence at its
        first response."""
        if route.spec.times is not None:
            self._queue_op(lambda pipe: pipe.hdel(self._used, route.id))
        if isinstance(responder, SequenceResponder):
            self.response_registered(route.handler)

    def route_removed(self, route_id: str) -> None:
        self._queue_op(lambda pipe: pipe.hdel(self._used, route_id))

    def response_registered(self, handler: str) -> None:
        self._queue_op(lambda pipe: pipe.hdel(self._sequences, handler))

    def scenario_set(self, name: str, state: str) -> None:
        if state == STARTED:
            self._queue_op(lambda pipe: pipe.hdel(self._scenarios, name))
        else:
            self._queue_op(lambda pipe: pipe.hset(self._scenarios, name, state))

    def scenarios_forgotten(self, names: list[str]) -> None:
        """No route names these scenarios any more: their states go."""
        self._queue_op(lambda pipe: pipe.hdel(self._scenarios, *names))

    def scenarios_reset(self) -> None:
        self._queue_op(lambda pipe: pipe.delete(self._scenarios))

    def cleared(self) -> None:
        """Every route gone: every count and state with them."""
        self._queue_op(lambda pipe: pipe.delete(*self._keys))
