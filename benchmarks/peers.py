"""Peers on the same machine, when they can be had: pytest-httpserver and WireMock.

Both install under `benchmarks/.peers/` (git-ignored), never into the project's venv:
pytest-httpserver into its own venv from PyPI, WireMock's standalone jar from npm's
`wiremock` package (run with the machine's Java 17+). Anything missing is skipped
with a note; nothing here can fail the suite.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    HERE,
    MODES,
    SERVER_CORE,
    Proc,
    Procs,
    WrkResult,
    call,
    controlplane_argv,
    expect,
    median,
    pinned,
    run_wrk,
    warm_until_stable,
)
from scenarios import _summary, cold_start
from setups import one_route, register

PEERS = HERE / ".peers"
ROUTES = 10_000


@dataclass
class Warmup:
    """How a peer's throughput is warmed up before it is measured: windows of
    `window_s` under the same wrk load until `windows` in a row lie within `tolerance`
    of the highest of them (`harness.settled`), for at least the peer's own minimum
    and at most `max_s` (`max_s_python` for servers without a JIT)."""

    window_s: float = 3.0
    max_s: float = 90.0
    max_s_python: float = 30.0
    tolerance: float = 0.05
    windows: int = 3


def steady(
    server: Proc,
    url: str,
    mode: str,
    rounds: int,
    seconds: float,
    rule: Warmup,
    *,
    jit: bool = False,
    min_s: float = 0.0,
    reset: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Warm `server` on `url` until its rate settles, then `rounds` runs of `seconds`;
    `reset` (if any) runs before each window and each run.

    The rate is the one the mode is judged by: requests per server CPU-second pinned
    (as the matrix), wall-clock req/s with all cores (what a user of the machine sees).
    """
    figure = "per_cpu_s" if mode == "pinned" else "rps"

    def load(seconds: float) -> WrkResult:
        if reset is not None:
            reset()
        return run_wrk(url, seconds, server=server)

    def window() -> float:
        rate = float(getattr(load(rule.window_s), figure))
        return 0.0 if math.isnan(rate) else rate  # no CPU time read: nothing settled

    warm = warm_until_stable(
        window,
        min_s=min_s,
        max_s=rule.max_s if jit else rule.max_s_python,
        tolerance=rule.tolerance,
        windows=rule.windows,
    )
    out = _summary([load(seconds) for _ in range(rounds)])
    out.update(figure=figure, warmup=warm, rss_kb=server.rss_kb())
    state = "stable" if warm["stable"] else "NOT stable"
    print(
        f"    {mode}: warm-up {warm['warmup_s']:.0f} s ({state} at {warm['rate']:,.0f}), "
        f"then {out['rps']:,.0f} req/s, {out['per_cpu_s'] or 0:,.0f} per CPU-s",
        flush=True,
    )
    return out


def controlplane(procs: Procs, rounds: int, seconds: float, rule: Warmup) -> dict[str, Any]:
    """controlplane's 1 route and cold start, measured as the peers are, in each mode."""
    out: dict[str, Any] = {}
    for mode, cores in MODES.items():
        server = procs.start(f"cp_peer_{mode}", controlplane_argv(core=cores))
        register(server.admin_url, one_route())
        url = server.mock_url + "/hello"
        expect(200, "GET", url)
        out[mode] = {"1_route": steady(server, url, mode, rounds, seconds, rule)}
        procs.stop(server.popen)
        out[mode]["cold_start"] = cold_start(procs, 5, controlplane_argv(core=cores), True)
    return out


