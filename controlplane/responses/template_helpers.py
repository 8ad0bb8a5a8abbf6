"""What a response template sees: WireMock's request model and helpers, with its semantics.

`RequestModel` is `request` in a template: a dict whose entries are built on first
lookup from the `RequestView`. Values that can be one or many (query parameters,
headers, cookies, path segments) are `Many`: it renders as its first value and answers
`.first`, `.last`, `.[n]` (WireMock's `ListOrSingle`, negative indexes included:
`-1` is the one before the last). Everything here is a dict, a list or a scalar, the
only things the engine looks into.

`HELPERS` maps WireMock's helper names to functions. A helper given arguments it
cannot use renders `[ERROR: ...]` in place, as WireMock's do; one that would exceed a
bound (`range` over more than `MAX_BLOCKS` numbers, `randomValue` longer than
`MAX_OUTPUT`) raises `TemplateLimit`. No helper reads a file, the environment or the
network.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import random
import re
import string
import uuid
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal, DivisionByZero, InvalidOperation
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote_plus, unquote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_jsonpath
from pydantic_handlebars._compiler import HelperOptions, _noop_block
from pydantic_handlebars._helpers import get_standard_helpers
from pydantic_handlebars._utils import is_falsy, to_string

from controlplane.request_view import NOT_JSON, RequestView

__all__ = [
    "HELPERS",
    "MAX_BLOCKS",
    "MAX_OUTPUT",
    "NO_ARGS",
    "Many",
    "RequestModel",
    "TemplateFailure",
    "TemplateLimit",
]

#: Characters one rendered template may produce.
MAX_OUTPUT: Final = 1_048_576
#: Block bodies one render may run (each `#each` turn is one); also `range`'s length.
MAX_BLOCKS: Final = 10_000


class TemplateFailure(Exception):
    """A template that cannot be rendered for this request (a 500 `template_error`)."""

    code = "template_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateLimit(TemplateFailure):
    """A render that went past a bound (a 500 `template_limit`)."""

    code = "template_limit"


# --- values -------------------------------------------------------------------------


class Many(dict[str, Any]):
    """A value that can be one or many: renders as the first, indexes like WireMock's."""

    __slots__ = ("_named", "_text", "entries")

    def __init__(
        self, values: list[Any], text: str | None = None, named: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self.entries = values
        self._text = text
        self._named = named

    def get(self, key: str, default: Any = None) -> Any:
        values = self.entries
        if key == "first":
            return values[0] if values else default
        if key == "last":
            return values[-1] if values else default
        if not key.lstrip("-").isdigit():  # (no exception handling: this is per request)
            return self._named.get(key, default) if self._named is not None else default
        index = int(key)
        if index < 0:
            index += len(values) - 1  # WireMock's ListOrSingle: -1 is the one before last
        return values[index] if 0 <= index < len(values) else default

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        return to_text(self.entries[0]) if self.entries else ""

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__  # type: ignore[assignment]


class JsonObject(dict[str, Any]):
    """A JSON object from a request body: renders as JSON, its members wrapped alike."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        return wrap_json(dict.get(self, key, default))

    def __str__(self) -> str:
        return msgspec.json.encode(self).decode()


class JsonArray(list[Any]):
    """A JSON array from a request body: renders as JSON, its items wrapped alike."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> Any:
        return wrap_json(list.__getitem__(self, index))

    def __iter__(self) -> Iterator[Any]:
        return (wrap_json(item) for item in list.__iter__(self))

    def __str__(self) -> str:
        return msgspec.json.encode(list(list.__iter__(self))).decode()


class JavaList(list[Any]):
    """A list a helper made (`array`, `range`): renders as WireMock's do, `[1, two, true]`."""

    __slots__ = ()

    def __str__(self) -> str:
        return "[" + ", ".join(to_text(item) for item in self) + "]"


def wrap_json(value: Any) -> Any:
    """`value` with JSON containers wrapped so that they render as JSON."""
    if type(value) is dict:
        return JsonObject(value)
    if type(value) is list:
        return JsonArray(value)
    return value


def to_text(value: Any) -> str:
    """How a value renders: null empty, booleans `true`/`false`, the rest as `str`."""
    return to_string(value)


def _plain(value: Any) -> Any:
    """A one-or-many value as the text it renders to, for comparisons."""
    return str(value) if isinstance(value, Many) else value


class _BodyText(str):
    """`request.body`: the text, remembering its request so `jsonPath` parses it once."""

    view: RequestView | None = None


class _Headers(dict[str, Many]):
    """Header values by name, looked up case-insensitively."""

    __slots__ = ("_lower",)

    def __init__(self, view: RequestView) -> None:
        super().__init__()
        self._lower: dict[str, Many] = {}
        for name, value in view.headers.items():
            many = self._lower.get(name.lower())
            if many is None:
                many = self._lower[name.lower()] = Many([])
                dict.__setitem__(self, name, many)
            many.entries.append(value)

    def get(self, key: str, default: Any = None) -> Any:
        return self._lower.get(key.lower(), default)


class _Query(dict[str, Many]):
    """Query parameters by name, each a `Many`, built on first lookup of that name."""

    __slots__ = ("_view",)

    def __init__(self, view: RequestView) -> None:
        super().__init__()
        self._view = view

    def get(self, key: str, default: Any = None) -> Any:
        many = dict.get(self, key)
        if many is None:
            values = self._view.query.getall(key, ())
            if not values:
                return default
            many = Many(list(values))
            dict.__setitem__(self, key, many)
        return many

    def all(self) -> dict[str, Many]:
        """Every parameter (for `#each`, `toJson`, `size`)."""
        for name in self._view.query:
            self.get(name)
        return self


def _segments(view: RequestView) -> list[str]:
    return [part for part in view.path.split("/") if part]


def _url(view: RequestView) -> str:
    return view.path + ("?" + view.query_string if view.query_string else "")


def _body(view: RequestView) -> _BodyText:
    text = _BodyText(view.text or "")
    text.view = view
    return text


#: How each `request.*` entry is built, on first lookup.
_MODEL: Final[dict[str, Callable[[RequestView, Mapping[str, str]], Any]]] = {
    "method": lambda view, params: view.method,
    "url": lambda view, params: _url(view),
    "path": lambda view, params: Many(_segments(view), view.path, params),
    "pathSegments": lambda view, params: Many(_segments(view), view.path),
    "path_params": lambda view, params: dict(params),
    "pathParams": lambda view, params: dict(params),
    "query": lambda view, params: _Query(view),
    "headers": lambda view, params: _Headers(view),
    "cookies": lambda view, params: {k: Many([v]) for k, v in view.cookies.items()},
    "body": lambda view, params: _body(view),
    "bodyAsBase64": lambda view, params: base64.b64encode(view.body).decode(),
}


_UNBUILT: Final = object()


class RequestModel(dict[str, Any]):
    """`request` in a template: entries built from the request on first lookup."""

    __slots__ = ("_params", "_view")

    def __init__(self, view: RequestView, params: Mapping[str, str]) -> None:
        super().__init__()
        self._view = view
        self._params = params

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _UNBUILT)
        if value is _UNBUILT:
            build = _MODEL.get(key)
            if build is None:
                return default
            value = build(self._view, self._params)
            dict.__setitem__(self, key, value)
        return value

    def __str__(self) -> str:
        return _url(self._view)


