"""The benchmark suite: `make bench` (or `.venv/bin/python benchmarks/run.py`).

Starts every server it measures on core 0 and wrk on core 1, runs the scenarios of
benchmarks/README.md, and writes benchmarks/RESULTS.md (and the raw figures to
benchmarks/results.json). `--quick` is a smoke run (short, few rounds) whose figures are
not worth keeping; `--no-peers` skips pytest-httpserver and WireMock. Every process
it starts is stopped on the way out, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import peers
import profile_hot_path
import report
import scenarios
from harness import HERE, LOAD_CORE, Procs, bare_argv, controlplane_argv, ensure_wrk, machine
from setups import start_matrix


def _sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description="controlplane benchmark suite")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--seconds", type=float, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per target (2)")
    parser.add_argument("--requests", type=int, default=1_000_000, help="memory scenario total")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 2 s")
    parser.add_argument("--no-peers", action="store_true", help="skip WireMock, pytest-httpserver")
    parser.add_argument("--output", type=Path, help="default benchmarks/RESULTS.md")
    args = parser.parse_args()
    out_dir = HERE
    if args.quick:  # smoke figures never overwrite the real ones
        args.rounds, args.seconds, args.warmup, args.requests = 2, 2, 1, 100_000
        out_dir = HERE / ".quick"
        out_dir.mkdir(exist_ok=True)
    args.output = args.output or out_dir / "RESULTS.md"
    if ensure_wrk() is None:
        return 2
    signal.signal(signal.SIGTERM, _sigterm)
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {int(LOAD_CORE)})  # keep this orchestrator off the server core
    began = time.monotonic()
    results: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "connections": 32,
            "quick": args.quick,
        },
    }
    procs = Procs()
    try:
        print("throughput matrix: starting servers and registering routes", flush=True)
        targets, servers = start_matrix(procs)
        results["matrix"] = scenarios.matrix(targets, args.rounds, args.seconds, args.warmup)
        results["rss_after_load_kb"] = scenarios.rss_of(servers)
        print("unmatched requests at 10,000 routes, one connection", flush=True)
        unmatched = next(t for t in targets if t.label == "cp_unmatched_10k")
        results["unmatched_c1"] = scenarios.unmatched_latency(unmatched, 3, args.seconds)
        bare_rps = results["matrix"]["bare"]["rps"]
        for server in servers.values():
            procs.stop(server.popen)
        print("100 sessions, garbage collector on and off", flush=True)
        results["sessions_gc"] = scenarios.sessions_gc(procs, 3, args.seconds)
        print("delayed route under concurrency", flush=True)
        results["delayed"] = scenarios.delayed(procs, min(args.rounds, 3), args.seconds)
        print("bulk registration of 10,000 routes", flush=True)
        results["bulk"] = scenarios.bulk(procs, 5)
        print("cold start", flush=True)
        results["cold_start"] = scenarios.cold_start(procs, 7, controlplane_argv(), True)
        results["cold_start_bare"] = scenarios.cold_start(procs, 7, bare_argv(), False)
        print(f"memory over {args.requests:,} requests", flush=True)
        results["memory"] = scenarios.memory(procs, args.requests, args.seconds, 60)
        print("route lookup (in process)", flush=True)
        results["route_lookup"] = scenarios.in_process("route_lookup.py")
        print("hot path, in process", flush=True)
        results["hot_path_micro"] = scenarios.in_process("hot_path_micro.py")
        print("profile (py-spy)", flush=True)
        results["profile"] = profile_hot_path.profile(procs)
        results["peers"] = {"bare_rps": bare_rps}
        if args.no_peers:
            results["peers"]["skipped"] = "--no-peers"
        else:
            for name, measure in (
                ("pytest_httpserver", peers.httpserver),
                ("wiremock", peers.wiremock),
            ):
                print(f"peer: {name}", flush=True)
                try:
                    if name == "wiremock":
                        results["peers"][name] = measure(procs, min(args.rounds, 3), args.seconds)
                    else:
                        results["peers"][name] = measure(
                            procs, min(args.rounds, 3), args.seconds, args.warmup
                        )
                except Exception as exc:  # a peer never fails the suite
                    results["peers"][name] = {"skipped": f"failed: {exc}"}
    finally:
        procs.stop_all()
    results["elapsed_s"] = time.monotonic() - began
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    args.output.write_text(report.render(results))
    print(f"wrote {args.output} in {results['elapsed_s'] / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
