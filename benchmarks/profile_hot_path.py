"""Sample controlplane's mock hot path under load with py-spy, and summarise the stacks.

Run by `run.py` when py-spy is installed (`.venv/bin/pip install py-spy`; it is not a
project dependency). Alone: `.venv/bin/python benchmarks/profile_hot_path.py` prints the
table. The 1-route scenario is loaded with wrk while py-spy samples the server
(`--native` off: aiohttp's parser and uvloop are C and show as their Python callers).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from harness import VENV_BIN, Procs, controlplane_argv, expect, pinned, run_wrk, wrk
from setups import one_route, register

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:]+):\d+\)$")


def py_spy() -> str | None:
    local = VENV_BIN / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def short_frame(frame: str) -> str:
    """`func (path)` from one of py-spy's raw frames, the path cut to the package."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/controlplane/", "python3.11/", "lib/python"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/controlplane/":
                path = "controlplane/" + path
            break
    return f"{match['func']} ({path})"


FOCUS = "MockHandler.__call__ (controlplane/mock_app.py)"


def summarise(raw: str, top: int = 18) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive share (% of samples) per function from py-spy's raw output, and
    what `MockHandler.__call__` spends its inclusive share on (its direct callees)."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    focus_counts: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short_frame(f) for f in stack.split(";")]
        total += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            incl_counts[frame] += count
        if FOCUS in frames:
            at = frames.index(FOCUS)
            callee = frames[at + 1] if at + 1 < len(frames) else "(its own lines)"
            focus_counts[callee] += count
    if not total:
        return {"self": [], "inclusive": []}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(top)]

    return {
        "self": share(self_counts),
        "inclusive": share(incl_counts),
        "mock_handler": share(focus_counts),
        "samples": [("", float(total))],
    }


def profile(procs: Procs, seconds: float = 12.0) -> dict[str, object]:
    spy = py_spy()
    if spy is None:
        return {"skipped": "py-spy is not installed (`.venv/bin/pip install py-spy`)"}
    server = procs.start("cp_profile", controlplane_argv())
    register(server.admin_url, one_route())
    url = server.mock_url + "/hello"
    expect(200, "GET", url)
    run_wrk(url, 2)
    raw = procs.tmp_path("profile.txt")
    load = wrk(url, seconds + 4, background=procs)
    assert isinstance(load, subprocess.Popen)
    time.sleep(1)
    argv = [spy, "record", "--pid", str(server.pid), "--duration", str(int(seconds)),
            "--rate", "400", "--format", "raw", "--output", str(raw), "--nonblocking"]  # fmt: skip
    done = subprocess.run(pinned("1", argv), capture_output=True, text=True, timeout=seconds + 60)
    load.communicate(timeout=seconds + 30)
    procs.stop(load)
    procs.stop(server.popen)
    if done.returncode != 0 or not raw.exists() or not raw.read_text().strip():
        detail = (done.stdout + done.stderr).strip()[-500:]
        return {"skipped": f"py-spy failed ({done.returncode}): {detail}"}
    return summarise(raw.read_text())


def main() -> None:
    procs = Procs()
    try:
        result = profile(procs)
    finally:
        procs.stop_all()
    if "skipped" in result:
        print(result["skipped"], file=sys.stderr)
        return
    for kind in ("self", "inclusive", "mock_handler"):
        print(f"--- {kind}")
        for name, pct in result[kind]:  # type: ignore[attr-defined]
            print(f"{pct:5.1f}%  {name}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
