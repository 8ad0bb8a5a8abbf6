"""A received request as matching, the journal and verification see it.

Built once per mock request from what aiohttp already parsed; everything derived
(query, text, JSON, form, cookies) is computed on first use and cached, so no
request is decoded twice, and a request nobody inspects costs almost nothing.
The journal stores this object itself rather than copying fields out of it.

A body nested deeper than `MAX_JSON_DEPTH` is not JSON here: matching, near misses and
the journal all recurse through parsed JSON, and none of them may fail on a request.
`json_large` tells a JSONPath that visits every value (`$..x`) that there are too many.
"""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from itertools import accumulate
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import parse_qsl

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_JSON_SCAN",
    "NOT_JSON",
    "KnownPeer",
    "Peer",
    "RequestView",
    "host_of",
    "parse_query",
]

#: Arrays and objects nested deeper than this make a body "not JSON" for matching.
MAX_JSON_DEPTH: Final = 200
#: A body with more JSON values than this is `json_large`.
MAX_JSON_SCAN: Final = 10_000


class _NotJson:
    """Sentinel: the body is not JSON (distinct from a JSON `null`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Final = _NotJson()
_UNSET: Final = object()
_json_decode = msgspec.json.decode
_T = TypeVar("_T")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class Peer(Protocol):
    """Where a request came from: aiohttp's request itself (`remote` is read, and
    formatted, only when a condition asks), or a `KnownPeer`."""

    @property
    def remote(self) -> str | None: ...


class KnownPeer:
    """A peer address given as text (a posted request that names its client)."""

    __slots__ = ("remote",)

    def __init__(self, remote: str | None) -> None:
        self.remote = remote


def host_of(authority: str) -> str:
    """`Host: API.test:8080` -> `api.test`; `[::1]:80` -> `::1`."""
    authority = authority.strip()
    if authority.startswith("["):
        return authority[1:].partition("]")[0].lower()
    name, colon, port = authority.rpartition(":")
    return (name if colon and port.isdigit() else authority).lower()


class RequestView:
    """Method, path (without any session prefix), query, headers and body of one request."""

    __slots__ = (
        "_cookies",
        "_derived",
        "_form",
        "_host",
        "_json",
        "_json_large",
        "_query",
        "_query_text",
        "_scheme",
        "_text",
        "body",
        "headers",
        "known_header",
        "method",
        "path",
        "peer",
        "query_string",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: CIMultiDictProxy[str] | CIMultiDict[str],
        body: bytes,
        host: str | None = None,
        scheme: str | None = "http",
        peer: Peer | None = None,
    ) -> None:
        self.method = method
        #: The connection's other end; None where nobody connected (the journal's
        #: rebuilt requests, documents matched as bodies).
        self.peer = peer
        #: None: the peer's (aiohttp's request knows it), read only when a condition asks.
        self._scheme = scheme
        self.path = path
        self.query_string = query_string
        self.headers = headers
        #: (name lower-cased, value) when the request carries that header exactly once,
        #: with that value, and a route table has looked it up already (its narrowing,
        #: `index._ByHeader`): an `equals` condition on it holds without a second lookup.
        self.known_header: tuple[str, str] | None = None
        self.body = body
        self._query: Any = _UNSET
        self._query_text: Any = _UNSET
        self._text: Any = _UNSET
        self._json: Any = _UNSET
        self._json_large: bool | None = None
        self._form: Any = _UNSET
        self._cookies: Any = _UNSET
        #: A forward-proxy request's destination host; None: read `Host` when asked.
        self._host = host
        self._derived: dict[str, Any] | None = None

    def derived(self, key: str, compute: Callable[[RequestView], _T]) -> _T:
        """`compute(self)`, computed once per request and shared by every caller of `key`
        (the body parsed as XML, its multipart parts: whatever several conditions read)."""
        if self._derived is None:
            self._derived = {}
        elif key in self._derived:
            found: _T = self._derived[key]
            return found
        value = self._derived[key] = compute(self)
        return value

    @property
    def scheme(self) -> str:
        """`http` or `https`: as given, else the peer's (aiohttp's request), else `http`."""
        scheme = self._scheme
        if scheme is None:
            scheme = self._scheme = getattr(self.peer, "scheme", None) or "http"
        return scheme

    @property
    def port(self) -> int | None:
        """The port of the `Host` header, else the scheme's default; None without `Host`."""
        header = self.headers.get("Host")
        if header is None:
            return None
        header = header.strip()
        _, colon, port = header.rpartition(":")
        if colon and port.isdigit() and not header.endswith("]"):
            return int(port)
        return _DEFAULT_PORTS.get(self.scheme)

    @property
    def client_ip(self) -> str | None:
        """The peer's address (`127.0.0.1`, `::1`); None when unknown."""
        peer = self.peer
        return None if peer is None else peer.remote

    @property
    def host(self) -> str | None:
        """The target host, lower-case, without port: the proxy target's, else `Host`'s."""
        if self._host is None:
            header = self.headers.get("Host")
            if header is None:
                return None
            self._host = host_of(header)
        return self._host

    @property
    def query(self) -> MultiDictProxy[str]:
        """Query parameters, repeats kept, blank values kept."""
        if self._query is _UNSET:
            self._query = MultiDictProxy(MultiDict(parse_query(self.query_string)))
        result: MultiDictProxy[str] = self._query
        return result

    @property
    def query_text(self) -> str | None:
        """`&` + the query string + `&` when nothing in it is encoded (no `%`, no `+`),
        else None: a parameter `name` with the value `value` is there exactly when
        `&name=value&` is (as `parse_query` splits it), tested without parsing."""
        if self._query_text is _UNSET:
            query = self.query_string
            plain = "%" not in query and "+" not in query
            self._query_text = f"&{query}&" if plain else None
        result: str | None = self._query_text
        return result

    @property
    def text(self) -> str | None:
        """The body as text when it is valid UTF-8, else None."""
        if self._text is _UNSET:
            try:
                self._text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                self._text = None
        result: str | None = self._text
        return result

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or `NOT_JSON` when it does not parse."""
        if self._json is _UNSET:
            if not self.body:
                self._json = NOT_JSON
            else:
                try:
                    parsed = _json_decode(self.body)
                except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                    parsed = NOT_JSON
                body = self.body  # a short one cannot nest too deep: no `_shallow` call
                shallow = parsed is NOT_JSON or len(body) <= _SHORT_JSON or _shallow(body)
                self._json = parsed if shallow else NOT_JSON
        return self._json

    @property
    def json_large(self) -> bool:
        """Whether the body is JSON holding more than MAX_JSON_SCAN values (all depths)."""
        if self._json_large is None:
            # A value takes at least a byte: a small body cannot hold too many.
            self._json_large = len(self.body) > MAX_JSON_SCAN and _more_values(
                self.json, MAX_JSON_SCAN
            )
        return self._json_large

    @property
    def form(self) -> MultiDictProxy[str]:
        """`application/x-www-form-urlencoded` fields (empty for any other body)."""
        if self._form is _UNSET:
            content_type = self.headers.get("Content-Type", "")
            text = self.text
            if text is not None and content_type.lower().startswith(
                "application/x-www-form-urlencoded"
            ):
                self._form = MultiDictProxy(MultiDict(parse_qsl(text, keep_blank_values=True)))
            else:
                self._form = MultiDictProxy(MultiDict())
        result: MultiDictProxy[str] = self._form
        return result

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies from every `Cookie` header; a malformed header yields none."""
        if self._cookies is _UNSET:
            jar: dict[str, str] = {}
            for raw in self.headers.getall("Cookie", ()):
                parsed = SimpleCookie()
                try:
                    parsed.load(raw)
                except CookieError:
                    continue
                jar.update({name: morsel.value for name, morsel in parsed.items()})
            self._cookies = jar
        result: dict[str, str] = self._cookies
        return result


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """`parse_qsl(query_string, keep_blank_values=True)`, in a third of its time when
    nothing in it is encoded (no `%`, no `+`): pairs split on `&`, empty pairs dropped, a
    name without `=` has the value ""."""
    if "%" in query_string or "+" in query_string:
        return parse_qsl(query_string, keep_blank_values=True)
    pairs = []
    for pair in query_string.split("&"):  # a loop: no generator frames
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((name, value))
    return pairs


