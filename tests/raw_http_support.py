"""Raw HTTP/1.x requests, for tests that read a server's answer byte for byte."""

from __future__ import annotations

#: Request variants: (method, HTTP version, extra header line). The GETs come first;
#: the last is a HEAD keeping an HTTP/1.0 connection open.
REQUEST_VARIANTS = [
    ("GET", "1.1", ""),
    ("GET", "1.1", "Connection: close\r\n"),
    ("GET", "1.0", ""),
    ("GET", "1.0", "Connection: keep-alive\r\n"),
    ("HEAD", "1.1", ""),
    ("HEAD", "1.1", "Connection: close\r\n"),
    ("HEAD", "1.0", "Connection: keep-alive\r\n"),
]


def raw_request(method: str, path: str, version: str, extra: str = "") -> bytes:
    """The request's bytes: its line, `Host: mock`, `extra` (whole header lines), the blank line."""
    return f"{method} {path} HTTP/{version}\r\nHost: mock\r\n{extra}\r\n".encode()
