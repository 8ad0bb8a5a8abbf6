"""`serve --state` when things fail: a worker killed mid-load, Redis lost and back."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
import redis
import requests

from tests.process import ServerProcess
from tests.redis_support import redis_server, redis_url
from tests.shared_support import OwnRedis, prepare, serve_many, wait_until

__all__ = ["redis_server", "redis_url"]

ROUTES = [
    {
        "id": "r",
        "method": "GET",
        "path": "/r/{n}",
        "handler": "r",
        "response": {"type": "raw", "body": "ok"},
    }
]


async def _load_until_killed(url: str, kill: asyncio.Event, total: int) -> list[str]:
    """Send `total` requests (/r/0, /r/1...), 50 at a time; set `kill` after 200
    answers; the paths that got an answer."""
    answered: list[str] = []
    limit = asyncio.Semaphore(50)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:

        async def one(index: int) -> None:
            async with limit:
                path = f"/r/{index}"
                try:
                    async with client.get(url + path) as answer:
                        await answer.read()
                        if answer.status == 200:
                            answered.append(path)
                except aiohttp.ClientError:
                    return
                if len(answered) == 200:
                    kill.set()

        await asyncio.gather(*(one(i) for i in range(total)))
    return answered


def test_a_worker_killed_mid_load_loses_no_answered_entry(tmp_path: Path, redis_url: str) -> None:
    with serve_many(tmp_path, redis_url, 2) as (survivor, victim):
        urls = prepare([survivor, victim], "s1", ROUTES)

        async def run() -> list[str]:
            kill = asyncio.Event()
            load = asyncio.create_task(_load_until_killed(urls[1], kill, 3000))
            await kill.wait()
            victim.proc.send_signal(signal.SIGKILL)
            return await load

        answered = asyncio.run(run())
        assert victim.proc.wait(10) == -signal.SIGKILL
        assert 200 <= len(answered) < 3000
        listed = requests.get(
            f"{survivor.admin_url}/api/sessions/s1/requests", params={"limit": 5000}, timeout=10
        ).json()
        journaled = {entry["path"] for entry in listed["requests"]}
        assert set(answered) <= journaled


@pytest.fixture
def own(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of the test's own, started; stopped at the end however it ends."""
    started = OwnRedis(tmp_path)
    started.start()
    try:
        yield started
    finally:
        started.stop()


@contextmanager
def _one_server(tmp_path: Path, own: OwnRedis, *args: str) -> Iterator[tuple[ServerProcess, str]]:
    """One process on `own`'s Redis, with session s1's routes and its mock URL, and
    `GET /r/before` already answered (seq 1 in s1's journal)."""
    with serve_many(tmp_path, own.url, 1, *args) as [server]:
        [url] = prepare([server], "s1", ROUTES)
        assert requests.get(f"{url}/r/before", timeout=10).status_code == 200
        yield server, url


def _journaled(admin_url: str) -> list[tuple[int, str]]:
    """Session s1's journal as (seq, path), oldest first (at most 100)."""
    listed = requests.get(
        f"{admin_url}/api/sessions/s1/requests", params={"limit": 100}, timeout=10
    ).json()
    return [(entry["seq"], entry["path"]) for entry in listed["requests"]]


def test_redis_lost_mock_traffic_answered_backlog_lands_when_back(
    tmp_path: Path, own: OwnRedis
) -> None:
    with _one_server(tmp_path, own, "--log-format", "json") as (server, url):
        own.stop()
        started = time.monotonic()
        during = [requests.get(f"{url}/r/during-{i}", timeout=10) for i in range(20)]
        assert [answer.status_code for answer in during] == [200] * 20
        # The first write waits for its timeout (2 s); the rest are answered at once.
        assert time.monotonic() - started < 8
        refused = requests.get(f"{server.admin_url}/api/sessions/s1/requests", timeout=10)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "state_unavailable"
        assert error["message"].startswith(
            f"admin calls are refused while the shared state at {own.url} does not answer ("
        )
        backlog = [e for e in server.events() if e["event"] == "journal_backlog"]
        assert len(backlog) == 1 and backlog[0]["level"] == "warning"
        own.start()

        def landed() -> bool:
            answer = requests.get(
                f"{server.admin_url}/api/sessions/s1/requests",
                params={"limit": 100},
                timeout=10,
            )
            return answer.status_code == 200 and len(answer.json()["requests"]) == 21

        wait_until(landed, what="the backlog written to Redis")
        assert _journaled(server.admin_url) == [(1, "/r/before")] + [
            (2 + i, f"/r/during-{i}") for i in range(20)
        ]
        flushed = [e for e in server.events() if e["event"] == "journal_backlog_flushed"]
        assert [(e["entries"], e["lost"]) for e in flushed] == [(20, 0)]


def test_redis_holding_a_batch_past_the_write_timeout_answers_and_writes_it_later(
    tmp_path: Path, own: OwnRedis
) -> None:
    with _one_server(tmp_path, own, "--log-format", "json") as (server, url):
        client = redis.Redis.from_url(own.url)
        # Writes wait 6 s in Redis: the batch's write times out (2 s) and is kept.
        client.execute_command("CLIENT", "PAUSE", 6000, "WRITE")
        answer = requests.get(f"{url}/r/held", timeout=30)
        assert answer.status_code == 200
        backlog = server.wait_for_event(lambda e: e["event"] == "journal_backlog")
        assert backlog["entries"] == 1
        assert backlog["error"] == "Redis did not answer within 2 s"
        client.close()
        flushed = server.wait_for_event(lambda e: e["event"] == "journal_backlog_flushed")
        assert (flushed["entries"], flushed["lost"]) == (1, 0)
        # The write given up on is not run once Redis goes on: the entry is there once.
        assert _journaled(server.admin_url) == [
            (1, "/r/before"),
            (2, "/r/held"),
        ]


def test_a_redis_that_lost_the_append_script_gets_it_again(tmp_path: Path, own: OwnRedis) -> None:
    with _one_server(tmp_path, own) as (server, url):
        client = redis.Redis.from_url(own.url)

        def loads() -> int:
            stats = client.info("commandstats").get("cmdstat_script|load", {})
            return int(stats.get("calls", 0))

        before = loads()
        client.script_flush()
        assert requests.get(f"{url}/r/after", timeout=10).status_code == 200
        loaded = loads() - before
        client.close()
        assert _journaled(server.admin_url) == [
            (1, "/r/before"),
            (2, "/r/after"),
        ]
        assert loaded == 1
