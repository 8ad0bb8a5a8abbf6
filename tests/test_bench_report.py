"""The benchmark suite's own logic (benchmarks/, not shipped): the warm-up rule that
decides when a peer's rate has settled, the Budget table's rows, and which scenarios
`run.py --only` runs and where a run writes. Nothing here starts a server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))  # the suite's modules import each other by name

import report  # noqa: E402
import run  # noqa: E402
from harness import settled, warm_until_stable  # noqa: E402

# ---------------------------------------------------------------------- settled


def test_rates_settle_when_the_last_windows_lie_within_the_tolerance_of_their_highest() -> None:
    assert settled([50.0, 95.0, 100.0], 0.05, 2)  # exactly 5 % below the highest
    assert not settled([50.0, 94.9, 100.0], 0.05, 2)
    assert settled([100.0, 95.0], 0.05, 2)  # falling counts as well as rising


def test_three_windows_catch_a_rate_still_climbing_a_few_percent_per_window() -> None:
    climbing = [5000.0, 5150.0, 5300.0]  # 3 % per window: two agree, three do not
    assert settled(climbing, 0.05, 2)
    assert not settled(climbing, 0.05, 3)
    assert settled([5000.0, 5150.0, 5240.0], 0.05, 3)


def test_fewer_rates_than_windows_or_no_rate_at_all_never_settle() -> None:
    assert not settled([100.0], 0.05, 2)
    assert not settled([], 0.05, 1)
    assert not settled([0.0, 0.0], 0.05, 2)
    assert not settled([100.0, 100.0], 0.05, 0)


# ---------------------------------------------------------------------- warm-up


class Script:
    """A window that returns the given rates in turn, each taking `step` seconds on a
    clock of its own (so the warm-up's timing is exact)."""

    def __init__(self, rates: list[float], step: float) -> None:
        self.rates = list(rates)
        self.step = step
        self.now = 0.0
        self.calls = 0

    def window(self) -> float:
        self.now += self.step
        self.calls += 1
        return self.rates.pop(0) if self.rates else 1000.0 * self.calls  # still climbing

    def clock(self) -> float:
        return self.now


def test_the_warm_up_stops_at_the_first_window_that_settles_and_reports_it() -> None:
    script = Script([800, 1000, 2000, 2050, 2010, 9999], step=3)
    got = warm_until_stable(
        script.window, min_s=0, max_s=90, tolerance=0.05, windows=3, clock=script.clock
    )
    assert got == {
        "warmup_s": 15.0,
        "stable": True,
        "rate": (2000 + 2050 + 2010) / 3,
        "windows": [800, 1000, 2000, 2050, 2010],
        "min_s": 0,
        "max_s": 90,
        "tolerance": 0.05,
        "needed": 3,
    }


def test_settled_windows_before_the_minimum_warm_up_do_not_end_it() -> None:
    script = Script([500, 500, 500, 500, 500], step=3)
    got = warm_until_stable(script.window, min_s=10, max_s=90, windows=2, clock=script.clock)
    assert (got["stable"], got["warmup_s"], script.calls) == (True, 12.0, 4)


def test_a_rate_that_never_settles_ends_at_the_cap_and_says_so() -> None:
    script = Script([], step=3)  # 1000, 2000, 3000, ...: never within 5 %
    got = warm_until_stable(script.window, min_s=0, max_s=9, windows=2, clock=script.clock)
    assert got["stable"] is False
    assert got["warmup_s"] == 9.0
    assert got["windows"] == [1000, 2000, 3000]
    assert got["rate"] == 2500.0  # the mean of the last two windows seen
    assert report.warmup_text(got) == "9 s (cap 9 s), not settled: 2,000 / 3,000"


def test_a_settled_warm_up_reads_as_its_time_and_rate() -> None:
    got = {"warmup_s": 14.6, "stable": True, "rate": 9876.4, "windows": [], "needed": 3}
    assert report.warmup_text(got) == "15 s, settled at 9,876"


# ---------------------------------------------------------------------- budget


def test_a_row_that_passes_shows_no_shortfall() -> None:
    row = report.budget_row("10,000 exact routes vs 1 route", 5, "≥ 0.90", "0.97", True, "x")
    assert row == "| 10,000 exact routes vs 1 route | 5 | ≥ 0.90 | 0.97 | **pass** |"


def test_a_row_that_misses_says_by_how_much() -> None:
    row = report.budget_row("f", 15, "≥ 0.95", "0.83", False, "short by 0.120")
    assert row == "| f | 15 | ≥ 0.95 | 0.83 | **MISS** — short by 0.120 |"
    assert (
        report.budget_row("f", 15, "≥ 0.95", "0.83", False)
        == "| f | 15 | ≥ 0.95 | 0.83 | **MISS** |"
    )


def test_a_ratio_that_would_round_up_to_its_target_shows_three_decimals() -> None:
    assert report.ratio_text(0.996, 1.0) == "0.996"
    assert report.ratio_text(0.994, 1.0) == "0.99"
    assert report.ratio_text(1.004, 1.0) == "1.00"  # a pass rounds as it likes
    assert report.ratio_text(0.8, 0.8) == "0.80"


def test_a_ratio_target_passes_at_exactly_its_minimum() -> None:
    assert report.ratio_figure(800.0, 1000.0, 0.80) == (
        "0.80 (800 / 1,000 per CPU-s)",
        True,
        "short by 0.000 (0 req per CPU-s)",
    )
    measured, passed, miss = report.ratio_figure(799.0, 1000.0, 0.80)
    assert (measured, passed, miss) == (
        "0.799 (799 / 1,000 per CPU-s)",
        False,
        "short by 0.001 (1 req per CPU-s)",
    )


def _summary(per_cpu_s: float, rps: float) -> dict[str, Any]:
    return {"per_cpu_s": per_cpu_s, "rps": rps}


def test_the_budget_has_a_row_per_target_and_says_which_this_run_did_not_measure() -> None:
    results = {
        "matrix": {
            "cp_1_route": _summary(30_000, 29_000),
            "cp_conditions": _summary(24_600, 23_200),
        },
        "journal_rss": {"before_mb": 69.0, "after_mb": 151.2, "bytes_per_entry": 84.0},
    }
    lines = report.budget(results)
    assert lines[:2] == [
        "| figure | issue | target | measured | result |",
        "|---|---:|---|---|---|",
    ]
    assert len(lines) == 2 + len(report.BUDGET)
    assert (
        "| POST matched on headers + query + json_subset vs 1 route | 15 | ≥ 0.80 | 0.82 "
        "(24,600 / 30,000 per CPU-s; wall-clock medians: 0.80) | **pass** |" in lines
    )
    assert (
        "| RSS with 100 sessions whose journals are full (10,000 bodiless GETs each) | 15 "
        "| ≤ 150 MB | 151.2 MB (69.0 MB before the fill; 84 bytes per entry held) "
        "| **MISS** — over by 1.2 MB |" in lines
    )
    assert (
        "| 1 route vs bare aiohttp+uvloop (low-level server) | 15 | ≥ 1.00 "
        "| not measured in this run | — |" in lines
    )
    targets = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")[2] for line in lines[2:]}
    assert targets == {
        "1 route vs bare aiohttp+uvloop (low-level server)": "≥ 1.00",
        "10,000 exact routes vs 1 route": "≥ 0.90",
        "10,000 template routes vs 1 route (the same path each request)": "≥ 0.95",
        "10,000 template routes vs 1 route (a new id each request: no kept lookup)": "≥ 0.95",
        "POST matched on headers + query + json_subset vs 1 route": "≥ 0.80",
        "100 sessions, round-robin, vs 1 route": "≥ 0.95",
        "unmatched request at 10,000 routes (404 + near misses) vs 1 route, under load": "≥ 0.50",
        "unmatched at 10,000 routes vs 1 route, a new path each request (no kept pool)": "≥ 0.50",
        "unmatched request at 10,000 routes, p50 latency (1 connection)": "< 5 ms",
        "bulk registration of 10,000 exact routes (one POST)": "< 1 s",
        "bulk registration of 10,000 template routes (one POST)": "< 1 s",
        "cold start to first mocked response": "< 0.5 s",
        "RSS over 1,000,000 requests, 1 session, default journal": "< 150 MB, flat",
        "RSS with 100 sessions whose journals are full (10,000 bodiless GETs each)": "≤ 150 MB",
        "`proxy` response vs its origin, wall-clock req/s (each on its own core)": "≥ 0.50",
        "RSS over 100,000 proxied requests": "flat (< 3 MB after the journal filled)",
    }


def test_the_conditions_row_gives_the_plain_posts_ratio_beside_its_own() -> None:
    results = {
        "matrix": {
            "cp_1_route": _summary(30_000, 29_000),
            "cp_conditions": _summary(19_500, 19_000),
            "cp_post_plain": _summary(24_000, 23_000),
        }
    }
    assert (
        "| POST matched on headers + query + json_subset vs 1 route | 15 | ≥ 0.80 | 0.65 "
        "(19,500 / 30,000 per CPU-s; wall-clock medians: 0.66; the same POST to 1 route "
        "without conditions vs 1 route: 0.80) | **MISS** — short by 0.150 "
        "(4,500 req per CPU-s) |" in report.budget(results)
    )


def test_paired_median_is_the_middle_per_round_ratio_odd_even_and_unpaired() -> None:
    # odd: ratios 0.5, 2.0, 0.9 -> 0.9; even: 0.5, 0.8, 0.9, 2.0 -> (0.8 + 0.9) / 2
    assert report.paired_median([50.0, 200.0, 90.0], [100.0, 100.0, 100.0]) == 0.9
    assert report.paired_median([50.0, 80.0, 90.0, 200.0], [100.0] * 4) == pytest.approx(0.85)
    assert report.paired_median([7.0], [10.0]) == 0.7
    assert report.paired_median([], []) is None
    assert report.paired_median([1.0, 2.0], [1.0]) is None
    assert report.paired_median([1.0], [0.0]) is None


def test_a_row_with_rounds_gives_the_paired_median_after_the_wall_clock_medians() -> None:
    one = {**_summary(30_000, 29_000), "rounds": [29_000.0, 30_000.0, 28_000.0]}
    ids = {**_summary(28_000, 27_000), "rounds": [27_000.0, 29_000.0, 27_500.0]}
    lines = report.budget({"matrix": {"cp_1_route": one, "cp_10k_template_ids": ids}})
    assert (
        "| 10,000 template routes vs 1 route (a new id each request: no kept lookup) | 15 "
        "| ≥ 0.95 | 0.93 (28,000 / 30,000 per CPU-s; wall-clock medians: 0.93; per-round "
        "paired median: 0.967) | **MISS** — short by 0.017 (500 req per CPU-s) |" in lines
    )


def _proxy(wall: float, growth_kb: float | None, requests: int) -> dict[str, Any]:
    samples = [(0, 60_000), (20_000, 65_000), (requests, 65_000 + (growth_kb or 0))]
    return {
        "wall_ratio": wall,
        "proxied_rps": 10_000 * wall,
        "direct_rps": 10_000,
        "cpu_ratio": 0.61,
        "proxy_us": 56.4,
        "shared_wall_ratio": 0.33,
        "rss_growth_kb": growth_kb,
        "rss_samples_kb": samples,
    }


@pytest.mark.parametrize(
    ("wall", "growth_kb", "requests", "ratio_row", "memory_row"),
    [
        (
            0.5,
            3071.0,
            100_000,
            "0.50 (5,000 / 10,000 req/s; CPU ratio 0.61: 56 µs of proxy CPU per request; "
            "both on one core: 0.33) | **pass** |",
            "66.5 MB after 100,000 proxied requests; +3.0 MB after the journal filled | **pass** |",
        ),
        (
            0.499,
            3072.0,
            100_000,
            "0.499 (4,990 / 10,000 req/s; CPU ratio 0.61: 56 µs of proxy CPU per request; "
            "both on one core: 0.33) | **MISS** — short by 0.001 |",
            "66.5 MB after 100,000 proxied requests; +3.0 MB after the journal filled "
            "| **MISS** — grew 3.0 MB |",
        ),
        (
            0.7,
            0.0,
            99_999,  # the 5-minute cap came first: not the 100,000 the row is about
            "0.70 (7,000 / 10,000 req/s; CPU ratio 0.61: 56 µs of proxy CPU per request; "
            "both on one core: 0.33) | **pass** |",
            "63.5 MB after 99,999 proxied requests; +0.0 MB after the journal filled "
            "| **MISS** — grew 0.0 MB |",
        ),
        (
            0.7,
            None,
            100_000,
            "0.70 (7,000 / 10,000 req/s; CPU ratio 0.61: 56 µs of proxy CPU per request; "
            "both on one core: 0.33) | **pass** |",
            "no samples after the journal filled | **MISS** — not measured |",
        ),
    ],
)
def test_the_proxy_rows_judge_the_own_cores_ratio_and_the_growth_after_the_journal(
    wall: float, growth_kb: float | None, requests: int, ratio_row: str, memory_row: str
) -> None:
    lines = report.budget({"proxy": _proxy(wall, growth_kb, requests)})
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[2:]}
    ratio = rows["`proxy` response vs its origin, wall-clock req/s (each on its own core)"]
    assert ratio.endswith("| 11 | ≥ 0.50 | " + ratio_row)
    memory = rows["RSS over 100,000 proxied requests"]
    assert memory.endswith("| 11 | flat (< 3 MB after the journal filled) | " + memory_row)


