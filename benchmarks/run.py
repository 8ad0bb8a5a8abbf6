"""The benchmark suite: `make bench` (or `.venv/bin/python benchmarks/run.py`).

Starts every server it measures on core 0 and wrk on core 1, runs the scenarios of
benchmarks/README.md, and writes benchmarks/RESULTS.md (and the raw figures to
benchmarks/results.json). `--quick` is a smoke run (short, few rounds) whose figures are
not worth keeping; `--no-peers` skips pytest-httpserver and WireMock; `--only NAME,..`
runs a subset (`--list` names them). A smoke or subset run writes into
benchmarks/.quick/ unless `--output` says where: RESULTS.md is the whole suite's.
Every process it starts is stopped on the way out, also on Ctrl-C or SIGTERM.
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

import journal_memory
import peers
import profile_hot_path
import report
import scenarios
from harness import (
    HERE,
    LOAD_CORE,
    Procs,
    bare_argv,
    controlplane_argv,
    ensure_wrk,
    machine,
    remove_bytecode,
)
from setups import SESSIONS, TARGETS, start_matrix, with_references

#: The sections after the throughput matrix, in the order they run.
SECTIONS = (
    "unmatched_c1",
    "sessions_gc",
    "delayed",
    "bulk",
    "cold_start",
    "memory",
    "journal_rss",
    "proxy",
    "route_lookup",
    "hot_path_micro",
    "profile",
    "pytest_httpserver",
    "wiremock",
)
#: Names `--only` also takes, each standing for several.
GROUPS = {"matrix": tuple(TARGETS), "peers": ("pytest_httpserver", "wiremock")}
PEER_NAMES = GROUPS["peers"]


def select(only: str | None, no_peers: bool = False) -> tuple[set[str], set[str]]:
    """The matrix targets and the sections to run, from `--only` (None: everything).

    A target brings the one its ratio is taken against (`setups.REFERENCE`), and
    `unmatched_c1` the unmatched target (it loads that target's server).
    Raises ValueError naming what is unknown.
    """
    names = [n.strip() for n in only.split(",") if n.strip()] if only else []
    unknown = [n for n in names if n not in TARGETS and n not in SECTIONS and n not in GROUPS]
    if unknown:
        valid = ", ".join([*GROUPS, *TARGETS, *SECTIONS])
        raise ValueError(f"unknown scenario {', '.join(unknown)}; choose from: {valid}")
    if only is None:
        targets, sections = set(TARGETS), set(SECTIONS)
    else:
        expanded = {m for n in names for m in GROUPS.get(n, (n,))}
        targets = {n for n in expanded if n in TARGETS}
        sections = {n for n in expanded if n in SECTIONS}
        if "unmatched_c1" in sections:
            targets.add("cp_unmatched_10k")
        targets = with_references(targets)
    if no_peers:
        sections -= set(PEER_NAMES)
    return targets, sections


def outputs(output: Path | None, partial: bool) -> tuple[Path, Path]:
    """Where the report and the raw figures go: `--output` and a `.json` beside it;
    else benchmarks/RESULTS.md for the whole suite and benchmarks/.quick/ otherwise."""
    if output is None:
        folder = HERE / ".quick" if partial else HERE
        return folder / "RESULTS.md", folder / "results.json"
    if output.name == "RESULTS.md":
        return output, output.with_name("results.json")
    return output, output.with_suffix(".json")


def _sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description="controlplane benchmark suite")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    parser.add_argument("--seconds", type=float, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per target (2)")
    parser.add_argument("--requests", type=int, default=1_000_000, help="memory scenario total")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 rounds of 2 s, peers warmed <= 20 s"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip WireMock, pytest-httpserver")
    parser.add_argument("--only", metavar="NAME[,NAME..]", help="run these scenarios (--list)")
    parser.add_argument("--list", action="store_true", help="name the scenarios --only takes")
    parser.add_argument(
        "--peer-window", type=float, default=3, help="peers' warm-up window, seconds (3)"
    )
    parser.add_argument(
        "--peer-warmup-max",
        type=float,
        default=90,
        help="longest warm-up of a JVM peer, seconds (90; 30 for the others, or this if less)",
    )
    parser.add_argument("--output", type=Path, help="default benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.list:
        print("groups:", ", ".join(f"{k} ({', '.join(v)})" for k, v in GROUPS.items()))
        print("throughput matrix:", ", ".join(TARGETS))
        print("other sections:", ", ".join(SECTIONS))
        return 0
    try:
        targets, sections = select(args.only, args.no_peers)
    except ValueError as exc:
        parser.error(str(exc))
    if args.quick:  # smoke figures never overwrite the real ones
        args.rounds, args.seconds, args.warmup, args.requests = 2, 2, 1, 100_000
        args.peer_window, args.peer_warmup_max = 2, min(args.peer_warmup_max, 20)
    output, raw = outputs(args.output, args.quick or args.only is not None)
    output.parent.mkdir(parents=True, exist_ok=True)
    rule = peers.Warmup(
        window_s=args.peer_window,
        max_s=args.peer_warmup_max,
        max_s_python=min(30.0, args.peer_warmup_max),
    )
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
            "only": args.only,
            "peer_warmup": vars(rule),
        },
    }
    procs = Procs()
    try:
        _measure(procs, results, targets, sections, args, rule)
    finally:
        procs.stop_all()
    results["elapsed_s"] = time.monotonic() - began
    raw.write_text(json.dumps(results, indent=1) + "\n")
    output.write_text(report.render(results))
    print("\n".join(["", *report.budget(results), ""]))
    print(f"wrote {output} and {raw.name} in {results['elapsed_s'] / 60:.1f} min", flush=True)
    return 0


def _measure(
    procs: Procs,
    results: dict[str, Any],
    targets: set[str],
    sections: set[str],
    args: argparse.Namespace,
    rule: peers.Warmup,
) -> None:
    """Run the chosen `targets` and `sections` into `results`."""
    rounds, seconds = args.rounds, args.seconds
    if targets:
        print("throughput matrix: starting servers and registering routes", flush=True)
        matrix, servers = start_matrix(procs, targets)
        results["matrix"] = scenarios.matrix(matrix, rounds, seconds, args.warmup)
        results["rss_after_load_kb"] = scenarios.rss_of(servers)
        if "unmatched_c1" in sections:
            print("unmatched requests at 10,000 routes, one connection", flush=True)
            unmatched = next(t for t in matrix if t.label == "cp_unmatched_10k")
            results["unmatched_c1"] = scenarios.unmatched_latency(unmatched, 3, seconds)
        for server in servers.values():
            procs.stop(server.popen)
    if "sessions_gc" in sections:
        print("100 sessions, garbage collector on and off", flush=True)
        results["sessions_gc"] = scenarios.sessions_gc(procs, 3, seconds)
    if "delayed" in sections:
        print("delayed route under concurrency", flush=True)
        results["delayed"] = scenarios.delayed(procs, min(rounds, 3), seconds)
    if "bulk" in sections:
        print("bulk registration of 10,000 routes", flush=True)
        results["bulk"] = scenarios.bulk(procs, 5)
    if "cold_start" in sections:
        print("cold start", flush=True)
        results["cold_start_no_bytecode"] = scenarios.cold_start(
            procs, 7, controlplane_argv(), True, remove_bytecode()
        )
        results["cold_start"] = scenarios.cold_start(procs, 7, controlplane_argv(), True)
        results["cold_start_bare"] = scenarios.cold_start(procs, 7, bare_argv(), False)
    if "memory" in sections:
        print(f"memory over {args.requests:,} requests", flush=True)
        results["memory"] = scenarios.memory(procs, args.requests, seconds, 60)
    if "journal_rss" in sections:
        print(f"{SESSIONS} sessions, each journal filled with 10,000 GETs", flush=True)
        results["journal_rss"] = journal_memory.server_rss(SESSIONS, 10_000)
    if "proxy" in sections:
        print("the proxy response vs its origin", flush=True)
        results["proxy"] = scenarios.proxy_ratio(procs, min(rounds, 3), seconds)
    if "route_lookup" in sections:
        print("route lookup (in process)", flush=True)
        results["route_lookup"] = scenarios.in_process("route_lookup.py")
    if "hot_path_micro" in sections:
        print("hot path, in process", flush=True)
        results["hot_path_micro"] = scenarios.in_process("hot_path_micro.py")
    if "profile" in sections:
        print("profile (py-spy)", flush=True)
        results["profile"] = profile_hot_path.profile(procs)
    chosen = [name for name in PEER_NAMES if name in sections]
    if args.no_peers:
        results["peers"] = {"skipped": "--no-peers"}
    elif chosen:
        results["peers"] = _peers(procs, chosen, min(rounds, 3), seconds, rule)


def _peers(
    procs: Procs, chosen: list[str], rounds: int, seconds: float, rule: peers.Warmup
) -> dict[str, Any]:
    """controlplane measured as the peers are, then each chosen peer; a peer that fails
    is a note, never a failed suite."""
    print("peers: controlplane, warmed and measured as the peers are", flush=True)
    out: dict[str, Any] = {"controlplane": peers.controlplane(procs, rounds, seconds, rule)}
    measures = {"pytest_httpserver": peers.httpserver, "wiremock": peers.wiremock}
    for name in chosen:
        print(f"peer: {name}", flush=True)
        try:
            out[name] = measures[name](procs, rounds, seconds, rule)
        except Exception as exc:  # a peer never fails the suite
            out[name] = {"skipped": f"failed: {exc}"}
    return out


if __name__ == "__main__":
    sys.exit(main())
