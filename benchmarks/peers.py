"""Peers on the same machine, when they can be had: pytest-httpserver and WireMock.

Both install under `benchmarks/.peers/` (git-ignored), never into the project's venv:
pytest-httpserver into its own venv from PyPI, WireMock's standalone jar from npm's
`wiremock` package (run with the machine's Java 17+). Anything missing is skipped
with a note; nothing here can fail the suite.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    HERE,
    SERVER_CORE,
    Proc,
    Procs,
    call,
    expect,
    median,
    pinned,
    run_wrk,
)
from scenarios import _summary

PEERS = HERE / ".peers"
ROUTES = 10_000


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


def httpserver(procs: Procs, rounds: int, seconds: float, warmup: float) -> dict[str, Any]:
    python, note = _httpserver_python()
    if python is None:
        return {"skipped": note}
    version = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; print(m.version('pytest-httpserver'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    script = str(HERE / "peer_httpserver.py")

    def argv(routes: int) -> list[str]:
        return pinned(SERVER_CORE, [str(python), script, "--routes", str(routes)])

    out: dict[str, Any] = {"version": version}
    for label, routes, path in (
        ("1_route", 1, "/hello"),
        ("10k_exact", ROUTES, f"/items/{ROUTES - 1}"),
    ):
        server = procs.start(f"httpserver_{label}", argv(routes), timeout=120)
        url = server.mock_url + path
        expect(200, "GET", url)
        run_wrk(url, warmup)
        out[label] = _summary([run_wrk(url, seconds, server=server) for _ in range(rounds)])
        print(f"  pytest-httpserver {label}: {out[label]['rps']:.0f} req/s", flush=True)
        if label == "10k_exact":
            miss = run_wrk(server.mock_url + "/nope", seconds, connections=1, server=server)
            out["unmatched_10k_c1"] = _summary([miss])
        procs.stop(server.popen)
    totals = []
    for _ in range(5):
        started = time.perf_counter()
        server = procs.start("httpserver_cold", argv(1), timeout=60)
        expect(200, "GET", server.mock_url + "/hello")
        totals.append(time.perf_counter() - started)
        procs.stop(server.popen)
    out["cold_start"] = {"median_s": median(totals), "runs_s": totals}
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


def _start_wiremock(procs: Procs, jar: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    argv = ["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
            "--disable-banner", "--max-request-journal-entries", "10000"]  # fmt: skip
    popen = procs.spawn(
        pinned(SERVER_CORE, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
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


def wiremock(procs: Procs, rounds: int, seconds: float) -> dict[str, Any]:
    jar, note = _wiremock_jar()
    if jar is None:
        return {"skipped": note}
    out: dict[str, Any] = {"version": jar.stem.removeprefix("wiremock-standalone-")}
    popen, base = _start_wiremock(procs, jar)
    server = Proc("wiremock", popen, {"mock_url": base})
    expect(201, "POST", base + "/__admin/mappings", _stub("/hello"))
    expect(200, "GET", base + "/hello")
    run_wrk(base + "/hello", 10)  # the JIT needs longer than Python to warm up
    out["1_route"] = _summary(
        [run_wrk(base + "/hello", seconds, server=server) for _ in range(rounds)]
    )
    print(f"  WireMock 1 stub: {out['1_route']['rps']:.0f} req/s", flush=True)
    expect(200, "POST", base + "/__admin/mappings/reset")
    body = json.dumps({"mappings": [_stub(f"/items/{i}") for i in range(ROUTES)]}).encode()
    started = time.perf_counter()
    expect(200, "POST", base + "/__admin/mappings/import", body)
    out["bulk_10k_s"] = time.perf_counter() - started
    last = base + f"/items/{ROUTES - 1}"
    expect(200, "GET", last)
    run_wrk(last, 3)
    out["10k_exact"] = _summary([run_wrk(last, seconds, server=server)])
    print(f"  WireMock 10k stubs: {out['10k_exact']['rps']:.0f} req/s", flush=True)
    nope = base + "/nope"
    out["unmatched_10k_c1"] = _summary([run_wrk(nope, seconds, connections=1, server=server)])
    procs.stop(popen)
    totals = []
    for _ in range(3):
        started = time.perf_counter()
        popen, base = _start_wiremock(procs, jar)
        expect(201, "POST", base + "/__admin/mappings", _stub("/hello"))
        expect(200, "GET", base + "/hello")
        totals.append(time.perf_counter() - started)
        procs.stop(popen)
    out["cold_start"] = {"median_s": median(totals), "runs_s": totals}
    return out
