"""Journal listings come a page at a time and stream; journal entries keep a capped body.

A handler's frame log (`GET .../handlers/{name}/messages`) pages the same way.

Pages: `limit` alone is the newest N (as before); `after` is a cursor (a `seq`), and
every answer's `next` continues it, null on the last page; without either, the first
10,000 from the oldest. Bodies: an entry keeps `--journal-body-limit` bytes and says so,
while matching saw the whole body. Large answers are written in chunks, so another
session's mock traffic is answered while one streams or a verify works through it (a
real `controlplane serve` process, timed, and its peak memory read from /proc).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from controlplane.server import ServerConfig
from tests.conftest import SessionHandle, ThreadedServer
from tests.process import ServerProcess, run_cli, serve_process

#: (path under the session's API, the listing's key): every paged journal listing.
LISTINGS = [
    ("requests?handler=n", "requests"),
    ("handlers/n/calls", "calls"),
    ("requests/unmatched", "requests"),
    ("requests?matched=false", "requests"),
]
LISTING_IDS = ["requests", "calls", "unmatched", "requests-unmatched"]


def listing(api: str, where: str, key: str, **params: Any) -> tuple[list[int], int | None]:
    """(seqs listed, next) of one page."""
    answer = requests.get(f"{api}/{where}", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {key, "evicted", "next"}
    return [entry["seq"] for entry in body[key]], body["next"]


@pytest.fixture
def five(cp: SessionHandle) -> SessionHandle:
    """Five calls of handler `n` (GET /n/0..4), each followed by an unmatched GET /u/i."""
    cp.add_route(method="GET", path="/n/{i}", handler="n", response={"type": "json"})
    with requests.Session() as mock:
        for i in range(5):
            assert mock.get(f"{cp.mock_url}/n/{i}", timeout=10).status_code == 200
            assert mock.get(f"{cp.mock_url}/u/{i}", timeout=10).status_code == 404
    return cp


# ----------------------------------------------------------------- pages


def check_pages(api: str, where: str, key: str) -> None:
    """Every kind of page of a listing of five entries (none of them consecutive seqs)."""
    every, done = listing(api, where, key, after=0, limit=100)
    assert len(every) == 5 and done is None
    s0, s1, s2, s3, s4 = every
    cases: list[tuple[dict[str, Any], list[int], int | None]] = [
        ({}, every, None),  # the default page holds them all
        ({"after": 0}, every, None),
        ({"after": 0, "limit": 2}, [s0, s1], s1),
        ({"after": s1, "limit": 2}, [s2, s3], s3),
        ({"after": s3, "limit": 2}, [s4], None),  # the last page, short
        ({"after": s2, "limit": 2}, [s3, s4], None),  # the last page, exactly full
        ({"after": s0 + 1, "limit": 1}, [s1], s1),  # a seq of another listing is a cursor too
        ({"after": s4}, [], None),  # at the end
        ({"after": s4 + 1_000_000}, [], None),  # past the end
        ({"after": 0, "limit": 0}, [], 0),  # nothing shown, everything still ahead
        ({"after": s3, "limit": 0}, [], s3),
        ({"limit": 1}, [s4], None),  # `limit` alone: the newest N, as before
        ({"limit": 3}, [s2, s3, s4], None),
        ({"limit": 0}, [], None),
        ({"limit": 99}, every, None),
        ({"limit": 2**70}, every, None),  # beyond any journal: all of it (was a 500)
        ({"after": 2**70}, [], None),
        ({"after": 0, "limit": 2**70}, every, None),
    ]
    for params, seqs, following in cases:
        assert listing(api, where, key, **params) == (seqs, following), params


def check_walk(api: str, where: str, key: str) -> None:
    """Following `next` from `after=0` in pages of 2 lists the five entries once each."""
    seen: list[int] = []
    cursor: int | None = 0
    for _ in range(10):  # bounded: 5 entries in pages of 2 take 3 pages
        assert cursor is not None
        seqs, cursor = listing(api, where, key, after=cursor, limit=2)
        seen += seqs
        if cursor is None:
            break
    assert seen == listing(api, where, key)[0] and len(seen) == 5


EMPTY_PAGES: list[dict[str, Any]] = [{}, {"after": 0}, {"after": 5, "limit": 2}, {"limit": 3}]
BAD_CURSORS = ["abc", "-1", "1.5", "0x10"]


def check_bad_cursor(api: str, where: str, bad: str) -> None:
    answer = requests.get(f"{api}/{where}", params={"after": bad}, timeout=10)
    assert answer.status_code == 422
    assert answer.json() == {
        "error": {
            "code": "invalid_input",
            "message": f"`after` must be a whole number >= 0, got {bad!r}",
            "location": "?after",
        }
    }


@pytest.mark.parametrize(("where", "key"), LISTINGS, ids=LISTING_IDS)
def test_pages_follow_the_cursor_to_the_last_page(
    five: SessionHandle, where: str, key: str
) -> None:
    check_pages(five.api, where, key)


@pytest.mark.parametrize(("where", "key"), LISTINGS, ids=LISTING_IDS)
def test_walking_next_lists_every_entry_once(five: SessionHandle, where: str, key: str) -> None:
    check_walk(five.api, where, key)


@pytest.mark.parametrize(("where", "key"), LISTINGS, ids=LISTING_IDS)
def test_an_empty_journal_is_one_empty_last_page(cp: SessionHandle, where: str, key: str) -> None:
    cp.add_route(method="GET", path="/n", handler="n", response={"type": "json"})
    for params in EMPTY_PAGES:
        answer = requests.get(f"{cp.api}/{where}", params=params, timeout=10)
        assert answer.json() == {key: [], "evicted": 0, "next": None}


@pytest.mark.parametrize(("where", "key"), LISTINGS, ids=LISTING_IDS)
@pytest.mark.parametrize("bad", BAD_CURSORS)
def test_a_bad_cursor_is_422_at_after(five: SessionHandle, where: str, key: str, bad: str) -> None:
    check_bad_cursor(five.api, where, bad)


@pytest.fixture
def five_frames(cp: SessionHandle) -> Iterator[SessionHandle]:
    """Five frames of handler `s` (events pushed to its open stream), each followed by
    one of handler `t`: the frame log's seqs of `s` are not consecutive."""
    url = urlsplit(cp.mock_url)
    assert url.hostname is not None and url.port is not None
    streams = []
    for handler in ("s", "t"):
        response = {"type": "sse", "keep_open": True}
        cp.add_route(method="GET", path=f"/{handler}", handler=handler, response=response)
        stream = socket.create_connection((url.hostname, url.port), timeout=10)
        streams.append(stream)
        stream.sendall(f"GET {url.path}/{handler} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        headers = b""
        while b"\r\n\r\n" not in headers:  # the stream is open (registered) once they came
            data = stream.recv(4096)
            assert data, "the server closed the stream"
            headers += data
    try:
        for i in range(5):
            for handler in ("s", "t"):
                pushed = requests.post(
                    f"{cp.api}/handlers/{handler}/events", json={"data": str(i)}, timeout=10
                )
                assert pushed.json() == {"delivered": 1}
        yield cp
    finally:
        for stream in streams:
            stream.close()


def test_a_handlers_frames_come_in_pages_like_the_journal(five_frames: SessionHandle) -> None:
    api, where = five_frames.api, "handlers/s/messages"
    check_pages(api, where, "messages")
    check_walk(api, where, "messages")
    for bad in BAD_CURSORS:
        check_bad_cursor(api, where, bad)
    texts = requests.get(f"{api}/{where}", params={"after": 0, "limit": 2}, timeout=10).json()
    assert [frame["text"] for frame in texts["messages"]] == ["0", "1"]


def test_no_frames_is_one_empty_last_page(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/s", handler="s", response={"type": "sse"})
    for params in EMPTY_PAGES:
        answer = requests.get(f"{cp.api}/handlers/s/messages", params=params, timeout=10)
        assert answer.json() == {"messages": [], "evicted": 0, "next": None}


def test_an_unknown_handler_is_still_404_before_any_paging(cp: SessionHandle) -> None:
    answer = requests.get(f"{cp.api}/handlers/nobody/calls", params={"after": "x"}, timeout=10)
    assert answer.status_code == 404


def flood(session: SessionHandle, count: int, batch: int = 200) -> None:
    """`count` calls of handler `hit` (GET /hit), pipelined on one connection."""
    session.add_route(method="GET", path="/hit", handler="hit", response={"type": "json"})
    url = urlsplit(session.mock_url)
    assert url.hostname is not None and url.port is not None
    request = f"GET {url.path}/hit HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        for start in range(0, count, batch):
            size = min(batch, count - start)
            sock.sendall(request * size)
            received = b""
            while received.count(b"HTTP/1.1 200 OK\r\n") < size:
                data = sock.recv(65536)
                assert data, "the server closed the connection"
                received += data


def test_a_default_journal_comes_whole_without_limit(cp: SessionHandle) -> None:
    flood(cp, 10_001)  # one more than the default --journal-size (10,000) keeps
    answer = requests.get(f"{cp.api}/requests", timeout=60).json()
    assert (len(answer["requests"]), answer["evicted"], answer["next"]) == (10_000, 1, None)


@pytest.fixture(scope="module")
def roomy_server() -> Iterator[ThreadedServer]:
    """A journal one entry longer than a default page."""
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, journal_size=10_001)).start()
    yield server
    server.stop()


