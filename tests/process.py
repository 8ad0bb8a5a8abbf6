"""`controlplane serve` as a real subprocess, for tests of the command line.

    with serve_process(tmp_path, "--log-format", "json") as server:
        requests.get(f"{server.mock_url}/hello")
    server.returncode  # 0 after the SIGTERM sent on exit

A reader thread drains the child's stderr (so a chatty server never blocks on a full
pipe) and, after each line, looks for the ready file. The server writes that file
before it logs `ready`, so the first line after start-up wakes the waiting test: no
sleep-polling, and every wait has a hard timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: The console script installed next to the interpreter running the tests.
CONTROLPLANE = str(Path(sys.executable).with_name("controlplane"))
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class ServerProcess:
    """One `controlplane serve` child process and what it said on stderr."""

    def __init__(self, args: list[str], ready_file: Path) -> None:
        self.args = args
        self.ready_file = ready_file
        self.lines: list[str] = []
        self.ready: dict[str, Any] = {}
        self._ready_or_exited = threading.Event()
        self._line_added = threading.Condition()
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                with self._line_added:
                    self.lines.append(line.rstrip("\n"))
                    self._line_added.notify_all()
                if self.ready_file.exists():
                    self._ready_or_exited.set()
        self._ready_or_exited.set()  # EOF: the process is gone
        with self._line_added:
            self._line_added.notify_all()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        if not self._ready_or_exited.wait(timeout):
            raise TimeoutError(f"controlplane did not start within {timeout} s:\n{self.stderr}")
        if not self.ready_file.exists():
            self.proc.wait(STOP_TIMEOUT)
            self._reader.join(STOP_TIMEOUT)
            raise RuntimeError(
                f"controlplane exited with {self.proc.returncode} before it was ready:\n"
                f"{self.stderr}"
            )
        self.ready = json.loads(self.ready_file.read_text())

    @property
    def mock_url(self) -> str:
        url: str = self.ready["mock_url"]
        return url

    @property
    def admin_url(self) -> str:
        url: str = self.ready["admin_url"]
        return url

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def events(self) -> list[dict[str, Any]]:
        """The stderr lines as JSON log events (start the server with `--log-format json`)."""
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def wait_for_event(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float = START_TIMEOUT
    ) -> dict[str, Any]:
        """The first JSON log event (`--log-format json`) `wanted` holds for, waiting for
        new lines as they come (up to `timeout` seconds)."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events() if wanted(e)), None)

        with self._line_added:
            if not self._line_added.wait_for(
                lambda: found() is not None or not self._reader.is_alive(), timeout
            ):
                raise TimeoutError(f"no such event within {timeout} s:\n{self.stderr}")
            event = found()
        if event is None:
            raise RuntimeError(f"the process exited without such an event:\n{self.stderr}")
        return event

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `signum` and wait for the exit code; kill the process if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)
            raise
        finally:
            self._reader.join(timeout)
        return code


@contextmanager
def serve_process(
    tmp_path: Path, *args: str, ready_file: Path | None = None
) -> Iterator[ServerProcess]:
    """Start `controlplane serve` on free ports, wait until it is ready, stop it on exit.

    The process is stopped with SIGTERM when the block ends (unless the test stopped it
    already); `returncode` then holds its exit code.
    """
    ready = ready_file or tmp_path / "ready.json"
    ready.unlink(missing_ok=True)  # a stale file would look ready at once
    command = [CONTROLPLANE, "serve", "--port", "0", "--admin-port", "0"]
    server = ServerProcess([*command, "--ready-file", str(ready), *args], ready)
    try:
        server.wait_ready()
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()


def run_cli(*args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `controlplane ARGS` to completion (for commands that exit by themselves)."""
    return subprocess.run(
        [CONTROLPLANE, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


#: node, where it is installed: the polyglot tests run their scripts with it.
NODE = shutil.which("node")
#: Skips a test where node is not installed.
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_node_test(script: Path, admin_url: str) -> subprocess.CompletedProcess[str]:
    """`node --test script` against the server whose admin API is at `admin_url` (the
    script reads it from `CONTROLPLANE_URL`), with node's WebSocket on."""
    assert NODE is not None
    # node 20 has WebSocket behind this flag; 22 and later have it anyway.
    return subprocess.run(
        [NODE, "--experimental-websocket", "--test", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CONTROLPLANE_URL": admin_url},
        check=False,
    )
