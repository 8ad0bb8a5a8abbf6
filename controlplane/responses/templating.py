"""Response templates: Handlebars text rendered per request over WireMock's request model.

The rest of the server sees templates through this module only. The engine
(`pydantic-handlebars`, with pydantic) is loaded by `template_engine` (parsing, checks,
rendering), `template_model` (the request model, how helpers are called),
`template_helpers` and `template_dates` (the helpers), and this module imports them only
when the first template is compiled: a server whose responses hold no `{{` starts
without them. Templates compile at registration
(`compile_template`: a syntax error, an unknown helper or nesting deeper than
`MAX_NESTING` is a `TemplateSyntaxError` the admin API answers 422); `Template.render`
runs once per request over a model built lazily from the `RequestView` (a template that
reads only the path never decodes the body or the headers).

The engine is `pydantic-handlebars` (pinned: its compiler is used below its public
`render()`, which converts the whole context on every call). It looks up only dict keys
and list indexes, never attributes, so a template reaches no Python object
(`{{request.__class__}}` renders nothing), and our helpers touch no file and no network.
Every render is bounded: at most `MAX_BLOCKS` block bodies (each `#each` turn is one),
`MAX_OUTPUT` characters out, `MAX_NESTING` levels; past a bound `render` raises
`TemplateLimit`, and a helper given what it cannot use raises `TemplateFailure`; the
responder turns either into a 500 with the admin API's error shape.

Error tree:

    ValueError
    └── TemplateSyntaxError      at registration (422 with its location)
    TemplateFailure              per request: `code` "template_error" (500)
    └── TemplateLimit            per request: `code` "template_limit" (500)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from multidict import CIMultiDict

from controlplane.logs import get_logger
from controlplane.request_view import RequestView
from controlplane.responses.outcome import Outcome, error_body, error_outcome

if TYPE_CHECKING:
    from controlplane.responses.template_engine import _Renderer
    from controlplane.responses.template_model import RequestModel

__all__ = [
    "MAX_BLOCKS",
    "MAX_NESTING",
    "MAX_OUTPUT",
    "Rendering",
    "Template",
    "TemplateFailure",
    "TemplateLimit",
    "TemplateSyntaxError",
    "compile_template",
    "compile_value",
    "has_mustache",
    "render_headers",
    "render_value",
    "template_failed",
]

_log = get_logger("mock")

#: Levels of blocks and subexpressions inside each other a template may have.
MAX_NESTING: Final = 32
#: Characters one rendered template may produce.
MAX_OUTPUT: Final = 1_048_576
#: Block bodies one render may run (each `#each` turn is one); also `range`'s length.
MAX_BLOCKS: Final = 10_000


class TemplateSyntaxError(ValueError):
    """A template that cannot be compiled; the message says where in it (line, column),
    `at` where it is in a structured body (`.items[2].name`)."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.at = at


class TemplateFailure(Exception):
    """A template that cannot be rendered for this request (a 500 `template_error`)."""

    code = "template_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateLimit(TemplateFailure):
    """A render that went past a bound (a 500 `template_limit`)."""

    code = "template_limit"


class Template:
    """One compiled template (`compile_template` makes them); `render` is safe to call
    for any request."""

    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source

    def render(self, rendering: Rendering) -> str:
        """The text for this request; raises `TemplateFailure` (or `TemplateLimit`)."""
        raise NotImplementedError


class Rendering:
    """One request's renders: the model every template of the response reads, and the
    bounds they share (block bodies and characters count across all of them)."""

    __slots__ = ("output", "renderer", "root")

    def __init__(self, view: RequestView, params: Mapping[str, str]) -> None:
        self.root: dict[str, Any] = {"request": _request_model()(view, params)}
        #: The engine's renderer, made by the first template that needs more than lookups.
        self.renderer: _Renderer | None = None
        self.output = 0

    def count(self, text: str) -> str:
        self.output += len(text)
        if self.output > MAX_OUTPUT:
            raise TemplateLimit(f"the template's output is over {MAX_OUTPUT} characters")
        return text


@functools.cache
def _request_model() -> type[RequestModel]:
    """The request model's class, imported with the engine on first use."""
    from controlplane.responses.template_model import RequestModel

    return RequestModel


def has_mustache(text: str) -> bool:
    """Whether `text` has anything for the engine to do (text without `{{` renders as is)."""
    return "{{" in text


def compile_template(source: str) -> Template:
    """Parse `source` once and check its helpers and nesting; raises `TemplateSyntaxError`.
    The first call loads the engine."""
    from controlplane.responses import template_engine

    return template_engine.compile_template(source)


class _Object:
    """A JSON object some of whose keys or values are templates."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[Any, Any]]) -> None:
        self.items = items


class _Array:
    """A JSON array some of whose items are templates."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


def compile_value(value: Any, at: str = "") -> Any:
    """`value` (a JSON-like body) with each string holding `{{` compiled to a `Template`.

    Subtrees without any template are kept as they are (rendering skips them). Raises
    `TemplateSyntaxError` whose message starts with the location (`body.items[2]`).
    """
    if isinstance(value, str):
        if not has_mustache(value):
            return value
        try:
            return compile_template(value)
        except TemplateSyntaxError as exc:
            raise TemplateSyntaxError(exc.message, at) from None
    if isinstance(value, dict):
        items = [
            (compile_value(k, f"{at}.{k}"), compile_value(v, f"{at}.{k}")) for k, v in value.items()
        ]
        if all(
            k is key and v is val for (k, v), (key, val) in zip(items, value.items(), strict=True)
        ):
            return value
        return _Object(items)
    if isinstance(value, list):
        compiled = [compile_value(v, f"{at}[{i}]") for i, v in enumerate(value)]
        if all(c is v for c, v in zip(compiled, value, strict=True)):
            return value
        return _Array(compiled)
    return value


def render_value(value: Any, rendering: Rendering) -> Any:
    """The body `compile_value` compiled, rendered for this request."""
    if isinstance(value, Template):
        return value.render(rendering)
    if isinstance(value, _Object):
        return {render_value(k, rendering): render_value(v, rendering) for k, v in value.items}
    if isinstance(value, _Array):
        return [render_value(v, rendering) for v in value.items]
    return value


_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def render_headers(headers: tuple[tuple[str, Any], ...], rendering: Rendering) -> CIMultiDict[str]:
    """Headers given as (name, text or `Template`), rendered; a control character in a
    rendered value (it would split the header) is a `TemplateFailure`."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers:
        if isinstance(value, Template):
            value = value.render(rendering)
            if _CONTROL.search(value):
                raise TemplateFailure(
                    f"header {name} rendered to a value with a control character "
                    f"(CR, LF, NUL or another): {value[:80]!r}"
                )
        out.add(name, value)
    return out


def template_failed(exc: TemplateFailure, type: str, delay_ms: float) -> Outcome:
    """The 500 a failed render answers, logged; the journal records `exc.code`."""
    _log.info("template_failed", code=exc.code, message=exc.message)
    return error_outcome(exc.code, error_body(exc.code, exc.message), type=type, delay_ms=delay_ms)