# ---------------------------------------------------------------------- --only


def test_without_only_everything_runs_and_no_peers_drops_the_peers() -> None:
    targets, sections = run.select(None)
    assert targets == set(run.TARGETS)
    assert sections == set(run.SECTIONS)
    _, sections = run.select(None, no_peers=True)
    assert sections == set(run.SECTIONS) - {"pytest_httpserver", "wiremock"}


def test_a_target_brings_the_one_its_ratio_is_taken_against() -> None:
    assert run.select("cp_conditions") == ({"cp_conditions", "cp_1_route"}, set())
    assert run.select("cp_1_route") == ({"cp_1_route", "bare"}, set())
    assert run.select("bare_post") == ({"bare_post"}, set())


def test_the_unmatched_latency_brings_its_target_and_groups_expand() -> None:
    targets, sections = run.select("unmatched_c1, peers")
    assert targets == {"cp_unmatched_10k", "cp_1_route"}
    assert sections == {"unmatched_c1", "pytest_httpserver", "wiremock"}
    targets, sections = run.select("matrix,journal_rss")
    assert (targets, sections) == (set(run.TARGETS), {"journal_rss"})


def test_an_unknown_scenario_is_refused_with_the_names_to_choose_from() -> None:
    with pytest.raises(ValueError, match=r"^unknown scenario cp_nope, wiremok; choose from: "):
        run.select("cp_conditions,cp_nope,wiremok")


