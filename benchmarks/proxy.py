"""The `proxy` response against a local origin: throughput ratio and memory over time.

Run: `.venv/bin/python benchmarks/proxy.py [--rounds 5] [--seconds 5] [--requests 100000]
[--baseline DIR]`.

The origin is the bare aiohttp server (`bare_server.py`); controlplane forwards
`GET /hello` to it with a `proxy` response. Both run on core 0, wrk on core 1. Each
round loads the origin directly, then through the proxy (the same wrk load), and
reads both processes' CPU time. Reported, as medians:

- **wall ratio**: proxied req/s over direct req/s (both servers share one core, so this
  is what a test suite sees when the proxy and its origin compete for a machine);
- **CPU ratio**: the bare origin's CPU per request over the proxy's own CPU per proxied
  request (how much one proxied hop costs next to the cheapest aiohttp answer);
- **baseline** (with `--baseline DIR`, a directory holding another version's
  `controlplane` package, e.g. `git archive REV controlplane | tar -x -C DIR`): a second
  proxy runs that code and each round loads it too, between the origin and the proxy,
  so before and after are measured side by side;
- **memory**: the proxy's RSS after each chunk of proxied requests up to `--requests`
  (flat once the journal, 10,000 entries by default, is full; at most 5 minutes of it).

Nothing is asserted: the figures are printed and written to benchmarks/proxy.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from harness import HERE, Procs, bare_argv, controlplane_argv, ensure_wrk, expect, median, run_wrk


def _load(url: str, seconds: float, procs: list[Any]) -> tuple[float, int, list[float], int]:
    """wrk on `url`: (req/s, requests, CPU seconds of each of `procs`, failures)."""
    before = [p.cpu_s() for p in procs]
    result = run_wrk(url, seconds)
    used = [p.cpu_s() - b for p, b in zip(procs, before, strict=True)]
    return result.rps, result.requests, used, result.non_2xx + result.errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--baseline", help="a directory holding another `controlplane` package")
    args = parser.parse_args()
    if ensure_wrk() is None:
        return 2
    procs = Procs()
    try:
        origin = procs.start("origin", bare_argv())
        proxy = procs.start("proxy", controlplane_argv())
        proxies = [proxy]
        if args.baseline:
            env = ["env", f"PYTHONPATH={Path(args.baseline).resolve()}"]
            proxies.append(procs.start("baseline", [*env, *controlplane_argv()]))
        route = {
            "method": "GET",
            "path": "/hello",
            "handler": "origin",
            "response": {"type": "proxy", "url": origin.mock_url},
        }
        run_wrk(origin.mock_url + "/hello", 1)  # warm-up
        for server in proxies:
            expect(201, "POST", server.admin_url + "/api/routes", route)
            expect(200, "GET", server.mock_url + "/hello")
            run_wrk(server.mock_url + "/hello", 1)
        rounds: list[dict[str, float]] = []
        for index in range(args.rounds):
            direct = origin.mock_url + "/hello"
            d_rps, d_n, [d_origin], d_fail = _load(direct, args.seconds, [origin])
            baseline: dict[str, float] = {}
            if args.baseline:
                b_rps, b_n, [b_proxy], b_fail = _load(
                    proxies[1].mock_url + "/hello", args.seconds, [proxies[1]]
                )
                baseline = {
                    "baseline_wall_ratio": b_rps / d_rps,
                    "baseline_proxy_us": b_proxy / b_n * 1e6,
                }
                d_fail += b_fail
            p_rps, p_n, [p_proxy, p_origin], p_fail = _load(
                proxy.mock_url + "/hello", args.seconds, [proxy, origin]
            )
            row = {
                "direct_rps": d_rps,
                "proxied_rps": p_rps,
                "wall_ratio": p_rps / d_rps,
                "origin_us": d_origin / d_n * 1e6,
                "proxy_us": p_proxy / p_n * 1e6,
                "origin_us_when_proxied": p_origin / p_n * 1e6,
                "failures": d_fail + p_fail,
            }
            row["cpu_ratio"] = row["origin_us"] / row["proxy_us"]
            if baseline:
                row.update(baseline)
                row["baseline_cpu_ratio"] = row["origin_us"] / baseline["baseline_proxy_us"]
            rounds.append(row)
            print(
                f"round {index + 1}: direct {d_rps:8.0f} req/s, proxied {p_rps:8.0f} req/s "
                f"(x{row['wall_ratio']:.2f}); CPU/request origin {row['origin_us']:.0f} us, "
                f"proxy {row['proxy_us']:.0f} us (x{row['cpu_ratio']:.2f})",
                flush=True,
            )
            if baseline:
                print(
                    f"         baseline: x{baseline['baseline_wall_ratio']:.2f} wall, "
                    f"{baseline['baseline_proxy_us']:.0f} us CPU/request "
                    f"(x{row['baseline_cpu_ratio']:.2f})",
                    flush=True,
                )
        samples = [(0, proxy.rss_kb())]
        total = 0
        deadline = time.monotonic() + 300  # bounded however slow the machine is
        while total < args.requests and time.monotonic() < deadline:
            result = run_wrk(proxy.mock_url + "/hello", 2)
            total += result.requests
            samples.append((total, proxy.rss_kb()))
            print(f"  {total:>9,} proxied requests: RSS {samples[-1][1] / 1024:.1f} MB", flush=True)
    finally:
        procs.stop_all()
    summary = {key: median([r[key] for r in rounds]) for key in rounds[0]}
    after_journal = [kb for n, kb in samples if n >= 20_000]
    out = {
        "rounds": rounds,
        "median": summary,
        "rss_samples_kb": samples,
        "rss_growth_after_20k_kb": after_journal[-1] - after_journal[0]
        if len(after_journal) > 1
        else None,
    }
    (HERE / "proxy.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({"median": summary, "growth_kb": out["rss_growth_after_20k_kb"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
