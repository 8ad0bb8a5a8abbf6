"""Response templates: Handlebars text rendered per request over WireMock's request model.

The rest of the server sees templates through this module only; the engine is imported
here and by `template_model` (the request model, how helpers are called),
`template_helpers` and `template_dates` (the helpers). Templates compile at registration
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

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from multidict import CIMultiDict
from pydantic_handlebars import HandlebarsError, HandlebarsParseError
from pydantic_handlebars._ast_nodes import (
    BlockStatement,
    ContentStatement,
    MustacheStatement,
    PathExpression,
    Program,
    StringLiteral,
    SubExpression,
)
from pydantic_handlebars._compiler import _MISSING, Compiler, _get_property
from pydantic_handlebars._parser import parse
from pydantic_handlebars._utils import to_string

from controlplane.logs import get_logger
from controlplane.request_view import RequestView
from controlplane.responses.outcome import Outcome, error_body, error_outcome
from controlplane.responses.template_helpers import HELPERS
from controlplane.responses.template_model import (
    MAX_BLOCKS,
    MAX_OUTPUT,
    NO_ARGS,
    RequestModel,
    TemplateFailure,
    TemplateLimit,
)

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


class TemplateSyntaxError(ValueError):
    """A template that cannot be compiled; the message says where in it (line, column),
    `at` where it is in a structured body (`.items[2].name`)."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.at = at


class _Renderer(Compiler):
    """The engine's renderer with a budget of block bodies (it counts every program)."""

    def __init__(self) -> None:
        super().__init__(HELPERS, max_depth=MAX_NESTING + 2, max_output_size=MAX_OUTPUT)
        self.blocks = 0

    def _render_program(self, program: Program, scope: Any) -> str:
        self.blocks += 1
        if self.blocks > MAX_BLOCKS:
            raise TemplateLimit(
                f"the template rendered more than {MAX_BLOCKS} block bodies "
                "(`#each` turns count one each): loop over less"
            )
        return super()._render_program(program, scope)


