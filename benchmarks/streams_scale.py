"""Many open SSE streams and WebSockets on one server: memory, push latency, HTTP beside them.

Run: `.venv/bin/python benchmarks/streams_scale.py [--connections 1000] [--pushes 20]`
(about a minute; Linux: `/proc`, `taskset`, and wrk for the throughput figures).

The server runs as `controlplane serve` on core 0; this process (the clients) and wrk
on core 1. It measures, in order:

1. plain HTTP (`GET /plain`, a json response) with wrk while nothing else is open:
   requests per wall-clock second and per second of server CPU time;
2. the server's RSS, then `--connections` SSE streams opened (`keep_open`, each has read
   its first event), then as many WebSockets (each has read its `on_connect` message):
   RSS growth per connection of each kind;
3. `--pushes` pushes to all streams (`POST .../events`), then to all WebSockets
   (`POST .../messages`): for each push and each connection, the time from sending
   the admin request to the client having read the pushed event or message. This
   includes the client side (one Python process reading 1,000 sockets), so it is an
   upper bound of the server's part;
4. plain HTTP again with every connection open.

Nothing is asserted: it prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CONTROLPLANE = ROOT / ".venv" / "bin" / "controlplane"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def _wrk(url: str, pid: int, seconds: int) -> tuple[float, float] | None:
    """(requests per wall second, requests per server CPU second), or None without wrk."""
    if shutil.which("wrk") is None:
        return None
    cpu = _cpu_seconds(pid)
    out = subprocess.run(
        [*_pin(1), "wrk", "-t1", "-c32", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    used = _cpu_seconds(pid) - cpu
    total = next(int(line.split()[0]) for line in out.splitlines() if "requests in" in line)
    per_second = next(float(line.split()[1]) for line in out.splitlines() if "Requests/sec" in line)
    return per_second, total / used if used else float("nan")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _admin(client: aiohttp.ClientSession, method: str, url: str, body: Any) -> Any:
    async with client.request(method, url, json=body) as answer:
        assert answer.status < 300, await answer.text()
        return await answer.json()


async def _sse_push_latencies(
    client: aiohttp.ClientSession, api: str, streams: list[aiohttp.ClientResponse], pushes: int
) -> list[float]:
    latencies: list[float] = []
    for n in range(pushes):
        started = time.monotonic()
        reads = [asyncio.ensure_future(s.content.readuntil(b"\n\n")) for s in streams]
        delivered = await _admin(client, "POST", f"{api}/handlers/feed/events", {"data": str(n)})
        assert delivered == {"delivered": len(streams)}, delivered
        for read in asyncio.as_completed(reads):
            await read
            latencies.append(time.monotonic() - started)
    return latencies


async def _ws_push_latencies(
    client: aiohttp.ClientSession,
    api: str,
    sockets: list[aiohttp.ClientWebSocketResponse],
    pushes: int,
) -> list[float]:
    latencies: list[float] = []
    for n in range(pushes):
        started = time.monotonic()
        reads = [asyncio.ensure_future(ws.receive_str()) for ws in sockets]
        delivered = await _admin(client, "POST", f"{api}/handlers/chat/messages", {"text": str(n)})
        assert delivered == {"delivered": len(sockets)}, delivered
        for read in asyncio.as_completed(reads):
            await read
            latencies.append(time.monotonic() - started)
    return latencies


def _ms(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:.1f} ms, "
        f"p99 {_percentile(values, 99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
    )


async def measure(mock: str, api: str, pid: int, connections: int, pushes: int) -> dict[str, Any]:
    results: dict[str, Any] = {"connections": connections, "pushes": pushes}
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        routes = [
            {"method": "GET", "path": "/plain", "handler": "plain",
             "response": {"type": "json", "body": {"ok": True}}},
            {"method": "GET", "path": "/feed", "handler": "feed",
             "response": {"type": "sse", "keep_open": True, "events": [{"data": "hi"}]}},
            {"method": "GET", "path": "/chat", "handler": "chat",
             "response": {"type": "websocket", "on_connect": [{"text": "hi"}]}},
        ]  # fmt: skip
        await _admin(client, "POST", f"{api}/routes", routes)
        results["http_idle"] = await asyncio.to_thread(_wrk, f"{mock}/plain", pid, 5)
        rss_start = _rss_kib(pid)

        streams = []
        for _ in range(connections):
            stream = await client.get(f"{mock}/feed")
            await stream.content.readuntil(b"\n\n")
            streams.append(stream)
        rss_sse = _rss_kib(pid)
        sockets = []
        for _ in range(connections):
            ws = await client.ws_connect(f"{mock}/chat")
            await ws.receive_str()
            sockets.append(ws)
        rss_ws = _rss_kib(pid)
        results["rss_kib"] = {"start": rss_start, "with_sse": rss_sse, "with_ws": rss_ws}
        results["kib_per_sse"] = (rss_sse - rss_start) / connections
        results["kib_per_ws"] = (rss_ws - rss_sse) / connections

        cpu = _cpu_seconds(pid)
        results["sse_push"] = await _sse_push_latencies(client, api, streams, pushes)
        results["sse_push_cpu"] = (_cpu_seconds(pid) - cpu) / pushes
        cpu = _cpu_seconds(pid)
        results["ws_push"] = await _ws_push_latencies(client, api, sockets, pushes)
        results["ws_push_cpu"] = (_cpu_seconds(pid) - cpu) / pushes
        results["http_open"] = await asyncio.to_thread(_wrk, f"{mock}/plain", pid, 5)

        for ws in sockets:
            await ws.close()
        for stream in streams:
            stream.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        server = subprocess.Popen(
            [*_pin(0), str(CONTROLPLANE), "serve", "--port", "0", "--admin-port", "0",
             "--ready-file", str(ready), "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            info = json.loads(ready.read_text())
            results = asyncio.run(
                measure(
                    info["mock_url"],
                    f"{info['admin_url']}/api",
                    info["pid"],
                    args.connections,
                    args.pushes,
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    n = results["connections"]
    print(f"{n} SSE streams: +{results['kib_per_sse']:.1f} KiB RSS each")
    print(f"{n} WebSockets:  +{results['kib_per_ws']:.1f} KiB RSS each")
    print(f"RSS (KiB): {results['rss_kib']}")
    for kind, name in (("sse", "SSE streams"), ("ws", "WebSockets")):
        print(
            f"push to {n} {name} ({results['pushes']} pushes): {_ms(results[kind + '_push'])}; "
            f"server CPU {results[kind + '_push_cpu'] * 1000:.1f} ms per push"
        )
    idle, busy = results["http_idle"], results["http_open"]
    if idle is None or busy is None:
        print("plain HTTP: skipped (no wrk)")
    else:
        print(
            f"plain HTTP idle: {idle[0]:.0f} req/s ({idle[1]:.0f} per CPU-second); "
            f"with {2 * n} connections open: {busy[0]:.0f} req/s ({busy[1]:.0f} per "
            f"CPU-second); ratio {busy[0] / idle[0]:.2f} wall, {busy[1] / idle[1]:.2f} CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
