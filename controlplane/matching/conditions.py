"""Match conditions beyond method and path (`wire.Match`), compiled once per route.

`CompiledMatch.__call__` is the hot path: checks run cheapest first (headers before
query before cookies, byte comparisons before decoding, JSON last) and stop at the
first failure. `CompiledMatch.diffs` is the slow path for near misses and explains
every failing condition. A route whose conditions read only the body, the query
string and headers' first values remembers what the last request they all held for
sent (`Remembered`): the same request again holds without asking them.

JSON semantics (`json` equality, `json_subset`, `json_compare`'s leniencies and
placeholders) are `json_equality`'s.

- All fail when the body is not JSON, and so does every `json_path` condition.
- A `json_path` that visits many values (`..`, wildcards, filters, slices, unions) does
  not hold on a body of more than `MAX_JSON_SCAN` values: jsonpath-ng takes seconds
  over megabytes, and matching runs on the event loop every session shares. A path of
  plain names and indexes (`$.a.b[0]`) costs the same on any body and always runs.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

from jsonpath_ng.ext.iterable import Len
from jsonpath_ng.jsonpath import Child, Fields, Index, Root, This
from multidict import istr

from controlplane import wire
from controlplane.matching.checks import (
    ABSENT,
    Check,
    clip,
    json_text,
    show_body,
    show_json_body,
    show_values,
)
from controlplane.matching.json_equality import (
    has_number_or_bool,
    json_comparer,
    json_equal,
    json_subset,
    subset_test,
)
from controlplane.matching.json_path import compile_json_path
from controlplane.matching.multipart import Multipart
from controlplane.matching.paths import PathPattern, regex_skeleton
from controlplane.matching.schema import JsonSchema
from controlplane.matching.strings import CompiledStringMatcher, compile_string_matcher
from controlplane.matching.xml import XmlEqual, XPath
from controlplane.request_view import MAX_JSON_SCAN, NOT_JSON, RequestView

__all__ = [
    "Check",
    "CompiledMatch",
    "Remembered",
    "compile_match",
    "json_equal",
    "json_subset",
    "required_headers",
]

#: The longest header value, query string or body whose verdict a condition keeps for
#: the next request (the same request again costs one comparison): what one condition
#: may hold on to between requests.
_MEMO_TEXT = 1024
#: The date-time operators: `now` in their expected value is read per request.
_DATE_TIME = ("before", "after", "equals_date_time")


def _reads_the_clock(spec: wire.StringMatcherSpec | None) -> bool:
    """Whether `spec` holds a date-time matcher, anywhere inside it: its verdict on one
    value may change with the time (`after: now`), so it is never kept."""
    if spec is None or isinstance(spec, str):
        return False
    if any(getattr(spec, name) is not None for name in _DATE_TIME):
        return True
    inner = [*(spec.any_of or ()), *(spec.all_of or ()), *(spec.includes or ())]
    inner += [*(spec.has_exactly or ()), spec.not_]
    return any(_reads_the_clock(each) for each in inner)


def _memo_limit(spec: wire.StringMatcherSpec | None) -> int:
    """The longest value whose verdict a condition with the matcher `spec` keeps: none
    (-1) when the verdict may change with the time."""
    return -1 if _reads_the_clock(spec) else _MEMO_TEXT


class _ValuesCheck(Check):
    """A string matcher on the (possibly repeated) values of one named field.

    One subclass per place the values come from, each reading them in `__call__`
    itself: a check costs one call (an `equals`, the common case, tested with `in`), or
    two with the matcher's `matches_any`.
    """

    __slots__ = ("_any", "_equals", "_matcher", "_name", "cost")
    kind = ""

    def __init__(self, name: str, spec: wire.StringMatcherSpec, cost: int) -> None:
        self.field = f"{self.kind} {name}"
        self._name = name
        matcher: CompiledStringMatcher = compile_string_matcher(spec)
        self._matcher = matcher
        self._any = matcher.matches_any
        self._equals = matcher.equals
        self.expected = matcher.description
        self.cost = cost

    def values(self, view: RequestView) -> Sequence[str]:
        raise NotImplementedError

    def actual(self, view: RequestView) -> str:
        return show_values(self.values(view))


class _HeaderCheck(_ValuesCheck):
    """A header condition. An `equals` one holds without a lookup when the route table
    already read the header (`RequestView.known_header`); any other matcher that judges
    value by value (`per_value`) reads the first value alone (`get`: no list), and all
    of them only when that one does not match (a repeated header)."""

    __slots__ = ("_known", "_limit", "_missing", "_one", "_seen", "_seen_holds")
    kind = "header"

    def __init__(self, name: str, spec: wire.StringMatcherSpec, cost: int) -> None:
        super().__init__(name, spec, cost)
        self._name = istr(name)  # its case-folded form computed once, not per lookup
        matcher = self._matcher
        #: What `known_header` holds when this `equals` holds (multidict folds ASCII
        #: names only, and so does the table); None for any other condition.
        self._known = (
            (name.lower(), self._equals) if self._equals is not None and name.isascii() else None
        )
        #: The answer without the header; the one-value test, None when values are
        #: judged all at once.
        self._missing = matcher.matches_any(())
        self._one = matcher.__call__ if matcher.per_value else None
        #: The last first value `_one` judged (up to `_limit` characters), and its
        #: verdict: the same value again costs a string comparison, not a call.
        self._seen: str | None = None
        self._seen_holds = False
        self._limit = _memo_limit(spec)

    def values(self, view: RequestView) -> Sequence[str]:
        return view.headers.getall(self._name, ())

    @property
    def required(self) -> tuple[str, str] | None:
        """(name, value) when a request without this exact header value cannot match."""
        return None if self._equals is None else (self._name, self._equals)

    def __call__(self, view: RequestView) -> bool:
        equals = self._equals
        if equals is not None:
            known = view.known_header
            if known is not None and known == self._known:
                return True
            return equals in view.headers.getall(self._name, ())
        one = self._one
        if one is not None:
            value = view.headers.get(self._name)
            if value is None:
                return self._missing
            if value == self._seen:
                if self._seen_holds:
                    return True
            else:
                holds = one(value)
                if len(value) <= self._limit:
                    self._seen, self._seen_holds = value, holds
                if holds:
                    return True
        return self._any(view.headers.getall(self._name, ()))


#: Characters that make a query name or value untestable in the raw query text.
_QUERY_SYNTAX = frozenset("&=%+")


class _QueryCheck(_ValuesCheck):
    """A query condition. `equals` and `absent` on a plain name and value also have
    needles: `CompiledMatch` asks those through `_QueryTexts`, which answers from the
    query text (`RequestView.query_text`) when nothing in it is encoded: no parsing, no
    multidict. Every other matcher, and an encoded query, reads `view.query`."""

    __slots__ = ("_needles", "_present")
    kind = "query"

    def __init__(self, name: str, spec: wire.StringMatcherSpec, cost: int) -> None:
        super().__init__(name, spec, cost)
        #: Segments of the `&`-framed query text that decide it, or () to parse.
        self._needles: tuple[str, ...] = ()
        self._present = True
        if not name or not _QUERY_SYNTAX.isdisjoint(name):
            return
        equals = self._equals
        if equals:  # a parameter without `=` has the value "": not tested here
            if _QUERY_SYNTAX.isdisjoint(equals.replace("=", "")):
                self._needles = (f"&{name}={equals}&",)
        elif isinstance(spec, wire.StringMatcher) and spec.absent is True:
            self._needles, self._present = (f"&{name}=", f"&{name}&"), False

    def values(self, view: RequestView) -> Sequence[str]:
        return view.query.getall(self._name, ())

    def __call__(self, view: RequestView) -> bool:
        # The parsed query; a check with needles is asked through `_QueryTexts`.
        values = view.query.getall(self._name, ())
        equals = self._equals
        return equals in values if equals is not None else self._any(values)


class _QueryTexts(Check):
    """A route's query conditions that have needles, answered from the query text in
    one call: what `CompiledMatch` runs in their place (it keeps them for `diffs`).
    Its verdict on the last query string it judged (up to `_MEMO_TEXT` characters) is
    kept: the same query again costs one string comparison."""

    __slots__ = ("_absent", "_checks", "_present", "_seen", "_verdict")
    cost = 1

    def __init__(self, checks: Sequence[_QueryCheck]) -> None:
        self.field = "query"
        self.expected = "; ".join(check.expected for check in checks)
        self._checks = tuple(checks)
        self._present = tuple(c._needles[0] for c in checks if c._present)
        self._absent = tuple(n for c in checks if not c._present for n in c._needles)
        self._seen: str | None = None
        self._verdict = False

    def __call__(self, view: RequestView) -> bool:
        query = view.query_string
        if query == self._seen:
            return self._verdict
        verdict = self._judge(view)
        if len(query) <= _MEMO_TEXT:
            self._seen, self._verdict = query, verdict
        return verdict

    def _judge(self, view: RequestView) -> bool:
        text = view.query_text
        if text is None:  # encoded: each parses
            for check in self._checks:  # noqa: SIM110 (hot path: no generator)
                if not check(view):
                    return False
            return True
        for needle in self._present:
            if needle not in text:
                return False
        for needle in self._absent:  # noqa: SIM110
            if needle in text:
                return False
        return True

    def actual(self, view: RequestView) -> str:
        return "; ".join(check.actual(view) for check in self._checks)


class _CookieCheck(_ValuesCheck):
    __slots__ = ()
    kind = "cookie"

    def values(self, view: RequestView) -> Sequence[str]:
        value = view.cookies.get(self._name)
        return () if value is None else (value,)

    def __call__(self, view: RequestView) -> bool:
        return self._any(self.values(view))


class _FormCheck(_ValuesCheck):
    __slots__ = ()
    kind = "form"

    def values(self, view: RequestView) -> Sequence[str]:
        return view.form.getall(self._name, ())

    def __call__(self, view: RequestView) -> bool:
        return self._any(view.form.getall(self._name, ()))


class _BodyBytes(Check):
    __slots__ = ("_body",)
    cost = 3

    def __init__(self, field: str, body: bytes, expected: str) -> None:
        self.field = field
        self._body = body
        self.expected = clip(expected)

    def __call__(self, view: RequestView) -> bool:
        return view.body == self._body

    def actual(self, view: RequestView) -> str:
        if self.field == "body_base64" and view.body:
            return clip(base64.b64encode(view.body).decode())
        return show_body(view)


class _BodyMatcher(Check):
    __slots__ = ("_matcher",)
    cost = 4

    def __init__(self, spec: wire.StringMatcherSpec) -> None:
        self.field = "body"
        self._matcher = compile_string_matcher(spec)
        self.expected = self._matcher.description

    def __call__(self, view: RequestView) -> bool:
        # An empty body is a missing value: only `absent: true` matches it.
        return self._matcher(view.text if view.body else None)

    def actual(self, view: RequestView) -> str:
        return show_body(view)


class _OnBody(Check):
    """A condition on the body alone (its JSON): its verdict on the last body it judged
    (up to `_MEMO_TEXT` bytes) is kept, so the same body sent again (a client repeating
    its request) is not decoded and walked again: one bytes comparison instead."""

    __slots__ = ("_limit", "_seen", "_verdict")

    def __init__(self, limit: int = _MEMO_TEXT) -> None:
        """`limit`: the longest body whose verdict is kept (-1: none)."""
        self._seen: bytes | None = None
        self._verdict = False
        self._limit = limit

    def __call__(self, view: RequestView) -> bool:
        body = view.body
        if body == self._seen:
            return self._verdict
        verdict = self.judge(view)
        if len(body) <= self._limit:
            self._seen, self._verdict = body, verdict
        return verdict

    def judge(self, view: RequestView) -> bool:
        raise NotImplementedError


class _JsonEqual(_OnBody):
    __slots__ = ("_plain", "_value")
    cost = 6

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.field = "json"
        self._value = value
        # Without numbers or booleans, Python's == is exactly JSON equality, and faster.
        self._plain = not has_number_or_bool(value)
        self.expected = clip(json_text(value))

    def judge(self, view: RequestView) -> bool:
        data = view.json
        if data is NOT_JSON:
            return False
        if self._plain:
            return bool(self._value == data)
        return json_equal(self._value, data)

    def actual(self, view: RequestView) -> str:
        return show_json_body(view)


class _JsonSubset(_OnBody):
    __slots__ = ("_holds",)
    cost = 6

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.field = "json_subset"
        self._holds = subset_test(value)
        self.expected = clip(json_text(value))

    def judge(self, view: RequestView) -> bool:
        data = view.json
        return data is not NOT_JSON and self._holds(data)

    def actual(self, view: RequestView) -> str:
        return show_json_body(view)


def _comparer(spec: wire.JsonCompare) -> Callable[[Any], bool]:
    return json_comparer(
        spec.value,
        ignore_array_order=spec.ignore_array_order,
        ignore_extra_fields=spec.ignore_extra_fields,
        ignore_extra_items=spec.ignore_extra_items,
        placeholders=spec.placeholders,
    )


class _JsonCompare(_OnBody):
    __slots__ = ("_holds",)
    cost = 6

    def __init__(self, spec: wire.JsonCompare) -> None:
        super().__init__()
        lenient = [
            name
            for name in ("ignore_array_order", "ignore_extra_fields", "ignore_extra_items")
            if getattr(spec, name)
        ]
        self.field = "json_compare" + (f" ({', '.join(lenient)})" if lenient else "")
        self._holds = _comparer(spec)
        self.expected = clip(json_text(spec.value))

    def judge(self, view: RequestView) -> bool:
        data = view.json
        return data is not NOT_JSON and self._holds(data)

    def actual(self, view: RequestView) -> str:
        return show_json_body(view)


def _url(view: RequestView, path: str | None = None) -> str:
    path = view.path if path is None else path
    return f"{path}?{view.query_string}" if view.query_string else path


class _Url(Check):
    __slots__ = ("_matcher", "skeleton")
    cost = 1

    def __init__(self, spec: wire.StringMatcherSpec) -> None:
        self.field = "url"
        self._matcher = compile_string_matcher(spec)
        self.expected = self._matcher.description
        self.skeleton = _literal_text(spec)

    def __call__(self, view: RequestView) -> bool:
        return self._matcher(_url(view))

    def holds_at(self, view: RequestView, path: str) -> bool:
        return self._matcher(_url(view, path))

    def actual(self, view: RequestView) -> str:
        return clip(_url(view))


class _Scheme(Check):
    __slots__ = ("_matcher",)
    cost = 0

    def __init__(self, spec: wire.StringMatcherSpec) -> None:
        self.field = "scheme"
        self._matcher = compile_string_matcher(spec)
        self.expected = self._matcher.description

    def __call__(self, view: RequestView) -> bool:
        return self._matcher(view.scheme)

    def actual(self, view: RequestView) -> str:
        return view.scheme


class _Port(Check):
    __slots__ = ("_port",)
    cost = 0

    def __init__(self, port: int) -> None:
        self.field = "port"
        self._port = port
        self.expected = str(port)

    def __call__(self, view: RequestView) -> bool:
        return view.port == self._port

    def actual(self, view: RequestView) -> str:
        port = view.port
        return ABSENT if port is None else str(port)


class _ClientIp(Check):
    """The peer address, read from the connection only by routes that have this check."""

    __slots__ = ("_matcher",)
    cost = 0

    def __init__(self, spec: wire.StringMatcherSpec) -> None:
        self.field = "client_ip"
        self._matcher = compile_string_matcher(spec)
        self.expected = self._matcher.description

    def __call__(self, view: RequestView) -> bool:
        return self._matcher(view.client_ip)

    def actual(self, view: RequestView) -> str:
        address = view.client_ip
        return ABSENT if address is None else clip(address)


class _Host(Check):
    """The target host (`RequestView.host`): lower-case, without port."""

    __slots__ = ("_matcher",)
    cost = 0

    def __init__(self, spec: wire.StringMatcherSpec) -> None:
        self.field = "host"
        self._matcher = compile_string_matcher(spec)
        self.expected = self._matcher.description

    def __call__(self, view: RequestView) -> bool:
        return self._matcher(view.host)

    def actual(self, view: RequestView) -> str:
        host = view.host
        return ABSENT if host is None else clip(host)


def _literal_text(spec: wire.StringMatcherSpec) -> str:
    """What a url matcher's matching text contains, literally ("" when it cannot say)."""
    if isinstance(spec, str):
        return spec
    if spec.matches is not None:
        return regex_skeleton(spec.matches)
    for text in (spec.equals, spec.starts_with, spec.contains, spec.ends_with):
        if text is not None:
            return text
    return ""


