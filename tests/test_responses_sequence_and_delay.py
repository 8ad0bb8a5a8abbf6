"""Sequences (raise, cycle, last, nested) and delays (fixed, uniform, lognormal)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

import aiohttp
import httpx
import pytest

from controlplane.responses import Outcome
from tests.responses_support import responder_for, serve, view


def _json(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "json", "body": value, **extra}


def _sequence(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "sequence", "responses": list(items), **extra}


async def _bodies(url: str, n: int) -> list[Any]:
    async with httpx.AsyncClient() as client:
        return [(await client.get(url)).json() for _ in range(n)]


async def test_sequence_answers_in_order_then_raises_a_clear_500() -> None:
    async with serve(_sequence(_json("a"), _json("b"))) as srv, httpx.AsyncClient() as client:
        answers = [await client.get(srv.url) for _ in range(4)]
        journal = await srv.journal()
    assert [a.json() for a in answers[:2]] == ["a", "b"]
    for exhausted in answers[2:]:
        assert exhausted.status_code == 500
        error = exhausted.json()["error"]
        assert error["code"] == "sequence_exhausted"
        assert "exhausted after 2 responses; register" in error["message"]
    assert [(r["status"], r["type"], r["error"]) for r in journal] == [
        (200, "json", None),
        (200, "json", None),
        (500, "sequence", "sequence_exhausted"),
        (500, "sequence", "sequence_exhausted"),
    ]


async def test_sequence_cycles_after_last_response() -> None:
    async with serve(_sequence(_json(1), _json(2), _json(3), on_exhausted="cycle")) as srv:
        assert await _bodies(srv.url, 7) == [1, 2, 3, 1, 2, 3, 1]


async def test_sequence_repeats_last_response_when_exhausted_is_last() -> None:
    async with serve(_sequence(_json(1), _json(2), on_exhausted="last")) as srv:
        assert await _bodies(srv.url, 5) == [1, 2, 2, 2, 2]


async def test_sequence_reports_the_type_of_the_item_it_served() -> None:
    spec = _sequence(
        _json(1), {"type": "raw", "body": "x"}, {"type": "yaml", "body": [1]}, _json(2, status=404)
    )
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        statuses = [(await client.get(srv.url)).status_code for _ in range(4)]
        journal = await srv.journal()
    assert statuses == [200, 200, 200, 404]
    assert [(r["status"], r["type"]) for r in journal] == [
        (200, "json"),
        (200, "raw"),
        (200, "yaml"),
        (404, "json"),
    ]


async def test_nested_sequence_is_one_position_that_remembers_its_place() -> None:
    inner = _sequence(_json("b"), _json("c"), on_exhausted="cycle")
    async with serve(_sequence(_json("A"), inner, on_exhausted="cycle")) as srv:
        assert await _bodies(srv.url, 7) == ["A", "b", "A", "c", "A", "b", "A"]


async def test_nested_sequence_as_last_item_keeps_cycling_once_outer_is_exhausted() -> None:
    inner = _sequence(_json("x"), _json("y"), on_exhausted="cycle")
    async with serve(_sequence(_json("setup"), inner, on_exhausted="last")) as srv:
        assert await _bodies(srv.url, 6) == ["setup", "x", "y", "x", "y", "x"]


async def _journal_of(spec: dict[str, Any], requests: int) -> list[dict[str, Any]]:
    """What the journal records for `requests` GETs answered by `spec`."""
    async with serve(spec) as srv, aiohttp.ClientSession() as client:
        for _ in range(requests):
            async with client.get(srv.url) as answer:
                await answer.read()
        return await srv.journal()


async def test_exhausted_inner_sequence_answers_its_own_exhaustion_error() -> None:
    inner = _sequence(_json("only"))
    first, second = await _journal_of(_sequence(inner, on_exhausted="last"), 2)
    assert (first["status"], first["error"]) == (200, None)
    assert (second["status"], second["type"], second["error"]) == (
        500,
        "sequence",
        "sequence_exhausted",
    )


async def test_registering_a_sequence_again_starts_from_the_first_response() -> None:
    spec = _sequence(_json(1), _json(2))
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        for _ in range(3):
            await client.get(srv.url)
        await srv.register(spec)
        fresh = await client.get(srv.url)
        journal = await srv.journal()
    assert journal[2]["error"] == "sequence_exhausted"
    assert (fresh.status_code, fresh.json()) == (200, 1)


async def test_sequence_delay_adds_to_the_item_delay() -> None:
    spec = _sequence(
        _json(1, delay={"fixed_ms": 5}),
        _json(2),
        delay={"fixed_ms": 10},
    )
    journal = await _journal_of(spec, 3)
    assert [r["delay_ms"] for r in journal] == [15.0, 10.0, 10.0]


@pytest.mark.parametrize("spec", [_json(1), _json(1, delay={"fixed_ms": 0})], ids=["none", "0ms"])
async def test_undelayed_response_has_zero_delay(spec: dict[str, Any]) -> None:
    [entry] = await _journal_of(spec, 1)
    assert entry["delay_ms"] == 0.0


async def test_fixed_delay_holds_the_response_at_least_that_long() -> None:
    async with serve(_json("late", delay={"fixed_ms": 200})) as srv, httpx.AsyncClient() as client:
        await client.get(srv.url)  # connect once so the timing below is the delay alone
        started = time.monotonic()
        answer = await client.get(srv.url)
        elapsed = time.monotonic() - started
        journal = await srv.journal()
    assert answer.json() == "late"
    assert elapsed >= 0.19
    assert journal[-1]["delay_ms"] == 200.0


async def test_delayed_response_does_not_block_a_concurrent_undelayed_one() -> None:
    spec = _sequence(_json("slow", delay={"fixed_ms": 600}), _json("fast"))
    async with serve(spec) as srv, httpx.AsyncClient() as client:
        slow = asyncio.create_task(client.get(srv.url))
        # Wait until the server has journaled the delayed answer, so "fast" is second.
        async with asyncio.timeout(10):
            while not await srv.journal():
                await asyncio.sleep(0.005)
        fast = await client.get(srv.url)
        assert fast.json() == "fast"
        assert not slow.done()
        assert (await slow).json() == "slow"


@pytest.mark.parametrize(("lo", "hi"), [(10.0, 50.0), (0.0, 0.5), (7.0, 7.0)])
def test_uniform_delay_samples_stay_within_bounds(lo: float, hi: float) -> None:
    responder = responder_for(_json(1, delay={"uniform_ms": [lo, hi]}))
    samples = [responder.answer(view()).delay_ms for _ in range(2000)]
    assert all(lo <= s <= hi for s in samples)
    if hi > lo:
        assert len(set(samples)) > 1000  # sampled per answer, not once


def test_lognormal_delay_is_positive_with_the_given_median() -> None:
    random.seed(1234)
    spec = _json(1, delay={"lognormal": {"median_ms": 80, "sigma": 0.5}})
    responder = responder_for(spec)
    samples = [responder.answer(view()).delay_ms for _ in range(4001)]
    assert all(s > 0 for s in samples)
    assert 70 < statistics.median(samples) < 90
    assert max(samples) > 80 * 1.5  # a real spread, not a constant


def test_lognormal_delay_with_zero_median_is_no_delay() -> None:
    spec = _json(1, delay={"lognormal": {"median_ms": 0, "sigma": 1}})
    assert responder_for(spec).answer(view()).delay_ms == 0.0


def test_outcome_repr_shows_what_the_journal_records() -> None:
    outcome = responder_for(_json(1, status=201, delay={"fixed_ms": 3})).answer(view())
    assert isinstance(outcome, Outcome)
    assert repr(outcome) == "Outcome(status=201, type='json', delay_ms=3.0, error=None)"
