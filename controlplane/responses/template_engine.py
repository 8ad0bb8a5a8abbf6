"""The template engine behind `controlplane.responses.templating`: parsing, checking and
rendering with `pydantic-handlebars`.

`templating` imports this module only when a template is compiled, so a server whose
responses hold no `{{` never loads the engine (about 65 ms of start-up: pydantic with it).
Nothing else imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

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
from controlplane.responses.template_helpers import HELPERS
from controlplane.responses.template_model import NO_ARGS
from controlplane.responses.templating import (
    MAX_BLOCKS,
    MAX_NESTING,
    MAX_OUTPUT,
    Rendering,
    Template,
    TemplateFailure,
    TemplateLimit,
    TemplateSyntaxError,
)

__all__ = ["CompiledTemplate", "compile_template", "run"]

_log = get_logger("mock")


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


def run(rendering: Rendering, program: Program) -> str:
    """`program` rendered with `rendering`'s model, within its bounds."""
    renderer = rendering.renderer
    if renderer is None:
        renderer = rendering.renderer = _Renderer()
    try:
        text: str = renderer.render(program, rendering.root)
    except TemplateFailure:
        raise
    except HandlebarsError as exc:
        message = str(exc)
        if message.startswith("Output size"):
            raise TemplateLimit(f"the template's output is over {MAX_OUTPUT} characters") from None
        if message.startswith("Maximum nesting"):
            raise TemplateLimit(f"the template nests over {MAX_NESTING} levels") from None
        raise TemplateFailure(message) from None
    except RecursionError:
        raise TemplateLimit(f"the template nests over {MAX_NESTING} levels") from None
    except Exception as exc:  # a helper's bug must not become aiohttp's bare 500
        _log.error("template_crashed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
        raise TemplateFailure(f"the template failed: {type(exc).__name__}: {exc}") from None
    return rendering.count(text)


#: A template that is only text and `{{a.b.c}}` lookups, as text pieces and key paths.
_Lookups = tuple[str | tuple[str, ...], ...]


class CompiledTemplate(Template):
    """One compiled template; `render` is safe to call for any request."""

    __slots__ = ("_lookups", "_program")

    def __init__(self, source: str, program: Program) -> None:
        super().__init__(source)
        self._program = program
        self._lookups = _lookups(program)

    def render(self, rendering: Rendering) -> str:
        """The text for this request; raises `TemplateFailure` (or `TemplateLimit`)."""
        lookups = self._lookups
        if lookups is None:
            return run(rendering, self._program)
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


def compile_template(source: str) -> CompiledTemplate:
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
    return CompiledTemplate(source, program)


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
