"""A received request as matching, the journal and verification see it.

Built once per mock request from what aiohttp already parsed; everything derived
(query, text, JSON, form, cookies) is computed on first use and cached, so no
request is decoded twice, and a request nobody inspects costs almost nothing.
The journal stores this object itself rather than copying fields out of it.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

__all__ = ["NOT_JSON", "RequestView"]


class _NotJson:
    """Sentinel: the body is not JSON (distinct from a JSON `null`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Final = _NotJson()
_UNSET: Final = object()
_json_decode = msgspec.json.decode


class RequestView:
    """Method, path (without any session prefix), query, headers and body of one request."""

    __slots__ = (
        "_cookies",
        "_form",
        "_json",
        "_query",
        "_text",
        "body",
        "headers",
        "method",
        "path",
        "query_string",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: CIMultiDictProxy[str] | CIMultiDict[str],
        body: bytes,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self._query: Any = _UNSET
        self._text: Any = _UNSET
        self._json: Any = _UNSET
        self._form: Any = _UNSET
        self._cookies: Any = _UNSET

    @property
    def query(self) -> MultiDictProxy[str]:
        """Query parameters, repeats kept, blank values kept."""
        if self._query is _UNSET:
            self._query = MultiDictProxy(
                MultiDict(parse_qsl(self.query_string, keep_blank_values=True))
            )
        result: MultiDictProxy[str] = self._query
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
                    self._json = _json_decode(self.body)
                except (msgspec.DecodeError, UnicodeDecodeError):
                    self._json = NOT_JSON
        return self._json

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
