"""Short builders over the generated shapes: string matchers, delays, latency.

Route(method="GET", path="/users/{id}", handler="get_user",
      match=Match(headers={"X-Tenant": "a"}, query={"debug": absent()}),
      response=JsonResponse({"id": 7}, delay=fixed_delay(50)))
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from controlplane_client._shapes import (
    AnyResponse,
    Delay,
    LognormalDelay,
    StringMatcher,
    StringMatcherSpec,
)

__all__ = [
    "LatencyResponse",
    "absent",
    "all_of",
    "any_of",
    "contains",
    "ends_with",
    "equals",
    "fixed_delay",
    "lognormal_delay",
    "matches",
    "not_",
    "not_contains",
    "not_matches",
    "starts_with",
    "uniform_delay",
]

R = TypeVar("R", bound=AnyResponse)


def equals(value: str, *, case_insensitive: bool = False) -> StringMatcher:
    """The value equals `value` (a bare string in a Match means the same)."""
    return StringMatcher(equals=value, case_insensitive=case_insensitive)


def contains(value: str) -> StringMatcher:
    return StringMatcher(contains=value)


def not_contains(value: str) -> StringMatcher:
    """The value is present and does not contain `value`."""
    return StringMatcher(not_contains=value)


def starts_with(value: str) -> StringMatcher:
    return StringMatcher(starts_with=value)


def ends_with(value: str) -> StringMatcher:
    return StringMatcher(ends_with=value)


def matches(pattern: str) -> StringMatcher:
    """The whole value matches the regular expression `pattern`."""
    return StringMatcher(matches=pattern)


def not_matches(pattern: str) -> StringMatcher:
    return StringMatcher(not_matches=pattern)


def absent() -> StringMatcher:
    """The value is missing."""
    return StringMatcher(absent=True)


def any_of(*matchers: StringMatcherSpec) -> StringMatcher:
    return StringMatcher(any_of=list(matchers))


def all_of(*matchers: StringMatcherSpec) -> StringMatcher:
    return StringMatcher(all_of=list(matchers))


def not_(matcher: StringMatcherSpec) -> StringMatcher:
    """Inverts `matcher` (a missing value passes `not_(contains(...))`)."""
    return StringMatcher(not_=matcher)


def fixed_delay(ms: float) -> Delay:
    return Delay(fixed_ms=ms)


def uniform_delay(lo_ms: float, hi_ms: float) -> Delay:
    return Delay(uniform_ms=(lo_ms, hi_ms))


def lognormal_delay(median_ms: float, sigma: float) -> Delay:
    return Delay(lognormal=LognormalDelay(median_ms=median_ms, sigma=sigma))


def LatencyResponse(response: R, latency: float) -> R:
    """`response`, answered after `latency` seconds (asyncly's wrapper, as a delay)."""
    return dataclasses.replace(response, delay=fixed_delay(latency * 1000))
