"""`serve --workers N` and `serve --state`: what more processes buy, what the state costs.

    .venv/bin/python benchmarks/workers.py [--rounds 5] [--seconds 5] [--only SECTION]

`--only hot` runs section 2 alone (`scaling`, `scaling_pipelined`, `writes`: sections 1
and 3). With `--baseline DIR` (a package tree, e.g. `git archive REV controlplane | tar -x -C DIR`)
section 2 also runs a `--state` process from that tree, side by side with this one.
`--connections N` is wrk's in section 2 (32): with fewer, journal batches are smaller
(a batch holds at most one request per connection), so their cost weighs more.

Two comparisons, each taken side by side in one run (rounds interleave the servers,
figures are medians), against a redis-server this script starts on a free loopback
port (persistence off):

1. **Scaling**: one plain route (`GET /hello`, a JSON body) served by `--state ...
   --workers 1` and by `--workers 2`, servers and wrk unpinned (the workers need both
   cores; wrk takes some of them too, so on a 2-core machine the factor is a floor).
   Wall-clock requests per second, and requests per second of the workers' summed CPU
   time: when the machine has no idle core to give the second worker (a shared,
   loaded machine), the wall-clock factor says little, while the CPU figures show
   whether a worker costs more per request than a lone process (they should match).
2. **The hot path with shared state**: the same route on one process in memory and on
   one process with `--state`, each pinned to core 0 with wrk on core 1; requests per
   second of server CPU time (see README.md, "How it measures") and wall clock; beside
   them Redis's own CPU per request of the `--state` process (not in its figure) and
   the entries per journal batch (Redis's XADD calls over its EVALSHA calls).

   **Pipelined** (section `scaling_pipelined`): the same servers under wrk sending 16
   requests per write (`lua/pipeline.lua`, the method of TechEmpower's plaintext
   test). wrk then spends far less CPU per request, so the second worker gets more of
   the core it shares with wrk: the factor says how far the server itself scales when
   the load generator is not what limits it (Redis, writing the journals, still runs
   on the same two cores).

3. **An admin write's latency**: 300 `POST /api/routes` one after another (a new
   connection each), to the in-memory process and to `--workers 2` (which returns
   once both workers applied the route); p50 and p90.

The machine's load (`/proc/loadavg`) is printed with the figures: on a shared machine
they are provisional.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    VENV_BIN,
    Proc,
    Procs,
    WrkResult,
    controlplane_argv,
    cpu_seconds,
    ensure_wrk,
    expect,
    median,
    run_wrk,
)
from redis_server import RedisServer, start_redis

#: Sections that `--only` picks: 1, 2 and 3 of the docstring.
SECTIONS = ("scaling", "scaling_pipelined", "hot", "writes")
ROUTE = {
    "method": "GET",
    "path": "/hello",
    "handler": "hello",
    "response": {"type": "json", "body": {"ok": True}},
}


def _unpinned(*extra: str) -> list[str]:
    exe = str(VENV_BIN / "controlplane")
    return [exe, "serve", "--port", "0", "--admin-port", "0", "--log-level", "warning", *extra]


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


class _Workers(Proc):
    """A `--workers N` supervisor whose CPU time is its workers' (its children's)."""

    def __init__(self, proc: Proc) -> None:
        self.__dict__.update(proc.__dict__)
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        self.children = [int(pid) for pid in children]

    def cpu_s(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.children)


@dataclass
class _Run:
    wrk: WrkResult
    #: Redis's CPU seconds during the run, and the journal batches and entries it wrote.
    redis_s: float
    batches: int
    entries: int


def _measure(
    servers: dict[str, Proc],
    rounds: int,
    seconds: float,
    *,
    cpu: bool,
    connections: int,
    state: RedisServer,
    script: str | None = None,
) -> dict[str, list[_Run]]:
    results: dict[str, list[_Run]] = {name: [] for name in servers}
    names = list(servers)
    for name in names:  # warm-up
        run_wrk(f"{servers[name].mock_url}/hello", 2, connections=connections, script=script)
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            server = servers[name]
            before = (state.cpu_s(), *state.calls("evalsha", "xadd"))
            result = run_wrk(
                f"{server.mock_url}/hello",
                seconds,
                server=server if cpu else None,
                connections=connections,
                script=script,
            )
            after = (state.cpu_s(), *state.calls("evalsha", "xadd"))
            if result.non_2xx or result.errors:
                raise RuntimeError(f"{name}: {result.non_2xx} non-2xx, {result.errors} errors")
            results[name].append(
                _Run(result, after[0] - before[0], after[1] - before[1], after[2] - before[2])
            )
    return results


def _write_latency(server: Proc, count: int = 300) -> tuple[float, float]:
    """p50 and p90, in ms, of adding `count` routes one after another."""
    took = []
    for index in range(count):
        route = {**ROUTE, "path": f"/w{index}", "handler": f"w{index}"}
        started = time.perf_counter()
        expect(201, "POST", f"{server.admin_url}/api/routes", route)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return took[count // 2], took[count * 9 // 10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run this section (repeatable)"
    )
    parser.add_argument("--baseline", help="a package tree: section 2 runs its --state too")
    parser.add_argument(
        "--connections", type=int, default=32, help="wrk's connections in section 2"
    )
    args = parser.parse_args()
    sections = args.only or list(SECTIONS)
    if ensure_wrk() is None:
        sys.exit(1)
    procs = Procs()
    summary: dict[str, Any] = {"rounds": args.rounds, "seconds": args.seconds}
    try:
        state = start_redis(procs)
        scaling: dict[str, Proc] = {}
        if {"scaling", "scaling_pipelined", "writes"} & set(sections):
            scaling["workers 1"] = procs.start(
                "w1", _unpinned("--state", f"{state.url}/1", "--workers", "1")
            )
            scaling["workers 2"] = _Workers(
                procs.start("w2", _unpinned("--state", f"{state.url}/2", "--workers", "2"))
            )
        hot = {
            "in memory": procs.start("memory", controlplane_argv()),
            "--state": procs.start("state", controlplane_argv("--state", f"{state.url}/3")),
        }
        if args.baseline is not None:
            argv = controlplane_argv("--state", f"{state.url}/4")
            at = argv.index(str(VENV_BIN / "controlplane"))
            tree = os.path.abspath(args.baseline)
            argv[at:at] = ["env", f"PYTHONPATH={tree}"]  # its package before the working tree's
            hot["--state baseline"] = procs.start("baseline", argv)
        for server in (*scaling.values(), *hot.values()):
            expect(201, "POST", f"{server.admin_url}/api/routes", ROUTE)
        summary["loadavg_before"] = _loadavg()
        if "scaling" in sections:
            summary.update(
                _scaling(
                    _measure(
                        scaling, args.rounds, args.seconds, cpu=True, connections=64, state=state
                    )
                )
            )
        if "scaling_pipelined" in sections:
            pipelined = _measure(
                scaling,
                args.rounds,
                args.seconds,
                cpu=True,
                connections=64,
                state=state,
                script="pipeline.lua",
            )
            summary.update({f"pipelined_{k}": v for k, v in _scaling(pipelined).items()})
        if "hot" in sections:
            summary.update(
                _hot(
                    _measure(
                        hot,
                        args.rounds,
                        args.seconds,
                        cpu=True,
                        connections=args.connections,
                        state=state,
                    )
                )
            )
        if "writes" in sections:
            writes_memory = _write_latency(hot["in memory"])
            writes_shared = _write_latency(scaling["workers 2"])
            summary["write_ms_in_memory_p50_p90"] = [round(x, 2) for x in writes_memory]
            summary["write_ms_workers_2_p50_p90"] = [round(x, 2) for x in writes_shared]
        summary["loadavg_after"] = _loadavg()
    finally:
        procs.stop_all()
    print(json.dumps(summary, indent=2))


def _scaling(scaled: dict[str, list[_Run]]) -> dict[str, Any]:
    w1 = median([r.wrk.rps for r in scaled["workers 1"]])
    w2 = median([r.wrk.rps for r in scaled["workers 2"]])
    w1_cpu = median([r.wrk.per_cpu_s for r in scaled["workers 1"]])
    w2_cpu = median([r.wrk.per_cpu_s for r in scaled["workers 2"]])
    w2_cores = median([r.wrk.cpu_s / r.wrk.seconds for r in scaled["workers 2"]])
    return {
        "workers_1_rps": round(w1),
        "workers_2_rps": round(w2),
        "scaling_factor": round(w2 / w1, 2),
        "workers_2_cores_used": round(w2_cores, 2),
        "workers_1_per_cpu_s": round(w1_cpu),
        "workers_2_per_cpu_s": round(w2_cpu),
        "worker_vs_lone_cpu": round(w2_cpu / w1_cpu, 3),
    }


def _hot(paths: dict[str, list[_Run]]) -> dict[str, Any]:
    memory, shared = paths["in memory"], paths["--state"]
    memory_cpu = median([r.wrk.per_cpu_s for r in memory])
    state_cpu = median([r.wrk.per_cpu_s for r in shared])
    memory_wall = median([r.wrk.rps for r in memory])
    state_wall = median([r.wrk.rps for r in shared])
    figures: dict[str, Any] = {
        "in_memory_per_cpu_s": round(memory_cpu),
        "state_per_cpu_s": round(state_cpu),
        "state_vs_memory_cpu": round(state_cpu / memory_cpu, 3),
        "in_memory_rps": round(memory_wall),
        "state_rps": round(state_wall),
        "state_vs_memory_wall": round(state_wall / memory_wall, 3),
        "server_us_per_request_in_memory_state": [
            round(1e6 / memory_cpu, 1),
            round(1e6 / state_cpu, 1),
        ],
        "redis_us_per_request_state": round(
            median([r.redis_s / r.wrk.requests * 1e6 for r in shared]), 1
        ),
        "entries_per_batch_state": round(
            median([r.entries / max(r.batches, 1) for r in shared]), 1
        ),
    }
    base = paths.get("--state baseline")
    if base is not None:
        base_cpu = median([r.wrk.per_cpu_s for r in base])
        figures["baseline_state_per_cpu_s"] = round(base_cpu)
        figures["baseline_state_vs_memory_cpu"] = round(base_cpu / memory_cpu, 3)
        figures["redis_us_per_request_baseline"] = round(
            median([r.redis_s / r.wrk.requests * 1e6 for r in base]), 1
        )
        figures["entries_per_batch_baseline"] = round(
            median([r.entries / max(r.batches, 1) for r in base]), 1
        )
    return figures


if __name__ == "__main__":
    main()
