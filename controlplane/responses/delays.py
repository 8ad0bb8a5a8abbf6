"""Delays: a wire `Delay` compiled once into a zero-argument sampler of milliseconds.

The responder only *samples*; the mock handler sleeps, so a delayed answer never
holds the event loop and concurrent requests are served meanwhile. Every delay is at
most `wire.MAX_DELAY_MS`: the wire types refuse longer fixed and uniform ones, and a
lognormal sample beyond it is cut to it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import partial

from controlplane import wire

__all__ = ["DelaySampler", "compile_delay", "no_delay"]

DelaySampler = Callable[[], float]


def no_delay() -> float:
    """The sampler of a response without `delay`."""
    return 0.0


def _constant(value: float) -> DelaySampler:
    def sample() -> float:
        return value

    return sample


def compile_delay(delay: wire.Delay | None) -> DelaySampler:
    """Return a function giving one delay in ms per call (random ones differ per call)."""
    if delay is None:
        return no_delay
    if delay.fixed_ms is not None:
        return _constant(float(delay.fixed_ms)) if delay.fixed_ms else no_delay
    if delay.uniform_ms is not None:
        lo, hi = delay.uniform_ms
        return partial(random.uniform, float(lo), float(hi))
    lognormal = delay.lognormal
    # wire.Delay guarantees exactly one operator, so lognormal is set here.
    assert lognormal is not None
    if lognormal.median_ms == 0:
        # ln(0) is undefined; a zero median means every sample is zero.
        return no_delay
    # For a lognormal distribution the median is exp(mu), so mu = ln(median). With
    # median and sigma bounded (wire.LognormalDelay), exp() cannot overflow.
    mu, sigma = math.log(lognormal.median_ms), lognormal.sigma

    def sample() -> float:
        return min(random.lognormvariate(mu, sigma), _CAP)

    return sample


_CAP = float(wire.MAX_DELAY_MS)
