"""Journal memory: RSS of a server whose 100 sessions' journals are full, and what one
entry costs, field by field.

Run: `.venv/bin/python benchmarks/journal_memory.py` (~1 min on 2 cores;
`--sessions 10 --requests 10000` for a quick look, `--breakdown-only` for the
in-process part alone).

1. A real server (`controlplane serve`, default journal of 10,000 entries), 100
   sessions `bench1..bench100` with the one route `GET /hello` each, as `cp_sessions`
   of the suite. Each session's journal is filled with `--requests` bodiless GETs
   shaped like wrk's (`lua/sessions.lua`: `GET /_s/benchN/hello HTTP/1.1` with only
   `Host`), sent over one keep-alive connection per session, pipelined in batches, so
   the count is exact. RSS (`/proc/PID/status`) before and after; bytes per entry is
   the growth over the entries held.
2. In process: the same request built by aiohttp's test helper, handed to `MockHandler`, 10,000
   times into one journal; tracemalloc's growth per entry, and `sys.getsizeof` of each
   field of one entry (shared objects such as the route id count once for the whole
   journal, so the sum of fields is an upper bound).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import sys
import time
import tracemalloc
from typing import Any
from urllib.parse import urlsplit

from harness import Procs, controlplane_argv, expect, status_kb
from setups import one_route, register

from controlplane.logs import configure_logging

#: Requests written before reading their answers, per connection.
BATCH = 500


def wrk_request(host: str, session: str) -> bytes:
    """What `wrk.format("GET", path)` sends once wrk has set Host."""
    return f"GET /_s/{session}/hello HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def _read_answers(sock: socket.socket, count: int, buffer: bytearray) -> None:
    """Read `count` answers (each with a Content-Length) off `sock`; 200s only."""
    done = 0
    while done < count:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end]).lower()
            if not head.startswith(b"http/1.1 200"):
                raise RuntimeError(f"unexpected answer: {head[:200]!r}")
            start = head.index(b"content-length:") + len(b"content-length:")
            length = int(head[start : head.index(b"\r\n", start)])
            if len(buffer) >= end + 4 + length:
                del buffer[: end + 4 + length]
                done += 1
                continue
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buffer += chunk


def fill(mock_url: str, session: str, requests: int) -> None:
    parts = urlsplit(mock_url)
    host = f"{parts.hostname}:{parts.port}"
    one = wrk_request(host, session)
    buffer = bytearray()
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        left = requests
        while left:
            batch = min(BATCH, left)
            sock.sendall(one * batch)
            _read_answers(sock, batch, buffer)
            left -= batch


def server_rss(sessions: int, requests: int) -> dict[str, Any]:
    procs = Procs()
    try:
        server = procs.start("cp_journal", controlplane_argv())
        for i in range(1, sessions + 1):
            expect(201, "POST", server.admin_url + "/api/sessions", {"id": f"bench{i}"})
            register(server.admin_url, one_route(), session=f"bench{i}")
        before = server.rss_kb()
        started = time.monotonic()
        for i in range(1, sessions + 1):
            fill(server.mock_url, f"bench{i}", requests)
        seconds = time.monotonic() - started
        after = server.rss_kb()
        peak = status_kb(server.pid, "VmHWM")
        held = sessions * min(requests, 10_000)
        return {
            "before_mb": before / 1024,
            "after_mb": after / 1024,
            "peak_mb": peak / 1024,
            "entries": held,
            "bytes_per_entry": (after - before) * 1024 / held,
            "seconds": seconds,
        }
    finally:
        procs.stop_all()


async def _breakdown(count: int) -> dict[str, Any]:
    from unittest import mock

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from controlplane import wire
    from controlplane.mock_app import MockHandler
    from controlplane.sessions import SessionStore

    store = SessionStore(count)
    route = wire.Route(
        method="GET", path="/hello", handler="hello", response=wire.JsonResponse(body={"ok": True})
    )
    store.default.add_routes([route])
    handler = MockHandler(store)
    shared = {name: mock.Mock() for name in ("app", "protocol", "transport", "writer")}

    def parsed() -> web.BaseRequest:
        # wrk's request; aiohttp encodes fresh header bytes per request, as its parser does.
        return make_mocked_request("GET", "/hello", headers={"Host": "127.0.0.1:8080"}, **shared)

    for _ in range(100):  # warm caches (aiohttp's, the route's) outside the measurement
        await handler(parsed())
    store.default.journal.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(count):
        await handler(parsed())
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    entries = list(store.default.journal)
    return {
        "per_entry": grown / count,
        "fields": _sizes(entries[0]),
        "distinct": len({id(getattr(entry, "request", entry)) for entry in entries}),
    }


def _sizes(struct: Any, prefix: str = "") -> dict[str, int]:
    """`sys.getsizeof` of `struct` and of each of its fields, nested structs expanded."""
    sizes = {prefix or "(the entry)": sys.getsizeof(struct)}
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if hasattr(value, "__struct_fields__"):
            sizes.update(_sizes(value, f"{prefix}{name}."))
        else:
            sizes[prefix + name] = sys.getsizeof(value)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--requests", type=int, default=10_000, help="per session")
    parser.add_argument("--breakdown-only", action="store_true")
    args = parser.parse_args()

    configure_logging("console", "warning")  # as the server runs: no debug events
    found = asyncio.run(_breakdown(10_000))
    print(f"in process: {found['per_entry']:.0f} bytes per entry (tracemalloc, 10,000 entries)")
    print(f"  sys.getsizeof of one entry and its fields ({found['distinct']:,} distinct records):")
    for name, size in found["fields"].items():
        print(f"    {name:24} {size}")
    if args.breakdown_only:
        return
    got = server_rss(args.sessions, args.requests)
    print(
        f"server, {args.sessions} sessions x {args.requests:,} GETs: "
        f"RSS {got['before_mb']:.1f} MB -> {got['after_mb']:.1f} MB "
        f"(peak {got['peak_mb']:.1f}), {got['bytes_per_entry']:.0f} bytes per entry held "
        f"({got['entries']:,}), filled in {got['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
