"""Many open SSE streams and WebSockets on one server: memory, push latency, HTTP beside them.

Run: `.venv/bin/python benchmarks/streams_scale.py [--connections 1000] [--pushes 20]
[--workers 2] [--profile]` (about a minute; Linux: `/proc`, `taskset`, wrk).

The server runs as `controlplane serve` on core 0. The connections are held by
`--workers` client processes (`streams_clients.py`, raw asyncio protocols), this
process sends the pushes and wrk makes the plain HTTP load, all on core 1. In order:

1. plain HTTP (`GET /plain`, a json response) with wrk while nothing else is open:
   requests per wall-clock second and per second of server CPU time;
2. the server's RSS, then `--connections` SSE streams opened (`keep_open`, each has
   read its first event), then as many WebSockets (each has read its `on_connect`
   message): RSS growth per connection of each kind;
3. `--pushes` pushes to all streams (`POST .../events`), then to all WebSockets
   (`POST .../messages`), one at a time, each once every connection has read the one
   before. The latency of a push to a connection is from just before this process
   sends the admin request to the moment the client worker's `data_received` is
   called with it: `time.monotonic_ns()` on both sides, CLOCK_MONOTONIC, one clock
   for every process of the machine. Reported per push (p50 and p99 over the
   connections), then summarised over the pushes; with the server's CPU time per push;
4. plain HTTP again with every connection open, and once more after they closed: the
   ratio is taken against the mean of the two idle runs around it.

With `--profile` py-spy samples the server during the pushes (`.venv/bin/pip install
py-spy`; not a project dependency) and the functions that took the most samples, by
their own lines and inclusively, are printed for each kind of push (py-spy skips idle
moments, so the shares are of the server's busy time).
Nothing is asserted: it prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from harness import (
    HERE,
    Proc,
    Procs,
    WrkResult,
    controlplane_argv,
    pinned,
    run_wrk,
)
from profile_hot_path import py_spy, summarise

LOAD_CORE = "1"
_WAIT = 120.0  # seconds: the longest any step may take before the run is abandoned


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Workers:
    """The client processes, each holding its share of the connections."""

    def __init__(self, procs: list[asyncio.subprocess.Process]) -> None:
        self.procs = procs

    @classmethod
    async def start(cls, n: int, mock_url: str) -> Workers:
        script = str(HERE / "streams_clients.py")
        procs = [
            await asyncio.create_subprocess_exec(
                *pinned(LOAD_CORE, [sys.executable, script, mock_url]),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=64 * 1024 * 1024,
            )
            for _ in range(n)
        ]
        return cls(procs)

    def kill(self) -> None:
        """End the workers still running (a failed run)."""
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()

    async def send(self, command: str) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(command.encode() + b"\n")
            await proc.stdin.drain()

    async def expect(self, line: str) -> None:
        """Wait until every worker said `line` (what each says meanwhile comes in order)."""

        async def one(proc: asyncio.subprocess.Process) -> None:
            assert proc.stdout is not None
            while True:
                said = (await proc.stdout.readline()).decode().strip()
                if not said:
                    raise RuntimeError(f"a client worker ended while waiting for {line!r}")
                if said == line:
                    return

        await asyncio.wait_for(asyncio.gather(*(one(p) for p in self.procs)), _WAIT)

    async def open(self, kind: str, connections: int) -> None:
        share, extra = divmod(connections, len(self.procs))
        for index, proc in enumerate(self.procs):
            assert proc.stdin is not None
            proc.stdin.write(f"{kind} {share + (index < extra)}\n".encode())
        await self.expect(f"opened {kind}")

    async def dump(self) -> dict[str, list[list[int]]]:
        """Every connection's read times, by kind; the workers exit."""
        await self.send("dump")
        times: dict[str, list[list[int]]] = {"sse": [], "ws": []}
        for proc in self.procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), _WAIT)
            for kind, connections in json.loads(line).items():
                times[kind].extend(connections)
            await proc.wait()
        return times


async def _admin(client: aiohttp.ClientSession, method: str, url: str, body: Any) -> Any:
    async with client.request(method, url, json=body) as answer:
        assert answer.status < 300, await answer.text()
        return await answer.json()