def test_without_limit_a_page_holds_10000_and_next_continues(
    roomy_server: ThreadedServer,
) -> None:
    api = f"{roomy_server.admin_url}/api"
    roomy = SessionHandle(id="default", mock_url=roomy_server.mock_url, api=api)
    flood(roomy, 10_001)
    first, following = listing(api, "requests", "requests")
    assert len(first) == 10_000 and following == first[-1]
    rest, end = listing(api, "requests", "requests", after=following)
    assert len(rest) == 1 and rest[0] > first[-1] and end is None
    calls, more = listing(api, "handlers/hit/calls", "calls")
    assert (calls, more) == (first, following)
    # `limit` alone is still the newest N, however many: nothing follows them.
    newest, none = listing(api, "requests", "requests", limit=10_001)
    assert newest == first + rest and none is None


@pytest.fixture(scope="module")
def tiny_server() -> Iterator[ThreadedServer]:
    """A journal of 3 entries that keeps 16 body bytes of each."""
    config = ServerConfig(port=0, admin_port=0, journal_size=3, journal_body_limit=16)
    server = ThreadedServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def tiny(tiny_server: ThreadedServer) -> Iterator[SessionHandle]:
    body = requests.post(f"{tiny_server.admin_url}/api/sessions", timeout=10).json()
    yield SessionHandle(id=body["id"], mock_url=body["mock_url"], api=body["admin_url"])
    requests.delete(body["admin_url"], timeout=10)


