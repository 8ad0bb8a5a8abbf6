"""The ceiling: bare aiohttp + uvloop answering a fixed small JSON body, nothing else.

Run: `python benchmarks/bare_server.py --port 0 --ready-file /tmp/ready.json [--mode app]`.

`--mode lowlevel` (default) is `aiohttp.web.Server` with one handler, the same
low-level server controlplane's mock port runs on, so the ratio measures only
controlplane's own work. `--mode app` is the everyday `web.Application` with one
router entry, shown as a second reference. Both answer the body controlplane's
1-route scenario answers (`{"ok":true}`, `application/json`). The ready file gets
`{"mock_url": ..., "pid": ...}` once listening, like controlplane's `--ready-file`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

import uvloop
from aiohttp import web

BODY = b'{"ok":true}'
HEADERS = {"Content-Type": "application/json"}


async def handle(request: web.BaseRequest) -> web.Response:
    return web.Response(body=BODY, headers=HEADERS)


async def serve(port: int, ready_file: Path | None, mode: str) -> None:
    if mode == "app":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner: web.BaseRunner = web.AppRunner(app, access_log=None)
    else:
        runner = web.ServerRunner(web.Server(handle), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    host, bound = runner.addresses[0][:2]
    if ready_file is not None:
        temp = ready_file.with_suffix(".tmp")
        temp.write_text(json.dumps({"mock_url": f"http://{host}:{bound}", "pid": os.getpid()}))
        os.replace(temp, ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--mode", choices=("lowlevel", "app"), default="lowlevel")
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.ready_file, args.mode))


if __name__ == "__main__":
    main()