# --- calling convention ---------------------------------------------------------------

#: Stands for "no arguments" in a helper call without any (the engine would otherwise
#: pass the current context); `templating` puts it there at compile time.
NO_ARGS: Final = "\x00no-args\x00"

Helper = Callable[..., Any]


class Call:
    """One helper call: its arguments, hash and whether it is a block (`{{#h}}`)."""

    __slots__ = ("args", "block", "context", "hash", "options")

    def __init__(self, args: tuple[Any, ...], options: HelperOptions) -> None:
        self.options = options
        self.hash = options.hash
        self.block = options.fn is not _noop_block
        self.context: Any = None
        if self.block and args:
            self.context, args = args[0], args[1:]
        if args and args[0] is NO_ARGS:
            args = ()
        self.args = args

    def arg(self, index: int, default: Any = None) -> Any:
        return self.args[index] if index < len(self.args) else default

    def body(self) -> str:
        """The block's rendered content (`{{#base64}}...{{/base64}}`)."""
        return self.options.fn(self.context)

    def branch(self, condition: bool) -> Any:
        """A conditional's answer: the block or its `else` when a block, else the boolean."""
        if not self.block:
            return condition
        return self.options.fn(self.context) if condition else self.options.inverse(self.context)

    def assign(self, name: str, value: Any) -> None:
        """Make `value` visible as `{{name}}` (at the top level; `@root.name` in blocks)."""
        root = self.options.data.get("root")
        if isinstance(root, dict) and name != "request":
            root[name] = value