def test_a_cursor_before_the_oldest_kept_entry_starts_at_the_oldest(tiny: SessionHandle) -> None:
    for _ in range(5):
        requests.get(f"{tiny.mock_url}/x", timeout=10)
    kept, _ = listing(tiny.api, "requests", "requests")
    answer = requests.get(f"{tiny.api}/requests", params={"after": 1, "limit": 2}, timeout=10)
    body = answer.json()
    assert [e["seq"] for e in body["requests"]] == kept[:2]
    assert (body["evicted"], body["next"]) == (2, kept[1])


def test_the_answer_is_chunked_json_ending_in_a_newline(five: SessionHandle) -> None:
    answer = requests.get(f"{five.api}/requests", timeout=10)
    assert answer.headers["Transfer-Encoding"] == "chunked"
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.content.startswith(b'{"requests":[{"id":')
    assert answer.content.endswith(b'],"evicted":0,"next":null}\n')


def test_wiremock_requests_take_limit_and_since_newest_first(five: SessionHandle) -> None:
    admin = five.api + "/__admin"
    every = requests.get(f"{admin}/requests", timeout=10)
    assert every.headers["Transfer-Encoding"] == "chunked"
    urls = [e["request"]["url"] for e in every.json()["requests"]]
    assert urls == [f"/{kind}/{i}" for i in reversed(range(5)) for kind in ("u", "n")]
    assert every.json()["meta"] == {"total": 10}
    two = requests.get(f"{admin}/requests", params={"limit": 2}, timeout=10).json()
    assert [e["request"]["url"] for e in two["requests"]] == ["/u/4", "/n/4"]
    future = "2999-01-01T00:00:00+00:00"
    later = requests.get(f"{admin}/requests", params={"since": future}, timeout=10).json()
    assert later == {"requests": [], "meta": {"total": 10}, "requestJournalDisabled": False}
    unmatched = requests.get(f"{admin}/requests/unmatched", timeout=10).json()["requests"]
    assert [r["url"] for r in unmatched] == [f"/u/{i}" for i in range(5)]
    found = requests.post(f"{admin}/requests/find", json={"url": "/n/3"}, timeout=10).json()
    assert [r["url"] for r in found["requests"]] == ["/n/3"]