async def _pushes(
    client: aiohttp.ClientSession,
    workers: Workers,
    server: Proc,
    url: str,
    kind: str,
    body_key: str,
    connections: int,
    pushes: int,
) -> tuple[list[int], tuple[float, float]]:
    """Push `pushes` times, each once every connection read the one before: the send
    times (ns) and the server's CPU seconds per push (user, system)."""
    sent: list[int] = []
    cpu = _user_system(server.pid)
    for n in range(pushes):
        sent.append(time.monotonic_ns())
        delivered = await _admin(client, "POST", url, {body_key: str(n)})
        assert delivered == {"delivered": connections}, delivered
        # The first read of every connection was its scripted event or message.
        await workers.expect(f"{kind} {n + 2}")
    user, system = _user_system(server.pid)
    return sent, ((user - cpu[0]) / pushes, (system - cpu[1]) / pushes)


def _user_system(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (system: the kernel's share, which for a
    push is mostly sending on each socket)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _latencies(sent: list[int], times: list[list[int]]) -> list[list[float]]:
    """Per push, every connection's latency in ms."""
    return [
        [(reads[n + 1] - at) / 1e6 for reads in times] for n, at in enumerate(sent)
    ]  # fmt: skip


def _summary(per_push: list[list[float]]) -> dict[str, float]:
    p50s = [statistics.median(values) for values in per_push]
    p99s = [_percentile(values, 99) for values in per_push]
    pooled = [value for values in per_push for value in values]
    return {
        "p50_median": statistics.median(p50s),
        "p99_median": statistics.median(p99s),
        "p99_max": max(p99s),
        "pooled_p50": statistics.median(pooled),
        "pooled_p99": _percentile(pooled, 99),
        "max": max(pooled),
    }


def _start_py_spy(
    procs: Procs, server: Proc, kind: str
) -> tuple[subprocess.Popen[bytes], Path] | None:
    spy = py_spy()
    if spy is None:
        print("--profile: py-spy is not installed (`.venv/bin/pip install py-spy`)")
        return None
    raw = procs.tmp_path(f"{kind}-pushes.txt")
    argv = [spy, "record", "--pid", str(server.pid), "--rate", "1000", "--format", "raw",
            "--output", str(raw), "--nonblocking"]  # fmt: skip
    popen = procs.spawn(pinned(LOAD_CORE, argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1)  # py-spy attaches before the first push
    return popen, raw


def _stop_py_spy(procs: Procs, popen: subprocess.Popen[bytes], raw: Path) -> Any:
    popen.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
    popen.wait(_WAIT)
    procs.stop(popen)
    return summarise(raw.read_text()) if raw.exists() else {"self": [], "inclusive": []}


async def measure(
    procs: Procs, server: Proc, connections: int, pushes: int, workers_n: int, profile: bool
) -> dict[str, Any]:
    mock, api = server.mock_url, f"{server.admin_url}/api"
    results: dict[str, Any] = {
        "connections": connections,
        "pushes": pushes,
        "workers": workers_n,
        "load_before": os.getloadavg(),
    }
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=_WAIT)
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
        idle: list[WrkResult] = [
            await asyncio.to_thread(run_wrk, f"{mock}/plain", 5, server=server)
        ]
        workers = await Workers.start(workers_n, mock)
        try:
            return await _measure_open(procs, client, server, workers, results, idle, profile)
        finally:
            workers.kill()


async def _measure_open(
    procs: Procs,
    client: aiohttp.ClientSession,
    server: Proc,
    workers: Workers,
    results: dict[str, Any],
    idle: list[WrkResult],
    profile: bool,
) -> dict[str, Any]:
    mock, api = server.mock_url, f"{server.admin_url}/api"
    connections, pushes = results["connections"], results["pushes"]
    rss_start = server.rss_kb()
    await workers.open("sse", connections)
    rss_sse = server.rss_kb()
    await workers.open("ws", connections)
    rss_ws = server.rss_kb()
    results["rss_kib"] = {"start": rss_start, "with_sse": rss_sse, "with_ws": rss_ws}
    results["kib_per_sse"] = (rss_sse - rss_start) / connections
    results["kib_per_ws"] = (rss_ws - rss_sse) / connections

    sent: dict[str, list[int]] = {}
    for kind, path, key in (("sse", "feed/events", "data"), ("ws", "chat/messages", "text")):
        spy = _start_py_spy(procs, server, kind) if profile else None
        sent[kind], results[f"{kind}_push_cpu"] = await _pushes(
            client, workers, server, f"{api}/handlers/{path}", kind, key, connections, pushes
        )
        if spy is not None:
            results[f"{kind}_profile"] = _stop_py_spy(procs, *spy)
    results["http_open"] = await asyncio.to_thread(run_wrk, f"{mock}/plain", 5, server=server)
    await workers.send("close")
    times = await workers.dump()
    idle.append(await asyncio.to_thread(run_wrk, f"{mock}/plain", 5, server=server))
    results["http_idle"] = idle
    for kind in ("sse", "ws"):
        results[f"{kind}_per_push"] = _latencies(sent[kind], times[kind])
        results[f"{kind}_push"] = _summary(results[f"{kind}_per_push"])
    results["load_after"] = os.getloadavg()
    return results


def _report(results: dict[str, Any]) -> None:
    n = results["connections"]
    print(
        f"load average before {results['load_before'][0]:.2f}, after "
        f"{results['load_after'][0]:.2f} (1 min); {results['workers']} client workers"
    )
    print(f"{n} SSE streams: +{results['kib_per_sse']:.1f} KiB RSS each")
    print(f"{n} WebSockets:  +{results['kib_per_ws']:.1f} KiB RSS each")
    print(f"RSS (KiB): {results['rss_kib']}")
    for kind, name in (("sse", "SSE streams"), ("ws", "WebSockets")):
        s, cpu = results[kind + "_push"], results[kind + "_push_cpu"]
        print(
            f"push to {n} {name} ({results['pushes']} pushes): per push p50 "
            f"{s['p50_median']:.1f} ms, p99 {s['p99_median']:.1f} ms (median over pushes; "
            f"worst push p99 {s['p99_max']:.1f} ms); all reads p50 {s['pooled_p50']:.1f} ms, "
            f"p99 {s['pooled_p99']:.1f} ms, max {s['max']:.1f} ms; server CPU "
            f"{sum(cpu) * 1000:.1f} ms per push (user {cpu[0] * 1000:.1f}, system "
            f"{cpu[1] * 1000:.1f})"
        )
        p99s = ", ".join(f"{_percentile(values, 99):.0f}" for values in results[kind + "_per_push"])
        print(f"  p99 of each push (ms): {p99s}")
    idle, busy = results["http_idle"], results["http_open"]
    idle_rps = statistics.mean(r.rps for r in idle)
    idle_cpu = statistics.mean(r.per_cpu_s for r in idle)
    print(
        f"plain HTTP idle: {' / '.join(f'{r.rps:.0f}' for r in idle)} req/s before / after "
        f"({idle_cpu:.0f} per CPU-second); with {2 * n} connections open: {busy.rps:.0f} "
        f"req/s ({busy.per_cpu_s:.0f} per CPU-second); ratio {busy.rps / idle_rps:.2f} "
        f"wall, {busy.per_cpu_s / idle_cpu:.2f} CPU"
    )


def _print_profile(kind: str, profile: dict[str, list[tuple[str, float]]]) -> None:
    samples = profile.get("samples", [("", 0.0)])[0][1]
    for view in ("self", "inclusive"):
        print(f"--- server, {kind} pushes: % of {samples:.0f} busy samples ({view})")
        for name, pct in profile[view]:
            print(f"{pct:5.1f}%  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="cProfile the server's pushes")
    args = parser.parse_args()
    procs = Procs()
    try:
        server = procs.start("controlplane", controlplane_argv())
        results = asyncio.run(
            measure(procs, server, args.connections, args.pushes, args.workers, args.profile)
        )
        _report(results)
        for kind in ("sse", "ws"):
            if f"{kind}_profile" in results:
                _print_profile(kind, results[f"{kind}_profile"])
    finally:
        procs.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
