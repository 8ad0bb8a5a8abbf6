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
from typing import Any

from harness import (
    LOAD_CORE,
    Proc,
    Procs,
    WrkResult,
    controlplane_argv,
    cpu_seconds,
    median,
    run_wrk,
)
from redis_server import start_redis
from setups import JSON_OK, register

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    procs = Procs()
    try:
        own = start_redis(procs, LOAD_CORE)
        url, redis_pid = f"{own.url}/0", own.pid
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
                [batches_before] = own.calls("evalsha")
                result = run_wrk(server.mock_url + path, args.seconds, server=server)
                results[label].append((result, cpu_seconds(redis_pid) - redis_before))
                if label == "--state, plain":
                    [batches] = own.calls("evalsha")
                    sizes.append(result.requests / max(batches - batches_before, 1))
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
