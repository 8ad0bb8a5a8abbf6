"""`serve --state`: journals shared through Redis (one stream per session, group commit)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
import requests
from multidict import CIMultiDict

from controlplane import wire
from controlplane.cluster.journal_stream import (
    SharedJournal,
    StreamWriter,
    decode_entry,
    encode_entry,
    journal_keys,
)
from controlplane.journal import Journal, JournalEntry, OriginAnswer
from controlplane.matching.paths import compile_path
from tests.redis_support import redis_server, redis_url
from tests.shared_support import fire, prepare, serve_many

__all__ = ["redis_server", "redis_url"]

ROUTES = [
    {
        "id": "r-hello",
        "method": "GET",
        "path": "/hello/{n}",
        "handler": "hello",
        "response": {"type": "raw", "body": "hi"},
    }
]


def test_journal_read_through_any_process_lists_every_process_in_one_order(
    tmp_path: Path, redis_url: str
) -> None:
    with serve_many(tmp_path, redis_url, 3) as servers:
        urls = prepare(servers, "s1", ROUTES)
        answers = fire(urls, [f"/hello/{i}" for i in range(90)], concurrency=30)
        assert {status for status, _ in answers} == {200}
        missing = requests.get(f"{urls[1]}/nothing", timeout=10)
        assert missing.status_code == 404
        listings = []
        for server in servers:
            listed = requests.get(
                f"{server.admin_url}/api/sessions/s1/requests",
                params={"limit": 1000},
                timeout=10,
            ).json()
            listings.append([(r["id"], r["seq"], r["path"]) for r in listed["requests"]])
            assert listed["evicted"] == 0
        assert listings[0] == listings[1] == listings[2]
        seqs = [seq for _, seq, _ in listings[0]]
        assert seqs == list(range(1, 92))
        paths = sorted(path for _, _, path in listings[0])
        assert paths == sorted([f"/hello/{i}" for i in range(90)] + ["/nothing"])
        assert listings[0][-1][2] == "/nothing"  # answered last, journaled last
        for server in servers:
            verified = requests.post(
                f"{server.admin_url}/api/sessions/s1/handlers/hello/verify",
                json={"times": 90},
                timeout=10,
            ).json()
            assert verified == {"ok": True, "count": 90, "evicted": 0}
            unmatched = requests.get(
                f"{server.admin_url}/api/sessions/s1/requests/unmatched", timeout=10
            ).json()
            assert [r["path"] for r in unmatched["requests"]] == ["/nothing"]
            session = requests.get(f"{server.admin_url}/api/sessions/s1", timeout=10).json()
            assert session["counts"]["requests"] == 91
            assert session["counts"]["unmatched"] == 1


def test_clearing_the_journal_through_one_process_clears_it_for_all(
    tmp_path: Path, redis_url: str
) -> None:
    with serve_many(tmp_path, redis_url, 2) as servers:
        urls = prepare(servers, "s1", ROUTES)
        fire(urls, [f"/hello/{i}" for i in range(4)])
        cleared = requests.delete(f"{servers[0].admin_url}/api/sessions/s1/requests", timeout=10)
        assert cleared.status_code == 204
        assert requests.get(f"{urls[1]}/hello/after", timeout=10).status_code == 200
        for server in servers:
            listed = requests.get(f"{server.admin_url}/api/sessions/s1/requests", timeout=10).json()
            assert [(r["seq"], r["path"]) for r in listed["requests"]] == [(5, "/hello/after")]
            assert listed["evicted"] == 0


def test_a_deleted_session_takes_its_journal_and_counters_out_of_redis(
    tmp_path: Path, redis_url: str
) -> None:
    limited = {**ROUTES[0], "id": "r-once", "path": "/once", "handler": "once", "times": 1}
    with serve_many(tmp_path, redis_url, 1) as [server]:
        [url] = prepare([server], "s1", [*ROUTES, limited])
        assert requests.get(f"{url}/once", timeout=10).status_code == 200
        client = redis.Redis.from_url(redis_url)
        assert sorted(client.keys("cp:{s1}:*")) == [
            b"cp:{s1}:journal",
            b"cp:{s1}:journal:meta",
            b"cp:{s1}:used",
        ]
        deleted = requests.delete(f"{server.admin_url}/api/sessions/s1", timeout=10)
        assert deleted.status_code == 204
        assert client.keys("cp:{s1}:*") == []
        [url] = prepare([server], "s1", [*ROUTES, limited])
        assert requests.get(f"{url}/once", timeout=10).status_code == 200
        listed = requests.get(f"{server.admin_url}/api/sessions/s1/requests", timeout=10).json()
        assert [(r["seq"], r["path"]) for r in listed["requests"]] == [(1, "/once")]


def test_an_entry_round_trips_through_its_stored_bytes() -> None:
    origin = OriginAnswer(201, "Made", CIMultiDict([("X-A", "1"), ("X-A", "2")]))
    origin.add(b"origin body")
    origin.complete = True
    near = [wire.NearMiss(route_id="r", handler="h", distance=0.5, diffs=[])]
    entry = JournalEntry.record(
        -1,
        1_700_000_000_123_456,
        "POST",
        "/p",
        "a=1&a=2",
        ((b"Host", b"x"), (b"X-B", b"\xff")),
        b"body",
        10,
        None,
        None,
        {"id": "7"},
        201,
        "proxy",
        12.5,
        None,
        near,
        origin,
    )
    back = decode_entry(42, encode_entry(1_700_000_000_123_456, entry))
    assert back.seq == 42
    assert back.time == entry.time
    for field in (
        "method",
        "path",
        "query_string",
        "raw_headers",
        "body",
        "body_size",
        "route_id",
        "handler",
        "path_params",
        "status",
        "response_type",
        "delay_ms",
        "error",
        "near_misses",
    ):
        assert getattr(back, field) == getattr(entry, field), field
    assert back.origin is not None
    assert (back.origin.status, back.origin.reason) == (201, "Made")
    assert list(back.origin.headers.items()) == [("X-A", "1"), ("X-A", "2")]
    assert (bytes(back.origin.body), back.origin.body_size, back.origin.complete) == (
        b"origin body",
        11,
        True,
    )


def test_a_template_routes_entries_are_stored_with_their_own_paths_and_params() -> None:
    pattern = compile_path("/t/{id}", None)
    journal = Journal("s", 10)
    for id_ in ("1", "2", "1", "3"):  # one record, shared by the route on every path
        journal.record(
            "GET", f"/t/{id_}", "", (), b"", "r", "h", {"id": id_}, 200, "raw", 0.0, None,
            pattern=pattern,
        )  # fmt: skip
    back = [decode_entry(entry.seq, encode_entry(entry.time_us, entry)) for entry in journal]
    assert [(entry.path, entry.path_params) for entry in back] == [
        (f"/t/{id_}", {"id": id_}) for id_ in ("1", "2", "1", "3")
    ]


def test_entries_of_several_sessions_batched_together_land_in_their_own_journals(
    tmp_path: Path, redis_url: str
) -> None:
    with serve_many(tmp_path, redis_url, 1) as [server]:
        [first] = prepare([server], "s1", ROUTES)
        [second] = prepare([server], "s2", ROUTES)
        answers = fire([first, second], [f"/hello/{i}" for i in range(200)], concurrency=50)
        assert {status for status, _ in answers} == {200}
        for session, parity in (("s1", 0), ("s2", 1)):
            listed = requests.get(
                f"{server.admin_url}/api/sessions/{session}/requests",
                params={"limit": 1000},
                timeout=10,
            ).json()["requests"]
            assert [r["seq"] for r in listed] == list(range(1, 101))
            assert sorted(r["path"] for r in listed) == sorted(
                f"/hello/{i}" for i in range(parity, 200, 2)
            )


def test_forward_proxy_answers_wait_for_their_journal_entry(tmp_path: Path, redis_url: str) -> None:
    with serve_many(tmp_path, redis_url, 1) as [server]:
        settings = requests.put(
            f"{server.admin_url}/api/settings", json={"proxy_auth": "user:pw"}, timeout=10
        )
        assert settings.status_code == 200, settings.text
        proxy = {"http": server.mock_url}
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))  # bound, never listening: a CONNECT is refused
            target = f"127.0.0.1:{closed.getsockname()[1]}"
            client = redis.Redis.from_url(redis_url)
            # Redis holds writes for 1.5 s: an answer that waits for its entry waits too.
            client.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
            started = time.monotonic()
            refused = requests.get("http://elsewhere.test/x", proxies=proxy, timeout=10)
            refused_after = time.monotonic() - started
            client.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
            started = time.monotonic()
            tunnel = http.client.HTTPConnection(urlsplit(server.mock_url).netloc, timeout=10)
            credentials = base64.b64encode(b"user:pw").decode()
            tunnel.request(
                "CONNECT", target, headers={"Proxy-Authorization": f"Basic {credentials}"}
            )
            failed = tunnel.getresponse()
            failed_after = time.monotonic() - started
            tunnel.close()
            client.close()
        assert (refused.status_code, failed.status) == (407, 502)
        assert refused_after > 1.0
        assert failed_after > 1.0
        listed = requests.get(f"{server.admin_url}/api/requests", timeout=10).json()
        assert [(r["method"], r["response"]["status"]) for r in listed["requests"]] == [
            ("GET", 407),
            ("CONNECT", 502),
        ]


async def test_refreshes_that_overlap_add_each_entry_once(redis_url: str) -> None:
    """A live feed's follower and an admin read refresh the same cache at once: both read
    the stream before either adds what it read, and an entry listed twice was counted
    twice by the dashboard (a hit too many) in the deployment run."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        journal = SharedJournal(
            "overlap", 100, 1024, client, StreamWriter(client, 100), lambda op: True
        )
        meta, stream = journal_keys("overlap")
        recorded = JournalEntry.record(
            1, 5, "GET", "/x", "", (), b"", 0, "r1", "h", {}, 200, "json", 0.0, None, None, None
        )
        await client.xadd(stream, {"e": encode_entry(5, recorded)}, id="0-1")
        await client.hset(meta, mapping={"seq": 1, "gen": 1})
        await asyncio.gather(journal.refresh(), journal.refresh(), journal.refresh())
        assert [entry.seq for entry in journal] == [1]
        assert journal.last_seq == 1
    finally:
        await client.aclose()
