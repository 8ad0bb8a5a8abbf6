"""`serve --workers N` and `serve --state`: what more processes buy, what the state costs.

    .venv/bin/python benchmarks/workers.py [--rounds 5] [--seconds 5]

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
   second of server CPU time (see README.md, "How it measures") and wall clock.

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
import shutil
import socket
import sys
import time
from pathlib import Path

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

ROUTE = {
    "method": "GET",
    "path": "/hello",
    "handler": "hello",
    "response": {"type": "json", "body": {"ok": True}},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _redis(procs: Procs) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is missing: apt-get install redis-server")
    port = _free_port()
    procs.spawn(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=open(os.devnull, "wb"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 10
    while True:  # a bounded wait for its first answer
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}"
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"redis-server on port {port} did not start")
        time.sleep(0.02)


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


def _measure(
    servers: dict[str, Proc], rounds: int, seconds: float, *, cpu: bool, connections: int
) -> dict[str, list[WrkResult]]:
    results: dict[str, list[WrkResult]] = {name: [] for name in servers}
    names = list(servers)
    for name in names:  # warm-up
        run_wrk(f"{servers[name].mock_url}/hello", 2, connections=connections)
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            server = servers[name]
            result = run_wrk(
                f"{server.mock_url}/hello",
                seconds,
                server=server if cpu else None,
                connections=connections,
            )
            if result.non_2xx or result.errors:
                raise RuntimeError(f"{name}: {result.non_2xx} non-2xx, {result.errors} errors")
            results[name].append(result)
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
    args = parser.parse_args()
    if ensure_wrk() is None:
        sys.exit(1)
    procs = Procs()
    try:
        state = _redis(procs)
        scaling: dict[str, Proc] = {
            "workers 1": procs.start("w1", _unpinned("--state", f"{state}/1", "--workers", "1")),
            "workers 2": _Workers(
                procs.start("w2", _unpinned("--state", f"{state}/2", "--workers", "2"))
            ),
        }
        hot = {
            "in memory": procs.start("memory", controlplane_argv()),
            "--state": procs.start("state", controlplane_argv("--state", f"{state}/3")),
        }
        for server in (*scaling.values(), *hot.values()):
            expect(201, "POST", f"{server.admin_url}/api/routes", ROUTE)
        load_before = _loadavg()
        scaled = _measure(scaling, args.rounds, args.seconds, cpu=True, connections=64)
        paths = _measure(hot, args.rounds, args.seconds, cpu=True, connections=32)
        writes_memory = _write_latency(hot["in memory"])
        writes_shared = _write_latency(scaling["workers 2"])
        load_after = _loadavg()
    finally:
        procs.stop_all()

    w1 = median([r.rps for r in scaled["workers 1"]])
    w2 = median([r.rps for r in scaled["workers 2"]])
    w1_cpu = median([r.per_cpu_s for r in scaled["workers 1"]])
    w2_cpu = median([r.per_cpu_s for r in scaled["workers 2"]])
    w2_cores = median([r.cpu_s / r.seconds for r in scaled["workers 2"]])
    memory_cpu = median([r.per_cpu_s for r in paths["in memory"]])
    state_cpu = median([r.per_cpu_s for r in paths["--state"]])
    memory_wall = median([r.rps for r in paths["in memory"]])
    state_wall = median([r.rps for r in paths["--state"]])
    summary = {
        "rounds": args.rounds,
        "seconds": args.seconds,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "workers_1_rps": round(w1),
        "workers_2_rps": round(w2),
        "scaling_factor": round(w2 / w1, 2),
        "workers_2_cores_used": round(w2_cores, 2),
        "workers_1_per_cpu_s": round(w1_cpu),
        "workers_2_per_cpu_s": round(w2_cpu),
        "worker_vs_lone_cpu": round(w2_cpu / w1_cpu, 3),
        "in_memory_per_cpu_s": round(memory_cpu),
        "state_per_cpu_s": round(state_cpu),
        "state_vs_memory_cpu": round(state_cpu / memory_cpu, 3),
        "in_memory_rps": round(memory_wall),
        "state_rps": round(state_wall),
        "state_vs_memory_wall": round(state_wall / memory_wall, 3),
        "write_ms_in_memory_p50_p90": [round(x, 2) for x in writes_memory],
        "write_ms_workers_2_p50_p90": [round(x, 2) for x in writes_shared],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