def _httpserver_python() -> tuple[Path | None, str]:
    venv = PEERS / "httpserver-venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import pytest_httpserver"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python, ""
    print("  installing pytest-httpserver into benchmarks/.peers/httpserver-venv ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "pytest-httpserver"],
            check=True,
            timeout=300,
            capture_output=True,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"pytest-httpserver could not be installed ({exc})"
    return python, ""


def httpserver(procs: Procs, rounds: int, seconds: float, rule: Warmup) -> dict[str, Any]:
    python, note = _httpserver_python()
    if python is None:
        return {"skipped": note}
    versions = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, platform; "
            "print(m.version('pytest-httpserver'), m.version('werkzeug'), "
            "platform.python_version())",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    script = str(HERE / "peer_httpserver.py")

    def argv(routes: int, cores: str = SERVER_CORE) -> list[str]:
        return pinned(cores, [str(python), script, "--routes", str(routes)])

    out: dict[str, Any] = dict(zip(("version", "werkzeug", "python"), versions, strict=False))
    for mode, cores in MODES.items():
        print(f"  pytest-httpserver, {mode}", flush=True)
        server = procs.start(f"httpserver_1_{mode}", argv(1, cores), timeout=120)
        url = server.mock_url + "/hello"
        expect(200, "GET", url)
        out[mode] = {"1_route": steady(server, url, mode, rounds, seconds, rule)}
        procs.stop(server.popen)
        totals = []
        for _ in range(5):
            started = time.perf_counter()
            server = procs.start("httpserver_cold", argv(1, cores), timeout=60)
            expect(200, "GET", server.mock_url + "/hello")
            totals.append(time.perf_counter() - started)
            procs.stop(server.popen)
        out[mode]["cold_start"] = {"median_s": median(totals), "runs_s": totals}
    server = procs.start("httpserver_10k", argv(ROUTES), timeout=120)
    url = server.mock_url + f"/items/{ROUTES - 1}"
    expect(200, "GET", url)
    out["pinned"]["10k_exact"] = steady(server, url, "pinned", rounds, seconds, rule)
    miss = run_wrk(server.mock_url + "/nope", seconds, connections=1, server=server)
    out["pinned"]["unmatched_10k_c1"] = _summary([miss])
    procs.stop(server.popen)
    return out


def _wiremock_jar() -> tuple[Path | None, str]:
    java = shutil.which("java")
    if java is None:
        return None, "no `java` on this machine (WireMock needs Java 17+)"
    text = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    major = re.search(r'version "(\d+)', text)
    if major is None or int(major.group(1)) < 17:
        return None, f"Java 17+ needed for WireMock, found: {text.splitlines()[:1]}"
    jars = sorted(
        (PEERS / "wiremock").glob("node_modules/wiremock/build/wiremock-standalone-*.jar")
    )
    if not jars and shutil.which("npm"):
        print("  installing npm package `wiremock` into benchmarks/.peers/wiremock ...", flush=True)
        try:
            subprocess.run(
                ["npm", "install", "--prefix", str(PEERS / "wiremock"), "--no-audit", "--no-fund",
                 "wiremock"],
                check=True, timeout=300, capture_output=True,
            )  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"`npm install wiremock` failed ({exc})"
        jars = sorted((PEERS / "wiremock").glob("node_modules/wiremock/build/*.jar"))
    if not jars:
        return None, "no WireMock jar (npm absent, or the `wiremock` package ships none)"
    return jars[-1], ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _java_facts(cores: str) -> dict[str, str]:
    """The JVM's version and the garbage collector its ergonomics pick on `cores`
    (with one CPU visible it picks the Serial GC, with two G1)."""
    done = subprocess.run(
        pinned(cores, ["java", "-XX:+PrintFlagsFinal", "-version"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    gcs = re.findall(r"bool Use(Serial|Parallel|G1|Z|Shenandoah|Epsilon)GC\s+= true", done.stdout)
    version = done.stderr.splitlines()[:1]
    collector = ", ".join(f"{name} GC" for name in gcs) or "unknown"
    return {"java": version[0] if version else "unknown", "gc": collector}


def _start_wiremock(
    procs: Procs, jar: Path, cores: str = SERVER_CORE, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    argv = ["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
            "--disable-banner", *extra]  # fmt: skip
    popen = procs.spawn(pinned(cores, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and popen.poll() is None:
        try:
            if call("GET", base + "/__admin/health")[0] == 200:
                return popen, base
        except OSError:
            pass
        time.sleep(0.002)
    procs.stop(popen)
    raise RuntimeError("WireMock did not answer /__admin/health within 60 s")


def _stub(path: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    return {
        "request": {"method": "GET", "url": path},
        "response": {"status": 200, "jsonBody": {"ok": True}, "headers": headers},
    }


#: WireMock's journal capped like controlplane's default (the suite's setting before
#: issue 15); its eviction makes every request pay for the whole journal.
JOURNAL_CAP = ("--max-request-journal-entries", "10000")
#: The JIT gets at least this long before a WireMock rate counts as settled.
JVM_MIN_WARMUP_S = 10.0


def _journal_reset(base: str) -> Callable[[], None]:
    """Empties WireMock's request journal (as a suite resetting between tests does), so
    its default, unbounded journal holds at most one run's requests."""

    def reset() -> None:
        expect(200, "DELETE", base + "/__admin/requests")

    return reset


def wiremock(procs: Procs, rounds: int, seconds: float, rule: Warmup) -> dict[str, Any]:
    """WireMock as `java -jar` with its defaults (an unbounded request journal, emptied
    before each run), in each mode; 10,000 stubs, the unmatched request and a journal
    capped at 10,000 (never emptied) pinned only."""
    jar, note = _wiremock_jar()
    if jar is None:
        return {"skipped": note}
    out: dict[str, Any] = {"version": jar.stem.removeprefix("wiremock-standalone-")}
    for mode, cores in MODES.items():
        print(f"  WireMock, {mode}", flush=True)
        out[mode] = facts = _java_facts(cores)
        out["java"] = facts.pop("java")
        popen, base = _start_wiremock(procs, jar, cores)
        server = Proc("wiremock", popen, {"mock_url": base})
        warm = {"jit": True, "min_s": JVM_MIN_WARMUP_S, "reset": _journal_reset(base)}
        expect(201, "POST", base + "/__admin/mappings", _stub("/hello"))
        expect(200, "GET", base + "/hello")
        facts["1_route"] = steady(server, base + "/hello", mode, rounds, seconds, rule, **warm)
        if mode == "pinned":
            expect(200, "POST", base + "/__admin/mappings/reset")
            stubs = [_stub(f"/items/{i}") for i in range(ROUTES)]
            body = json.dumps({"mappings": stubs}).encode()
            started = time.perf_counter()
            expect(200, "POST", base + "/__admin/mappings/import", body)
            out["bulk_10k_s"] = time.perf_counter() - started
            last = base + f"/items/{ROUTES - 1}"
            expect(200, "GET", last)
            facts["10k_exact"] = steady(server, last, mode, rounds, seconds, rule, **warm)
            nope = _summary([run_wrk(base + "/nope", seconds, connections=1, server=server)])
            facts["unmatched_10k_c1"] = nope
        procs.stop(popen)
        totals = []
        for _ in range(3):
            started = time.perf_counter()
            popen, base = _start_wiremock(procs, jar, cores)
            expect(201, "POST", base + "/__admin/mappings", _stub("/hello"))
            expect(200, "GET", base + "/hello")
            totals.append(time.perf_counter() - started)
            procs.stop(popen)
        facts["cold_start"] = {"median_s": median(totals), "runs_s": totals}
    print("  WireMock, pinned, journal capped at 10,000", flush=True)
    popen, base = _start_wiremock(procs, jar, SERVER_CORE, *JOURNAL_CAP)
    server = Proc("wiremock", popen, {"mock_url": base})
    expect(201, "POST", base + "/__admin/mappings", _stub("/hello"))
    out["pinned"]["1_route_journal_cap"] = steady(
        server, base + "/hello", "pinned", 1, seconds, rule, jit=True, min_s=JVM_MIN_WARMUP_S
    )
    procs.stop(popen)
    return out
