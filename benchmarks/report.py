"""RESULTS.md from the figures `run.py` gathered (also re-renderable from results.json:
`.venv/bin/python benchmarks/report.py benchmarks/results.json`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: "Flat after the journal fills": RSS grows less than this between the first sample
#: taken after the journal filled and the last one.
FLAT_MB = 3.0
MB = 1024.0

ROWS = [
    ("bare", "bare aiohttp+uvloop, low-level `web.Server` (the ceiling)"),
    ("bare_app", "bare aiohttp+uvloop, `web.Application` + router"),
    ("bare_post", "bare, the conditions scenario's POST (same lua script)"),
    ("cp_1_route", "controlplane, 1 route"),
    ("cp_10k_exact", "controlplane, 10,000 exact routes, hit the last declared"),
    ("cp_10k_template", "controlplane, 10,000 template routes, hit the last declared"),
    ("cp_conditions", "controlplane, POST matched on headers + query + json_subset (4th of 4)"),
    ("cp_journal_off", "controlplane, 1 route, journal off (`--journal-size 1`)"),
    ("cp_100_sessions", "controlplane, 100 sessions, round-robin over `/_s/{id}`"),
    ("cp_unmatched_10k", "controlplane, unmatched request at 10,000 routes (404 + near misses)"),
]


def _ok(passed: bool) -> str:
    return "**pass**" if passed else "**MISS**"


def _rate(s: dict[str, Any]) -> float:
    """The figure ratios are taken of: requests per server CPU-second when measured."""
    return float(s.get("per_cpu_s") or s["rps"])


def _budget(r: dict[str, Any]) -> list[str]:
    m = r["matrix"]
    bare, one = _rate(m["bare"]), _rate(m["cp_1_route"])
    wall = m["cp_1_route"]["rps"] / m["bare"]["rps"]
    lines = ["| figure | target | measured | result |", "|---|---|---|---|"]

    def row(figure: str, target: str, measured: str, passed: bool, miss: str = "") -> None:
        extra = f" — {miss}" if not passed and miss else ""
        lines.append(f"| {figure} | {target} | {measured} | {_ok(passed)}{extra} |")

    ratio = one / bare
    row("1 route, req/s vs bare aiohttp+uvloop", "≥ 0.85",
        f"{ratio:.2f} ({one:,.0f} / {bare:,.0f} per CPU-s; wall-clock medians: {wall:.2f})",
        ratio >= 0.85,
        f"short by {0.85 - ratio:.2f} ({(0.85 * bare - one):,.0f} req/s); see Profile")  # fmt: skip
    for key, name in (("cp_10k_exact", "exact"), ("cp_10k_template", "template")):
        ratio = _rate(m[key]) / one
        wall = m[key]["rps"] / m["cp_1_route"]["rps"]
        row(f"10,000 {name} routes vs 1 route", "≥ 0.90",
            f"{ratio:.2f} ({_rate(m[key]):,.0f} / {one:,.0f} per CPU-s; wall: {wall:.2f})",
            ratio >= 0.90,
            f"short by {0.90 - ratio:.2f}")  # fmt: skip
    p50 = r["unmatched_c1"]["p50_ms"]
    row("unmatched request at 10,000 routes, p50 latency (1 connection)", "< 5 ms",
        f"{p50:.2f} ms (under 32 connections: {m['cp_unmatched_10k']['p50_ms']:.2f} ms)",
        p50 < 5, f"over by {p50 - 5:.2f} ms")  # fmt: skip
    for kind in ("exact", "template"):
        took = r["bulk"][kind]["median_s"]
        row(f"bulk registration of 10,000 {kind} routes (one POST)", "< 1 s",
            f"{took:.3f} s", took < 1, f"over by {took - 1:.2f} s")  # fmt: skip
    cold = r["cold_start"]["median_s"]
    row("cold start to first mocked response", "< 0.5 s", f"{cold:.3f} s", cold < 0.5,
        f"over by {cold - 0.5:.3f} s")  # fmt: skip
    mem = r["memory"]
    final, growth = mem["samples"][-1][1] / MB, _growth_mb(mem)
    passed = final < 150 and growth < FLAT_MB and mem["requests"] >= 1_000_000
    row(f"RSS after {mem['requests']:,} requests, default journal", "< 150 MB, flat",
        f"{final:.1f} MB; +{growth:.1f} MB after the journal filled", passed,
        "see Memory")  # fmt: skip
    return lines


def _growth_mb(mem: dict[str, Any]) -> float:
    filled = [kb for n, kb in mem["samples"] if n >= 10_000]
    return (filled[-1] - filled[0]) / MB if len(filled) > 1 else 0.0


def _throughput(r: dict[str, Any]) -> list[str]:
    m = r["matrix"]
    bare, one = _rate(m["bare"]), _rate(m["cp_1_route"])
    lines = [
        "| scenario | req per CPU-s (median) | min-max | vs bare | vs 1 route | µs CPU/req "
        "| wall req/s (median) | min-max | server busy | p50 | p99 | non-2xx | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, name in ROWS:
        s = m.get(key)
        if s is None:
            continue
        rate = _rate(s)
        vs_one = f"{rate / one:.2f}" if key.startswith("cp_") else ""
        lines.append(
            f"| {name} | {rate:,.0f} | {s['per_cpu_s_min']:,.0f}-{s['per_cpu_s_max']:,.0f} | "
            f"{rate / bare:.2f} | {vs_one} | {1e6 / rate:.1f} | {s['rps']:,.0f} | "
            f"{s['rps_min']:,.0f}-{s['rps_max']:,.0f} | {s['busy']:.0%} | "
            f"{s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms | {s['non_2xx']:,} | {s['errors']} |"
        )
    return lines


def _peers(r: dict[str, Any]) -> list[str]:
    p = r["peers"]
    if "skipped" in p:
        return [f"Skipped: {p['skipped']}."]
    lines = [
        "| peer | 1 route, req per CPU-s (vs bare) | 10,000 routes, hit last, req per CPU-s | "
        "unmatched at 10,000, p50 (1 conn) | bulk 10,000 | cold start |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    bare = _rate(r["matrix"]["bare"])
    one = _rate(r["matrix"]["cp_1_route"])
    lines.append(
        f"| controlplane {r['machine']['controlplane']} | {one:,.0f} ({one / bare:.2f}) | "
        f"{_rate(r['matrix']['cp_10k_exact']):,.0f} | {r['unmatched_c1']['p50_ms']:.2f} ms | "
        f"{r['bulk']['exact']['median_s']:.2f} s | {r['cold_start']['median_s']:.2f} s |"
    )
    notes = []
    for key, name in (("pytest_httpserver", "pytest-httpserver"), ("wiremock", "WireMock")):
        q = p.get(key, {"skipped": "not run"})
        if "skipped" in q:
            notes.append(f"- {name}: skipped — {q['skipped']}")
            continue
        bulk = f"{q['bulk_10k_s']:.2f} s" if "bulk_10k_s" in q else "n/a (no HTTP admin API)"
        lines.append(
            f"| {name} {q.get('version', '')} | {_rate(q['1_route']):,.0f} "
            f"({_rate(q['1_route']) / bare:.2f}) | {_rate(q['10k_exact']):,.0f} | "
            f"{q['unmatched_10k_c1']['p50_ms']:.2f} ms | {bulk} | "
            f"{q['cold_start']['median_s']:.2f} s |"
        )
    notes.append(
        "- WireMock runs as `java -jar` with its defaults (journal capped at 10,000), pinned "
        "to one core with its JIT, GC and Jetty threads, after a 10 s warm-up; earlier "
        "measurements on another setup saw 8-13k req/s at 1 stub, so read its row as "
        "WireMock confined to one core, not as its best. pytest-httpserver's routes are "
        "declared in process (it has no HTTP admin API)."
    )
    return [*lines, "", *notes]


def _profile(r: dict[str, Any]) -> list[str]:
    prof = r.get("profile", {})
    lines = []
    if "skipped" in prof:
        lines.append(f"Sampling skipped: {prof['skipped']}.")
    else:
        samples = int(prof["samples"][0][1])
        lines += [
            f"py-spy, 400 Hz for 12 s on the 1-route scenario under wrk -c32 ({samples:,} "
            "samples). Shares are of all samples of the server process; C code (uvloop, "
            "aiohttp's parser, syscalls) is charged to the Python frame that called it.",
            "",
            "| self % | function | | MockHandler.__call__ callee | % of all |",
            "|---:|---|---|---|---:|",
        ]
        selfs, focus = prof["self"], prof["mock_handler"]
        for i in range(max(len(selfs), len(focus))):
            a = f"{selfs[i][1]:.1f} | {selfs[i][0]}" if i < len(selfs) else " | "
            b = f"{focus[i][0]} | {focus[i][1]:.1f}" if i < len(focus) else " | "
            lines.append(f"| {a} | | {b} |")
    if r.get("hot_path_micro"):
        lines += [
            "",
            "`hot_path_micro.py` (this run): the handler alone, in process, µs per request:",
            "",
            "```",
            r["hot_path_micro"].rstrip(),
            "```",
        ]
    findings = HERE / "profile_findings.md"
    if findings.exists():
        lines += ["", findings.read_text().strip()]
    return lines


def render(r: dict[str, Any]) -> str:
    mc, cfg = r["machine"], r["config"]
    out = ["# Benchmark results", ""]
    if cfg.get("quick"):
        out += ["**Smoke run (`--quick`): figures not worth keeping.**", ""]
    out += [
        "Written by `make bench` (`benchmarks/run.py`); see benchmarks/README.md for what "
        "each scenario does. Raw figures: `benchmarks/results.json`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in mc.items()),
        f"| suite time | {r['elapsed_s'] / 60:.1f} min |",
        "",
        f"Server on core 0, wrk on core 1 (`taskset`); wrk -t1 -c{cfg['connections']}; "
        f"{cfg['warmup']:g} s warm-up per target, then {cfg['rounds']} interleaved rounds of "
        f"{cfg['seconds']:g} s (each round visits every target, in a rotated order). "
        "Figures are medians over rounds; ratios are of medians.",
        "",
        "## Budget",
        "",
        *_budget(r),
        "",
        "## Throughput",
        "",
        *_throughput(r),
        "",
        'p50/p99 are under 32 connections (they include queueing). Journal "off" is '
        "`--journal-size 1` (there is no switch to disable it; one entry is kept).",
        "",
        "Unmatched at 10,000 routes with one connection (the latency of the request "
        f"itself): p50 {r['unmatched_c1']['p50_ms']:.2f} ms, p99 "
        f"{r['unmatched_c1']['p99_ms']:.2f} ms, {r['unmatched_c1']['rps']:,.0f} req/s.",
        "",
        *_sessions_gc(r),
        *_delayed(r),
        "## Bulk registration, cold start",
        "",
        *_bulk_cold(r),
        "## Memory",
        "",
        *_memory(r),
        "## Peers (same machine, same wrk settings)",
        "",
        *_peers(r),
        "",
        "## Route lookup in process (`route_lookup.py`)",
        "",
        "```",
        r.get("route_lookup", "").rstrip(),
        "```",
        "",
        "## Profile",
        "",
        *_profile(r),
        "",
    ]
    return "\n".join(out)


def _sessions_gc(r: dict[str, Any]) -> list[str]:
    g = r.get("sessions_gc")
    if not g:
        return []
    on, off = g["gc_on"], g["gc_off"]

    def p99s(s: dict[str, Any]) -> str:
        return " → ".join(f"{v:.1f}" for v in s["p99_rounds"])

    return [
        "## 100 sessions: the garbage collector over growing journals",
        "",
        "The 100-session scenario again on two fresh servers, one as shipped and one with "
        "Python's cyclic GC off (`gc_wrapper.py`), 3 runs each while the 100 journals "
        "(10,000 entries each) fill:",
        "",
        "| | req per CPU-s | p99 per run, ms | RSS after |",
        "|---|---:|---:|---:|",
        f"| GC on (as shipped) | {on['per_cpu_s']:,.0f} | {p99s(on)} | "
        f"{on['rss_kb'] / MB:.0f} MB |",
        f"| GC off | {off['per_cpu_s']:,.0f} | {p99s(off)} | {off['rss_kb'] / MB:.0f} MB |",
        "",
        "Full collections walk every journal entry (and the request objects it holds); their "
        "pauses grow with the total journal and show as p99. See Profile, proposal 3.",
        "",
    ]


def _delayed(r: dict[str, Any]) -> list[str]:
    d = r["delayed"]
    alone, loaded, slow = d["alone"]["rps"], d["loaded"]["rps"], d["slow"]
    return [
        "## A delayed route under concurrency",
        "",
        "wrk on `GET /fast` alone, then again while a second wrk holds 64 connections on "
        "`GET /slow` (`delay: {fixed_ms: 100}`), same server, medians of "
        f"{len(d['alone']['rounds'])} interleaved rounds:",
        "",
        f"- /fast alone: {alone:,.0f} req/s; with the slow load: {loaded:,.0f} req/s "
        f"(**{loaded / alone:.2f}**)",
        f"- /slow meanwhile: {slow['rps']:,.0f} req/s, p50 {slow['p50_ms']:.1f} ms "
        f"(64 connections / 0.1 s ≈ 640 req/s if no delay blocks another)",
        f"- per server CPU-second: /fast alone {d['alone']['per_cpu_s']:,.0f}; loaded, "
        f"/fast and /slow together {d['loaded']['per_cpu_s'] * (1 + slow['rps'] / loaded):,.0f} "
        "(wall-clock rates on this shared VM move with the host; the CPU cost per request "
        "is the steadier check that pending delays cost nothing while they wait)",
        "",
    ]


def _bulk_cold(r: dict[str, Any]) -> list[str]:
    b, c, cb = r["bulk"], r["cold_start"], r["cold_start_bare"]
    runs = ", ".join(f"{t:.3f}" for t in c["runs_s"])
    return [
        f"- Bulk: one `POST /api/sessions/{{sid}}/routes` with a list of 10,000 routes "
        f"(each with an inline JSON response) into a fresh session, send to full answer "
        f"(which echoes every route): exact {b['exact']['median_s']:.3f} s "
        f"({b['exact']['bytes'] / 1e6:.1f} MB body), template "
        f"{b['template']['median_s']:.3f} s; median of {len(b['exact']['runs_s'])}.",
        f"- Cold start: exec of `controlplane serve` → ready file → `POST /api/routes` → "
        f"first `GET` answered 200: median {c['median_s']:.3f} s (runs: {runs}); the "
        f"ready file alone appears after {c['ready_median_s']:.3f} s. The bare aiohttp "
        f"server, exec to first response: {cb['median_s']:.3f} s.",
        "",
    ]


def _memory(r: dict[str, Any]) -> list[str]:
    mem = r["memory"]
    ss = r.get("rss_after_load_kb", {})
    lines = [
        f"Default journal (10,000 entries per session), 1 route, wrk -c32 in chunks; RSS "
        f"from /proc/PID/status. Idle: {mem['idle_kb'] / MB:.1f} MB (no route), "
        f"{mem['idle_with_route_kb'] / MB:.1f} MB with the route. Peak (VmHWM): "
        f"{mem['hwm_kb'] / MB:.1f} MB. Journal evicted at the end: {mem['journal_evicted']:,}; "
        f"failed requests: {mem['failed']}. Growth after the journal filled: "
        f"{_growth_mb(mem):+.1f} MB (flat means < {FLAT_MB:g} MB).",
        "",
        "| requests so far | RSS MB |",
        "|---:|---:|",
        *(f"| {n:,} | {kb / MB:.1f} |" for n, kb in mem["samples"]),
        "",
    ]
    if ss:
        lines += [
            "RSS of the throughput servers after their load: "
            + ", ".join(f"{k} {v / MB:.1f} MB" for k, v in ss.items()),
            "",
        ]
    return lines


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    target = Path(sys.argv[1]).with_name("RESULTS.md")
    target.write_text(render(data))
    print(f"wrote {target}")