#: Nesting N deep takes N opening and N closing brackets: no shorter body nests too deep.
_SHORT_JSON: Final = 2 * MAX_JSON_DEPTH + 1


def _shallow(body: bytes) -> bool:
    """Whether JSON `body` (known to be valid) nests at most MAX_JSON_DEPTH deep.

    Read from the bytes at C speed, but for one step per bracket. With escaped
    backslashes and quotes gone, a bracket is inside a string when an odd number of
    quotes precede it; dropping adjacent quote pairs keeps that parity (and removes
    every string without brackets), and then every other piece between quotes is
    outside strings. The depth is the running sum of +1 per opening and -1 per
    closing bracket.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return True  # every array and object opens with a bracket
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    syntax = body.translate(None, _NOT_SYNTAX).replace(b'""', b"")
    if b'"' in syntax:
        syntax = b"".join(syntax.split(b'"')[::2])
    return max(accumulate(map(_STEPS.__getitem__, syntax)), default=0) <= MAX_JSON_DEPTH


_NOT_SYNTAX = bytes(set(range(256)) - set(b'[]{}"'))
_STEPS = [1 if byte in b"[{" else -1 if byte in b"]}" else 0 for byte in range(256)]


def _more_values(parsed: Any, limit: int) -> bool:
    """Whether `parsed` holds more than `limit` values; stops counting past `limit`."""
    seen = 0
    containers: list[Any] = [parsed] if isinstance(parsed, (dict, list)) else []
    while containers:
        node = containers.pop()
        children = node.values() if isinstance(node, dict) else node
        seen += len(children)
        if seen > limit:
            return True
        containers.extend(c for c in children if isinstance(c, (dict, list)))
    return False