class _PathParam(Check):
    __slots__ = ("_matcher", "_name", "_pattern")
    cost = 2
    reads_path = True

    def __init__(self, name: str, spec: wire.StringMatcherSpec, pattern: PathPattern) -> None:
        self.field = f"path_param {name}"
        self._name = name
        self._pattern = pattern
        self._matcher = compile_string_matcher(spec)
        self.expected = self._matcher.description

    def _value(self, view: RequestView) -> str | None:
        params = self._pattern.match(view.path)
        return None if params is None else params.get(self._name)

    def __call__(self, view: RequestView) -> bool:
        return self._matcher(self._value(view))

    def actual(self, view: RequestView) -> str:
        value = self._value(view)
        return ABSENT if value is None else clip(value)


def _visits_few(path: Any) -> bool:
    """Whether a parsed JSONPath only steps by names and indexes (no scans)."""
    if isinstance(path, Child):
        return _visits_few(path.left) and _visits_few(path.right)
    if isinstance(path, Fields):
        return "*" not in path.fields
    return isinstance(path, Root | This | Index | Len)


_TOO_LARGE = (
    f"<not evaluated: the JSON body holds more than {MAX_JSON_SCAN} values, "
    "too many for a JSONPath with .., *, a filter, a slice or a union>"
)


class _JsonPath(_OnBody):
    __slots__ = ("_compare", "_matcher", "_path", "_scans")
    cost = 7

    def __init__(self, condition: wire.JsonPathCondition) -> None:
        super().__init__(_memo_limit(condition.matcher))
        self.field = f"json_path {condition.expression}"
        try:
            self._path: Any = compile_json_path(condition.expression)
        except Exception as exc:  # jsonpath_ng raises bare Exception subclasses of its own
            raise ValueError(
                f"invalid JSONPath expression {condition.expression!r}: {exc}"
            ) from None
        self._matcher = (
            None if condition.matcher is None else compile_string_matcher(condition.matcher)
        )
        compare = condition.json_compare
        #: Found values compared as JSON (a WireMock `equalToJson` nested in the path).
        self._compare = None if compare is None else _comparer(compare)
        if compare is not None:
            self.expected = "json_compare " + clip(json_text(compare.value))
        else:
            self.expected = "exists" if self._matcher is None else self._matcher.description
        #: Whether evaluating may visit every value of the body.
        self._scans = not _visits_few(self._path)

    def _found(self, data: Any) -> list[Any]:
        try:
            return [match.value for match in self._path.find(data)]
        except Exception:  # filters can fail on unexpected shapes; that is "not found"
            return []

    def _values(self, data: Any) -> list[str]:
        # Strings as they are, everything else by its JSON text: 42, true, null, {...}.
        return [v if isinstance(v, str) else json_text(v) for v in self._found(data)]

    def judge(self, view: RequestView) -> bool:
        data = view.json
        if data is NOT_JSON or (self._scans and view.json_large):
            return False
        if self._compare is not None:
            return any(map(self._compare, self._found(data)))
        values = self._values(data)
        if self._matcher is None:
            return bool(values)
        return self._matcher.matches_any(values)

    def actual(self, view: RequestView) -> str:
        data = view.json
        if data is NOT_JSON:
            return show_json_body(view)
        if self._scans and view.json_large:
            return _TOO_LARGE
        return show_values(self._values(data))