# ----------------------------------------------------------------- body cap


def entries(api: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = requests.get(f"{api}/requests", timeout=10).json()["requests"]
    return listed


def test_a_body_over_the_limit_is_cut_counted_and_still_matched_whole(tiny: SessionHandle) -> None:
    tiny.add_route(
        method="POST",
        path="/b",
        handler="b",
        match={"body_matcher": {"ends_with": 'TAIL"}'}, "json_subset": {"k": "x" * 30 + "TAIL"}},
        response={"type": "json", "status": 201},
    )
    sent = b'{"k": "' + b"x" * 30 + b'TAIL"}'
    assert requests.post(f"{tiny.mock_url}/b", data=sent, timeout=10).status_code == 201
    [entry] = entries(tiny.api)
    assert entry["matched"] is True  # the tail and the JSON were beyond the cut
    assert (entry["body_size"], entry["body_truncated"]) == (len(sent), True)
    assert entry["body"] == sent[:16].decode()
    assert base64.b64decode(entry["body_base64"]) == sent[:16]
    assert "json" not in entry  # a cut body is not the JSON that was sent


@pytest.mark.parametrize(
    ("size", "truncated"), [(0, False), (15, False), (16, False), (17, True), (5000, True)]
)
def test_bodies_up_to_the_limit_are_kept_whole(
    tiny: SessionHandle, size: int, truncated: bool
) -> None:
    sent = b"a" * size
    requests.post(f"{tiny.mock_url}/upload", data=sent, timeout=10)
    [entry] = requests.get(f"{tiny.api}/requests/unmatched", timeout=10).json()["requests"]
    assert (entry["body_size"], entry["body_truncated"]) == (size, truncated)
    assert base64.b64decode(entry["body_base64"]) == sent[:16]
    assert entry["body"] == sent[:16].decode()


def test_a_character_cut_in_half_is_left_out_of_the_text(tiny: SessionHandle) -> None:
    sent = ("a" * 15 + "é!").encode()  # é is 2 bytes: the cut at 16 splits it
    requests.post(f"{tiny.mock_url}/t", data=sent, timeout=10)
    [entry] = entries(tiny.api)
    assert entry["body"] == "a" * 15
    assert base64.b64decode(entry["body_base64"]) == sent[:16]
    assert (entry["body_size"], entry["body_truncated"]) == (18, True)


def test_verify_sees_the_kept_body_and_says_it_was_cut(tiny: SessionHandle) -> None:
    tiny.add_route(method="POST", path="/v", handler="v", response={"type": "json"})
    sent = "0123456789" * 4
    requests.post(f"{tiny.mock_url}/v", data=sent, timeout=10)
    answer = requests.post(f"{tiny.api}/handlers/v/verify", json={"body": sent}, timeout=10)
    assert answer.status_code == 409
    body = answer.json()
    seq = entries(tiny.api)[0]["seq"]
    assert body["message"] == (
        f"expected handler 'v' to be called at least once with body \"{sent}\", "
        "but 0 calls matched (1 call in all).\n"
        "Closest calls that did not match:\n"
        f"  call #{seq} POST /v -> 200 (journal kept 16 of its 40 body bytes: "
        "--journal-body-limit):\n"
        f"    body: expected {sent}, got 0123456789012345"
    )
    kept = requests.post(f"{tiny.api}/handlers/v/verify", json={"body": sent[:16]}, timeout=10)
    assert kept.json() == {"ok": True, "count": 1, "evicted": 0}


def test_wiremock_requests_show_the_kept_body(tiny: SessionHandle) -> None:
    requests.post(f"{tiny.mock_url}/w", data=b"z" * 40, timeout=10)
    [event] = requests.get(f"{tiny.api}/__admin/requests", timeout=10).json()["requests"]
    assert base64.b64decode(event["request"]["bodyAsBase64"]) == b"z" * 16


def test_a_negative_journal_body_limit_is_a_usage_error() -> None:
    done = run_cli("serve", "--port", "0", "--admin-port", "0", "--journal-body-limit", "-1")
    assert done.returncode == 2
    assert "--journal-body-limit must be >= 0 (bytes), got -1" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_journal_body_limit_of_zero_keeps_only_lengths() -> None:
    with ThreadedServer(ServerConfig(port=0, admin_port=0, journal_body_limit=0)) as server:
        requests.post(f"{server.mock_url}/z", data=b"abc", timeout=10)
        [entry] = entries(f"{server.admin_url}/api")
    assert (entry["body"], entry["body_base64"]) == ("", "")
    assert (entry["body_size"], entry["body_truncated"]) == (3, True)


# ----------------------------------------------------------------- a large journal

LARGE_ENTRIES = 1000
#: A JSON body of about 100 KB, as in the report that found the freeze (10,000 of them).
LARGE_JSON = {"items": [{"id": i, "name": "n" * 30} for i in range(2400)]}
#: Another session's request must be answered within this while the journal is read.
#: Generous: a chunk takes about a millisecond; the old whole-answer build took seconds.
LATENCY_BOUND = 0.3


def _peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


@dataclass
class LargeJournal:
    server: ServerProcess
    ping_url: str  # a route of another session
    body_size: int

    def answered_while(self, work: Callable[[], None]) -> list[float]:
        """Run `work` in a thread; meanwhile time the other session's requests, one by one."""
        thread = threading.Thread(target=work)
        latencies: list[float] = []
        with requests.Session() as ping:
            ping.get(self.ping_url, timeout=10)  # connected before timing
            thread.start()
            deadline = time.monotonic() + 120
            while thread.is_alive() and time.monotonic() < deadline:
                started = time.monotonic()
                assert ping.get(self.ping_url, timeout=30).status_code == 200
                latencies.append(time.monotonic() - started)
        thread.join(timeout=30)
        return latencies


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LargeJournal]:
    """A `controlplane serve` process whose default session journaled 1000 JSON bodies."""
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the server's peak memory from /proc (Linux)")
    body = json.dumps(LARGE_JSON).encode()
    limit = str(len(body) + 1)  # kept whole: the freeze is about reading, not the cap
    with serve_process(tmp_path_factory.mktemp("large"), "--journal-body-limit", limit) as server:
        api = f"{server.admin_url}/api"
        upload = {"method": "POST", "path": "/upload", "handler": "upload"}
        requests.post(f"{api}/routes", json=upload, timeout=10).raise_for_status()
        other = requests.post(f"{api}/sessions", json={}, timeout=10).json()
        ping = {"method": "GET", "path": "/ping", "handler": "ping", "response": {"type": "json"}}
        requests.post(f"{other['admin_url']}/routes", json=ping, timeout=10).raise_for_status()
        with requests.Session() as mock:
            for _ in range(LARGE_ENTRIES):
                mock.post(f"{server.mock_url}/upload", data=body, timeout=30)
        yield LargeJournal(server, f"{other['mock_url']}/ping", len(body))


