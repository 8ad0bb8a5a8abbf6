"""HTTP details both ports get right: `Expect: 100-continue` and `Allow` on a 405.

Raw sockets, so that what is pinned is the bytes on the wire, not a client's reading.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import SessionHandle, ThreadedServer

UPLOAD = 2 * 1024 * 1024  # above curl's threshold for sending `Expect` by itself (1 MiB)


def _connect(url: str) -> tuple[socket.socket, str]:
    """A socket to `url`'s host and port, and its path (the session prefix)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=5), parts.path


def _read_head(sock: socket.socket) -> bytes:
    """Bytes up to and including the first blank line (one status line and its headers)."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _upload_route(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/upload",
        handler="upload",
        response={"type": "json", "status": 201, "body": {"ok": True}},
    )


def _request_head(prefix: str, expect: str | None, version: str = "1.1") -> bytes:
    lines = [
        f"POST {prefix}/upload HTTP/{version}",
        "Host: mock",
        f"Content-Length: {UPLOAD}",
        *([f"Expect: {expect}"] if expect is not None else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_expect_100_continue_is_answered_before_the_body_is_sent(cp: SessionHandle) -> None:
    _upload_route(cp)
    sock, prefix = _connect(cp.mock_url)
    with sock:
        sock.sendall(_request_head(prefix, "100-Continue"))
        # Today's failure mode: nothing comes back, and the recv times out.
        assert _read_head(sock) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"x" * UPLOAD)
        head = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 201 Created\r\n")
    [call] = cp.calls("upload")
    # The whole body arrived; the journal keeps its first --journal-body-limit bytes.
    assert (call["body_size"], call["body"]) == (UPLOAD, "x" * 65536)


@pytest.mark.parametrize(
    ("expect", "version"), [("something-else", "1.1"), ("100-continue", "1.0")]
)
def test_no_interim_answer_for_other_expectations_or_http_1_0(
    cp: SessionHandle, expect: str, version: str
) -> None:
    _upload_route(cp)
    sock, prefix = _connect(cp.mock_url)
    with sock:
        sock.sendall(_request_head(prefix, expect, version) + b"y" * UPLOAD)
        head = _read_head(sock)
    assert head.startswith(f"HTTP/{version} 201 Created\r\n".encode()), head
    assert cp.calls("upload")[0]["body_size"] == UPLOAD


def test_curl_upload_with_expect_is_not_held_back(cp: SessionHandle, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed: the raw-socket test above covers 100-continue")
    _upload_route(cp)
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"z" * UPLOAD)
    # curl waits this long for `100 Continue` before sending the body anyway: a server
    # that ignores `Expect` costs the whole wait.
    started = time.monotonic()
    finished = subprocess.run(
        [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--expect100-timeout", "20",
         "-H", "Expect: 100-continue", "--data-binary", f"@{upload}", f"{cp.mock_url}/upload"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert finished.stdout == "201"
    assert elapsed < 10, f"curl took {elapsed:.1f} s: it waited for 100 Continue"
    assert cp.calls("upload")[0]["body_size"] == UPLOAD


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/routes", "DELETE,GET,POST"),
        ("/health", "GET"),
        ("/__admin/mappings", "DELETE,GET,POST"),
    ],
)
def test_a_405_names_the_allowed_methods_in_allow(
    cp_server: ThreadedServer, path: str, allowed: str
) -> None:
    answer = requests.patch(f"{cp_server.admin_url}{path}", timeout=10)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == allowed
    assert answer.headers["Content-Type"].startswith("application/json")
