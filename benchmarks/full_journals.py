"""Full journals against fresh ones: 100 sessions round-robin, side by side in one run.

Run: `.venv/bin/python benchmarks/full_journals.py [--rounds 5] [--seconds 5]` (needs
wrk; ~1 min to fill, then rounds x 2 x seconds).

Two servers as `cp_sessions` of the suite (`controlplane serve` on the server core,
default journal of 10,000 entries, sessions `bench1..bench100` with `GET /hello`
each). One has every journal filled first (`--fill` requests per session, exactly,
as `journal_memory.py` sends them: past 10,000 every request evicts the oldest entry),
as the matrix's row finds its server after many rounds; the other has its journals
cleared before each of its runs (a few thousand entries per journal by the run's end).
They take turns under wrk (`lua/sessions.lua`, the matrix's load), alternating which
goes first; a round's ratio is full / fresh in requests per server CPU-second, and the
median of the rounds is the figure. The load of a shared machine moves both alike
within a round, so the ratio is what to read (the load average is printed too).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from harness import Proc, Procs, controlplane_argv, expect, run_wrk
from journal_memory import fill
from setups import SESSIONS, make_sessions


def _clear(server: Proc) -> None:
    for i in range(1, SESSIONS + 1):
        expect(204, "DELETE", f"{server.admin_url}/api/sessions/bench{i}/requests")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fill", type=int, default=10_500, help="requests per session")
    args = parser.parse_args()
    procs = Procs()
    try:
        servers = {
            name: procs.start(f"cp_{name}", controlplane_argv()) for name in ("fresh", "full")
        }
        for server in servers.values():
            make_sessions(server.admin_url)
        started = time.monotonic()
        for i in range(1, SESSIONS + 1):
            fill(servers["full"].mock_url, f"bench{i}", args.fill)
        print(f"filled {SESSIONS} x {args.fill:,} in {time.monotonic() - started:.1f} s")
        # A short run each, not counted: the first requests of a server warm its caches.
        for server in servers.values():
            run_wrk(server.mock_url + "/", 2, script="sessions.lua", server=server)
        ratios = []
        for round_ in range(args.rounds):
            rates = {}
            order = ("fresh", "full") if round_ % 2 == 0 else ("full", "fresh")
            for name in order:
                server = servers[name]
                if name == "fresh":
                    _clear(server)
                result = run_wrk(
                    server.mock_url + "/", args.seconds, script="sessions.lua", server=server
                )
                if result.non_2xx or result.errors:
                    raise RuntimeError(f"{name}: {result.non_2xx} non-2xx, {result.errors} errors")
                rates[name] = result.per_cpu_s
            ratios.append(rates["full"] / rates["fresh"])
            print(
                f"round {round_ + 1}: fresh {rates['fresh']:,.0f}, full {rates['full']:,.0f} "
                f"req per CPU-s, full/fresh {ratios[-1]:.3f} (load {_load()})",
                flush=True,
            )
        rss = {name: server.rss_kb() / 1024 for name, server in servers.items()}
        print(
            f"median full/fresh {statistics.median(ratios):.3f} over {args.rounds} rounds; "
            f"RSS fresh {rss['fresh']:.1f} MB, full {rss['full']:.1f} MB"
        )
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
