"""Admin request bodies -> wire types, with errors that carry the JSON location.

msgspec reports *where* a document is wrong (`$.match.headers[...]`) in its own
words. `validation_error` turns that into something a person can act on: it names
the dict key msgspec leaves as `[...]`, points at the field a message is about,
rewrites "Expected `int | null`, got `str`" as plain English, and for an unknown
field or value lists what is allowed (with a "did you mean" when one is close).
"""

from __future__ import annotations

import difflib
import re
import sys
from functools import cache
from itertools import accumulate
from typing import Any, TypeVar, overload

import msgspec
from aiohttp import web
from msgspec import inspect as mi

from controlplane.errors import InvalidInput, InvalidJson

__all__ = [
    "MAX_DEPTH",
    "bool_query",
    "decode_body",
    "decode_optional_body",
    "decode_value",
    "depth_problem",
    "encode",
    "int_query",
    "json_response",
    "leading_steps",
    "render_location",
    "validation_error",
]

T = TypeVar("T")
_AT = re.compile(r"^(?P<message>.*) - at `(?P<location>[^`]*)`$", re.DOTALL)
#: A message of our own checks that starts with what it is about: `status`,
#: `uniform_ms[1]`, `headers["Content-Length"]`.
_LEADING_FIELD = re.compile(
    r'^`(?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\[(?:\d+|"(?:[^"\\]|\\.)*")\])*)`'
)
_LEADING_STEP = re.compile(r'\[(?:(?P<index>\d+)|(?P<key>"(?:[^"\\]|\\.)*"))\]')
_STEP = re.compile(r"\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>\d+)\]|\[(?P<any>\.\.\.)\]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPECTED = re.compile(r"^Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")
_BAD_VALUE = re.compile(r"^Invalid (?:enum )?value (?P<value>.*)$")
_JSON_NAMES = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "a boolean",
    "null": "null",
    "object": "an object",
    "array": "an array",
}
_NO_DOCUMENT: Any = object()
_encoder = msgspec.json.Encoder()
encode = _encoder.encode

#: One step of a location: a field name, a list index, or `...` (a dict key msgspec omits).
Step = str | int