def test_only_the_whole_suite_writes_results_md_unless_told_where() -> None:
    here = run.HERE
    assert run.outputs(None, partial=False) == (here / "RESULTS.md", here / "results.json")
    quick = here / ".quick"
    assert run.outputs(None, partial=True) == (quick / "RESULTS.md", quick / "results.json")
    assert run.outputs(Path("/tmp/x/conditions.md"), partial=True) == (
        Path("/tmp/x/conditions.md"),
        Path("/tmp/x/conditions.json"),
    )
    assert run.outputs(Path("/tmp/x/RESULTS.md"), partial=False) == (
        Path("/tmp/x/RESULTS.md"),
        Path("/tmp/x/results.json"),
    )


# ---------------------------------------------------------------------- peers


def _steady(per_cpu_s: float, rps: float, busy: float, stable: bool = True) -> dict[str, Any]:
    warmup = {"warmup_s": 21.0, "stable": stable, "rate": per_cpu_s, "windows": [1, 2, 3],
              "needed": 3, "min_s": 10.0, "max_s": 90.0}  # fmt: skip
    return {"per_cpu_s": per_cpu_s, "rps": rps, "busy": busy, "rss_kb": 300 * 1024,
            "warmup": warmup}  # fmt: skip


def test_each_peer_is_compared_with_controlplane_in_the_same_mode_by_that_modes_figure() -> None:
    results = {
        "machine": {"controlplane": "0.1.0"},
        "config": {"rounds": 5, "seconds": 5, "peer_warmup": {}},
        "peers": {
            "controlplane": {
                "pinned": {"1_route": _steady(30_000, 29_000, 0.99)},
                "all_cores": {"1_route": _steady(40_000, 28_000, 1.02)},
            },
            "wiremock": {
                "version": "3.13.2",
                "java": "openjdk 17",
                "pinned": {
                    "gc": "Serial GC",
                    "1_route": _steady(12_000, 11_000, 0.95),
                    "1_route_journal_cap": _steady(600, 590, 1.0, stable=False),
                },
                "all_cores": {"gc": "G1 GC", "1_route": _steady(9_000, 14_000, 1.6)},
            },
        },
    }
    lines = report._peers(results)
    assert (
        "| WireMock 3.13.2 | 1 (core 0) | 11,000 | **12,000** | 95% | 300 MB "
        "| 21 s, settled at 12,000 | 2.5 |" in lines
    )
    assert (
        "| WireMock 3.13.2, journal capped at 10,000 | 1 (core 0) | 590 | **600** | 100% "
        "| 300 MB | 21 s (cap 90 s), not settled: 1 / 2 / 3 | 50.0 |" in lines
    )
    assert (  # all cores: wall-clock req/s, 28,000 / 14,000
        "| WireMock 3.13.2 | all (0-1), wrk shares core 1 | **14,000** | 9,000 | 160% "
        "| 300 MB | 21 s, settled at 9,000 | 2.0 |" in lines
    )
    assert (
        "| controlplane 0.1.0 | 1 (core 0) | 29,000 | **30,000** | 99% | 300 MB "
        "| 21 s, settled at 30,000 |  |" in lines
    )
    assert "| controlplane 0.1.0 | — | — | — | — | — |" in lines  # not measured: said so


