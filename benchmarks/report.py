"""RESULTS.md from the figures `run.py` gathered (also re-renderable from results.json:
`.venv/bin/python benchmarks/report.py benchmarks/results.json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
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
    (
        "cp_10k_template_ids",
        "controlplane, 10,000 template routes, the last declared, a new id each request",
    ),
    ("cp_conditions", "controlplane, POST matched on headers + query + json_subset (4th of 4)"),
    ("cp_post_plain", "controlplane, the same POST to 1 route without conditions"),
    ("cp_journal_off", "controlplane, 1 route, journal off (`--journal-size 1`)"),
    ("cp_100_sessions", "controlplane, 100 sessions, round-robin over `/_s/{id}`"),
    ("cp_unmatched_10k", "controlplane, unmatched request at 10,000 routes (404 + near misses)"),
    (
        "cp_unmatched_10k_paths",
        "controlplane, unmatched at 10,000 routes, a new path each request",
    ),
]


def _ok(passed: bool) -> str:
    return "**pass**" if passed else "**MISS**"


def _rate(s: dict[str, Any]) -> float:
    """The figure ratios are taken of: requests per server CPU-second when measured."""
    return float(s.get("per_cpu_s") or s["rps"])


def budget_row(
    figure: str, issue: int, target: str, measured: str, passed: bool, miss: str = ""
) -> str:
    """One row of the Budget table; a miss says by how much when `miss` is given."""
    extra = f" — {miss}" if not passed and miss else ""
    return f"| {figure} | {issue} | {target} | {measured} | {_ok(passed)}{extra} |"


def ratio_text(ratio: float, threshold: float) -> str:
    """`ratio` to 2 decimals, or 3 where 2 would print a miss as the threshold."""
    text = f"{ratio:.2f}"
    if ratio < threshold and text == f"{threshold:.2f}":
        text = f"{ratio:.3f}"
    return text


#: What a budget row's figure function returns: the measured text, pass, and by how
#: much it missed. It raises KeyError when this run did not measure the figure.
Measured = tuple[str, bool, str]


def ratio_figure(num: float, den: float, minimum: float, detail: str = "") -> Measured:
    """A `num / den >= minimum` target (rates per CPU-s): the ratio and both rates."""
    ratio = num / den
    measured = f"{ratio_text(ratio, minimum)} ({num:,.0f} / {den:,.0f} per CPU-s{detail})"
    short = f"short by {minimum - ratio:.3f} ({minimum * den - num:,.0f} req per CPU-s)"
    return measured, ratio >= minimum, short


def _vs(key: str, ref: str, minimum: float) -> Callable[[dict[str, Any]], Measured]:
    """The row of matrix target `key` against target `ref`."""

    def figure(r: dict[str, Any]) -> Measured:
        m = r["matrix"]
        detail = f"; wall-clock medians: {m[key]['rps'] / m[ref]['rps']:.2f}"
        paired = paired_median(m[key].get("rounds", []), m[ref].get("rounds", []))
        if paired is not None:
            detail += f"; per-round paired median: {paired:.3f}"
        if key == "cp_conditions" and "bare_post" in m and "bare" in m:
            detail += (
                "; the bare server's POST vs its GET: "
                f"{_rate(m['bare_post']) / _rate(m['bare']):.2f}"
            )
        if key == "cp_conditions" and "cp_post_plain" in m:
            detail += (
                "; the same POST to 1 route without conditions vs 1 route: "
                f"{_rate(m['cp_post_plain']) / _rate(m[ref]):.2f}"
            )
        return ratio_figure(_rate(m[key]), _rate(m[ref]), minimum, detail)

    return figure


def paired_median(rounds: list[float], ref_rounds: list[float]) -> float | None:
    """The median of the per-round ratios `rounds[i] / ref_rounds[i]` (wall-clock rates
    of the same interleaved round), or None when the rounds do not pair up.

    A round's two targets ran minutes apart at most, so a machine's drift between rounds
    cancels out of each ratio; beside the ratio of medians it shows how robust a pass is.
    """
    if not rounds or len(rounds) != len(ref_rounds) or not all(ref_rounds):
        return None
    ratios = sorted(a / b for a, b in zip(rounds, ref_rounds, strict=True))
    middle = len(ratios) // 2
    if len(ratios) % 2:
        return ratios[middle]
    return (ratios[middle - 1] + ratios[middle]) / 2


def _unmatched_p50(r: dict[str, Any]) -> Measured:
    p50 = r["unmatched_c1"]["p50_ms"]
    loaded = r["matrix"]["cp_unmatched_10k"]["p50_ms"]
    return (
        f"{p50:.2f} ms (under 32 connections: {loaded:.2f} ms)",
        p50 < 5,
        f"over by {p50 - 5:.2f} ms",
    )


def _bulk(kind: str) -> Callable[[dict[str, Any]], Measured]:
    def figure(r: dict[str, Any]) -> Measured:
        took = r["bulk"][kind]["median_s"]
        return f"{took:.3f} s", took < 1, f"over by {took - 1:.2f} s"

    return figure


def _cold(r: dict[str, Any]) -> Measured:
    took = r["cold_start"]["median_s"]
    return f"{took:.3f} s", took < 0.5, f"over by {took - 0.5:.3f} s"


def _memory_flat(r: dict[str, Any]) -> Measured:
    mem = r["memory"]
    final, growth = mem["samples"][-1][1] / MB, _growth_mb(mem)
    passed = final < 150 and growth < FLAT_MB and mem["requests"] >= 1_000_000
    measured = (
        f"{final:.1f} MB after {mem['requests']:,} requests; +{growth:.1f} MB after the "
        "journal filled"
    )
    return measured, passed, "see Memory"


def _journal(r: dict[str, Any]) -> Measured:
    j = r["journal_rss"]
    measured = (
        f"{j['after_mb']:.1f} MB ({j['before_mb']:.1f} MB before the fill; "
        f"{j['bytes_per_entry']:.0f} bytes per entry held)"
    )
    return measured, j["after_mb"] <= 150, f"over by {j['after_mb'] - 150:.1f} MB"


def _proxy(r: dict[str, Any]) -> Measured:
    p = r["proxy"]
    ratio = p["wall_ratio"]
    measured = (
        f"{ratio_text(ratio, 0.5)} ({p['proxied_rps']:,.0f} / {p['direct_rps']:,.0f} req/s; "
        f"CPU ratio {p['cpu_ratio']:.2f}: {p['proxy_us']:.0f} µs of proxy CPU per request; "
        f"both on one core: {p['shared_wall_ratio']:.2f})"
    )
    return measured, ratio >= 0.5, f"short by {0.5 - ratio:.3f}"


def _proxy_memory(r: dict[str, Any]) -> Measured:
    p = r["proxy"]
    growth, samples = p.get("rss_growth_kb"), p.get("rss_samples_kb") or []
    if growth is None or not samples:
        return "no samples after the journal filled", False, "not measured"
    total, last = samples[-1]
    growth_mb = growth / MB
    measured = (
        f"{last / MB:.1f} MB after {total:,} proxied requests; {growth_mb:+.1f} MB after the "
        "journal filled"
    )
    passed = total >= 100_000 and growth_mb < FLAT_MB
    return measured, passed, f"grew {growth_mb:.1f} MB"


#: The Budget table: (figure, issue, target, how it is measured), in report order.
BUDGET: tuple[tuple[str, int, str, Callable[[dict[str, Any]], Measured]], ...] = (
    ("1 route vs bare aiohttp+uvloop (low-level server)", 15, "≥ 1.00",
     _vs("cp_1_route", "bare", 1.0)),
    ("10,000 exact routes vs 1 route", 5, "≥ 0.90", _vs("cp_10k_exact", "cp_1_route", 0.90)),
    ("10,000 template routes vs 1 route (the same path each request)", 15, "≥ 0.95",
     _vs("cp_10k_template", "cp_1_route", 0.95)),
    ("10,000 template routes vs 1 route (a new id each request: no kept lookup)", 15,
     "≥ 0.95", _vs("cp_10k_template_ids", "cp_1_route", 0.95)),
    ("POST matched on headers + query + json_subset vs 1 route", 15, "≥ 0.80",
     _vs("cp_conditions", "cp_1_route", 0.80)),
    ("100 sessions, round-robin, vs 1 route", 15, "≥ 0.95",
     _vs("cp_100_sessions", "cp_1_route", 0.95)),
    ("unmatched request at 10,000 routes (404 + near misses) vs 1 route, under load", 15,
     "≥ 0.50", _vs("cp_unmatched_10k", "cp_1_route", 0.50)),
    ("unmatched at 10,000 routes vs 1 route, a new path each request (no kept pool)", 15,
     "≥ 0.50", _vs("cp_unmatched_10k_paths", "cp_1_route", 0.50)),
    ("unmatched request at 10,000 routes, p50 latency (1 connection)", 5, "< 5 ms",
     _unmatched_p50),
    ("bulk registration of 10,000 exact routes (one POST)", 5, "< 1 s", _bulk("exact")),
    ("bulk registration of 10,000 template routes (one POST)", 5, "< 1 s", _bulk("template")),
    ("cold start to first mocked response", 5, "< 0.5 s", _cold),
    ("RSS over 1,000,000 requests, 1 session, default journal", 5, "< 150 MB, flat",
     _memory_flat),
    ("RSS with 100 sessions whose journals are full (10,000 bodiless GETs each)", 15,
     "≤ 150 MB", _journal),
    ("`proxy` response vs its origin, wall-clock req/s (each on its own core)", 11,
     "≥ 0.50", _proxy),
    ("RSS over 100,000 proxied requests", 11, "flat (< 3 MB after the journal filled)",
     _proxy_memory),
)  # fmt: skip


def budget(r: dict[str, Any]) -> list[str]:
    """The Budget table: each target of issues 5, 11 and 15, measured, pass or MISS; a
    target this run did not measure (a `--only` run) says so."""
    lines = ["| figure | issue | target | measured | result |", "|---|---:|---|---|---|"]
    for figure, issue, target, measure in BUDGET:
        try:
            measured, passed, miss = measure(r)
        except KeyError:
            lines.append(f"| {figure} | {issue} | {target} | not measured in this run | — |")
            continue
        lines.append(budget_row(figure, issue, target, measured, passed, miss))
    return lines


def _growth_mb(mem: dict[str, Any]) -> float:
    filled = [kb for n, kb in mem["samples"] if n >= 10_000]
    return (filled[-1] - filled[0]) / MB if len(filled) > 1 else 0.0


def _throughput(r: dict[str, Any]) -> list[str]:
    m = r["matrix"]
    bare = _rate(m["bare"]) if "bare" in m else None
    one = _rate(m["cp_1_route"]) if "cp_1_route" in m else None
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
        vs_bare = f"{rate / bare:.2f}" if bare else ""
        vs_one = f"{rate / one:.2f}" if one and key.startswith("cp_") else ""
        lines.append(
            f"| {name} | {rate:,.0f} | {s['per_cpu_s_min']:,.0f}-{s['per_cpu_s_max']:,.0f} | "
            f"{vs_bare} | {vs_one} | {1e6 / rate:.1f} | {s['rps']:,.0f} | "
            f"{s['rps_min']:,.0f}-{s['rps_max']:,.0f} | {s['busy']:.0%} | "
            f"{s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms | {s['non_2xx']:,} | {s['errors']} |"
        )
    lines += [
        "",
        'p50/p99 are under 32 connections (they include queueing). Journal "off" is '
        "`--journal-size 1` (there is no switch to disable it; one entry is kept).",
        "",
    ]
    c1 = r.get("unmatched_c1")
    if c1:
        lines += [
            "Unmatched at 10,000 routes with one connection (the latency of the request "
            f"itself): p50 {c1['p50_ms']:.2f} ms, p99 {c1['p99_ms']:.2f} ms, "
            f"{c1['rps']:,.0f} req/s.",
            "",
        ]
    return lines


#: The peers and the name each is shown by, controlplane first.
PEER_ROWS = (
    ("controlplane", "controlplane"),
    ("pytest_httpserver", "pytest-httpserver"),
    ("wiremock", "WireMock"),
)
MODE_NAMES = {"pinned": "1 (core 0)", "all_cores": "all (0-1), wrk shares core 1"}


def mode_rate(s: dict[str, Any], mode: str) -> float:
    """The figure a mode is judged by: per CPU-second pinned, wall-clock req/s with all
    cores (a server on two cores is not bounded by one core's time)."""
    return _rate(s) if mode == "pinned" else float(s["rps"])


def warmup_text(w: dict[str, Any]) -> str:
    """A warm-up as a table cell: how long, and the rate it settled at or the last
    windows it saw when the cap ended it."""
    if w["stable"]:
        return f"{w['warmup_s']:.0f} s, settled at {w['rate']:,.0f}"
    last = " / ".join(f"{v:,.0f}" for v in w["windows"][-w["needed"] :])
    return f"{w['warmup_s']:.0f} s (cap {w['max_s']:g} s), not settled: {last}"


def _peers(r: dict[str, Any]) -> list[str]:
    p = r["peers"]
    if "skipped" in p:
        return [f"Skipped: {p['skipped']}.", ""]
    if "controlplane" not in p:  # results.json of a suite before issue 15
        return ["Measured by an older suite in another form: run `make bench` again.", ""]
    cp = p["controlplane"]
    rows = [
        "| server | cores | wall req/s | req per CPU-s | server busy | RSS after | warm-up "
        "| controlplane ÷ this, same cores |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    notes: list[str] = []
    versions = {
        "controlplane": r["machine"]["controlplane"],
        "pytest_httpserver": p.get("pytest_httpserver", {}).get("version", ""),
        "wiremock": p.get("wiremock", {}).get("version", ""),
    }
    for key, name in PEER_ROWS:
        q = p.get(key)
        if q is None:
            continue
        if "skipped" in q:
            notes.append(f"- {name}: skipped — {q['skipped']}")
            continue
        for mode in MODE_NAMES:
            cases = [("", q[mode]["1_route"])]
            if "1_route_journal_cap" in q[mode]:
                cases.append((", journal capped at 10,000", q[mode]["1_route_journal_cap"]))
            for suffix, s in cases:
                ours, theirs = mode_rate(cp[mode]["1_route"], mode), mode_rate(s, mode)
                vs = f"{ours / theirs:.1f}" if key != "controlplane" and theirs else ""
                wall, per_cpu = f"{s['rps']:,.0f}", f"{_rate(s):,.0f}"
                if mode == "pinned":
                    per_cpu = f"**{per_cpu}**"
                else:
                    wall = f"**{wall}**"
                rows.append(
                    f"| {name} {versions[key]}{suffix} | {MODE_NAMES[mode]} | {wall} | "
                    f"{per_cpu} | {s['busy']:.0%} | {s['rss_kb'] / MB:.0f} MB | "
                    f"{warmup_text(s['warmup'])} | {vs} |"
                )
    return [
        "### 1 route, each server warmed until its rate settles",
        "",
        *rows,
        "",
        *_peer_notes(r),
        *notes,
        "",
        "### Pinned to one core, as the throughput matrix",
        "",
        *_peers_pinned(r),
        "",
    ]


def _peer_notes(r: dict[str, Any]) -> list[str]:
    p, cfg = r["peers"], r["config"]
    rule = cfg.get("peer_warmup", {})
    rounds = min(cfg["rounds"], 3)
    wm = p.get("wiremock", {})
    jvm_min = wm["pinned"]["1_route"]["warmup"].get("min_s", 10) if "pinned" in wm else 10
    lines = [
        "- **1 (core 0)**: the server runs under `taskset -c 0`, all its threads (for "
        "WireMock also the JIT compilers, the garbage collector and Jetty's pool); wrk "
        "(`-t1 -c32`) under `taskset -c 1`. Judged by requests per server CPU-second "
        "(bold), as the matrix.",
        "- **all (0-1)**: the server runs under `taskset -c 0-1` (given explicitly: it "
        "would otherwise inherit the orchestrator's core 1), so the kernel may run it on "
        "both cores; wrk stays on core 1 as above, so the server has core 0 to itself and "
        "shares core 1 with the load generator. This is how its users run it on a "
        "2-core machine. Judged by wall-clock req/s (bold): a server on two cores is not "
        "bounded by one core's time; server busy above 100% means it used both.",
        f"- Warm-up: wrk windows of {rule.get('window_s', 3):g} s under the same load until "
        f"{rule.get('windows', 3)} in a row lie within "
        f"{rule.get('tolerance', 0.05):.0%} of the highest of them (at least "
        f"{jvm_min:g} s for the JVM; at most {rule.get('max_s', 90):g} s for the JVM, "
        f"{rule.get('max_s_python', 30):g} s for the others); then {rounds} runs of "
        f'{cfg["seconds"]:g} s, medians. "settled at" is the mean of the settled '
        'windows; a row "not settled" hit the cap and shows its last windows. '
        "controlplane is measured the same way, on a fresh server.",
    ]
    if "pinned" in wm:
        lines.append(
            f"- WireMock {wm['version']} runs as `java -jar` with its defaults on "
            f"{wm.get('java', 'Java')}; with one CPU visible the JVM picks "
            f"{wm['pinned']['gc']}, with two {wm['all_cores']['gc']}. Its request journal "
            "(unbounded by default) is emptied (`DELETE /__admin/requests`) before each "
            "window and run, as a suite resetting between tests does. The row "
            '"journal capped at 10,000" adds `--max-request-journal-entries 10000` (the '
            "bound of controlplane's default journal, and this suite's setting for "
            "WireMock before issue 15) and is never emptied."
        )
    hs = p.get("pytest_httpserver", {})
    if "pinned" in hs:
        lines.append(
            f"- pytest-httpserver {hs['version']} (werkzeug {hs.get('werkzeug', '?')}, "
            f"Python {hs.get('python', '?')}, in its own venv); its routes are declared in "
            "process (it has no HTTP admin API)."
        )
    return lines


def _peers_pinned(r: dict[str, Any]) -> list[str]:
    p = r["peers"]
    lines = [
        "| server | 10,000 routes, hit last, req per CPU-s | unmatched at 10,000, p50 "
        "(1 conn) | bulk 10,000 | cold start, 1 core | cold start, all cores |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def cell(get: Callable[[], str]) -> str:
        try:
            return get()
        except KeyError:
            return "—"

    m = r.get("matrix", {})
    cp = p["controlplane"]
    rows = [
        (
            f"controlplane {r['machine']['controlplane']}",
            lambda: f"{_rate(m['cp_10k_exact']):,.0f}",
            lambda: f"{r['unmatched_c1']['p50_ms']:.2f} ms",
            lambda: f"{r['bulk']['exact']['median_s']:.2f} s",
            lambda: f"{cp['pinned']['cold_start']['median_s']:.2f} s",
            lambda: f"{cp['all_cores']['cold_start']['median_s']:.2f} s",
        )
    ]
    for key, name in PEER_ROWS[1:]:
        q = p.get(key, {})
        if "pinned" not in q:
            continue
        rows.append(
            (
                f"{name} {q['version']}",
                lambda q=q: f"{_rate(q['pinned']['10k_exact']):,.0f}",
                lambda q=q: f"{q['pinned']['unmatched_10k_c1']['p50_ms']:.2f} ms",
                lambda q=q: (
                    f"{q['bulk_10k_s']:.2f} s" if "bulk_10k_s" in q else "n/a (no HTTP admin API)"
                ),
                lambda q=q: f"{q['pinned']['cold_start']['median_s']:.2f} s",
                lambda q=q: f"{q['all_cores']['cold_start']['median_s']:.2f} s",
            )
        )
    for name, *cells in rows:
        lines.append(f"| {name} | {' | '.join(cell(get) for get in cells)} |")
    return lines


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
    if cfg.get("only"):
        out += [f"**Subset run (`--only {cfg['only']}`): only these figures were measured.**", ""]
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
        "Figures are medians over rounds; ratios are of medians (a row against another also "
        "gives the median of its per-round ratios, each round's two rates paired).",
        "",
        "## Budget",
        "",
        *budget(r),
        "",
    ]
    sections: list[tuple[str, str, Callable[[dict[str, Any]], list[str]]]] = [
        ("matrix", "## Throughput", _throughput),
        ("sessions_gc", "", _sessions_gc),
        ("delayed", "", _delayed),
        ("bulk", "## Bulk registration, cold start", _bulk_cold),
        ("cold_start", "## Bulk registration, cold start", _bulk_cold),
        ("memory", "## Memory", _memory),
        ("journal_rss", "## Memory", _memory),
        ("proxy", "## The `proxy` response (issue 11)", _proxy_section),
        ("peers", "## Peers (same machine, same wrk settings)", _peers),
        ("route_lookup", "## Route lookup in process (`route_lookup.py`)", _route_lookup),
        ("profile", "## Profile", _profile),
        ("hot_path_micro", "## Profile", _profile),
    ]
    done: set[Callable[[dict[str, Any]], list[str]]] = set()
    for key, title, section in sections:
        if key not in r or section in done:
            continue
        done.add(section)
        out += [title, ""] if title else []
        out += section(r)
    return "\n".join(out).rstrip("\n") + "\n"


def _route_lookup(r: dict[str, Any]) -> list[str]:
    return ["```", r["route_lookup"].rstrip(), "```", ""]


def _proxy_section(r: dict[str, Any]) -> list[str]:
    p = r["proxy"]
    own = ", ".join(f"{row['wall_ratio']:.2f}" for row in p["rounds"])
    shared = ", ".join(f"{row['shared_wall_ratio']:.2f}" for row in p.get("rounds", []))
    return [
        "The bare server is the origin and controlplane forwards `GET /hello` to it "
        "(`benchmarks/proxy.py` without its memory run). Each round loads the origin "
        "directly (origin on core 0, wrk on core 1), then a proxy on core 0 in two layouts. "
        f"Medians of {len(p['rounds'])} rounds; direct {p['direct_rps']:,.0f} req/s "
        f"({p['origin_us']:.1f} µs of origin CPU per request).",
        "",
        "| layout | proxied req/s | wall ratio (per round) | proxy CPU per request | CPU ratio |",
        "|---|---:|---|---:|---:|",
        f"| own cores: the origin on core 1 beside wrk (the budget row; core 1 was "
        f"{100 * p['far_core_busy']:.0f}% busy, {100 * p['far_core_origin_share']:.0f}% "
        f"of it the origin's) | {p['proxied_rps']:,.0f} | {p['wall_ratio']:.2f} ({own}) | "
        f"{p['proxy_us']:.1f} µs | {p['cpu_ratio']:.2f} |",
        f"| shared core: the origin on core 0 with the proxy | {p['shared_rps']:,.0f} | "
        f"{p['shared_wall_ratio']:.2f} ({shared}) | {p['shared_proxy_us']:.1f} µs | "
        f"{p['shared_cpu_ratio']:.2f} |",
        "",
        f"Failed requests: {p['failures']:.0f}. Why the budget row is the own-cores layout: "
        'docs/decisions.md, "The proxy\'s benchmark layout".',
        "",
    ]


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
    lines = []
    if "bulk" in r:
        b = r["bulk"]
        lines.append(
            f"- Bulk: one `POST /api/sessions/{{sid}}/routes` with a list of 10,000 routes "
            f"(each with an inline JSON response) into a fresh session, send to full answer "
            f"(which echoes every route): exact {b['exact']['median_s']:.3f} s "
            f"({b['exact']['bytes'] / 1e6:.1f} MB body), template "
            f"{b['template']['median_s']:.3f} s; median of {len(b['exact']['runs_s'])}."
        )
    if "cold_start" in r:
        c, cb = r["cold_start"], r["cold_start_bare"]
        runs = ", ".join(f"{t:.3f}" for t in c["runs_s"])
        lines.append(
            f"- Cold start: exec of `controlplane serve` → ready file → `POST /api/routes` → "
            f"first `GET` answered 200: median {c['median_s']:.3f} s (runs: {runs}); the "
            f"ready file alone appears after {c['ready_median_s']:.3f} s. The bare aiohttp "
            f"server, exec to first response: {cb['median_s']:.3f} s."
        )
        nb = r.get("cold_start_no_bytecode")
        if nb:
            lines.append(
                f"- controlplane's bytecode is written before these starts, as `pip install` "
                f"writes it for an installed package. A start that finds none of the "
                f"package's and writes none (`PYTHONDONTWRITEBYTECODE`, as on this machine, "
                f"with an editable install) compiles its modules from source: median "
                f"{nb['median_s']:.3f} s."
            )
    return [*lines, ""]


def _memory(r: dict[str, Any]) -> list[str]:
    lines = []
    mem = r.get("memory")
    if mem:
        lines += [
            f"Default journal (10,000 entries per session), 1 route, wrk -c32 in chunks; RSS "
            f"from /proc/PID/status. Idle: {mem['idle_kb'] / MB:.1f} MB (no route), "
            f"{mem['idle_with_route_kb'] / MB:.1f} MB with the route. Peak (VmHWM): "
            f"{mem['hwm_kb'] / MB:.1f} MB. Journal evicted at the end: "
            f"{mem['journal_evicted']:,}; failed requests: {mem['failed']}. Growth after the "
            f"journal filled: {_growth_mb(mem):+.1f} MB (flat means < {FLAT_MB:g} MB).",
            "",
            "| requests so far | RSS MB |",
            "|---:|---:|",
            *(f"| {n:,} | {kb / MB:.1f} |" for n, kb in mem["samples"]),
            "",
        ]
    j = r.get("journal_rss")
    if j:
        lines += [
            f"100 sessions with full journals (`journal_memory.py`'s measure): a fresh "
            f"server, the 100 sessions of the sessions scenario, each journal filled with "
            f"exactly 10,000 bodiless GETs shaped like wrk's (pipelined over one connection "
            f"per session): RSS {j['before_mb']:.1f} MB before the fill, "
            f"{j['after_mb']:.1f} MB after (peak {j['peak_mb']:.1f} MB); "
            f"{j['bytes_per_entry']:.0f} bytes per entry held ({j['entries']:,} entries).",
            "",
        ]
    ss = r.get("rss_after_load_kb", {})
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