@cache
def _decoder(target: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(target)


# ----------------------------------------------------------------- locations


def _steps(location: str) -> list[Step]:
    return [
        int(m["index"]) if m["index"] is not None else (m["field"] or "...")
        for m in _STEP.finditer(location, 1)
    ]


def render_location(steps: list[Step], prefix: str = "$") -> str:
    """`prefix` followed by `steps`: `$.a[0][\"x-y\"]`."""
    parts = [prefix]
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _IDENTIFIER.fullmatch(step):
            parts.append(f".{step}")
        else:
            parts.append(f"[{encode(step).decode()}]")
    return "".join(parts)


def leading_steps(message: str) -> list[Step]:
    """The location a message of our own checks starts with, as steps (may be empty).

    `"`headers[\\"X-A\\"]`: ..."` -> `["headers", "X-A"]`: the wire types' checks name
    what they are about first, because msgspec (or a dialect) points at the object.
    """
    found = _LEADING_FIELD.match(message)
    if found is None:
        return []
    path = found["path"]
    head = path.split("[", 1)[0]
    steps: list[Step] = [head]
    for step in _LEADING_STEP.finditer(path, len(head)):
        steps.append(
            int(step["index"]) if step["index"] is not None else msgspec.json.decode(step["key"])
        )
    return steps


def _keep_only(document: Any, steps: list[Step], key: str) -> Any:
    """A copy of `document` whose dict at `steps` holds only `key`."""
    if not steps:
        return {key: document[key]}
    head, rest = steps[0], steps[1:]
    copy: Any = list(document) if isinstance(document, list) else dict(document)
    copy[head] = _keep_only(document[head], rest, key)
    return copy


def _name_keys(raw: str, steps: list[Step], document: Any, target: Any) -> list[Step]:
    """Replace each `...` step by the dict key that reproduces the error."""
    while "..." in steps:
        at = steps.index("...")
        try:
            container = document
            for step in steps[:at]:
                container = container[step]
            keys = list(container) if isinstance(container, dict) else []
        except (KeyError, IndexError, TypeError):
            return steps
        for key in keys:
            try:
                msgspec.convert(_keep_only(document, steps[:at], key), target)
            except msgspec.ValidationError as exc:
                if str(exc) == raw:
                    steps = [*steps[:at], key, *steps[at + 1 :]]
                    break
        else:
            return steps
    return steps


# ----------------------------------------------------------------- types at a location


def _narrow(info: mi.Type, node: Any) -> mi.Type:
    """The member of a union that `node` is meant to be (by JSON shape, then by tag)."""
    if not isinstance(info, mi.UnionType):
        return info
    if isinstance(node, list):
        shaped: list[mi.Type] = [t for t in info.types if isinstance(t, mi.ListType | mi.TupleType)]
    elif isinstance(node, dict):
        shaped = [t for t in info.types if isinstance(t, mi.StructType | mi.DictType)]
        tagged: list[mi.Type] = [
            t
            for t in shaped
            if isinstance(t, mi.StructType) and t.tag is not None and node.get(t.tag_field) == t.tag
        ]
        shaped = tagged or shaped
    else:
        return info
    return shaped[0] if len(shaped) == 1 else info


def _type_at(target: Any, document: Any, steps: list[Step]) -> mi.Type | None:
    """The type expected at `steps` of `document`, or None where the walk loses its way."""
    info: mi.Type = mi.type_info(target)
    node = document
    for step in steps:
        info = _narrow(info, node)
        if isinstance(info, mi.UnionType):
            # A tag no member has: what is expected at the tag field is one of the tags.
            tags = [t for t in info.types if isinstance(t, mi.StructType) and t.tag is not None]
            if tags and tags[0].tag_field == step:
                return mi.LiteralType(values=tuple(str(t.tag) for t in tags))
        if isinstance(info, mi.StructType):
            field = next((f for f in info.fields if f.encode_name == step), None)
            if field is None:
                return None
            info = field.type
        elif isinstance(info, mi.DictType):
            info = info.value_type
        elif isinstance(info, mi.ListType):
            info = info.item_type
        elif (
            isinstance(info, mi.TupleType) and isinstance(step, int) and step < len(info.item_types)
        ):
            info = info.item_types[step]
        else:
            return None
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = _NO_DOCUMENT
    return _narrow(info, node)


def _choices(words: list[str], given: str) -> str:
    close = difflib.get_close_matches(given, words, n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"{', '.join(words)}{hint}"


# ----------------------------------------------------------------- messages


def _plain(types: str) -> str:
    return " or ".join(_JSON_NAMES.get(t, f"`{t}`") for t in types.split(" | "))


def validation_error(
    exc: msgspec.ValidationError,
    prefix: str = "$",
    *,
    document: Any = _NO_DOCUMENT,
    target: Any = None,
) -> InvalidInput:
    """msgspec's `... - at `$.a.b`` -> InvalidInput(message, location).

    With the untyped `document` and the `target` type, dict keys are named and
    unknown fields or values come with what is allowed.
    """
    text = str(exc)
    found = _AT.match(text)
    message, location = (found["message"], found["location"]) if found else (text, "$")
    steps = _steps(location)
    known = document is not _NO_DOCUMENT and target is not None
    if known and "..." in steps:
        steps = _name_keys(text, steps, document, target)

    if expected := _EXPECTED.match(message):
        message = f"expected {_plain(expected['expected'])}, got {_plain(expected['got'])}"
    elif missing := _MISSING.match(message):
        steps.append(missing["field"])
        message = f"`{missing['field']}` is required"
    elif unknown := _UNKNOWN.match(message):
        name = unknown["field"]
        info = _type_at(target, document, steps) if known else None
        message = f"unknown field `{name}`"
        if isinstance(info, mi.StructType):
            message += f"; known fields: {_choices([f.encode_name for f in info.fields], name)}"
        steps.append(name)
    elif bad := _BAD_VALUE.match(message):
        info = _type_at(target, document, steps) if known else None
        message = f"{bad['value']} is not allowed here"
        if isinstance(info, mi.LiteralType):
            given = bad["value"].strip("'\"")
            message += f"; allowed values: {_choices([str(v) for v in info.values], given)}"
    elif (lead := leading_steps(message)) and steps[-len(lead) :] != lead:
        # Our own checks (Struct.__post_init__) name the field they are about first;
        # msgspec points at the object, so point at the field instead.
        steps.extend(lead)
    return InvalidInput(message, location=render_location(steps, prefix))


@overload
def decode_value(data: bytes, target: type[T]) -> T: ...
@overload
def decode_value(data: bytes, target: Any) -> Any: ...
def decode_value(data: bytes, target: Any) -> Any:
    """Decode JSON bytes into `target`, raising InvalidJson / InvalidInput."""
    if not data.strip():
        raise InvalidJson("the request body is empty; send a JSON document")
    if (too_deep := depth_problem(data)) is not None:
        raise InvalidJson(f"the request body {too_deep}")
    try:
        result = _decoder(target).decode(data)
    except msgspec.ValidationError as exc:
        try:
            document = msgspec.json.decode(data)
        except msgspec.DecodeError as malformed:
            # Well-formed up to the shape error, malformed after it: the basic problem first.
            problem = malformed_json(data, malformed)
            raise InvalidJson(f"the request body is not valid JSON: {problem}") from None
        raise validation_error(exc, document=document, target=target) from None
    except msgspec.DecodeError as exc:
        problem = malformed_json(data, exc)
        raise InvalidJson(f"the request body is not valid JSON: {problem}") from None
    return result


#: How deeply admin JSON (and a WireMock mapping file) may nest arrays and objects.
#: msgspec and the code that walks documents recurse once per level (and more than
#: ~900 levels overflow the stack); no real route or mapping comes close.
MAX_DEPTH = 100
#: A JSON string, or what is left of one cut short. Possessive, and matching wherever a
#: quote opens one, so no input makes it backtrack (`\"\"\"...` would, quadratically).
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)
#: Arrays and objects count alike: `{` becomes `[`, `}` becomes `]`, the rest goes.
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_LEVEL_STEP = tuple(1 if b == ord("[") else -1 if b == ord("]") else 0 for b in range(256))
_LEAF_ROUNDS = 3


def depth_problem(data: bytes) -> str | None:
    """What is wrong with how deeply `data` nests (None: at most `MAX_DEPTH` levels).

    Checked on the bytes before decoding, at C speed: counting brackets settles almost
    every document at once. Otherwise strings go (their brackets are text), then the
    innermost empty pairs, one level per round (which leaves little of most documents
    to walk), and the walk over the rest stops at the first level too deep.
    """
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return None
    brackets = _JSON_STRING.sub(b"", data).translate(_AS_BRACKETS, _NOT_BRACKETS)
    limit = MAX_DEPTH
    for _ in range(_LEAF_ROUNDS):
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            break
        brackets, limit = inner, limit - 1
    levels = accumulate(map(_LEVEL_STEP.__getitem__, brackets))
    if next(filter(limit.__lt__, levels), None) is None:
        return None
    return (
        f"nests arrays and objects more than {MAX_DEPTH} levels deep; "
        f"controlplane reads JSON nested at most {MAX_DEPTH} levels"
    )


_AT_BYTE = re.compile(r"\(byte (\d+)\)$")


def malformed_json(data: bytes, error: msgspec.DecodeError) -> str:
    """msgspec's complaint with its byte offset as a line and column (both from 1).

    `JSON is malformed: trailing comma (byte 31)` becomes
    `JSON is malformed: trailing comma (line 2, column 16)`; the column counts
    characters, so a multi-byte character before it counts once. A document cut short
    (`Input data was truncated`, no offset) gets the position of its end.
    """
    message = str(error)
    found = _AT_BYTE.search(message)
    if found is not None:
        return f"{message[: found.start()]}({_line_column(data, int(found.group(1)))})"
    if "truncated" in message:  # msgspec gives no offset: the document ends too early
        return f"{message} ({_line_column(data, len(data))}: the end of the input)"
    return message


def _line_column(data: bytes, offset: int) -> str:
    offset = min(offset, len(data))
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    return f"line {line}, column {column}"


@overload
async def decode_body(request: web.Request, target: type[T]) -> T: ...
@overload
async def decode_body(request: web.Request, target: Any) -> Any: ...
async def decode_body(request: web.Request, target: Any) -> Any:
    """The request's JSON body decoded into `target` (see `decode_value`)."""
    return decode_value(await request.read(), target)


async def decode_optional_body(request: web.Request, target: type[T]) -> T:
    """Like `decode_body`, but an empty body means `target()` (every field defaulted)."""
    data = await request.read()
    return target() if not data.strip() else decode_value(data, target)


def json_body(value: Any) -> bytes:
    """`value` as the admin API answers it: compact JSON and a newline, so `curl`
    output ends its line."""
    return encode(value) + b"\n"


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json_body(value), content_type="application/json")


def bool_query(request: web.Request, name: str) -> bool | None:
    """Query parameter `name` as a boolean (true/false, 1/0, yes/no); None when absent."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"`{name}` must be true or false, got {raw!r}", location=f"?{name}")


def int_query(request: web.Request, name: str) -> int | None:
    """Query parameter `name` as a whole number >= 0; None when absent."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidInput(
            f"`{name}` must be a whole number >= 0, got {raw!r}", location=f"?{name}"
        )
    # Beyond any journal's size a larger number means the same; kept well inside what
    # `islice` takes (a page reads `limit + 1` entries).
    return min(value, sys.maxsize // 2)
