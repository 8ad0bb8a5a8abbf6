"""Admin request bodies -> wire types, with errors that carry the JSON location."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from controlplane.errors import InvalidInput, InvalidJson

__all__ = ["decode_body", "encode", "json_response"]

T = TypeVar("T")
_AT = re.compile(r"^(?P<message>.*) - at `(?P<location>[^`]*)`$", re.DOTALL)
_LEADING_FIELD = re.compile(r"^`(?P<field>[A-Za-z_][A-Za-z0-9_]*)`")
_encoder = msgspec.json.Encoder()
encode = _encoder.encode


@cache
def _decoder(target: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(target)


def validation_error(exc: msgspec.ValidationError, prefix: str = "$") -> InvalidInput:
    """msgspec's `... - at `$.a.b`` -> InvalidInput(message, location)."""
    text = str(exc)
    found = _AT.match(text)
    if found is None:
        return InvalidInput(text, location=prefix)
    message, location = found["message"], found["location"]
    # Our own checks (Struct.__post_init__) name the field they are about first; msgspec
    # then points at the object, so point at the field instead.
    named = _LEADING_FIELD.match(message)
    if named is not None and not location.endswith(f".{named['field']}"):
        location = f"{location}.{named['field']}"
    return InvalidInput(message, location=prefix + location[1:])


def decode_value(data: bytes, target: type[T] | Any) -> T:
    """Decode JSON bytes into `target`, raising InvalidJson / InvalidInput."""
    if not data.strip():
        raise InvalidJson("the request body is empty; send a JSON document")
    try:
        result: T = _decoder(target).decode(data)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    except msgspec.DecodeError as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}") from None
    return result


async def decode_body(request: web.Request, target: type[T] | Any) -> T:
    return decode_value(await request.read(), target)


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=encode(value), content_type="application/json"
    )
