"""What a response template sees: WireMock's request model, and how helpers are called.

`RequestModel` is `request` in a template: a dict whose entries are built on first
lookup from the `RequestView`. Values that can be one or many (query parameters,
headers, cookies, path segments) are `Many`: it renders as its first value and answers
`.first`, `.last`, `.[n]` (WireMock's `ListOrSingle`, negative indexes included:
`-1` is the one before the last). Everything here is a dict, a list or a scalar, the
only things the engine looks into. `Call` is one helper call as our helpers see it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import msgspec
from pydantic_handlebars._compiler import HelperOptions, _noop_block
from pydantic_handlebars._utils import to_string

from controlplane.request_view import RequestView
from controlplane.responses.templating import (
    MAX_BLOCKS,
    MAX_OUTPUT,
    TemplateFailure,
    TemplateLimit,
)

__all__ = [
    "MAX_BLOCKS",
    "MAX_OUTPUT",
    "NO_ARGS",
    "BodyText",
    "Call",
    "JavaList",
    "JsonArray",
    "JsonObject",
    "Many",
    "Query",
    "RequestModel",
    "TemplateFailure",
    "TemplateLimit",
    "error_text",
    "helper",
    "plain",
    "to_text",
    "wrap_json",
]

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


def plain(value: Any) -> Any:
    """A one-or-many value as the text it renders to, for comparisons."""
    return str(value) if isinstance(value, Many) else value


class BodyText(str):
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


class Query(dict[str, Many]):
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


def _body(view: RequestView) -> BodyText:
    text = BodyText(view.text or "")
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
    "query": lambda view, params: Query(view),
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


def helper(fn: Callable[[Call], Any]) -> Helper:
    def call(*args: Any, options: HelperOptions) -> Any:
        return fn(Call(args, options))

    call.__name__ = fn.__name__
    return call


def error_text(message: str) -> str:
    """WireMock's in-place error text, `[ERROR: message]`."""
    return f"[ERROR: {message}]"
