"""Errors in WireMock's shape: `{"errors": [{"code", "source": {"pointer"}, "title", "detail"}]}`.

The dialect raises the same `ControlplaneError`s as the native API, with the same
`$.request.method` style locations; this module renders them the way WireMock does,
with the location as a JSON pointer (`/request/method`). A body that is not JSON is a
422 too (code 10, "Error parsing JSON"), as in WireMock, where the native API says 400.
"""

from __future__ import annotations

import re

import msgspec
from aiohttp import web

from controlplane.errors import ControlplaneError, InvalidJson

__all__ = ["error_response", "pointer", "wiremock_error_body"]

_STEP = re.compile(
    r'\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>\d+)\]|\[(?P<key>"(?:[^"\\]|\\.)*")\]'
)
#: WireMock's code for a body it cannot use (10 is what it sends for JSON errors).
_INVALID_CODE = 10
_TITLES = {
    400: "Error parsing JSON",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
}


class _Source(msgspec.Struct, kw_only=True):
    pointer: str


class _Error(msgspec.Struct, kw_only=True):
    code: int
    source: _Source
    title: str
    detail: str


class _Errors(msgspec.Struct, kw_only=True):
    errors: list[_Error]


def pointer(location: str | None) -> str:
    """`$.request.headers["X-A"]` -> `/request/headers/X-A` (RFC 6901); `$` -> ``."""
    if not location or not location.startswith("$"):
        return ""
    parts: list[str] = []
    for step in _STEP.finditer(location, 1):
        if step["field"] is not None:
            part = step["field"]
        elif step["index"] is not None:
            part = step["index"]
        else:
            part = msgspec.json.decode(step["key"])
        parts.append(part.replace("~", "~0").replace("/", "~1"))
    return "".join("/" + part for part in parts)


def wiremock_error_body(error: ControlplaneError) -> bytes:
    code = _INVALID_CODE if error.status in (400, 422) else error.status
    body = _Errors(
        errors=[
            _Error(
                code=code,
                source=_Source(pointer=pointer(error.location)),
                title=_TITLES.get(error.status, error.code.replace("_", " ").capitalize()),
                detail=error.message,
            )
        ]
    )
    return msgspec.json.encode(body) + b"\n"


def error_response(error: ControlplaneError) -> web.Response:
    # WireMock answers a body that is not JSON with 422, like one of the wrong shape.
    status = 422 if isinstance(error, InvalidJson) else error.status
    return web.Response(
        status=status, body=wiremock_error_body(error), content_type="application/json"
    )