def _helper(fn: Callable[[Call], Any]) -> Helper:
    def call(*args: Any, options: HelperOptions) -> Any:
        return fn(Call(args, options))

    call.__name__ = fn.__name__
    return call


def _error(message: str) -> str:
    return f"[ERROR: {message}]"


# --- helpers --------------------------------------------------------------------------


def _each(*args: Any, options: HelperOptions) -> Any:
    if len(args) > 1 and isinstance(args[1], Many):
        args = (args[0], JavaList(args[1].entries), *args[2:])
    elif len(args) > 1 and isinstance(args[1], _Query):
        args = (args[0], args[1].all(), *args[2:])
    return _STANDARD["each"](*args, options=options)


def _compare(call: Call, test: Callable[[Any, Any], bool]) -> Any:
    if len(call.args) < 2:
        return _error("comparisons need two values, e.g. {{#eq a 'b'}}")
    left, right = _plain(call.args[0]), _plain(call.args[1])
    try:
        result = test(left, right)
    except TypeError:
        try:
            result = test(Decimal(str(left)), Decimal(str(right)))
        except (InvalidOperation, ValueError):
            result = test(str(left), str(right))
    return call.branch(bool(result))


def _eq(call: Call) -> Any:
    return _compare(call, lambda a, b: a == b)


def _neq(call: Call) -> Any:
    return _compare(call, lambda a, b: a != b)


def _gt(call: Call) -> Any:
    return _compare(call, lambda a, b: a > b)


def _gte(call: Call) -> Any:
    return _compare(call, lambda a, b: a >= b)


def _lt(call: Call) -> Any:
    return _compare(call, lambda a, b: a < b)


def _lte(call: Call) -> Any:
    return _compare(call, lambda a, b: a <= b)


def _and(call: Call) -> Any:
    return call.branch(bool(call.args) and not any(is_falsy(a) for a in call.args))


def _or(call: Call) -> Any:
    return call.branch(any(not is_falsy(a) for a in call.args))


def _not(call: Call) -> Any:
    return call.branch(is_falsy(call.arg(0)))


def _contains(call: Call) -> Any:
    haystack, needle = _plain(call.arg(0)), _plain(call.arg(1))
    if isinstance(haystack, list):
        found = needle in haystack
    else:
        found = to_text(needle) in to_text(haystack)
    return call.branch(found)


def _matches(call: Call) -> Any:
    pattern = _regex(to_text(call.arg(1)))
    if pattern is None:
        return _error(f"Invalid regex string {to_text(call.arg(1))}")
    return call.branch(pattern.fullmatch(to_text(call.arg(0))) is not None)


def _text_arg(call: Call) -> str:
    return call.body() if call.block else to_text(call.arg(0))


def _upper(call: Call) -> str:
    return _text_arg(call).upper()


def _lower(call: Call) -> str:
    return _text_arg(call).lower()


def _capitalize(call: Call) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in _text_arg(call).split(" "))


def _trim(call: Call) -> str:
    return _text_arg(call).strip()


def _size(call: Call) -> Any:
    value = call.arg(0)
    if isinstance(value, Many):
        return len(value.entries)
    if isinstance(value, _Query):
        return len(value.all())
    if isinstance(value, str | list | dict):
        return len(value)
    return None


