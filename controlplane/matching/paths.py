"""Path patterns: exact paths, templates (`/users/{id}`, `/files/{path:.*}`) and `path_regex`.

A template parameter without a regex matches one non-empty segment (`[^/]+`); with a
regex (`{n:[0-9]+}`) it matches that regex, which may span `/`. Parameters may sit
inside a segment (`/v{version}/x`). Paths are compared as given: aiohttp has already
percent-decoded them, and a trailing slash is significant.

For the route index a template is also split into a *prefix* of simple segments
(a static string, or `None` for a one-segment parameter) and, from the first segment
that is anything else, a *tail*: a regex for the rest of the path, starting at its `/`.

User regexes (`path_regex`, a parameter's `{n:[0-9]+}`) compile with RE2
(`controlplane.regex`); a template without one is escaped literals and `[^/]+`, which
`re` matches faster and cannot backtrack badly on.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Literal

from controlplane.regex import UserMatch, UserRegex, compile_user
from controlplane.wire import PATH_PARAM

__all__ = [
    "COMPARED",
    "NO_PARAMS",
    "Match",
    "PathPattern",
    "Regex",
    "compile_path",
    "regex_skeleton",
]

#: A compiled full-match regex: RE2 for anything a user wrote, `re` for our own.
Regex = re.Pattern[str] | UserRegex
#: What such a regex's `fullmatch` returns on a match.
Match = re.Match[str] | UserMatch

#: The params of an exact path: one shared dict, so a match allocates nothing.
#: Never mutated (params are read, journaled and echoed, never written).
NO_PARAMS: dict[str, str] = {}

#: Characters of each side near misses compare: bounded work for long paths and urls.
COMPARED = 256

PathKind = Literal["exact", "template", "regex"]


class PathPattern:
    """A compiled path or path_regex; `match` returns the path params or None."""

    __slots__ = (
        "_head",
        "_names",
        "_regex",
        "_tail_names",
        "_wild_names",
        "kind",
        "one_name",
        "prefix",
        "skeleton",
        "source",
        "tail",
        "tail_source",
    )

    def __init__(
        self,
        kind: PathKind,
        source: str,
        regex: Regex | None = None,
        names: tuple[str, ...] = (),
        prefix: tuple[str | None, ...] = (),
        tail_source: str | None = None,
        wild_names: tuple[str, ...] = (),
    ) -> None:
        self.kind: PathKind = kind
        self.source = source
        # A template's full-match regex is compiled on its first use (`regex`): the route
        # index reads only the prefix and the tail, and compiling it was 80% of what
        # registering a template route cost.
        self._regex = regex
        #: The params' names when the regex has named groups beyond them (a parameter's
        #: own regex may define some); empty when groupdict() gives exactly the params.
        self._names = names
        #: Templates only: leading segments, a string (static) or None (any one segment).
        self.prefix = prefix
        #: Templates only: the rest of the template from its first complex segment, if any.
        self.tail_source = tail_source
        self.tail: Regex | None = None
        #: The tail's parameter names (its match gives exactly these).
        self._tail_names: tuple[str, ...] = ()
        if tail_source is not None:
            self.tail, self._tail_names = _compile_template(tail_source)
        #: The names of the prefix's parameters, in order (one per `None` in `prefix`).
        self._wild_names = wild_names
        #: The name of a template's only parameter, a whole segment (`/users/{id}`): its
        #: params are a one-entry dict built without `zip` (a quarter of the instructions),
        #: by `params` or by the route index itself (`{one_name: segment}`).
        self.one_name = wild_names[0] if len(wild_names) == 1 and tail_source is None else None
        # Static segments then a tail: every param is in the tail, which the route index
        # has just matched at the same place (a user regex remembers that answer), so
        # `match` reads the params from the tail instead of running a second regex.
        self._head = (
            "".join(f"/{segment}" for segment in prefix)
            if self.tail is not None and None not in prefix
            else None
        )
        #: The literal text a matching path contains, for near misses: an exact path
        #: itself, a template without its parameters, a regex's literal characters;
        #: its first `COMPARED` characters, the ones near misses compare.
        self.skeleton = (
            source
            if kind == "exact"
            else PATH_PARAM.sub("", source)
            if kind == "template"
            else regex_skeleton(source)
        )[:COMPARED]

    @property
    def regex(self) -> Regex | None:
        """The full-match regex of a template or path_regex (None for an exact path)."""
        regex = self._regex
        if regex is None and self.kind == "template":
            regex = self._regex = _compile_template(self.source)[0]
        return regex

    def match(self, path: str) -> dict[str, str] | None:
        """The path params when `path` matches ({} for an exact path), else None."""
        if self.kind == "exact":
            return NO_PARAMS if path == self.source else None
        if self._head is None:
            regex = self.regex
            assert regex is not None  # a template's or a path_regex's
            found = regex.fullmatch(path)
        elif path.startswith(self._head):
            assert self.tail is not None  # a head is set only with a tail
            found = self.tail.fullmatch(path, len(self._head))
        else:
            return None
        if found is None:
            return None
        if self._names:
            # Only the declared names: a parameter's own regex may define groups too.
            return {name: found.group(name) for name in self._names}
        if self.kind == "template":
            return found.groupdict()  # every param group takes part in a match
        # Optional named groups that did not take part have no value to report.
        return {k: v for k, v in found.groupdict().items() if v is not None}

    def params(self, wild: tuple[str, ...], found: Match | None) -> dict[str, str]:
        """The path params of a path the route index has matched to this pattern, from
        what it read on the way: the segments where the prefix has parameters (`wild`,
        in order) and the match of the tail (a template's) or of the whole path (a
        path_regex's). The same as `match` gives that path, without matching it again."""
        one = self.one_name
        if one is not None:
            return {one: wild[0]}
        if self.kind == "template":
            params = dict(zip(self._wild_names, wild))  # noqa: B905 (equal by construction)
            if found is not None:
                for name in self._tail_names:
                    params[name] = found.group(name)
            return params
        if found is None:
            return NO_PARAMS
        return {k: v for k, v in found.groupdict().items() if v is not None}

    def __repr__(self) -> str:
        return f"PathPattern({self.kind}, {self.source!r})"


_CLASS_ESCAPES = frozenset("dDwWsSbBAZ")
_REGEX_SYNTAX = frozenset("^$.*+?|()")
_QUANTIFIER = re.compile(r"\{\d*(?:,\d*)?\}")


def regex_skeleton(pattern: str) -> str:
    """The literal characters of `pattern`, in order: `/users/[0-9]+` -> `/users/`.

    Character classes, escapes such as `\\d`, group syntax, anchors, quantifiers and
    alternation bars are dropped; an escaped character is kept as itself. Near misses
    compare it with a path, so a regex route far from the request ranks after a close one.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            if pattern[i + 1] not in _CLASS_ESCAPES:
                out.append(pattern[i + 1])
            i += 2
        elif ch == "[":
            i += 1
            if i < n and pattern[i] == "]":
                i += 1  # a leading `]` is a member of the class
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
        elif ch == "(" and pattern.startswith("?", i + 1):
            # (?:  (?P<name>  (?s)  (?=  (?!  (?<=  (?<!: skip the group's syntax only.
            end = i + 2
            while end < n and pattern[end] not in ":>)=!":
                end += 1
            i = end + 1
        elif ch == "{" and (quantifier := _QUANTIFIER.match(pattern, i)) is not None:
            i = quantifier.end()
        else:
            if ch not in _REGEX_SYNTAX:
                out.append(ch)
            i += 1
    return "".join(out)


def _compile_template(template: str) -> tuple[Regex, tuple[str, ...]]:
    """A full-match regex for `template` and the parameter names in order.

    RE2 when a parameter has a regex of its own (the user's), else `re`.
    """
    parts: list[str] = []
    names: list[str] = []
    end = 0
    custom_regex = False
    for param in PATH_PARAM.finditer(template):
        name, custom = param.group(1), param.group(2)
        names.append(name)
        parts.append(re.escape(template[end : param.start()]))
        parts.append(f"(?P<{name}>[^/]+)" if custom is None else f"(?P<{name}>(?:{custom}))")
        custom_regex = custom_regex or custom is not None
        end = param.end()
    parts.append(re.escape(template[end:]))  # re.escape's output is valid RE2 too
    source = "".join(parts)
    return (compile_user(source) if custom_regex else re.compile(source)), tuple(names)


def _declared_names(params: list[re.Match[str]], template: str) -> tuple[str, ...]:
    """The names a template's match gives when its full regex has other named groups
    too (a parameter's own regex may: `{date:(?P<y>[0-9]{4})-..}`), else (); ValueError
    when a name appears twice."""
    names: list[str] = []
    for param in params:
        name = param.group(1)
        if name in names:
            raise ValueError(f"path parameter {{{name}}} appears twice in {template!r}")
        names.append(name)
    # `(?` opens every named group (and other groups, which only cost a slower match).
    grouped = any("(?" in (param.group(2) or "") for param in params)
    return tuple(names) if grouped else ()


def _split_template(
    params: list[re.Match[str]], template: str
) -> tuple[tuple[str | None, ...], tuple[str, ...], str | None]:
    """The simple-segment prefix of a template, the names of its prefix's parameters
    (in order) and the source of its tail (or None)."""
    # Segment boundaries are the slashes outside parameters (a param regex may hold '/').
    inside = {i for p in params for i in range(p.start(), p.end())}
    slashes = [i for i, ch in enumerate(template) if ch == "/" and i not in inside]
    slashes.append(len(template))
    prefix: list[str | None] = []
    wild_names: list[str] = []
    for start, stop in pairwise(slashes):
        segment = template[start + 1 : stop]
        in_segment = [p for p in params if start < p.start() < stop]
        if not in_segment:
            prefix.append(segment)
        elif (
            len(in_segment) == 1
            and in_segment[0].group(2) is None
            and in_segment[0].group(0) == segment
        ):
            prefix.append(None)
            wild_names.append(in_segment[0].group(1))
        else:
            return tuple(prefix), tuple(wild_names), template[start:]
    return tuple(prefix), tuple(wild_names), None


def compile_path(path: str | None, path_regex: str | None) -> PathPattern:
    """Compile exactly one of `path` (exact or template) and `path_regex`."""
    if (path is None) == (path_regex is None):
        raise ValueError("give exactly one of `path` and `path_regex`")
    if path_regex is not None:
        return PathPattern("regex", path_regex, compile_user(path_regex))
    assert path is not None
    params = list(PATH_PARAM.finditer(path))
    if not params:
        return PathPattern("exact", path)
    names = _declared_names(params, path)
    prefix, wild_names, tail_source = _split_template(params, path)
    return PathPattern("template", path, None, names, prefix, tail_source, wild_names)