class Remembered:
    """What the last request a route's conditions all held for sent, when each of them
    reads only the request's body, its query string or the first value of a header, and
    judges them the same way every time (no clock, no scenario state): its body, query
    string and the first values of those headers. `CompiledRoute.accepts` compares a
    request with these before asking any condition: a client repeating its request
    costs that comparison instead of a call per condition (about 1,000 instructions
    each).

    Kept only when the same body came twice in a row (a request sent once costs one
    comparison more, not a copy of its first values), and only for a request whose
    first values alone decided its header conditions: a header sent twice can make a
    condition hold that its first value does not. A verdict that failed is never kept.
    A route holds at most 1,024 bytes of body and of query string (`_MEMO_TEXT`), and
    header values as long as aiohttp parses (8,190 bytes: a long bearer token is kept).
    """

    __slots__ = ("_headers", "body", "firsts", "last", "query")

    def __init__(self, headers: Sequence[_HeaderCheck]) -> None:
        self._headers = tuple(headers)
        #: What was kept: None, nothing yet (no body equals None).
        self.body: bytes | None = None
        self.query: str | None = None
        self.firsts: tuple[tuple[str, str | None], ...] = ()
        #: The body of the last request they all held for (`CompiledRoute.accepts`).
        self.last: bytes | None = None

    @classmethod
    def of(cls, checks: Sequence[Check]) -> Remembered | None:
        """For a route whose conditions are `checks` (more than one, each rememberable),
        else None."""
        if len(checks) < 2:
            return None
        headers: list[_HeaderCheck] = []
        for check in checks:
            if isinstance(check, _HeaderCheck):
                if check._one is None or check._limit < 0:  # -1: a clock's verdict
                    return None
                headers.append(check)
            elif not isinstance(check, _QueryTexts | _BodyBytes) and not (
                isinstance(check, _OnBody) and check._limit >= 0
            ):
                return None
        return cls(headers)

    def keep(self, view: RequestView) -> None:
        """Every condition held for `view`, whose body is `last`'s: keep what it sent."""
        body, query = view.body, view.query_string
        # Forgotten whatever follows: a request that cannot be kept (a long body, a
        # header held by its repeat) sent again comes here every other time, not each.
        self.last = None
        if len(body) > _MEMO_TEXT or len(query) > _MEMO_TEXT:
            return
        firsts = []
        for check in self._headers:
            first = view.headers.get(check._name)
            if first is None:
                if not check._missing:
                    return
            elif not check._matcher(first):
                return
            firsts.append((check._name, first))
        self.body, self.query, self.firsts = body, query, tuple(firsts)


