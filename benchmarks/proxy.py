"""The `proxy` response against a local origin: throughput ratio and memory over time.

Run: `.venv/bin/python benchmarks/proxy.py [--rounds 5] [--seconds 5] [--requests 100000]
[--baseline DIR] [--profile 12] [--own-cores]`.

The origin is the bare aiohttp server (`bare_server.py`); controlplane forwards
`GET /hello` to it with a `proxy` response. Both run on core 0, wrk on core 1; with
`--own-cores` the proxy forwards to a second origin on core 1 beside wrk (the layout of
`make bench`'s budget row: each server on its own core), while the direct load still
goes to the origin on core 0. Each round loads the origin directly, then through
the proxy (the same wrk load), and reads both processes' CPU time. Reported, as medians:

- **wall ratio**: proxied req/s over direct req/s (with both servers on one core, what
  a test suite sees when the proxy and its origin compete for a machine; on their own
  cores, how the proxy's per-core rate compares with the origin's);
- **CPU ratio**: the bare origin's CPU per request over the proxy's own CPU per proxied
  request (how much one proxied hop costs next to the cheapest aiohttp answer);
- **baseline** (with `--baseline DIR`, a directory holding another version's
  `controlplane` package, e.g. `git archive REV controlplane | tar -x -C DIR`): a second
  proxy runs that code and each round loads it too, between the origin and the proxy,
  so before and after are measured side by side;
- **profile** (with `--profile SECONDS`, py-spy installed in the venv): py-spy samples
  the proxy under the same load, and the samples are grouped by what they were doing
  (the server side of the request, the handler, the hop's parts). py-spy samples wall
  time: a sample in the write to the origin includes the time the proxy waits,
  preempted, while the origin (on the same core) runs, so that group is reported apart;
- **memory**: the proxy's RSS after each chunk of proxied requests up to `--requests`
  (flat once the journal, 10,000 entries by default, is full; at most 5 minutes of it).

Nothing is asserted: the figures are printed and written to benchmarks/proxy.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    HERE,
    LOAD_CORE,
    Procs,
    bare_argv,
    controlplane_argv,
    ensure_wrk,
    expect,
    median,
    pinned,
    run_wrk,
    wrk,
)
from profile_hot_path import py_spy, short_frame

#: (group, frames that put a sample in it), first match wins, checked leaf first for
#: the write and then anywhere in the stack.
_GROUPS = (
    ("hop: the request's write to the origin (the syscall, and preempted by the origin)",
     ("_Connection.exchange",)),
    ("hop: the answer parsed (httptools callbacks, headers, Answer)",
     ("_Connection.data_received",)),
    ("journal: Journal.record", ("Journal.record",)),
    ("hop: the request built, the pool, the relay", ("ProxyResponder._forward", "Pool.send")),
    ("controlplane handler (match, outcome, render)",
     ("MockHandler", "_render", "ProxyResponder.answer")),
    ("aiohttp server: the answer written to wrk",
     ("RequestHandler.finish_response", "StreamResponse", "Response.")),
    ("aiohttp server: the request read, parsed, dispatched",
     ("RequestHandler", "_ConnectionHandler", "_MockServer")),
    ("event loop (uvloop's C code, the kernel's socket calls)", ("Runner.run",)),
)  # fmt: skip


def _profile(procs: Procs, proxy: Any, seconds: int) -> dict[str, float] | str:
    """Share of the proxy's samples per group of `_GROUPS` (or why there are none)."""
    spy = py_spy()
    if spy is None:
        return "py-spy is not installed (`.venv/bin/pip install py-spy`)"
    raw = procs.tmp_path("proxy-profile.txt")
    load = wrk(proxy.mock_url + "/hello", seconds + 4, background=procs)
    assert isinstance(load, subprocess.Popen)
    time.sleep(1)
    argv = [spy, "record", "--pid", str(proxy.pid), "--duration", str(seconds),
            "--rate", "400", "--format", "raw", "--output", str(raw), "--nonblocking"]  # fmt: skip
    subprocess.run(pinned("1", argv), capture_output=True, timeout=seconds + 60)
    load.communicate(timeout=seconds + 30)
    if not raw.exists():
        return "py-spy wrote nothing"
    counts: dict[str, float] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [short_frame(f) for f in stack.split(";")]
        if not count.isdigit() or not any(f.startswith("Runner.run") for f in frames):
            continue  # a sample py-spy could not read whole
        total += int(count)
        group = "other"
        if frames[-1].startswith(_GROUPS[0][1]):
            group = _GROUPS[0][0]
        else:
            for name, starts in _GROUPS[1:]:
                if any(f.startswith(starts) for f in frames):
                    group = name
                    break
        counts[group] = counts.get(group, 0) + int(count)
    return {
        name: round(100 * n / total, 1) for name, n in sorted(counts.items(), key=lambda i: -i[1])
    }


