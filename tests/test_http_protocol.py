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


def _json_route(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/orders",
        handler="orders",
        match={"json_subset": {"tier": "gold"}, "headers": {"X-Tenant": "acme"}},
        response={"type": "json", "status": 201, "body": {"ok": True}},
    )


def _post_head(prefix: str, framing: str) -> bytes:
    return (
        f"POST {prefix}/orders HTTP/1.1\r\nHost: mock\r\nX-Tenant: acme\r\n{framing}\r\n\r\n"
    ).encode()


def _read_answer(sock: socket.socket) -> bytes:
    """One answer's status line; its body is read and dropped."""
    head = _read_head(sock)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    sock.recv(length, socket.MSG_WAITALL)
    return head.split(b"\r\n")[0]


def test_a_body_sent_in_pieces_is_matched_whole(cp: SessionHandle) -> None:
    """A body that arrives in several chunks (here: chunked, each piece its own send)
    is read to its end before matching, as one that arrives with its headers is."""
    _json_route(cp)
    sock, prefix = _connect(cp.mock_url)
    with sock:
        sock.sendall(_post_head(prefix, "Transfer-Encoding: chunked"))
        for piece in (b'{"tier":', b' "gold"', b"}"):
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        first = _read_answer(sock)
        # Keep-alive: the same connection takes a body that came in one piece.
        body = b'{"tier": "gold"}'
        sock.sendall(_post_head(prefix, f"Content-Length: {len(body)}") + body)
        second = _read_answer(sock)
    assert (first, second) == (b"HTTP/1.1 201 Created", b"HTTP/1.1 201 Created")
    assert [call["body"] for call in cp.calls("orders")] == ['{"tier": "gold"}'] * 2


def test_pipelined_bodies_are_each_their_own(cp: SessionHandle) -> None:
    """Requests sent in one write: each handler sees its own body, not the next one's."""
    _json_route(cp)
    sock, prefix = _connect(cp.mock_url)
    bodies = [b'{"tier": "gold", "n": 1}', b'{"tier": "silver"}', b'{"tier": "gold", "n": 3}']
    with sock:
        sock.sendall(b"".join(_post_head(prefix, f"Content-Length: {len(b)}") + b for b in bodies))
        heads = [_read_answer(sock) for _ in bodies]
    assert heads == [b"HTTP/1.1 201 Created", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 201 Created"]
    assert [call["body"] for call in cp.calls("orders")] == [bodies[0].decode(), bodies[2].decode()]


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