class CompiledMatch:
    """All conditions of one route's `match`; call it to test a request."""

    __slots__ = ("_declared", "_fast", "remembered")

    def __init__(self, checks: Sequence[Check]) -> None:
        self._declared = tuple(checks)
        fast = sorted(checks, key=lambda c: c.cost)  # stable: ties keep order
        texts = [c for c in fast if isinstance(c, _QueryCheck) and c._needles]
        if texts:  # one call for them all, where the first was
            at = fast.index(texts[0])
            fast = [c for c in fast if c not in texts]
            fast.insert(at, _QueryTexts(texts))
        self._fast = tuple(fast)
        #: What `CompiledRoute.accepts` compares a request with first; None: ask each.
        self.remembered = Remembered.of(fast)

    def __call__(self, view: RequestView) -> bool:
        # A plain loop, not all(...): no generator on the hot path.
        for check in self._fast:  # noqa: SIM110
            if not check(view):
                return False
        return True

    def diffs(self, view: RequestView) -> list[wire.Diff]:
        """One `Diff` per failing condition, in declaration order."""
        return [d for d in (c.diff(view) for c in self._declared) if d is not None]

    @property
    def checks(self) -> tuple[Check, ...]:
        """The conditions in declaration order."""
        return self._declared

    @property
    def in_cost_order(self) -> tuple[Check, ...]:
        """The conditions as `__call__` runs them: cheapest first, ties in declaration
        order, the query conditions answered from the query text as one."""
        return self._fast

    def __len__(self) -> int:
        return len(self._declared)


