"""The measured scenarios. Each returns plain dicts that `report.py` renders."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    LOAD_CORE,
    Procs,
    WrkResult,
    bare_argv,
    call,
    compile_bytecode,
    controlplane_argv,
    expect,
    median,
    parse_wrk,
    pinned,
    run_wrk,
    status_kb,
    wrk,
)
from setups import (
    JSON_OK,
    Target,
    exact_routes,
    make_sessions,
    one_route,
    register,
    template_routes,
)


def _summary(runs: list[WrkResult]) -> dict[str, Any]:
    per_cpu = [r.per_cpu_s for r in runs if r.cpu_s]
    cpu = sum(r.cpu_s for r in runs)
    return {
        "per_cpu_s": median(per_cpu) if per_cpu else None,
        "per_cpu_s_min": min(per_cpu) if per_cpu else None,
        "per_cpu_s_max": max(per_cpu) if per_cpu else None,
        "busy": cpu / sum(r.seconds for r in runs) if cpu else None,
        "rps": median([r.rps for r in runs]),
        "rps_min": min(r.rps for r in runs),
        "rps_max": max(r.rps for r in runs),
        "p50_ms": median([r.p50_ms for r in runs]),
        "p99_ms": median([r.p99_ms for r in runs]),
        "requests": sum(r.requests for r in runs),
        "non_2xx": sum(r.non_2xx for r in runs),
        "errors": sum(r.errors for r in runs),
        "rounds": [round(r.rps) for r in runs],
    }


def matrix(targets: list[Target], rounds: int, seconds: float, warmup: float) -> dict[str, Any]:
    """Warm every target up, then `rounds` rounds, each target once per round in a
    rotated order (so no target always runs first or after the same neighbour)."""
    for target in targets:
        print(f"  warm-up {target.label}", flush=True)
        run_wrk(target.url, warmup, script=target.script, server=target.server)
    runs: dict[str, list[WrkResult]] = {t.label: [] for t in targets}
    for index in range(rounds):
        order = targets[index % len(targets) :] + targets[: index % len(targets)]
        for target in order:
            result = run_wrk(target.url, seconds, script=target.script, server=target.server)
            runs[target.label].append(result)
            print(
                f"  round {index + 1}/{rounds} {target.label:<18} {result.rps:9.0f} req/s "
                f"{result.per_cpu_s:9.0f} per CPU-s"
            )
    out = {}
    for target in targets:
        summary = _summary(runs[target.label])
        summary["expected_status"] = target.status
        out[target.label] = summary
    return out


def unmatched_latency(target: Target, rounds: int, seconds: float) -> dict[str, Any]:
    """One connection, one request at a time: the latency of an unmatched request itself."""
    runs = [
        run_wrk(target.url, seconds, connections=1, server=target.server) for _ in range(rounds)
    ]
    return _summary(runs)


def delayed(procs: Procs, rounds: int, seconds: float) -> dict[str, Any]:
    """A fast route alone, then the same while 64 connections wait on a 100 ms route."""
    server = procs.start("cp_delay", controlplane_argv())
    slow = {**JSON_OK, "delay": {"fixed_ms": 100}}
    register(
        server.admin_url,
        [
            one_route("/fast"),
            {"method": "GET", "path": "/slow", "handler": "slow", "response": slow},
        ],
    )
    fast_url, slow_url = server.mock_url + "/fast", server.mock_url + "/slow"
    expect(200, "GET", slow_url)
    run_wrk(fast_url, 2)
    alone: list[WrkResult] = []
    loaded: list[WrkResult] = []
    slow_runs: list[WrkResult] = []
    for index in range(rounds):
        alone.append(run_wrk(fast_url, seconds, server=server))
        background = wrk(slow_url, seconds + 2, connections=64, background=procs)
        assert isinstance(background, subprocess.Popen)
        time.sleep(1.0)  # the slow connections are all waiting before the fast run starts
        loaded.append(run_wrk(fast_url, seconds, server=server))
        out, _ = background.communicate(timeout=seconds + 30)
        procs.stop(background)
        slow_runs.append(parse_wrk(out.decode()))
        print(
            f"  round {index + 1}/{rounds} fast alone {alone[-1].rps:.0f}, with slow load "
            f"{loaded[-1].rps:.0f} (+{slow_runs[-1].rps:.0f} slow) req/s"
        )
    procs.stop(server.popen)
    return {"alone": _summary(alone), "loaded": _summary(loaded), "slow": _summary(slow_runs)}


def sessions_gc(procs: Procs, rounds: int, seconds: float) -> dict[str, Any]:
    """100 sessions whose journals grow as wrk runs, with the cyclic GC on (as shipped) and
    off (`gc_wrapper.py`): what full collections over large journals cost."""
    out: dict[str, Any] = {}
    wrapper = [sys.executable, str(Path(__file__).with_name("gc_wrapper.py"))]
    for mode in ("gc_on", "gc_off"):
        argv = controlplane_argv()
        if mode == "gc_off":
            argv = pinned("0", [*wrapper, *argv[argv.index("serve") :]])
        server = procs.start(f"cp_sessions_{mode}", argv)
        make_sessions(server.admin_url)
        runs = []
        for _ in range(rounds):
            runs.append(
                run_wrk(server.mock_url + "/", seconds, script="sessions.lua", server=server)
            )
            print(f"  {mode}: {runs[-1].per_cpu_s:.0f} per CPU-s, p99 {runs[-1].p99_ms} ms")
        out[mode] = {**_summary(runs), "p99_rounds": [r.p99_ms for r in runs]}
        out[mode]["rss_kb"] = server.rss_kb()
        procs.stop(server.popen)
    return out


def bulk(procs: Procs, runs: int) -> dict[str, Any]:
    """One POST of 10,000 routes into a fresh session, timed from send to full answer."""
    server = procs.start("cp_bulk", controlplane_argv())
    out: dict[str, Any] = {}
    for kind, routes in (("exact", exact_routes()), ("template", template_routes())):
        body = json.dumps(routes).encode()
        times = []
        for index in range(runs):
            session = f"bulk-{kind}-{index}"
            expect(201, "POST", server.admin_url + "/api/sessions", {"id": session})
            url = f"{server.admin_url}/api/sessions/{session}/routes"
            started = time.perf_counter()
            expect(201, "POST", url, body)
            times.append(time.perf_counter() - started)
            expect(204, "DELETE", f"{server.admin_url}/api/sessions/{session}")
        out[kind] = {"median_s": median(times), "runs_s": times, "bytes": len(body)}
        print(f"  bulk {kind}: {[round(t, 3) for t in times]} s")
    procs.stop(server.popen)
    return out


def cold_start(
    procs: Procs,
    runs: int,
    argv: list[str],
    register_route: bool,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Process exec to the first mocked response (after registering a route over the admin
    API when `register_route`); also exec to ready file. Median of `runs`. controlplane's
    bytecode is written first, as an installed package has it (`compile_bytecode`),
    unless `env` is given (`remove_bytecode`'s, to measure a start without it)."""
    if env is None:
        compile_bytecode()
    totals, readies = [], []
    for index in range(runs):
        ready = procs.tmp_path(f"cold-{time.monotonic_ns()}-{index}.json")
        started = time.perf_counter()
        popen = procs.spawn(
            [*argv, "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            while not ready.exists():
                if popen.poll() is not None or time.perf_counter() - started > 30:
                    raise RuntimeError(f"cold start: {argv[0]} did not become ready")
                time.sleep(0.001)
            readies.append(time.perf_counter() - started)
            info = json.loads(ready.read_text())
            if register_route:
                register(info["admin_url"], one_route())
            status, _ = call("GET", info["mock_url"] + "/hello")
            if status != 200:
                raise RuntimeError(f"cold start: first mocked response was {status}")
            totals.append(time.perf_counter() - started)
        finally:
            procs.stop(popen)
    return {
        "median_s": median(totals),
        "runs_s": totals,
        "ready_median_s": median(readies),
    }


def memory(
    procs: Procs, target_requests: int, chunk_seconds: float, max_chunks: int
) -> dict[str, Any]:
    """RSS idle, then sampled after each wrk chunk up to `target_requests` requests."""
    server = procs.start("cp_memory", controlplane_argv())
    time.sleep(0.5)
    idle = server.rss_kb()
    register(server.admin_url, one_route())
    url = server.mock_url + "/hello"
    expect(200, "GET", url)
    idle_route = server.rss_kb()
    samples = [(1, idle_route)]
    total = 1
    non_2xx = 0
    chunk = 0
    while total < target_requests and chunk < max_chunks:
        # The first chunk is short, so a sample lands just after the journal (10,000) fills.
        seconds = 1 if chunk == 0 else chunk_seconds
        result = run_wrk(url, seconds, server=server)
        total += result.requests
        non_2xx += result.non_2xx + result.errors
        samples.append((total, server.rss_kb()))
        chunk += 1
        print(f"  {total:>9,} requests: RSS {samples[-1][1] / 1024:.1f} MB", flush=True)
    entries = json.loads(expect(200, "GET", server.admin_url + "/api/requests?limit=1"))
    hwm = status_kb(server.pid, "VmHWM")
    procs.stop(server.popen)
    return {
        "idle_kb": idle,
        "idle_with_route_kb": idle_route,
        "samples": samples,
        "requests": total,
        "hwm_kb": hwm,
        "failed": non_2xx,
        "journal_evicted": entries.get("evicted"),
    }


def rss_of(servers: dict[str, Any]) -> dict[str, int]:
    """RSS (kB) of each running matrix server, after its load."""
    return {name: server.rss_kb() for name, server in servers.items()}


def in_process(name: str) -> str:
    """An in-process benchmark script (`route_lookup.py`, ...) on core 0, its output."""
    script = Path(__file__).with_name(name)
    done = subprocess.run(
        pinned("0", [sys.executable, str(script)]), capture_output=True, text=True, timeout=300
    )
    return done.stdout + done.stderr


def _core_busy(core: str, before: tuple[int, int, float] | None = None) -> tuple[int, int, float]:
    """(busy jiffies, all jiffies, busy share since `before`) of one core, from /proc/stat."""
    busy = total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(field) for field in line.split()[1:]]
            total = sum(ticks[:8])
            busy = total - ticks[3] - ticks[4]  # less idle and iowait
    if before is None:
        return busy, total, 0.0
    spent = total - before[1]
    return busy, total, (busy - before[0]) / spent if spent else 0.0


def proxy_ratio(procs: Procs, rounds: int, seconds: float) -> dict[str, Any]:
    """The `proxy` response against its origin (issue 11), as `proxy.py` measures it
    without its memory run: the bare server is the origin and controlplane forwards
    `GET /hello` to it. Each round loads the origin directly (on the server core, wrk on
    the load core), then through a proxy on the server core in two layouts:

    - **own cores**: the origin on the load core (beside wrk), as a proxy and the
      service behind it run deployed; the proxy's core is the limit, so the wall ratio
      is the origin's CPU per request over the proxy's (one hop of the same class);
    - **shared core**: the origin on the proxy's core, so the wall ratio is what a suite
      sees when both compete for one core (the proxy must then cost no more than the
      origin to reach 0.5).

    Wall ratio: proxied / direct req/s; CPU ratio: the origin's CPU per request / the
    proxy's own CPU per proxied request. Then the own-cores proxy's RSS over 100,000
    proxied requests (`proxy.rss_over`)."""
    from proxy import JOURNAL_FULL, _load, rss_over

    origin = procs.start("proxy_origin", bare_argv())
    far = procs.start("proxy_origin_far", bare_argv(core=LOAD_CORE))
    shared = procs.start("proxy", controlplane_argv())
    own = procs.start("proxy_own", controlplane_argv())
    for proxy, behind in ((shared, origin), (own, far)):
        route = {"type": "proxy", "url": behind.mock_url}
        register(proxy.admin_url, {"method": "GET", "path": "/hello", "handler": "origin",
                                   "response": route})  # fmt: skip
        expect(200, "GET", proxy.mock_url + "/hello")
    direct = origin.mock_url + "/hello"
    for url in (direct, shared.mock_url + "/hello", own.mock_url + "/hello"):
        run_wrk(url, 1)
    rows = []
    for index in range(rounds):
        d_rps, d_n, [d_cpu], d_fail = _load(direct, seconds, [origin])
        busy = _core_busy(LOAD_CORE)
        o_rps, o_n, [o_cpu, far_cpu], o_fail = _load(own.mock_url + "/hello", seconds, [own, far])
        busy = _core_busy(LOAD_CORE, busy)
        s_rps, s_n, [s_cpu], s_fail = _load(shared.mock_url + "/hello", seconds, [shared])
        origin_us = d_cpu / d_n * 1e6
        rows.append(
            {
                "direct_rps": d_rps,
                "proxied_rps": o_rps,
                "wall_ratio": o_rps / d_rps,
                "cpu_ratio": origin_us / (o_cpu / o_n * 1e6),
                "proxy_us": o_cpu / o_n * 1e6,
                "origin_us": origin_us,
                "far_core_origin_share": far_cpu / seconds,
                "far_core_busy": busy[2],
                "shared_rps": s_rps,
                "shared_wall_ratio": s_rps / d_rps,
                "shared_cpu_ratio": origin_us / (s_cpu / s_n * 1e6),
                "shared_proxy_us": s_cpu / s_n * 1e6,
                "failures": d_fail + o_fail + s_fail,
            }
        )
        row = rows[-1]
        print(
            f"  round {index + 1}/{rounds} direct {d_rps:.0f}; own cores {o_rps:.0f} req/s "
            f"(x{row['wall_ratio']:.2f}; CPU x{row['cpu_ratio']:.2f}); shared core "
            f"{s_rps:.0f} req/s (x{row['shared_wall_ratio']:.2f}; CPU "
            f"x{row['shared_cpu_ratio']:.2f})",
            flush=True,
        )
    samples = rss_over(own, 100_000)
    for proc in (own, shared, far, origin):
        procs.stop(proc.popen)
    out = {key: median([r[key] for r in rows]) for key in rows[0]}
    full = [kb for n, kb in samples if n >= JOURNAL_FULL]
    return {
        **out,
        "failures": sum(r["failures"] for r in rows),
        "rounds": rows,
        "rss_samples_kb": samples,
        "rss_growth_kb": full[-1] - full[0] if len(full) > 1 else None,
    }