def _base64(call: Call) -> str:
    value = _text_arg(call)
    if call.hash.get("decode") is True:
        try:
            return base64.b64decode(value + "=" * (-len(value) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return _error(f"{value!r} is not base64")
    encoded = base64.b64encode(value.encode("utf-8")).decode()
    return encoded if call.hash.get("padding", True) is not False else encoded.rstrip("=")


def _url_encode(call: Call) -> str:
    value = _text_arg(call)
    if call.hash.get("decode") is True:
        return unquote_plus(value)
    # Java's URLEncoder: keeps letters, digits and `.-*_`; a space becomes `+`.
    return quote_plus(value, safe="*").replace("~", "%7E")


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regex_extract(call: Call) -> Any:
    source = _text_arg(call) if call.block else to_text(_plain(call.arg(0)))
    pattern_text = to_text(call.arg(1))
    pattern = _regex(pattern_text)
    if pattern is None:
        return _error(f"Invalid regex string {pattern_text}")
    variable = call.arg(2)
    if variable is None:
        match = pattern.search(source)
        if match is not None:
            return match.group()
    else:
        groups = [g for m in pattern.finditer(source) for g in m.groups()]
        if groups:
            call.assign(to_text(variable), Many(groups))
            return ""
    default = call.hash.get("default")
    return default if default is not None else _error(f"Nothing matched {pattern_text}")


@lru_cache(maxsize=256)
def _jsonpath(path: str) -> Any:
    try:
        return parse_jsonpath(path)
    except (JsonPathLexerError, JsonPathParserError, Exception):
        return None


_INDEFINITE = re.compile(r"\*|\.\.|\[\?|,|:")


def _json_path(call: Call) -> Any:
    source = call.arg(0)
    path = to_text(call.arg(1))
    if source is None or source == "":
        return ""
    if not path:
        return _error("The JSONPath cannot be empty")
    document: Any
    if isinstance(source, _BodyText) and source.view is not None:
        document = source.view.json
    elif isinstance(source, str | Many):
        try:
            document = msgspec.json.decode(str(source))
        except msgspec.DecodeError:
            return _error(f"{source} is not valid JSON")
    else:
        document = source
    if document is NOT_JSON:
        return _error(f"{source} is not valid JSON")
    compiled = _jsonpath(path)
    if compiled is None:
        return _error(f"{path} is not a valid JSONPath expression")
    found = [match.value for match in compiled.find(document)]
    value: Any = found if _INDEFINITE.search(path) else (found[0] if found else None)
    if value is None:
        default = call.hash.get("default")
        return "" if default is None else default
    return wrap_json(value)


def _parse_json(call: Call) -> Any:
    if call.block:
        text, variable = call.body(), call.arg(0)
    else:
        if not call.args:
            return _error("Missing required JSON string parameter")
        text, variable = to_text(_plain(call.arg(0))), call.arg(1)
    stripped = text.strip()
    try:
        value = wrap_json(msgspec.json.decode(stripped)) if stripped else JsonObject()
    except msgspec.DecodeError:
        return _error(f"{stripped[:40]} is not valid JSON")
    if variable is not None:
        call.assign(to_text(variable), value)
        return ""
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Many):
        items = [_jsonable(v) for v in value.entries]
        return items[0] if len(items) == 1 else items
    if isinstance(value, _Query):
        value = value.all()
    if isinstance(value, dict):
        return {str(k): _jsonable(dict.__getitem__(value, k)) for k in value}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in list.__iter__(value)] if isinstance(value, list) else []
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _pretty(value: Any, indent: str = "") -> str:
    """JSON as WireMock's `toJson` writes it (Jackson's default pretty printer)."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        inner = indent + "  "
        members = ",\n".join(
            f"{inner}{msgspec.json.encode(k).decode()} : {_pretty(v, inner)}"
            for k, v in value.items()
        )
        return "{\n" + members + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(_pretty(v, indent) for v in value) + " ]"
    return msgspec.json.encode(value).decode()


def _to_json(call: Call) -> str:
    value = call.arg(0)
    return "" if value is None else _pretty(_jsonable(value))


def _array(call: Call) -> JavaList:
    return JavaList(call.args)


def _int(value: Any) -> int | None:
    try:
        return int(Decimal(str(_plain(value))))
    except (InvalidOperation, ValueError):
        return None


def _range(call: Call) -> Any:
    lower, upper = _int(call.arg(0)), _int(call.arg(1))
    if lower is None or upper is None:
        return _error("The range helper requires both lower and upper bounds as integer parameters")
    if upper - lower + 1 > MAX_BLOCKS:
        raise TemplateLimit(
            f"`range {lower} {upper}` has {upper - lower + 1} numbers; at most {MAX_BLOCKS}"
        )
    return JavaList(range(lower, upper + 1))


def _pick_random(call: Call) -> Any:
    if not call.args:
        return _error(
            "Must specify either a single list argument or a set of single value arguments."
        )
    first = call.args[0]
    if isinstance(first, Many):
        pool = list(first.entries)
    elif isinstance(first, list):
        pool = list(first)
    else:
        pool = list(call.args)
    if not pool:
        return ""
    count = call.hash.get("count")
    if isinstance(count, int) and count > 0:
        return JavaList(random.sample(pool, min(count, len(pool))))
    return random.choice(pool)


_ALPHABETS: Final = {
    "ALPHANUMERIC": string.ascii_letters + string.digits,
    "ALPHABETIC": string.ascii_letters,
    "NUMERIC": string.digits,
    "ALPHANUMERIC_AND_SYMBOLS": "".join(chr(c) for c in range(33, 127)),
    "HEXADECIMAL": "ABCDEF0123456789",
}
_ASCII: Final = "".join(chr(c) for c in range(32, 127))


def _random_value(call: Call) -> str:
    kind = to_text(call.hash.get("type", "ALPHANUMERIC"))
    length = _int(call.hash.get("length", 36))
    if length is None or length < 0:
        return _error("`length` must be a number of characters, e.g. length=8")
    if length > MAX_OUTPUT:
        raise TemplateLimit(f"randomValue length={length} is over {MAX_OUTPUT} characters")
    if kind == "UUID":
        value = str(uuid.uuid4())
    else:
        value = "".join(random.choices(_ALPHABETS.get(kind, _ASCII), k=length))
    return value.upper() if call.hash.get("uppercase") is True else value.lower()


def _decimal(value: Any) -> Decimal:
    value = _plain(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value)) if not isinstance(value, bool) else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _math(call: Call) -> Any:
    if len(call.args) != 3:
        return _error(
            "All maths functions require two operands and an operator as parameters e.g. 3 '+' 2"
        )
    left, operator, right = _decimal(call.args[0]), to_text(call.args[1]), _decimal(call.args[2])
    try:
        if operator == "+":
            result = left + right
        elif operator == "-":
            result = left - right
        elif operator in ("*", "x"):
            result = left * right
        elif operator == "/":
            # Java's BigDecimal.divide(right, HALF_UP): the left operand's scale.
            exponent = min(0, int(left.as_tuple().exponent))
            result = (left / right).quantize(Decimal(1).scaleb(exponent), ROUND_HALF_UP)
        elif operator == "%":
            result = left % right
        else:
            return _error(f"{operator} is not a valid mathematical operator")
    except (DivisionByZero, InvalidOperation, ZeroDivisionError):
        return _error("Division by zero")
    if int(result.as_tuple().exponent) == 0:
        return int(result)
    return float(result)


# --- dates ----------------------------------------------------------------------------

_UNITS: Final = {"seconds", "minutes", "hours", "days", "months", "years"}


class RenderableDate:
    """What `now` returns: a moment with the format and zone it renders in."""

    __slots__ = ("format", "moment", "zone")

    def __init__(self, moment: dt.datetime, format: str | None, zone: dt.tzinfo | None) -> None:
        self.moment = moment
        self.format = format
        self.zone = zone

    def __str__(self) -> str:
        millis = int(self.moment.timestamp() * 1000)
        if self.format == "epoch":
            return str(millis)
        if self.format == "unix":
            return str(millis // 1000)
        local = self.moment.astimezone(self.zone or dt.UTC)
        if self.format is not None:
            return "".join(part(local) for part in _java_format(self.format))
        if self.zone is None:
            return local.strftime("%Y-%m-%dT%H:%M:%SZ")
        offset = local.strftime("%z")
        if offset in ("+0000", "-0000"):
            return local.strftime("%Y-%m-%dT%H:%M:%SZ")
        return local.strftime("%Y-%m-%dT%H:%M:%S") + offset[:3] + ":" + offset[3:]


def _shift(moment: dt.datetime, offset: str) -> dt.datetime | str:
    parts = offset.split()
    if offset.strip().lower() == "now":
        return moment
    if len(parts) == 3 and parts[0].lower() == "now":
        parts = parts[1:]
    if len(parts) != 2 or parts[1].lower() not in _UNITS:
        return _error(
            f"offset {offset!r}: give <amount> <unit> (seconds, minutes, hours, days, "
            "months, years), e.g. '3 days' or '-24 seconds'"
        )
    try:
        amount = int(parts[0])
    except ValueError:
        return _error(f"offset {offset!r}: the amount must be a whole number")
    unit = parts[1].lower()
    if unit in ("months", "years"):
        months = moment.month - 1 + amount * (12 if unit == "years" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        if not 1 <= year <= 9999:
            return _error(f"offset {offset!r} leaves the years 1-9999")
        day = min(moment.day, _days_in(year, month))
        return moment.replace(year=year, month=month, day=day)
    try:
        return moment + dt.timedelta(**{unit: amount})
    except OverflowError:
        return _error(f"offset {offset!r} leaves the years 1-9999")


def _days_in(year: int, month: int) -> int:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return (following - dt.timedelta(days=1)).day


def _now(call: Call) -> Any:
    moment = dt.datetime.now(dt.UTC)
    zone: dt.tzinfo | None = None
    timezone = call.hash.get("timezone")
    if timezone is not None:
        try:
            zone = ZoneInfo(to_text(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return _error(f"unknown timezone {timezone!r}, e.g. 'Europe/Paris' or 'UTC'")
    offset = call.hash.get("offset")
    if offset is not None:
        shifted = _shift(moment, to_text(offset))
        if isinstance(shifted, str):
            return shifted
        moment = shifted
    format = call.hash.get("format")
    return RenderableDate(moment, None if format is None else to_text(format), zone)


_Part = Callable[[dt.datetime], str]


def _zone_offset(moment: dt.datetime, colon: bool, z_for_zero: bool) -> str:
    offset = moment.strftime("%z")
    if z_for_zero and offset in ("+0000", "-0000", ""):
        return "Z"
    return offset[:3] + ":" + offset[3:] if colon else offset


_FIELDS: Final[dict[str, Callable[[int], _Part]]] = {
    "y": lambda n: (lambda m: f"{m.year % 100:02d}") if n == 2 else (lambda m: f"{m.year:0{n}d}"),
    "u": lambda n: lambda m: f"{m.year:0{n}d}",
    "M": lambda n: (
        (lambda m: m.strftime("%B"))
        if n >= 4
        else (lambda m: m.strftime("%b"))
        if n == 3
        else (lambda m: f"{m.month:0{n}d}")
    ),
    "d": lambda n: lambda m: f"{m.day:0{n}d}",
    "D": lambda n: lambda m: f"{m.timetuple().tm_yday:0{n}d}",
    "H": lambda n: lambda m: f"{m.hour:0{n}d}",
    "h": lambda n: lambda m: f"{(m.hour % 12) or 12:0{n}d}",
    "m": lambda n: lambda m: f"{m.minute:0{n}d}",
    "s": lambda n: lambda m: f"{m.second:0{n}d}",
    "S": lambda n: lambda m: f"{m.microsecond:06d}"[:n].ljust(n, "0"),
    "a": lambda n: lambda m: m.strftime("%p"),
    "E": lambda n: (lambda m: m.strftime("%A")) if n >= 4 else (lambda m: m.strftime("%a")),
    "Z": lambda n: lambda m: _zone_offset(m, colon=n >= 4, z_for_zero=False),
    "X": lambda n: lambda m: _zone_offset(m, colon=n >= 3, z_for_zero=True),
    "x": lambda n: lambda m: _zone_offset(m, colon=n >= 3, z_for_zero=False),
    "z": lambda n: lambda m: m.strftime("%Z"),
    "V": lambda n: lambda m: str(getattr(m.tzinfo, "key", "UTC")),
}


def _literal(text: str) -> _Part:
    return lambda moment: text


@lru_cache(maxsize=256)
def _java_format(pattern: str) -> tuple[_Part, ...]:
    """A Java `DateTimeFormatter` pattern as the pieces that render it."""
    parts: list[_Part] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            end = len(pattern) if end < 0 else end
            literal = pattern[index + 1 : end] or "'"
            parts.append(_literal(literal))
            index = end + 1
            continue
        run = 1
        while index + run < len(pattern) and pattern[index + run] == char:
            run += 1
        field = _FIELDS.get(char)
        if field is not None:
            parts.append(field(run))
        else:
            parts.append(_literal(char * run))
        index += run
    return tuple(parts)


_STANDARD: Final = get_standard_helpers()

#: Every helper a template may call, by name.
HELPERS: Final[dict[str, Any]] = {
    "if": _STANDARD["if"],
    "unless": _STANDARD["unless"],
    "with": _STANDARD["with"],
    "lookup": _STANDARD["lookup"],
    "each": _each,
    **{
        name: _helper(fn)
        for name, fn in {
            "eq": _eq,
            "neq": _neq,
            "gt": _gt,
            "gte": _gte,
            "lt": _lt,
            "lte": _lte,
            "and": _and,
            "or": _or,
            "not": _not,
            "contains": _contains,
            "matches": _matches,
            "upper": _upper,
            "lower": _lower,
            "capitalize": _capitalize,
            "trim": _trim,
            "size": _size,
            "base64": _base64,
            "urlEncode": _url_encode,
            "regexExtract": _regex_extract,
            "jsonPath": _json_path,
            "parseJson": _parse_json,
            "toJson": _to_json,
            "array": _array,
            "range": _range,
            "pickRandom": _pick_random,
            "randomValue": _random_value,
            "math": _math,
            "now": _now,
        }.items()
    },
}
