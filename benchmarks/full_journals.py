"""Full journals against fresh ones and against 1 route: 100 sessions round-robin,
side by side in one run.

Run: `.venv/bin/python benchmarks/full_journals.py [--rounds 6] [--seconds 4]
[--baseline DIR]` (needs
wrk; ~1 min to fill, then rounds x 3 x seconds, twice that with `--baseline DIR`).

Two servers as `cp_sessions` of the suite (`controlplane serve` on the server core,
default journal of 10,000 entries, sessions `bench1..bench100` with `GET /hello`
each). One has every journal filled first (`--fill` requests per session, exactly,
as `journal_memory.py` sends them: past 10,000 every request evicts the oldest entry),
as the matrix's row finds its server after many rounds; the other has its journals
cleared before each of its runs (a few thousand entries per journal by the run's end).
A third server has the one route `GET /hello` in its default session (`cp_1_route`),
loaded with that GET, its journal full too (it takes the matrix's rounds as well).
With `--baseline DIR` (a package tree, `git archive REV controlplane | tar -x -C DIR`)
three more servers run that tree (`PYTHONPATH`), and `full/full@base` compares the
two full ones. They take turns under wrk (`lua/sessions.lua` for the sessions, the
matrix's load), in a rotating order; a round's ratios are full / fresh and full / 1
route in requests per server CPU-second, and the medians of the rounds are the
figures. The load of a shared machine moves them alike within a round, so the ratios
are what to read (the load average is printed too).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from harness import Proc, Procs, controlplane_argv, expect, run_wrk
from journal_memory import fill
from setups import SESSIONS, make_sessions, one_route, register


def _clear(server: Proc) -> None:
    for i in range(1, SESSIONS + 1):
        expect(204, "DELETE", f"{server.admin_url}/api/sessions/bench{i}/requests")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


#: The servers of one package tree: name -> (path, wrk script); the sessions' path is
#: the script's.
KINDS = {"fresh": ("/", "sessions.lua"), "full": ("/", "sessions.lua"), "1_route": ("/hello", None)}


def _start(procs: Procs, tree: str, baseline: str | None, fill_each: int) -> dict[str, Proc]:
    """The three servers of a tree (`baseline`: a package tree's directory, None for this
    checkout's), the full one filled, every one warmed."""
    prefix = [] if baseline is None else ["env", f"PYTHONPATH={os.path.abspath(baseline)}"]
    servers = {}
    for kind in KINDS:
        servers[kind + tree] = procs.start(f"cp_{kind}{tree}", [*prefix, *controlplane_argv()])
    make_sessions(servers["fresh" + tree].admin_url)
    make_sessions(servers["full" + tree].admin_url)
    register(servers["1_route" + tree].admin_url, [one_route()])
    started = time.monotonic()
    for i in range(1, SESSIONS + 1):
        fill(servers["full" + tree].mock_url, f"bench{i}", fill_each)
    print(f"{tree or 'this tree'}: filled {SESSIONS} x {fill_each:,} in "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    # Not counted: the first requests of a server warm its caches; 1 route's journal
    # fills here (10,000 entries in well under 8 s).
    for kind in KINDS:
        path, script = KINDS[kind]
        server = servers[kind + tree]
        run_wrk(server.mock_url + path, 8 if script is None else 2, script=script, server=server)
    return servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fill", type=int, default=10_500, help="requests per session")
    parser.add_argument("--baseline", help="a package tree whose three servers run too")
    args = parser.parse_args()
    procs = Procs()
    trees = [""] if args.baseline is None else ["", "@base"]
    try:
        servers = _start(procs, "", None, args.fill)
        if args.baseline is not None:
            servers.update(_start(procs, "@base", args.baseline, args.fill))
        names = list(servers)
        ratios: dict[str, list[float]] = {}
        for round_ in range(args.rounds):
            rates = {}
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                server = servers[name]
                if name.startswith("fresh"):
                    _clear(server)
                path, script = KINDS[name.partition("@")[0]]
                result = run_wrk(server.mock_url + path, args.seconds, script=script, server=server)
                if result.non_2xx or result.errors:
                    raise RuntimeError(f"{name}: {result.non_2xx} non-2xx, {result.errors} errors")
                rates[name] = result.per_cpu_s
            for tree in trees:
                for other in ("fresh", "1_route"):
                    label = f"full/{other}{tree}"
                    ratios.setdefault(label, []).append(rates["full" + tree] / rates[other + tree])
            if args.baseline is not None:
                ratios.setdefault("full/full@base", []).append(rates["full"] / rates["full@base"])
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items())
                + " req per CPU-s; "
                + ", ".join(f"{label} {values[-1]:.3f}" for label, values in ratios.items())
                + f" (load {_load()})",
                flush=True,
            )
        print(
            ", ".join(
                f"median {label} {statistics.median(values):.3f}"
                for label, values in ratios.items()
            )
            + f" over {args.rounds} rounds; RSS "
            + ", ".join(
                f"{name} {server.rss_kb() / 1024:.1f} MB" for name, server in servers.items()
            )
        )
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