def test_a_large_journal_streams_while_other_sessions_are_answered(large: LargeJournal) -> None:
    pid = large.server.proc.pid
    before = _peak_rss(pid)
    chunks: list[int] = []
    ends: list[bytes] = [b"", b""]

    def read_journal() -> None:
        url = f"{large.server.admin_url}/api/requests"
        with requests.get(url, stream=True, timeout=120) as answer:
            # With no size, each piece is one HTTP chunk (of a chunked answer).
            for chunk in answer.iter_content(chunk_size=None):
                if not chunks:
                    ends[0] = chunk[:64]
                chunks.append(len(chunk))
                ends[1] = (ends[1] + chunk)[-64:]

    latencies = large.answered_while(read_journal)
    peak_growth = _peak_rss(pid) - before
    answer_size = sum(chunks)
    assert max(latencies) < LATENCY_BOUND, sorted(latencies)[-5:]
    assert len(latencies) >= 5, latencies  # the pings really ran while it streamed
    # Never the whole answer in memory: the peak grew by far less than its size.
    assert peak_growth < answer_size // 4, (peak_growth, answer_size)
    # The whole journal came, in many chunks: every body as text, base64 and JSON.
    assert answer_size > LARGE_ENTRIES * large.body_size * 3
    assert len(chunks) >= 100, len(chunks)
    assert ends[0].startswith(b'{"requests":[{"id":')
    assert ends[1].endswith(b'],"evicted":0,"next":null}\n')


