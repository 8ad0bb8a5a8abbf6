"""SSE and WebSocket mocks driven from node (fetch's streamed body, node's WebSocket)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ThreadedServer

SCRIPT = Path(__file__).resolve().parent / "polyglot" / "streams.test.mjs"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_reads_sse_and_talks_websocket(cp_server: ThreadedServer) -> None:
    node = shutil.which("node")
    assert node is not None
    # node 20 has WebSocket behind this flag; 22 and later have it anyway.
    done = subprocess.run(
        [node, "--experimental-websocket", "--test", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CONTROLPLANE_URL": cp_server.admin_url},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
