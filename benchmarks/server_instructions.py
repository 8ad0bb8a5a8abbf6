"""Instructions per request of the whole server (aiohttp included), under cachegrind.

Run: `.venv/bin/python benchmarks/server_instructions.py [--baseline DIR] [--requests N]
[--connections N] [SCENARIO ...]`. Needs valgrind. Each scenario's server (`setups.py`:
the bare server's GET and POST, and its GET on a new path each request, 1 route, the
conditions POST, the same POST to one route without conditions, 10,000 exact routes,
10,000 templates (the same path, a new id each request), 100 sessions round-robin, an
unmatched GET at 10,000 exact routes on
one path and on a new path each request; `1_route_state`: 1 route with `--state` on a
redis-server started here) runs twice under `valgrind --tool=cachegrind --cache-sim=no`,
set up the same way (`proxy`: a route forwarding `GET /hello` to the bare server, which runs outside
valgrind); one run then serves N requests (4 keep-alive connections, each sending the next
request once the answer is in), the other none, and both stop. Both first serve
`--warmup` requests (3,000 by default; ids of their own: `request(-1)`, `request(-2)`...),
so what registration left to the garbage collector is collected before the counted
part: a full collection over 10,000 routes' objects costs about 60 million instructions
once, 30,000 per request when it falls among 2,000 counted ones (wrk's warm-up absorbs
it too). With 3,000 the default journal (10,000 entries) still grows while the counted
requests run; wrk's runs see it full (a ring that overwrites in place): `--warmup 12000`
measures that steady state. A full collection can still fall inside the counted window
by chance (under wrk the server ran one in 12 s of new-id templates: 202 gen0, 18 gen1,
1 gen2, 30 ms in all); with `--cache-sim` it shows as 50-70 last-level misses a request
in gcmodule.c (`--keep`, then cg_annotate), so read those beside the instruction counts,
which it moves far less. The difference of their instruction counts over N is what one request costs
the server in user space: the load of a shared machine, which moves every wall-clock
and CPU-time figure, does not change it. Kernel time (the socket calls) is not
counted; wrk's batching under 32 connections is not reproduced. Ratios between
scenarios are the figures to read.

With `--state` (`1_route_state`) Redis's own instructions are not counted, and the
entries per journal batch are printed beside the figure: a batch holds at most one
request per connection (`--connections 32` is wrk's), so the per-batch costs weigh
more with fewer connections.

With `--cache-sim` the caches of one core are simulated too (`CACHES`) and the misses
per request printed beside the instructions: first-level instruction (`I1`) and data
(`D1`) misses and last-level data misses (`LLd`), which wall-clock pays and an
instruction count does not see (a request that frees what an old journal entry held).

With `--baseline DIR` (a package tree, e.g. `git archive REV controlplane | tar -x -C
DIR`; repeatable) each controlplane scenario also runs from that tree (`PYTHONPATH=DIR`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import HERE, VENV_BIN, Procs, bare_argv, expect
from redis_server import RedisServer, start_redis
from setups import (
    COND_BODY,
    COND_HEADERS,
    COND_PATH,
    ROUTES,
    SESSIONS,
    condition_routes,
    exact_routes,
    one_route,
    plain_post_route,
    register,
    template_routes,
)

#: Keep-alive connections the requests are spread over (`--connections`).
CONNECTIONS = 4
#: `--cache-sim`: the simulated caches, about one core's of this machine (32 KiB L1i,
#: 48 KiB L1d, 2 MiB L2), with the L2 as the last level: the L3 the VM reports
#: (480 MiB) is the host's, shared with its other guests. The figures to read are
#: last-level data misses (`LLd`): memory a request touches that its core no longer held.
CACHES = ["--cache-sim=yes", "--I1=32768,8,64", "--D1=49152,12,64", "--LL=2097152,16,64"]
#: What is read from cachegrind's summary.
_COUNTS = {
    "I": r"I\s+refs:\s+([\d,]+)",
    "I1": r"I1\s+misses:\s+([\d,]+)",
    "D1": r"D1\s+misses:\s+([\d,]+)",
    "LLd": r"LLd\s+misses:\s+([\d,]+)",
}
_HOST = "127.0.0.1"


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {_HOST}\r\n\r\n".encode()


def _post() -> bytes:
    headers = "".join(f"{name}: {value}\r\n" for name, value in COND_HEADERS.items())
    head = (
        f"POST {COND_PATH} HTTP/1.1\r\nHost: {_HOST}\r\n{headers}"
        f"Content-Length: {len(COND_BODY)}\r\n\r\n"
    )
    return head.encode() + COND_BODY


def _setup_templates(admin_url: str) -> None:
    routes = template_routes()
    # Under valgrind on a loaded machine, 1,000 routes in one call passed 60 s.
    for start in range(0, len(routes), 250):
        register(admin_url, routes[start : start + 250])


def _setup_exact(admin_url: str) -> None:
    routes = exact_routes()
    for start in range(0, len(routes), 1_000):
        register(admin_url, routes[start : start + 1_000])


def _setup_sessions(admin_url: str) -> None:
    for i in range(1, SESSIONS + 1):
        expect(201, "POST", admin_url + "/api/sessions", {"id": f"bench{i}"})
        register(admin_url, [one_route()], session=f"bench{i}")


class _Origin:
    """The `proxy` scenario's origin: the bare server, started on first use, not under
    valgrind (only the proxy's instructions are counted)."""

    def __init__(self) -> None:
        self.procs = Procs()
        self._url: str | None = None

    def url(self) -> str:
        if self._url is None:
            self._url = self.procs.start("origin", bare_argv()).mock_url
        return self._url


_ORIGIN = _Origin()


def _setup_proxy(admin_url: str) -> None:
    response = {"type": "proxy", "url": _ORIGIN.url()}
    route = {"method": "GET", "path": "/hello", "handler": "origin", "response": response}
    register(admin_url, [route])


#: name -> (controlplane or bare, setup given the admin url, request i's bytes)
SCENARIOS: dict[str, tuple[str, Any, Any]] = {
    "bare_get": ("bare", None, lambda i: _get("/hello")),
    "bare_post": ("bare", None, lambda i: _post()),
    # The bare server's GET on a new path each request: what aiohttp and yarl charge
    # anyone for a path not seen before (a new URL, built and kept).
    "bare_get_ids": ("bare", None, lambda i: _get(f"/svc{ROUTES - 1}/items/{i}")),
    "1_route": ("cp", lambda url: register(url, [one_route()]), lambda i: _get("/hello")),
    # The same with `--state`: journal entries go to Redis, each answer waits for its batch.
    "1_route_state": (
        "state",
        lambda url: register(url, [one_route()]),
        lambda i: _get("/hello"),
    ),
    "conditions": ("cp", lambda url: register(url, condition_routes()), lambda i: _post()),
    # The same POST answered by one route asking nothing of it (setups.py's cp_post_plain).
    "post_plain": ("cp", lambda url: register(url, [plain_post_route()]), lambda i: _post()),
    "proxy": ("cp", _setup_proxy, lambda i: _get("/hello")),
    # The last of 10,000 exact routes (setups.py's cp_10k_exact): one dict lookup.
    "10k_exact": ("cp", _setup_exact, lambda i: _get(f"/items/{ROUTES - 1}")),
    "10k_template": ("cp", _setup_templates, lambda i: _get(f"/svc{ROUTES - 1}/items/42")),
    # A new id each request (as lua/template_ids.lua): no kept lookup helps.
    "10k_template_ids": ("cp", _setup_templates, lambda i: _get(f"/svc{ROUTES - 1}/items/{i}")),
    # One template route, a new id each request: what varied paths cost beyond the walk.
    "1_template_ids": (
        "cp",
        lambda url: register(url, template_routes(1)),
        lambda i: _get(f"/svc0/items/{i}"),
    ),
    "100_sessions": ("cp", _setup_sessions, lambda i: _get(f"/_s/bench{i % SESSIONS + 1}/hello")),
    # An unmatched GET at 10,000 exact routes (setups.py's cp_unmatched_10k): a 404 with
    # near misses, journaled; the same path each request, then a new one each request
    # (as lua/unmatched_paths.lua: more paths than the near-miss pools kept).
    "10k_unmatched": ("cp", _setup_exact, lambda i: _get(f"/items/{ROUTES - 1}x")),
    "10k_unmatched_paths": ("cp", _setup_exact, lambda i: _get(f"/items/{i % ROUTES}x")),
}


async def _load(port: int, requests: list[bytes], connections: int, status: bytes) -> None:
    """Send `requests` over `connections` keep-alive connections, one at a time on each;
    each answer's status line starts with `status`."""

    async def connection(share: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection(_HOST, port)
        for request in share:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            assert length is not None and head.startswith(status), head
            await reader.readexactly(int(length.group(1)))
        writer.close()

    await asyncio.gather(*(connection(requests[k::connections]) for k in range(connections)))


def _instructions(
    name: str,
    requests: int,
    pythonpath: str | None,
    tmp: Path,
    connections: int,
    state: RedisServer | None,
    keep: Path | None = None,
    warmup: int = 0,
    cache_sim: bool = False,
) -> dict[str, int]:
    """Cachegrind's counts for one run: `I` (instructions), and with `cache_sim` also
    `I1`, `D1` (first-level instruction and data misses) and `LLd` (last-level data
    misses)."""
    kind, setup, request = SCENARIOS[name]
    ready = tmp / f"ready-{name}-{requests}-{os.getpid()}-{time.monotonic_ns()}.json"
    if kind == "bare":
        argv = [sys.executable, str(HERE / "bare_server.py"), "--port", "0"]
        argv += ["--ready-file", str(ready)]
    else:
        argv = [str(VENV_BIN / "controlplane"), "serve", "--port", "0", "--admin-port", "0"]
        argv += ["--log-level", "warning", "--ready-file", str(ready)]
    if kind == "state":
        assert state is not None
        state.flush()  # every run starts from an empty Redis
        argv += ["--state", f"{state.url}/0"]
    env = dict(os.environ, PYTHONHASHSEED="0")
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    out_file = "/dev/null"
    if keep is not None:
        tree = "" if pythonpath is None else f"@{Path(pythonpath).name}"
        out_file = str(keep / f"{name}{tree}-{requests}.cg")
    valgrind = [
        "valgrind",
        "--tool=cachegrind",
        f"--cachegrind-out-file={out_file}",
        *(CACHES if cache_sim else ["--cache-sim=no"]),
    ]
    server = subprocess.Popen(
        [*valgrind, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 600
        while not ready.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the server did not start:\n{server.communicate()[0]}")
            time.sleep(0.2)
        time.sleep(0.2)  # written atomically, but give the writer a moment
        info = json.loads(ready.read_text())
        if setup is not None:
            setup(info["admin_url"])
        port = int(info["mock_url"].rsplit(":", 1)[1]) if "mock_url" in info else info["port"]
        status = b"HTTP/1.1 404" if "unmatched" in name else b"HTTP/1.1 2"
        if warmup:
            warm = [request(-1 - i) for i in range(warmup)]
            asyncio.run(_load(port, warm, connections, status))
        asyncio.run(_load(port, [request(i) for i in range(requests)], connections, status))
    finally:
        server.terminate()
    out = server.communicate(timeout=600)[0]
    counts = {
        label: int(found.group(1).replace(",", ""))
        for label, pattern in _COUNTS.items()
        if (found := re.search(pattern, out)) is not None
    }
    if "I" not in counts:
        raise RuntimeError(f"{name}: no instruction count in valgrind's output:\n{out[-2000:]}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument(
        "--warmup", type=int, default=3_000, help="requests served before the counted ones"
    )
    parser.add_argument(
        "--baseline", action="append", default=[], help="a package tree to run too (repeatable)"
    )
    parser.add_argument("--only-baselines", action="store_true", help="not the working tree")
    parser.add_argument(
        "--cache-sim",
        action="store_true",
        help="simulate one core's caches (`CACHES`); print misses per request too",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="write cachegrind's per-function counts here (SCENARIO-N.cg); "
        "`cg_diff` the idle and loaded runs, then `cg_annotate` the difference",
    )
    args = parser.parse_args()
    runs: list[tuple[str, str | None]] = []
    if not args.only_baselines:
        runs += [(name, None) for name in args.scenarios]
    for tree in args.baseline:
        base = os.path.abspath(tree)
        runs += [(name, base) for name in args.scenarios if SCENARIOS[name][0] != "bare"]
    procs = Procs()
    try:
        state = None
        if any(SCENARIOS[name][0] == "state" for name, _ in runs):
            state = start_redis(procs)
        with tempfile.TemporaryDirectory(prefix="cp-instr-") as tmp:
            for name, pythonpath in runs:
                more = (args.connections, state, args.keep, args.warmup, args.cache_sim)
                idle = _instructions(name, 0, pythonpath, Path(tmp), *more)
                before = state.calls("evalsha", "xadd") if state is not None else [0, 0]
                loaded = _instructions(name, args.requests, pythonpath, Path(tmp), *more)
                label = name if pythonpath is None else f"{name}@{Path(pythonpath).name}"
                per = {key: (loaded[key] - idle[key]) / args.requests for key in loaded}
                line = f"{label:<24} {per.pop('I'):10,.0f} instructions/request"
                line += "".join(f"  {per[key]:8,.1f} {key} misses" for key in per)
                if SCENARIOS[name][0] == "state" and state is not None:
                    batches, entries = (
                        after - was
                        for after, was in zip(state.calls("evalsha", "xadd"), before, strict=True)
                    )
                    line += f"  ({entries / max(batches, 1):.1f} entries per journal batch)"
                print(line, flush=True)
    finally:
        procs.stop_all()
        _ORIGIN.procs.stop_all()


if __name__ == "__main__":
    main()
