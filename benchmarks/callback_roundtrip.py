"""Round trip of a mock request answered by a Python callback, against a canned answer.

Run: `.venv/bin/python benchmarks/callback_roundtrip.py [--requests N]`. Starts
`controlplane serve` as a subprocess on 127.0.0.1 (the server in another process, as
across machines), registers two callbacks from this process with the sync `Client`
(one plain function, which runs in a worker thread; one `async def`, on the callback's
loop), and sends sequential GETs over one keep-alive connection to three routes in
interleaved rounds: canned `json`, callback (async def), callback (plain function).
Prints p50 / p99 in ms per kind, the callback's extra cost over canned, and `uptime`.
Target: callback p50 < 2 ms on loopback.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from controlplane_client import CallbackRequest, Client, JsonResponse, Route

ROUNDS = 10
KINDS = {"canned": "/canned", "callback, async def": "/async", "callback, function": "/sync"}


def start(ready: Path) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).with_name("controlplane")),
        "serve",
        "--port",
        "0",
        "--admin-port",
        "0",
        "--ready-file",
        str(ready),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit("controlplane serve did not become ready")
        time.sleep(0.05)
    return server


def answer_sync(request: CallbackRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


async def answer_async(request: CallbackRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per kind (default 3000)")
    args = parser.parse_args()
    per_round = max(1, args.requests // ROUNDS)
    scratch = Path(tempfile.mkdtemp(prefix="cp-callback-bench-"))
    server = start(scratch / "ready.json")
    try:
        urls = json.loads((scratch / "ready.json").read_text())
        client = Client(urls["admin_url"])
        client.add_routes(
            Route(
                method="GET", path="/canned", handler="canned", response=JsonResponse({"ok": True})
            ),
            Route(method="GET", path="/async", handler="async"),
            Route(method="GET", path="/sync", handler="sync"),
        )
        client.on_request("async", answer_async)
        client.on_request("sync", answer_sync)
        mock = urlsplit(urls["mock_url"])
        connection = http.client.HTTPConnection(mock.hostname, mock.port, timeout=30)
        samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for path in KINDS.values():  # warm-up
            for _ in range(50):
                connection.request("GET", path)
                connection.getresponse().read()
        for _ in range(ROUNDS):
            for kind, path in KINDS.items():
                for _ in range(per_round):
                    started = time.perf_counter()
                    connection.request("GET", path)
                    answer = connection.getresponse()
                    answer.read()
                    samples[kind].append((time.perf_counter() - started) * 1000)
                    assert answer.status == 200, (kind, answer.status)
        client.close_callbacks()
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(scratch, ignore_errors=True)
    canned = statistics.median(samples["canned"])
    print(f"{per_round * ROUNDS} sequential requests per kind, one keep-alive connection")
    for kind, taken in samples.items():
        p50, p99 = statistics.median(taken), percentile(taken, 0.99)
        extra = "" if kind == "canned" else f"  (+{p50 - canned:.3f} ms, x{p50 / canned:.1f})"
        print(f"  {kind:22} p50 {p50:6.3f} ms  p99 {p99:6.3f} ms{extra}")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