def test_peers_from_a_suite_before_issue_15_are_not_misread() -> None:
    old = {"peers": {"bare_rps": 40_000.0, "wiremock": {"1_route": _steady(529, 529, 1.0)}}}
    assert report._peers(old) == [
        "Measured by an older suite in another form: run `make bench` again.",
        "",
    ]
    assert report._peers({"peers": {"skipped": "--no-peers"}}) == ["Skipped: --no-peers.", ""]


def test_the_proxy_section_shows_both_layouts_and_how_busy_the_origins_core_was() -> None:
    row = {
        "wall_ratio": 0.62,
        "shared_wall_ratio": 0.31,
        "direct_rps": 30_000,
        "proxied_rps": 18_600,
        "shared_rps": 9_300,
        "origin_us": 33.3,
        "proxy_us": 54.0,
        "shared_proxy_us": 70.1,
        "cpu_ratio": 0.62,
        "shared_cpu_ratio": 0.48,
        "far_core_busy": 0.81,
        "far_core_origin_share": 0.6,
        "failures": 0,
    }
    second = {**row, "wall_ratio": 0.6, "shared_wall_ratio": 0.3}
    section = report._proxy_section({"proxy": {**row, "rounds": [row, second]}})
    assert section[0].endswith(
        "Medians of 2 rounds; direct 30,000 req/s (33.3 µs of origin CPU per request)."
    )
    assert section[4:6] == [
        "| own cores: the origin on core 1 beside wrk (the budget row; core 1 was 81% busy, "
        "60% of it the origin's) | 18,600 | 0.62 (0.62, 0.60) | 54.0 µs | 0.62 |",
        "| shared core: the origin on core 0 with the proxy | 9,300 | 0.31 (0.31, 0.30) "
        "| 70.1 µs | 0.48 |",
    ]


def test_the_cold_start_says_what_a_start_without_bytecode_took_only_when_measured() -> None:
    cold = {"median_s": 0.41, "runs_s": [0.4, 0.41, 0.42], "ready_median_s": 0.39}
    results: dict[str, Any] = {"cold_start": cold, "cold_start_bare": {"median_s": 0.2}}
    assert len(report._bulk_cold(results)) == 2  # the cold start line, then a blank
    results["cold_start_no_bytecode"] = {**cold, "median_s": 0.52}
    lines = report._bulk_cold(results)
    assert lines[1].endswith("compiles its modules from source: median 0.520 s.")