class Rendering:
    """One request's renders: the model every template of the response reads, and the
    bounds they share (block bodies and characters count across all of them)."""

    __slots__ = ("_renderer", "output", "root")

    def __init__(self, view: RequestView, params: Mapping[str, str]) -> None:
        self.root: dict[str, Any] = {"request": RequestModel(view, params)}
        self._renderer: _Renderer | None = None
        self.output = 0

    def run(self, program: Program) -> str:
        renderer = self._renderer
        if renderer is None:
            renderer = self._renderer = _Renderer()
        try:
            text: str = renderer.render(program, self.root)
        except TemplateFailure:
            raise
        except HandlebarsError as exc:
            message = str(exc)
            if message.startswith("Output size"):
                raise TemplateLimit(
                    f"the template's output is over {MAX_OUTPUT} characters"
                ) from None
            if message.startswith("Maximum nesting"):
                raise TemplateLimit(f"the template nests over {MAX_NESTING} levels") from None
            raise TemplateFailure(message) from None
        except RecursionError:
            raise TemplateLimit(f"the template nests over {MAX_NESTING} levels") from None
        except Exception as exc:  # a helper's bug must not become aiohttp's bare 500
            _log.error("template_crashed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
            raise TemplateFailure(f"the template failed: {type(exc).__name__}: {exc}") from None
        return self.count(text)

    def count(self, text: str) -> str:
        self.output += len(text)
        if self.output > MAX_OUTPUT:
            raise TemplateLimit(f"the template's output is over {MAX_OUTPUT} characters")
        return text


#: A template that is only text and `{{a.b.c}}` lookups, as text pieces and key paths.
_Lookups = tuple[str | tuple[str, ...], ...]


class Template:
    """One compiled template; `render` is safe to call for any request."""

    __slots__ = ("_lookups", "_program", "source")

    def __init__(self, source: str, program: Program) -> None:
        self.source = source
        self._program = program
        self._lookups = _lookups(program)

    def render(self, rendering: Rendering) -> str:
        """The text for this request; raises `TemplateFailure` (or `TemplateLimit`)."""
        lookups = self._lookups
        if lookups is None:
            return rendering.run(self._program)
        # The engine's own rules (its `_get_property`, its `to_string`), without its
        # per-render set-up: most templates only look values up.
        pieces: list[str] = []
        for piece in lookups:
            if isinstance(piece, str):
                pieces.append(piece)
                continue
            value: Any = rendering.root
            for key in piece:
                if isinstance(value, dict):
                    value = value.get(key)
                else:
                    value = _get_property(value, key)
                    if value is _MISSING:
                        value = None
                if value is None:
                    break
            pieces.append(value if type(value) is str else to_string(value))
        return rendering.count("".join(pieces))


def _lookups(program: Program) -> _Lookups | None:
    """`program` as text and key paths when that is all it is (no helper, block, `~`)."""
    pieces: list[str | tuple[str, ...]] = []
    for statement in program.body:
        if isinstance(statement, ContentStatement):
            pieces.append(statement.value)
            continue
        if not isinstance(statement, MustacheStatement) or statement.params:
            return None
        path = statement.path
        if (
            statement.hash_pairs
            or statement.strip.open_standalone
            or statement.strip.close_standalone
            or not isinstance(path, PathExpression)
            or path.data
            or path.depth
            or path.is_this
            or not path.parts
            or path.parts[0] in HELPERS
        ):
            return None
        pieces.append(tuple(path.parts))
    return tuple(pieces)


def has_mustache(text: str) -> bool:
    """Whether `text` has anything for the engine to do (text without `{{` renders as is)."""
    return "{{" in text


def compile_template(source: str) -> Template:
    """Parse `source` once and check its helpers and nesting; raises `TemplateSyntaxError`."""
    try:
        program = parse(source)
    except HandlebarsParseError as exc:
        raise TemplateSyntaxError(f"template syntax error: {exc}") from None
    except RecursionError:
        raise TemplateSyntaxError(
            f"template nests too deep: at most {MAX_NESTING} levels of blocks and subexpressions"
        ) from None
    _check(program)
    return Template(source, program)


def _children(node: Any) -> Iterator[Any]:
    """The nodes directly inside `node` that can nest further."""
    if isinstance(node, Program):
        yield from node.body
        return
    if isinstance(node, MustacheStatement | BlockStatement | SubExpression):
        yield from (p for p in node.params if isinstance(p, SubExpression))
        yield from (v for v in node.hash_pairs.values() if isinstance(v, SubExpression))
        if isinstance(node.path, SubExpression):
            yield node.path
    if isinstance(node, BlockStatement):
        yield node.body
        if node.inverse is not None:
            yield node.inverse


def _check(program: Program) -> None:
    """Refuse unknown helpers and nesting beyond `MAX_NESTING` (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(program, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, BlockStatement | SubExpression):
            depth += 1
            if depth > MAX_NESTING:
                raise TemplateSyntaxError(
                    f"template nests too deep: at most {MAX_NESTING} levels of blocks and "
                    "subexpressions"
                )
        name = _called(node)
        if name in _WIREMOCK_ONLY or (name is None and _named(node) in _WIREMOCK_ONLY):
            raise TemplateSyntaxError(
                f"helper `{name or _named(node)}` is WireMock's and controlplane does not "
                "provide it (see the templating reference for the helpers it has)"
            )
        if name is not None and name not in HELPERS:
            known = ", ".join(sorted(HELPERS))
            raise TemplateSyntaxError(f"unknown helper `{name}`; the helpers are: {known}")
        if _bare_call(node):
            # Without it the engine passes the current context as the first argument.
            node.params = [StringLiteral(NO_ARGS, "")]
        stack.extend((child, depth) for child in _children(node))


#: The engine's own block helpers, which expect its calling convention.
_ENGINE_HELPERS: Final = frozenset(("if", "unless", "with", "lookup", "each"))


def _bare_call(node: Any) -> bool:
    """Whether `node` is `{{helper}}` or `{{helper key=value}}`: one of ours, no arguments."""
    if not isinstance(node, MustacheStatement) or node.params:
        return False
    path = node.path
    return (
        isinstance(path, PathExpression)
        and len(path.parts) == 1
        and not (path.data or path.depth or path.is_this)
        and path.original in HELPERS
        and path.original not in _ENGINE_HELPERS
    )


#: WireMock's helpers that controlplane does not provide: named, they are a 422 even
#: without arguments (where Handlebars would otherwise look them up as a value).
_WIREMOCK_ONLY: Final = frozenset(
    (
        "xPath",
        "soapXPath",
        "formatXml",
        "formatJson",
        "jsonArrayAdd",
        "jsonMerge",
        "jsonRemove",
        "jsonSort",
        "parseDate",
        "date",
        "truncateDate",
        "randomInt",
        "randomDecimal",
        "numberFormat",
        "formData",
        "val",
        "assign",
        "arrayAdd",
        "arrayRemove",
        "arrayJoin",
        "hostname",
        "systemValue",
    )
)


def _named(node: Any) -> str | None:
    """The single name a mustache, block or subexpression starts with, if it is one."""
    if not isinstance(node, MustacheStatement | BlockStatement | SubExpression):
        return None
    path = node.path
    if not isinstance(path, PathExpression) or path.data or path.depth or path.is_this:
        return None
    return path.original if len(path.parts) == 1 else None


def _called(node: Any) -> str | None:
    """The helper `node` calls, when it must be one (it has arguments or is a block/sub)."""
    if not isinstance(node, MustacheStatement | BlockStatement | SubExpression):
        return None
    path = node.path
    if not isinstance(path, PathExpression) or path.data or path.depth or path.is_this:
        return None
    if isinstance(node, SubExpression) or node.params or node.hash_pairs:
        return path.original
    return None


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
