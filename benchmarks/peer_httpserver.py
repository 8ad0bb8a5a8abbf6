"""pytest-httpserver as a standalone server, for the peer comparison.

Run with the peers' own venv (run.py makes it under benchmarks/.peers):
`python peer_httpserver.py --routes N --ready-file PATH`. Declares `GET /hello`
(N = 1) or `GET /items/0` .. `/items/{N-1}` (permanent handlers, JSON `{"ok":true}`)
and writes `{"mock_url", "pid"}` to the ready file once listening. Routes are
declared in-process: pytest-httpserver has no HTTP admin API.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from pytest_httpserver import HTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routes", type=int, default=1)
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args()
    server = HTTPServer(host="127.0.0.1", port=0)
    if args.routes == 1:
        server.expect_request("/hello", method="GET").respond_with_json({"ok": True})
    else:
        for i in range(args.routes):
            server.expect_request(f"/items/{i}", method="GET").respond_with_json({"ok": True})
    server.start()
    temp = args.ready_file.with_suffix(".tmp")
    temp.write_text(json.dumps({"mock_url": f"http://127.0.0.1:{server.port}", "pid": os.getpid()}))
    os.replace(temp, args.ready_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
