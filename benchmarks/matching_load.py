"""Three scenarios of the suite under wrk, each against 1 route in the same rounds.

Run: `.venv/bin/python benchmarks/matching_load.py [--rounds 3 --seconds 4]
[--baseline DIR]`. Starts the suite's 1-route, conditions (POST matched on headers +
query + json_subset, the 4th of 4 routes), 10,000-template and 100-session servers
(`setups.py`) and the bare server for the same POST, pinned and loaded as `run.py`
does (`scenarios.matrix`: a warm-up each, then interleaved rounds), and prints
requests per server CPU-second and each scenario's ratio to 1 route. With `--baseline
DIR` (a package tree, e.g. `git archive REV controlplane | tar -x -C DIR`) the same four
servers run that code too (`PYTHONPATH=DIR`), in the same rounds.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from harness import Procs, bare_argv, controlplane_argv, expect
from scenarios import matrix
from setups import (
    COND_BODY,
    COND_HEADERS,
    COND_PATH,
    ROUTES,
    SESSIONS,
    Target,
    condition_routes,
    one_route,
    register,
    template_routes,
)


def _servers(procs: Procs, tag: str, pythonpath: str | None) -> list[Target]:
    saved = os.environ.get("PYTHONPATH")
    if pythonpath is not None:
        os.environ["PYTHONPATH"] = pythonpath
    try:
        one = procs.start(f"cp1{tag}", controlplane_argv())
        cond = procs.start(f"cp_cond{tag}", controlplane_argv())
        tmpl = procs.start(f"cp_template{tag}", controlplane_argv())
        sess = procs.start(f"cp_sessions{tag}", controlplane_argv())
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    register(one.admin_url, [one_route()])
    register(cond.admin_url, condition_routes())
    register(tmpl.admin_url, template_routes())
    for i in range(1, SESSIONS + 1):
        expect(201, "POST", sess.admin_url + "/api/sessions", {"id": f"bench{i}"})
        register(sess.admin_url, [one_route()], session=f"bench{i}")
    post = ("POST", COND_BODY, COND_HEADERS)
    return [
        Target(f"1_route{tag}", one, "/hello"),
        Target(
            f"conditions{tag}", cond, COND_PATH, script="conditions.lua", probe=post, status=201
        ),
        Target(f"10k_template{tag}", tmpl, f"/svc{ROUTES - 1}/items/42"),
        Target(f"100_sessions{tag}", sess, "/_s/bench1/hello", script="sessions.lua"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--baseline", help="a package tree to run as the old code")
    args = parser.parse_args()
    procs = Procs()
    try:
        bare = procs.start("bare", bare_argv())
        post = ("POST", COND_BODY, COND_HEADERS)
        targets = [Target("bare_post", bare, COND_PATH, script="conditions.lua", probe=post)]
        targets += [Target("bare", bare, "/hello")]
        targets += _servers(procs, "", None)
        if args.baseline is not None:
            targets += _servers(procs, "@base", os.path.abspath(args.baseline))
        for target in targets:
            target.check()
        results: dict[str, Any] = matrix(targets, args.rounds, args.seconds, args.warmup)
    finally:
        procs.stop_all()
    post, get = results["bare_post"]["per_cpu_s"], results["bare"]["per_cpu_s"]
    print(f"\nbare POST / bare GET: {post / get:.2f}")
    for tag in ("", "@base") if args.baseline else ("",):
        base = results[f"1_route{tag}"]["per_cpu_s"]
        for name in ("1_route", "conditions", "10k_template", "100_sessions"):
            summary = results[f"{name}{tag}"]
            per_cpu = summary["per_cpu_s"]
            print(
                f"{name + tag:<20} {per_cpu:9,.0f} per CPU-s ({summary['per_cpu_s_min']:,.0f}-"
                f"{summary['per_cpu_s_max']:,.0f})  {1e6 / per_cpu:5.1f} µs  "
                f"vs 1 route {per_cpu / base:.2f}"
            )


if __name__ == "__main__":
    main()