def required_headers(match: CompiledMatch | None) -> list[tuple[str, str]]:
    """The (name, value) pairs of `match`'s `equals` header conditions, in declaration
    order, each name an `istr` as conditions look it up: a request matches only if, for
    each, one of its values of that header (names case-insensitive) is exactly that
    value. What the route table narrows a path's routes by."""
    found: list[tuple[str, str]] = []
    for check in () if match is None else match.checks:
        if isinstance(check, _HeaderCheck):
            required = check.required
            if required is not None:
                found.append(required)
    return found


def compile_match(
    match: wire.Match | None,
    path: PathPattern | None = None,
    extra: Sequence[Check] = (),
) -> CompiledMatch | None:
    """Compile a route's conditions (plus `extra` ones); None when there is nothing to check.

    `path` is the route's path pattern, which `path_params` conditions read. Raises
    ValueError for an invalid JSONPath expression or a `path_params` name the path lacks.
    """
    checks: list[Check] = list(extra)
    if match is None:
        return CompiledMatch(checks) if checks else None
    if match.url is not None:
        checks.append(_Url(match.url))
    if match.host is not None:
        checks.append(_Host(match.host))
    if match.scheme is not None:
        checks.append(_Scheme(match.scheme))
    if match.port is not None:
        checks.append(_Port(match.port))
    if match.client_ip is not None:
        checks.append(_ClientIp(match.client_ip))
    for name, spec in (match.path_params or {}).items():
        declared = () if path is None or path.regex is None else tuple(path.regex.groupindex)
        if name not in declared:
            raise ValueError(
                f"`path_params` names {name!r}, which the path does not declare "
                f"(its parameters: {', '.join(declared) or 'none'})"
            )
        assert path is not None
        checks.append(_PathParam(name, spec, path))
    named: tuple[tuple[type[_ValuesCheck], dict[str, Any] | None, int], ...] = (
        (_QueryCheck, match.query, 1),
        (_HeaderCheck, match.headers, 0),
        (_CookieCheck, match.cookies, 2),
    )
    for check, specs, cost in named:
        for name, spec in (specs or {}).items():
            checks.append(check(name, spec, cost))
    if match.json is not wire.UNSET:
        checks.append(_JsonEqual(match.json))
    if match.json_subset is not wire.UNSET:
        checks.append(_JsonSubset(match.json_subset))
    checks.extend(_JsonPath(condition) for condition in match.json_path or ())
    checks.extend(_JsonCompare(condition) for condition in match.json_compare or ())
    if match.body is not None:
        checks.append(_BodyBytes("body", match.body.encode(), match.body))
    if match.body_base64 is not None:
        raw = base64.b64decode(match.body_base64)
        checks.append(_BodyBytes("body_base64", raw, match.body_base64))
    if match.body_matcher is not None:
        checks.append(_BodyMatcher(match.body_matcher))
    for name, spec in (match.form or {}).items():
        checks.append(_FormCheck(name, spec, 5))
    checks.extend(JsonSchema(condition) for condition in match.json_schema or ())
    checks.extend(XmlEqual(condition) for condition in match.xml or ())
    checks.extend(XPath(condition) for condition in match.xpath or ())
    for condition in match.multipart or ():
        checks.append(Multipart(condition, compile_match(condition.part)))
    return CompiledMatch(checks) if checks else None
