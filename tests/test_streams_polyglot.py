"""SSE and WebSocket mocks driven from node (fetch's streamed body, node's WebSocket)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ThreadedServer
from tests.process import needs_node, run_node_test

SCRIPT = Path(__file__).resolve().parent / "polyglot" / "streams.test.mjs"


@needs_node
def test_node_reads_sse_and_talks_websocket(cp_server: ThreadedServer) -> None:
    done = run_node_test(SCRIPT, cp_server.admin_url)
    assert done.returncode == 0, done.stdout + done.stderr
