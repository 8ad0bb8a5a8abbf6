"""1 route against the bare server, alone: the suite's first two rows, side by side.

Run: `.venv/bin/python benchmarks/one_route.py [--rounds 3] [--seconds 3] [--baseline DIR]`.

The bare low-level server (`bare_server.py`) and controlplane with `GET /hello` (the
1-route scenario), measured as `make bench` measures them (`scenarios.matrix`: server
on core 0, wrk on core 1, a warm-up, then rounds in a rotated order). With
`--baseline DIR` (a directory holding another version's `controlplane` package, e.g.
`git archive REV controlplane | tar -x -C DIR`) a third server runs that code in the
same rounds, so before and after are side by side. Prints requests per server
CPU-second and per wall-clock second, and their ratios to bare; nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import Procs, bare_argv, controlplane_argv, ensure_wrk
from scenarios import matrix
from setups import Target, one_route, register


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--baseline", help="a directory holding another `controlplane` package")
    args = parser.parse_args()
    if ensure_wrk() is None:
        return 2
    procs = Procs()
    try:
        bare = procs.start("bare", bare_argv())
        targets = [Target("bare", bare, "/hello")]
        servers = [("controlplane", controlplane_argv())]
        if args.baseline:
            env = ["env", f"PYTHONPATH={Path(args.baseline).resolve()}"]
            servers.append(("baseline", [*env, *controlplane_argv()]))
        for label, argv in servers:
            server = procs.start(label, argv)
            register(server.admin_url, one_route())
            targets.append(Target(label, server, "/hello"))
        for target in targets:
            target.check()
        results = matrix(targets, args.rounds, args.seconds, args.warmup)
    finally:
        procs.stop_all()
    ceiling = results["bare"]
    for label, summary in results.items():
        print(
            f"{label:<13} {summary['per_cpu_s']:9,.0f} per CPU-s "
            f"(x{summary['per_cpu_s'] / ceiling['per_cpu_s']:.2f} of bare), "
            f"{summary['rps']:9,.0f} req/s wall (x{summary['rps'] / ceiling['rps']:.2f}), "
            f"p50 {summary['p50_ms']:.2f} ms, non-2xx {summary['non_2xx']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
