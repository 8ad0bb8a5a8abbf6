"""The query the mock port matches and journals is aiohttp's decoded one
(`request.query_string`), whether read from the request line itself (nothing in it to
decode or cut off) or from aiohttp."""

from __future__ import annotations

import socket
from urllib.parse import parse_qsl, urlsplit

from yarl import URL

from tests.conftest import SessionHandle

#: Request targets with a query, as sent on the request line: plain ones (read from the
#: line itself) and ones with something to decode or cut off (read from aiohttp).
QUERY_TARGETS = [
    b"/q?a=1",
    b"/q?a=1&a=2&b",
    b"/q?",
    b"/q?=x&&y=",
    b"/q?a=b+c",
    b"/q?a=%2B&b=%26c&c=%3D",
    b"/q?a=caf%C3%A9",
    b"/q?a=%zz",
    b"/q?a=1#frag",
    b"/q#f?a=1",
    b"/q/%41?a=1",
    b"/q?a=?b",
]


def _aiohttps(target: str) -> tuple[str, dict[str, list[str]]]:
    """The path and query aiohttp's parser gives `target` (split as it splits it)."""
    path, _, rest = target.partition("?")
    query, _, fragment = rest.partition("#")
    if "?" not in target:
        path, _, fragment = target.partition("#")
    url = URL.build(path=path, query_string=query, fragment=fragment, encoded=True)
    parsed: dict[str, list[str]] = {}
    for name, value in parse_qsl(url.query_string, keep_blank_values=True):
        parsed.setdefault(name, []).append(value)
    return url.path, parsed


def test_the_query_matched_and_journaled_is_aiohttps_decoded_query(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/{rest:.*}", handler="all")
    cp.register("all", {"type": "json", "body": {"ok": True}})
    parts = urlsplit(cp.mock_url)
    for target in QUERY_TARGETS:
        head = f" HTTP/1.1\r\nHost: x\r\nX-Controlplane-Session: {cp.id}\r\n"
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(b"GET " + target + head.encode() + b"Connection: close\r\n\r\n")
            answer = b"".join(iter(lambda: sock.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.1 200"), target
        call = cp.calls("all")[-1]
        assert (call["path"], call["query"]) == _aiohttps(target.decode()), target
