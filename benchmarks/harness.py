"""Processes, HTTP calls, wrk runs and machine facts for the benchmark suite.

Every process started here is registered with a `Procs`, whose `stop_all` (called
from `run.py`'s `finally`) terminates what is still running; only loopback
addresses are used.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent
SERVER_CORE = "0"
LOAD_CORE = "1"
#: Every core of the machine, as taskset writes it. A server started "with all cores"
#: is given them explicitly: children inherit the orchestrator's affinity (core 1).
ALL_CORES = f"0-{(os.cpu_count() or 1) - 1}"
#: The two ways a server is run for the peer comparison: pinned to one core (the
#: matrix's setting), and with every core of the machine (as its users run it).
MODES = {"pinned": SERVER_CORE, "all_cores": ALL_CORES}


def pinned(core: str, argv: list[str]) -> list[str]:
    """`argv` run on one core (unpinned when the machine has a single CPU)."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", core, *argv]


class Proc:
    """A started server: its process, base URLs and ready-file content."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], ready: dict[str, Any]):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.mock_url: str = ready.get("mock_url", "")
        self.admin_url: str = ready.get("admin_url", "")

    def rss_kb(self) -> int:
        return status_kb(self.pid, "VmRSS")

    def cpu_s(self) -> float:
        return cpu_seconds(self.pid)


class Procs:
    """Owner of every process the suite starts; `stop_all` ends them (SIGTERM, then KILL)."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="cp-bench-")
        self._count = 0

    def spawn(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        popen = subprocess.Popen(argv, **kwargs)
        self.running.append(popen)
        return popen

    def start(self, name: str, argv: list[str], *, timeout: float = 30.0) -> Proc:
        """Start a server that writes a ready file (`--ready-file` is appended)."""
        self._count += 1
        ready = Path(self._tmp.name) / f"ready-{self._count}.json"
        log = open(Path(self._tmp.name) / f"{name}-{self._count}.log", "wb")  # noqa: SIM115
        popen = self.spawn([*argv, "--ready-file", str(ready)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if popen.poll() is not None or time.monotonic() > deadline:
                self.stop(popen)
                log.close()
                text = Path(log.name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not become ready:\n{text}")
            time.sleep(0.005)
        log.close()
        return Proc(name, popen, json.loads(ready.read_text()))

    def stop(self, popen: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        if popen in self.running:
            self.running.remove(popen)

    def stop_all(self) -> None:
        for popen in list(self.running):
            self.stop(popen)
        self._tmp.cleanup()

    def tmp_path(self, name: str) -> Path:
        return Path(self._tmp.name) / name


def _package_dir() -> Path:
    probe = "import controlplane, os; print(os.path.dirname(controlplane.__file__))"
    out = subprocess.run(
        [str(VENV_BIN / "python"), "-c", probe], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


def compile_bytecode() -> None:
    """Write the bytecode of controlplane's package, as `pip install` does for a wheel.

    An editable install leaves it to the first import, which writes none under
    `PYTHONDONTWRITEBYTECODE` (set on some machines and in many container images): every
    start would then compile the package's modules from source, about 0.1 s that no
    installed copy pays. Quick when the bytecode is up to date."""
    package = str(_package_dir())
    subprocess.run([str(VENV_BIN / "python"), "-m", "compileall", "-q", package], check=True)


def remove_bytecode() -> dict[str, str]:
    """Remove controlplane's own bytecode (every other module keeps its own), and return
    an environment in which Python writes none back: each start compiles the package."""
    for cache in _package_dir().rglob("__pycache__"):
        shutil.rmtree(cache)
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def controlplane_argv(*extra: str, core: str = SERVER_CORE) -> list[str]:
    exe = str(VENV_BIN / "controlplane")
    argv = [exe, "serve", "--port", "0", "--admin-port", "0", "--log-level", "warning"]
    return pinned(core, [*argv, *extra])


def bare_argv(mode: str = "lowlevel", *, core: str = SERVER_CORE) -> list[str]:
    script = str(HERE / "bare_server.py")
    return pinned(core, [sys.executable, script, "--port", "0", "--mode", mode])


# ---------------------------------------------------------------------- HTTP


def call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One HTTP request on a fresh connection; JSON-encodes a non-bytes `body`."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    sent = dict(headers or {})
    if data is not None and "Content-Type" not in sent:
        sent["Content-Type"] = "application/json"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, path or "/", body=data, headers=sent)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def expect(status: int, method: str, url: str, body: Any = None, **kw: Any) -> bytes:
    got, data = call(method, url, body, **kw)
    if got != status:
        raise RuntimeError(f"{method} {url} answered {got}, expected {status}: {data[:300]!r}")
    return data


# ---------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    #: Server CPU seconds used during the run (0 when not measured).
    cpu_s: float = 0.0
    seconds: float = 0.0

    @property
    def per_cpu_s(self) -> float:
        """Requests per second of server CPU: req/s had the server had a whole core."""
        return self.requests / self.cpu_s if self.cpu_s else float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(out: str) -> WrkResult:
    def find(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, out)
        if match is None:
            if default is None:
                raise RuntimeError(f"unexpected wrk output:\n{out}")
            return default
        return match.group(1)

    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return WrkResult(
        rps=float(find(r"Requests/sec:\s+([\d.]+)")),
        requests=int(find(r"(\d+) requests in")),
        p50_ms=_ms(find(r"50%\s+([\d.]+\w+)", "0us")),
        p99_ms=_ms(find(r"99%\s+([\d.]+\w+)", "0us")),
        non_2xx=int(find(r"Non-2xx or 3xx responses: (\d+)", "0")),
        errors=errors,
    )


def wrk(
    url: str,
    seconds: float,
    *,
    connections: int = 32,
    script: str | None = None,
    background: Procs | None = None,
) -> WrkResult | subprocess.Popen[bytes]:
    """Run wrk on the load core; with `background`, start it and return the process."""
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        argv += ["-s", str(HERE / "lua" / script)]
    argv = pinned(LOAD_CORE, [*argv, url])
    if background is not None:
        return background.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def run_wrk(url: str, seconds: float, *, server: Proc | None = None, **kw: Any) -> WrkResult:
    """wrk in the foreground; with `server`, also the server CPU time the run used."""
    before = server.cpu_s() if server is not None else 0.0
    result = wrk(url, seconds, **kw)
    assert isinstance(result, WrkResult)
    if server is not None:
        result.cpu_s = server.cpu_s() - before
    result.seconds = seconds
    return result


def ensure_wrk() -> str | None:
    """wrk's path, installing Debian's package when possible; None with a hint printed."""
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("wrk not found: installing Debian's package `wrk` with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env, timeout=300
        )
    if shutil.which("wrk"):
        return shutil.which("wrk")
    print(
        "wrk is needed and could not be installed here. Install it and run `make bench` "
        "again: `sudo apt-get install wrk` (Debian/Ubuntu), `brew install wrk` (macOS), "
        "or build it from its source.",
        file=sys.stderr,
    )
    return None


# ---------------------------------------------------------------------- warm-up


def settled(rates: list[float], tolerance: float, windows: int) -> bool:
    """True when the last `windows` rates lie within `tolerance` of the highest of them.

    `windows=2` is "two consecutive windows within 5 %"; 3 also catches a rate still
    climbing a few percent per window (a JIT compiling its way up).
    """
    if windows < 1 or len(rates) < windows:
        return False
    last = rates[-windows:]
    top = max(last)
    return top > 0 and top - min(last) <= tolerance * top


def warm_until_stable(
    window: Callable[[], float],
    *,
    min_s: float,
    max_s: float,
    tolerance: float = 0.05,
    windows: int = 3,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Call `window` (one short load, returning its rate) until the rates settle
    (`settled`) after at least `min_s`, or `max_s` has passed; what was seen.

    `rate` is the mean of the last `windows` rates (the settled ones when `stable`).
    """
    started = clock()
    rates: list[float] = []
    elapsed = 0.0
    stable = False
    for _ in range(10_000):  # bounded however the clock behaves
        rates.append(window())
        elapsed = clock() - started
        if elapsed >= min_s and settled(rates, tolerance, windows):
            stable = True
            break
        if elapsed >= max_s:
            break
    last = rates[-windows:]
    return {
        "warmup_s": elapsed,
        "stable": stable,
        "rate": sum(last) / len(last),
        "windows": [round(r) for r in rates],
        "min_s": min_s,
        "max_s": max_s,
        "tolerance": tolerance,
        "needed": windows,
    }


# ---------------------------------------------------------------------- facts


def status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _commit() -> str:
    """The measured tree: HEAD's short hash, "+ changes" when controlplane/ differs."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "controlplane"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + (" + uncommitted changes in controlplane/" if dirty else "")


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024**2:.1f} GiB"
    except OSError:
        memory = "unknown"
    versions = {}
    for module in ("aiohttp", "uvloop", "msgspec", "multidict", "yarl"):
        try:
            versions[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            versions[module] = "absent"
    try:
        from controlplane import __version__ as cp_version
    except ImportError:
        cp_version = "unknown"
    wrk_path = shutil.which("wrk")
    wrk_version = "absent"
    if wrk_path:
        first = subprocess.run([wrk_path, "-v"], capture_output=True, text=True).stdout
        wrk_version = (first.splitlines() or ["?"])[0].split(" Copyright")[0]
    return {
        "commit": _commit(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "controlplane": cp_version,
        **versions,
        "wrk": wrk_version,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
