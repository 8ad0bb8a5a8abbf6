"""WireMock's template helpers, by name (`HELPERS`), with WireMock's semantics.

A helper given arguments it cannot use renders `[ERROR: ...]` in place, as WireMock's
do; one that would exceed a bound (`range` over more than `MAX_BLOCKS` numbers,
`randomValue` longer than `MAX_OUTPUT`) raises `TemplateLimit`. No helper reads a
file, the environment or the network.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import string
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, DecimalException, DivisionByZero, InvalidOperation
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote_plus, unquote_plus

import msgspec
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_jsonpath
from pydantic_handlebars._compiler import HelperOptions
from pydantic_handlebars._helpers import get_standard_helpers
from pydantic_handlebars._utils import is_falsy

from controlplane.regex import RegexError, compile_search
from controlplane.request_view import NOT_JSON
from controlplane.responses.template_dates import now
from controlplane.responses.template_model import (
    MAX_BLOCKS,
    MAX_OUTPUT,
    BodyText,
    Call,
    JavaList,
    JsonObject,
    Many,
    Query,
    TemplateLimit,
    error_text,
    helper,
    plain,
    to_text,
    wrap_json,
)

__all__ = ["HELPERS"]


def _each(*args: Any, options: HelperOptions) -> Any:
    if len(args) > 1 and isinstance(args[1], Many):
        args = (args[0], JavaList(args[1].entries), *args[2:])
    elif len(args) > 1 and isinstance(args[1], Query):
        args = (args[0], args[1].all(), *args[2:])
    return _STANDARD["each"](*args, options=options)


def _compare(call: Call, test: Callable[[Any, Any], bool]) -> Any:
    if len(call.args) < 2:
        return error_text("comparisons need two values, e.g. {{#eq a 'b'}}")
    left, right = plain(call.args[0]), plain(call.args[1])
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
    haystack, needle = plain(call.arg(0)), plain(call.arg(1))
    if isinstance(haystack, list):
        found = needle in haystack
    else:
        found = to_text(needle) in to_text(haystack)
    return call.branch(found)


def _matches(call: Call) -> Any:
    pattern = _regex(to_text(call.arg(1)))
    if pattern is None:
        return error_text(f"Invalid regex string {to_text(call.arg(1))}")
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
    if isinstance(value, Query):
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
            return error_text(f"{value!r} is not base64")
    encoded = base64.b64encode(value.encode("utf-8")).decode()
    return encoded if call.hash.get("padding", True) is not False else encoded.rstrip("=")


def _url_encode(call: Call) -> str:
    value = _text_arg(call)
    if call.hash.get("decode") is True:
        return unquote_plus(value)
    # Java's URLEncoder: keeps letters, digits and `.-*_`; a space becomes `+`.
    return quote_plus(value, safe="*").replace("~", "%7E")


def _regex(pattern: str) -> Any:
    """The pattern on RE2 (linear time, as every user pattern), or None if refused."""
    try:
        return compile_search(pattern)
    except RegexError:
        return None


def _regex_extract(call: Call) -> Any:
    source = _text_arg(call) if call.block else to_text(plain(call.arg(0)))
    pattern_text = to_text(call.arg(1))
    pattern = _regex(pattern_text)
    if pattern is None:
        return error_text(f"Invalid regex string {pattern_text}")
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
    return default if default is not None else error_text(f"Nothing matched {pattern_text}")


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
        return error_text("The JSONPath cannot be empty")
    document: Any
    if isinstance(source, BodyText) and source.view is not None:
        document = source.view.json
    elif isinstance(source, str | Many):
        try:
            document = msgspec.json.decode(str(source))
        except msgspec.DecodeError:
            return error_text(f"{source} is not valid JSON")
    else:
        document = source
    if document is NOT_JSON:
        return error_text(f"{source} is not valid JSON")
    compiled = _jsonpath(path)
    if compiled is None:
        return error_text(f"{path} is not a valid JSONPath expression")
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
            return error_text("Missing required JSON string parameter")
        text, variable = to_text(plain(call.arg(0))), call.arg(1)
    stripped = text.strip()
    try:
        value = wrap_json(msgspec.json.decode(stripped)) if stripped else JsonObject()
    except msgspec.DecodeError:
        return error_text(f"{stripped[:40]} is not valid JSON")
    if variable is not None:
        call.assign(to_text(variable), value)
        return ""
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Many):
        items = [_jsonable(v) for v in value.entries]
        return items[0] if len(items) == 1 else items
    if isinstance(value, Query):
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
    """A whole number (as Java's int would hold one), or None."""
    try:
        decimal = Decimal(str(plain(value)))
        # Checked before `int`: `1e999999999` as an int would take gigabytes.
        if not decimal.is_finite() or decimal.adjusted() > 10:
            return None
        number = int(decimal)
    except (DecimalException, ValueError):
        return None
    return number if -(2**31) <= number < 2**31 else None


def _range(call: Call) -> Any:
    lower, upper = _int(call.arg(0)), _int(call.arg(1))
    if lower is None or upper is None:
        return error_text(
            "The range helper requires both lower and upper bounds as integer parameters"
        )
    if upper - lower + 1 > MAX_BLOCKS:
        raise TemplateLimit(
            f"`range {lower} {upper}` has {upper - lower + 1} numbers; at most {MAX_BLOCKS}"
        )
    return JavaList(range(lower, upper + 1))


def _pick_random(call: Call) -> Any:
    if not call.args:
        return error_text(
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
        return error_text("`length` must be a number of characters, e.g. length=8")
    if length > MAX_OUTPUT:
        raise TemplateLimit(f"randomValue length={length} is over {MAX_OUTPUT} characters")
    if kind == "UUID":
        value = str(uuid.uuid4())
    else:
        value = "".join(random.choices(_ALPHABETS.get(kind, _ASCII), k=length))
    return value.upper() if call.hash.get("uppercase") is True else value.lower()


def _decimal(value: Any) -> Decimal:
    """A number as Java's BigDecimal would read it; what is no finite number counts 0."""
    value = plain(value)
    if isinstance(value, bool):
        return Decimal(0)
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def _math(call: Call) -> Any:
    if len(call.args) != 3:
        return error_text(
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
            return error_text(f"{operator} is not a valid mathematical operator")
    except (DivisionByZero, ZeroDivisionError):
        return error_text("Division by zero")
    except DecimalException as exc:
        return error_text(f"{type(exc).__name__} in {left} {operator} {right}")
    if int(result.as_tuple().exponent) == 0:
        return int(result)
    return float(result)


_STANDARD: Final = get_standard_helpers()

#: Every helper a template may call, by name.
HELPERS: Final[dict[str, Any]] = {
    "if": _STANDARD["if"],
    "unless": _STANDARD["unless"],
    "with": _STANDARD["with"],
    "lookup": _STANDARD["lookup"],
    "each": _each,
    **{
        name: helper(fn)
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
            "now": now,
        }.items()
    },
}