def test_verify_over_a_large_journal_lets_other_sessions_in(large: LargeJournal) -> None:
    answers: list[requests.Response] = []

    def verify() -> None:
        url = f"{large.server.admin_url}/api/handlers/upload/verify"
        answers.append(requests.post(url, json={"json": {"items": []}}, timeout=120))

    latencies = large.answered_while(verify)
    [answer] = answers
    assert answer.status_code == 409 and answer.json()["count"] == 0
    assert f"0 calls matched ({LARGE_ENTRIES} calls in all)" in answer.json()["message"]
    assert max(latencies) < LATENCY_BOUND, sorted(latencies)[-5:]
    assert len(latencies) >= 5, latencies  # the pings really ran while it verified


def test_wiremock_count_over_a_large_journal_lets_other_sessions_in(large: LargeJournal) -> None:
    answers: list[requests.Response] = []
    pattern = {"method": "POST", "bodyPatterns": [{"equalToJson": {"items": []}}]}

    def count() -> None:
        url = f"{large.server.admin_url}/__admin/requests/count"
        answers.append(requests.post(url, json=pattern, timeout=120))

    latencies = large.answered_while(count)
    [answer] = answers
    assert answer.json()["count"] == 0
    assert max(latencies) < LATENCY_BOUND, sorted(latencies)[-5:]
    assert len(latencies) >= 5, latencies  # the pings really ran while it counted


def test_a_reader_that_hangs_up_mid_answer_is_logged_not_an_error(large: LargeJournal) -> None:
    url = f"{large.server.admin_url}/api/requests"
    with requests.get(url, stream=True, timeout=30) as answer:
        first = next(answer.iter_content(chunk_size=None))
        assert first.startswith(b'{"requests":[')
    # Closed after one chunk: the server notices on a later write. Its other work goes on.
    deadline = time.monotonic() + 60
    with requests.Session() as ping:
        while time.monotonic() < deadline:
            assert ping.get(large.ping_url, timeout=30).status_code == 200
            if any("admin_answer_abandoned" in line for line in large.server.lines):
                break
    [event] = [line for line in large.server.lines if "admin_answer_abandoned" in line]
    assert "path=/api/requests" in event
    assert not [line for line in large.server.lines if "admin_internal_error" in line]
    assert requests.get(f"{large.server.admin_url}/health", timeout=10).status_code == 200