def _load(url: str, seconds: float, procs: list[Any]) -> tuple[float, int, list[float], int]:
    """wrk on `url`: (req/s, requests, CPU seconds of each of `procs`, failures)."""
    before = [p.cpu_s() for p in procs]
    result = run_wrk(url, seconds)
    used = [p.cpu_s() - b for p, b in zip(procs, before, strict=True)]
    return result.rps, result.requests, used, result.non_2xx + result.errors


#: Proxied requests after which the journal (10,000 entries by default) is full, with a
#: margin: RSS growth after it is what the memory figure reads.
JOURNAL_FULL = 20_000


def rss_over(proxy: Any, requests: int) -> list[tuple[int, int]]:
    """(proxied requests so far, the proxy's RSS in kB) after each 2 s wrk chunk, up to
    `requests` requests (or 5 minutes, however slow the machine)."""
    samples = [(0, proxy.rss_kb())]
    total = 0
    deadline = time.monotonic() + 300
    while total < requests and time.monotonic() < deadline:
        total += run_wrk(proxy.mock_url + "/hello", 2).requests
        samples.append((total, proxy.rss_kb()))
        print(f"  {total:>9,} proxied requests: RSS {samples[-1][1] / 1024:.1f} MB", flush=True)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--baseline", help="a directory holding another `controlplane` package")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS")
    parser.add_argument(
        "--own-cores", action="store_true", help="the origin on core 1 (beside wrk), not core 0"
    )
    args = parser.parse_args()
    if ensure_wrk() is None:
        return 2
    procs = Procs()
    try:
        origin = procs.start("origin", bare_argv())
        # The origin behind the proxy: the direct one, or one of its own on core 1.
        behind = procs.start("behind", bare_argv(core=LOAD_CORE)) if args.own_cores else origin
        proxy = procs.start("proxy", controlplane_argv())
        proxies = [proxy]
        if args.baseline:
            env = ["env", f"PYTHONPATH={Path(args.baseline).resolve()}"]
            proxies.append(procs.start("baseline", [*env, *controlplane_argv()]))
        route = {
            "method": "GET",
            "path": "/hello",
            "handler": "origin",
            "response": {"type": "proxy", "url": behind.mock_url},
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
                proxy.mock_url + "/hello", args.seconds, [proxy, behind]
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
        profile = _profile(procs, proxy, args.profile) if args.profile else None
        samples = rss_over(proxy, args.requests)
    finally:
        procs.stop_all()
    summary = {key: median([r[key] for r in rounds]) for key in rounds[0]}
    after_journal = [kb for n, kb in samples if n >= JOURNAL_FULL]
    out = {
        "rounds": rounds,
        "median": summary,
        "profile_percent_of_samples": profile,
        "rss_samples_kb": samples,
        "rss_growth_after_journal_kb": after_journal[-1] - after_journal[0]
        if len(after_journal) > 1
        else None,
    }
    (HERE / "proxy.json").write_text(json.dumps(out, indent=1) + "\n")
    shown = {"median": summary, "profile": profile, "growth_kb": out["rss_growth_after_journal_kb"]}
    print(json.dumps(shown, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
