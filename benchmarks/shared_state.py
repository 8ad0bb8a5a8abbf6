"""The hot path with `--state` (journal and counters in Redis) against in memory.

Run: `.venv/bin/python benchmarks/shared_state.py` (~1 min; `--seconds 3 --rounds 2`
for a quick look). Needs wrk and redis-server.

Starts one redis-server (persistence off) and two controlplane processes, one in
memory and one with `--state`, each with a plain route (`GET /hello`) and a `times`
route (`GET /limited`, `times: 1000000000`, never spent). The servers run on core 0,
wrk and Redis on core 1 (`taskset`). Rounds visit the four targets in a rotated order;
figures are medians. As in the suite, ratios use requests per second of *server CPU*
(the controlplane process's utime + stime), which holds on a shared machine where
wall-clock req/s swings; wall-clock req/s and Redis's CPU per request are shown beside.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

import redis
from harness import (
    LOAD_CORE,
    Proc,
    Procs,
    WrkResult,
    controlplane_argv,
    cpu_seconds,
    median,
    pinned,
    run_wrk,
)
from setups import JSON_OK, register

#: Persistence off: what is measured is controlplane, not the disk.
REDIS_FLAGS = ("--save", "", "--appendonly", "no")
LIMITED: dict[str, Any] = {
    "method": "GET",
    "path": "/limited",
    "handler": "limited",
    "times": 1_000_000_000,
    "response": JSON_OK,
}
PLAIN: dict[str, Any] = {
    "method": "GET",
    "path": "/hello",
    "handler": "hello",
    "response": JSON_OK,
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _redis(procs: Procs) -> tuple[str, int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: apt-get install redis-server")
    port = _free_port()
    popen = procs.spawn(
        pinned(
            LOAD_CORE,
            [binary, "--bind", "127.0.0.1", "--port", str(port), *REDIS_FLAGS],
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit("redis-server did not start")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", popen.pid


def _batches(url: str) -> int:
    """EVALSHA calls Redis has served: journal batches, and claims of `times` routes."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
        return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    procs = Procs()
    try:
        url, redis_pid = _redis(procs)
        memory = procs.start("memory", controlplane_argv())
        shared = procs.start("shared", controlplane_argv("--state", url))
        for server in (memory, shared):
            register(server.admin_url, [PLAIN, LIMITED])
        targets: list[tuple[str, Proc, str]] = [
            ("memory, plain", memory, "/hello"),
            ("--state, plain", shared, "/hello"),
            ("memory, times", memory, "/limited"),
            ("--state, times", shared, "/limited"),
        ]
        results: dict[str, list[tuple[WrkResult, float]]] = {label: [] for label, _, _ in targets}
        sizes: list[float] = []
        for server in (memory, shared):  # warm-up
            run_wrk(server.mock_url + "/hello", 2, server=server)
        for round_ in range(args.rounds):
            shift = round_ % len(targets)
            for label, server, path in targets[shift:] + targets[:shift]:
                redis_before = cpu_seconds(redis_pid)
                batches_before = _batches(url)
                result = run_wrk(server.mock_url + path, args.seconds, server=server)
                results[label].append((result, cpu_seconds(redis_pid) - redis_before))
                if label == "--state, plain":
                    sizes.append(result.requests / max(_batches(url) - batches_before, 1))
        load = os.getloadavg()
        print(f"load average before the report: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(
            f"{'target':<16} {'req/CPU-s':>10} {'µs CPU/req':>11} {'wall req/s':>11} "
            f"{'p99 ms':>7} {'Redis µs/req':>13} {'non-2xx':>8}"
        )
        per_cpu: dict[str, float] = {}
        for label, runs in results.items():
            rate = median([r.per_cpu_s for r, _ in runs])
            per_cpu[label] = rate
            redis_us = median([redis_s / r.requests * 1e6 for r, redis_s in runs])
            print(
                f"{label:<16} {rate:>10.0f} {1e6 / rate:>11.1f} "
                f"{median([r.rps for r, _ in runs]):>11.0f} "
                f"{median([r.p99_ms for r, _ in runs]):>7.2f} {redis_us:>13.1f} "
                f"{sum(r.non_2xx + r.errors for r, _ in runs):>8}"
            )
        print(f"--state, plain: {median(sizes):.1f} entries per journal batch (median)")
        for kind in ("plain", "times"):
            ratio = per_cpu[f"--state, {kind}"] / per_cpu[f"memory, {kind}"]
            print(f"--state / memory, {kind} route (req per server CPU-s): {ratio:.2f}x")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
