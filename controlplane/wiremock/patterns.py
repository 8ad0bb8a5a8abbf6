"""WireMock request patterns and matchers -> native paths and `wire.Match` conditions.

String matchers (`equalTo`, `matches`, `before`, `and`...) become native string
matchers; body patterns (`equalToJson`, `matchesJsonPath`, `equalToXml`,
`matchesXPath`, `matchesJsonSchema`, `binaryEqualTo`) native body conditions;
`multipartPatterns` native `multipart` conditions whose parts are matched like small
requests; `host`, `port` and `scheme` the native conditions of those names, and
`clientIp` the native `client_ip`.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Literal

import msgspec

from controlplane import wire
from controlplane.admin.decoding import Step
from controlplane.errors import InvalidInput
from controlplane.matching import CompiledRoute, compile_route
from controlplane.wiremock import shapes
from controlplane.wiremock.located import build as _build
from controlplane.wiremock.located import key as _key

__all__ = ["body_match", "compile_pattern", "pattern_parts", "string_matcher"]

_ANY_TEXT = wire.StringMatcher(matches=r"(?s).*")
#: XMLUnit comparison types (WireMock's `exemptedComparisons`) the native `xml`
#: comparison never makes: prefixes, processing instructions and the XML declaration
#: are not compared, and without DTDs no attribute value comes from one. Exempting them
#: changes nothing; exempting any other would need a comparison the native one lacks.
XML_NEVER_COMPARED = frozenset(
    {
        "NAMESPACE_PREFIX",
        "PROCESSING_INSTRUCTION_TARGET",
        "PROCESSING_INSTRUCTION_DATA",
        "XML_VERSION",
        "XML_STANDALONE",
        "XML_ENCODING",
        "ATTR_VALUE_EXPLICITLY_SPECIFIED",
    }
)
_DELIMITERS = ("placeholderOpeningDelimiterRegex", "placeholderClosingDelimiterRegex")
#: Fields that go with one operator only.
_MODIFIERS = {
    "caseInsensitive": ("equalTo",),
    "ignoreArrayOrder": ("equalToJson",),
    "ignoreExtraElements": ("equalToJson",),
    "enablePlaceholders": ("equalToXml",),
    "exemptedComparisons": ("equalToXml",),
    "namespaceAwareness": ("equalToXml",),
    "xPathNamespaces": ("matchesXPath",),
    "schemaVersion": ("matchesJsonSchema",),
    **{
        name: ("before", "after", "equalToDateTime")
        for name in (
            "actualFormat",
            "expectedOffset",
            "expectedOffsetUnit",
            "truncateExpected",
            "truncateActual",
        )
    },
}
_DATE_OPERATORS = {"before": "before", "after": "after", "equalToDateTime": "equals_date_time"}
_SCHEMA_DRAFTS: dict[str, wire.SchemaDraft] = {
    "V4": "4",
    "V6": "6",
    "V7": "7",
    "V201909": "2019-09",
    "V202012": "2020-12",
}
#: The body fields of `wire.Match` that `body_match` fills.
_BODY_FIELDS = (
    "body_matcher",
    "json_compare",
    "json_path",
    "body_base64",
    "xml",
    "xpath",
    "json_schema",
)


# ------------------------------------------------------------------ matchers


def _operators(p: shapes.ContentPattern) -> list[str]:
    names = [
        name
        for name in (
            "equalTo",
            "contains",
            "doesNotContain",
            "matches",
            "doesNotMatch",
            "absent",
            "equalToJson",
            "matchesJsonPath",
            "binaryEqualTo",
            "hasExactly",
            "includes",
            "equalToXml",
            "matchesXPath",
            "matchesJsonSchema",
            "before",
            "after",
            "equalToDateTime",
        )
        if getattr(p, name) is not None and getattr(p, name) is not msgspec.UNSET
    ]
    names += [
        n
        for n, attr in (("and", "and_"), ("or", "or_"), ("not", "not_"))
        if getattr(p, attr) is not None
    ]
    if p.anything is not msgspec.UNSET:
        names.append("anything")
    return names


def _one_operator(p: shapes.ContentPattern, location: str) -> str:
    for name in _DELIMITERS:
        if getattr(p, name) is not msgspec.UNSET:
            raise InvalidInput(
                "custom placeholder delimiters are not served: the native xml condition "
                "knows XMLUnit's default `${xmlunit.…}` placeholders only",
                location=_key(location, name),
            )
    found = _operators(p)
    if len(found) != 1:
        raise InvalidInput(
            f"a matcher takes exactly one operator (found: {', '.join(found) or 'none'})",
            location=location,
        )
    for name, operators in _MODIFIERS.items():
        if getattr(p, name) is not None and found[0] not in operators:
            raise InvalidInput(
                f"`{name}` goes with {' or '.join(operators)}, not {found[0]}",
                location=_key(location, name),
            )
    return found[0]


def _date_time(p: shapes.ContentPattern, op: str, location: str) -> wire.StringMatcher:
    """`before`, `after`, `equalToDateTime`; `expectedOffset` applies to `now` only."""
    expected: str = getattr(p, op)
    if p.expectedOffset is not None or p.expectedOffsetUnit is not None:
        if p.expectedOffset is None or p.expectedOffsetUnit is None:
            raise InvalidInput(
                "give `expectedOffset` and `expectedOffsetUnit` together",
                location=_key(location, "expectedOffset"),
            )
        if expected.strip().lower() == "now":
            expected = f"now {p.expectedOffset:+d} {p.expectedOffsetUnit.lower()}"
    native = _DATE_OPERATORS[op]
    names: dict[tuple[Step, ...], str] = {
        (native,): op,
        ("actual_format",): "actualFormat",
        ("truncate_expected",): "truncateExpected",
        ("truncate_actual",): "truncateActual",
    }
    return _build(
        location,
        wire.StringMatcher,
        names,
        **{native: expected},
        actual_format=p.actualFormat,
        truncate_expected=p.truncateExpected,
        truncate_actual=p.truncateActual,
    )


def string_matcher(p: shapes.ContentPattern, location: str) -> wire.StringMatcherSpec:
    """A WireMock value matcher as a native string matcher."""
    op = _one_operator(p, location)
    at = _key(location, op)
    if op == "equalTo":
        assert p.equalTo is not None
        return _build(
            at, wire.StringMatcher, equals=p.equalTo, case_insensitive=bool(p.caseInsensitive)
        )
    simple = {
        "contains": "contains",
        "doesNotContain": "not_contains",
        "matches": "matches",
        "doesNotMatch": "not_matches",
    }
    if op in simple:
        return _build(at, wire.StringMatcher, **{simple[op]: getattr(p, op)})
    if op == "absent":
        return wire.StringMatcher(absent=True) if p.absent else _ANY_TEXT
    if op == "anything":
        return wire.StringMatcher(any_of=[wire.StringMatcher(absent=True), _ANY_TEXT])
    if op in ("and", "or", "hasExactly", "includes"):
        items = {"and": p.and_, "or": p.or_, "hasExactly": p.hasExactly, "includes": p.includes}[op]
        assert items is not None
        inner = [string_matcher(item, f"{at}[{i}]") for i, item in enumerate(items)]
        native = {
            "and": "all_of",
            "or": "any_of",
            "hasExactly": "has_exactly",
            "includes": "includes",
        }
        return _build(at, wire.StringMatcher, **{native[op]: inner})
    if op == "not":
        assert p.not_ is not None
        return wire.StringMatcher(not_=string_matcher(p.not_, at))
    if op in _DATE_OPERATORS:
        return _date_time(p, op, location)
    raise InvalidInput(f"`{op}` applies to request bodies only (in `bodyPatterns`)", location=at)


def _json_value(value: Any, location: str) -> Any:
    """`equalToJson` takes the JSON inline or as a string holding it."""
    if isinstance(value, str):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise InvalidInput(f"not valid JSON: {exc}", location=location) from None
    return value


def _equal_to_json(p: shapes.ContentPattern, location: str) -> wire.JsonCompare:
    """`equalToJson` (+`ignoreArrayOrder`, `ignoreExtraElements`) with JsonUnit's
    placeholders, which WireMock always applies."""
    at = _key(location, "equalToJson")
    iee = bool(p.ignoreExtraElements)
    return _build(
        at,
        wire.JsonCompare,
        value=_json_value(p.equalToJson, at),
        ignore_array_order=bool(p.ignoreArrayOrder),
        ignore_extra_fields=iee,
        ignore_extra_items=iee,
        placeholders=True,
    )


def body_match(patterns: list[shapes.ContentPattern], location: str) -> wire.Match:
    """`bodyPatterns` (all must hold) as native body conditions."""
    text: list[wire.StringMatcherSpec] = []
    json_compare: list[wire.JsonCompare] = []
    json_path: list[wire.JsonPathCondition] = []
    xml: list[wire.XmlEqual] = []
    xpath: list[wire.XPathCondition] = []
    schemas: list[wire.JsonSchemaCondition] = []
    binary: str | None = None
    for index, p in enumerate(patterns):
        at = f"{location}[{index}]"
        op = _one_operator(p, at)
        if op == "equalToJson":
            json_compare.append(_equal_to_json(p, at))
        elif op == "matchesJsonPath":
            json_path.append(_json_path(p.matchesJsonPath, _key(at, op)))
        elif op == "equalToXml":
            _xml_options(p, at)
            placeholders = bool(p.enablePlaceholders)
            xml.append(
                _build(
                    _key(at, op),
                    wire.XmlEqual,
                    value=p.equalToXml,
                    placeholders=placeholders,
                    any_order=True,
                )
            )
        elif op == "matchesXPath":
            xpath.append(_xpath(p.matchesXPath, p.xPathNamespaces, _key(at, op)))
        elif op == "matchesJsonSchema":
            draft = None if p.schemaVersion is None else _SCHEMA_DRAFTS[p.schemaVersion]
            schema = _json_value(p.matchesJsonSchema, _key(at, op))
            schemas.append(
                _build(_key(at, op), wire.JsonSchemaCondition, schema=schema, draft=draft)
            )
        elif op == "binaryEqualTo":
            if binary is not None:
                raise InvalidInput("give `binaryEqualTo` once", location=_key(at, op))
            binary = p.binaryEqualTo
            _build(_key(at, op), wire.Match, body_base64=binary)
        else:
            text.append(string_matcher(p, at))
    body_matcher: wire.StringMatcherSpec | None = None
    if len(text) == 1:
        body_matcher = text[0]
    elif text:
        body_matcher = wire.StringMatcher(all_of=text)
    return wire.Match(
        body_matcher=body_matcher,
        json_compare=json_compare or None,
        json_path=json_path or None,
        body_base64=binary,
        xml=xml or None,
        xpath=xpath or None,
        json_schema=schemas or None,
    )


def _xml_options(p: shapes.ContentPattern, location: str) -> None:
    """`namespaceAwareness` and `exemptedComparisons`, as far as the native comparison
    (namespace-aware, XMLUnit's `STRICT`) can honour them."""
    if p.namespaceAwareness not in (None, "STRICT"):
        raise InvalidInput(
            f"namespaceAwareness {p.namespaceAwareness} is not served: it compares names "
            "as written, prefixes included, with xmlns declarations as attributes; the "
            "native xml condition compares namespace URIs and local names (STRICT)",
            location=_key(location, "namespaceAwareness"),
        )
    for index, name in enumerate(p.exemptedComparisons or ()):
        if name not in XML_NEVER_COMPARED:
            raise InvalidInput(
                f"exempting {name} is not served: the native xml comparison always makes "
                "it; exemptable (never compared): " + ", ".join(sorted(XML_NEVER_COMPARED)),
                location=f"{_key(location, 'exemptedComparisons')}[{index}]",
            )


def _xpath(
    spec: str | shapes.JsonPathPattern | None, namespaces: dict[str, str] | None, location: str
) -> wire.XPathCondition:
    """`matchesXPath`, plain or `{"expression", <matcher>}`, with the pattern's namespaces."""
    if isinstance(spec, str):
        return _build(location, wire.XPathCondition, expression=spec, namespaces=namespaces)
    assert spec is not None
    if not spec.expression:
        raise InvalidInput("`expression` is required", location=_key(location, "expression"))
    _nested_matcher("matchesXPath", spec, location)
    matcher = string_matcher(spec, location)
    return _build(
        location,
        wire.XPathCondition,
        expression=spec.expression,
        namespaces=namespaces,
        matcher=matcher,
    )


_BODY_ONLY = (
    "equalToJson",
    "matchesJsonPath",
    "binaryEqualTo",
    "equalToXml",
    "matchesXPath",
    "matchesJsonSchema",
)


_NATIVE_PATHS = {"matchesJsonPath": "json_path", "matchesXPath": "xpath"}


def _nested_matcher(outer: str, spec: shapes.JsonPathPattern, location: str) -> None:
    """Refuse a document matcher nested in `outer`, saying why (string matchers pass)."""
    op = _one_operator(spec, location)
    if op in _BODY_ONLY:
        raise InvalidInput(
            f"`{outer}` with `{op}` is not served: the native {_NATIVE_PATHS[outer]} condition "
            "applies a string matcher to what the expression finds; comparing a found value "
            "as a document has no native condition. Match the found value's text "
            "(equalTo, matches, ...) or give the document pattern for the whole body",
            location=_key(location, op),
        )


def _json_path(spec: str | shapes.JsonPathPattern | None, location: str) -> wire.JsonPathCondition:
    if isinstance(spec, str):
        return _build(location, wire.JsonPathCondition, expression=spec)
    assert spec is not None
    if not spec.expression:
        raise InvalidInput("`expression` is required", location=_key(location, "expression"))
    if _one_operator(spec, location) == "equalToJson":
        # The found value compared as JSON, as WireMock compares its JSON text.
        compare = _equal_to_json(spec, location)
        return _build(
            location, wire.JsonPathCondition, expression=spec.expression, json_compare=compare
        )
    _nested_matcher("matchesJsonPath", spec, location)
    matcher = string_matcher(spec, location)
    return _build(location, wire.JsonPathCondition, expression=spec.expression, matcher=matcher)


# ------------------------------------------------------------------ request patterns


def _literal(path: str) -> tuple[str | None, str | None]:
    """A literal path as (path, None), or as (None, regex) when it has template braces."""
    if path.startswith("/") and wire.PATH_PARAM.search(path) is None:
        return path, None
    return None, re.escape(path)


def pattern_parts(
    request: shapes.RequestPattern, location: str = "$.request"
) -> tuple[str, str | None, str | None, wire.Match | None]:
    """(method, path, path_regex, match) of a request pattern."""
    if request.customMatcher is not msgspec.UNSET:
        raise InvalidInput(
            "`customMatcher` names a WireMock extension, Java code that runs inside "
            "WireMock; controlplane runs no Java, so it cannot match with it. Express the "
            "condition with the built-in matchers (and, or, not, matchesJsonPath, ...)",
            location=_key(location, "customMatcher"),
        )
    urls = [
        n
        for n in ("url", "urlPath", "urlPattern", "urlPathPattern", "urlPathTemplate")
        if getattr(request, n) is not None
    ]
    if len(urls) > 1:
        raise InvalidInput(
            f"give one of url, urlPath, urlPattern, urlPathPattern, urlPathTemplate "
            f"(found: {', '.join(urls)})",
            location=_key(location, urls[1]),
        )
    path: str | None = None
    path_regex: str | None = r"(?s).*"
    url: wire.StringMatcherSpec | None = None
    kind = urls[0] if urls else None
    if request.url is not None:
        path, path_regex = _literal(request.url.partition("?")[0])
        url = request.url
    elif request.urlPath is not None:
        path, path_regex = _literal(request.urlPath)
    elif request.urlPattern is not None:
        url = _build(_key(location, "urlPattern"), wire.StringMatcher, matches=request.urlPattern)
    elif request.urlPathPattern is not None:
        path, path_regex = None, request.urlPathPattern
    elif request.urlPathTemplate is not None:
        path, path_regex = request.urlPathTemplate, None
    if kind is not None:
        _build(_key(location, kind), wire.check_route_path, path=path, path_regex=path_regex)

    def named(kind: str) -> dict[str, wire.StringMatcherSpec] | None:
        specs: dict[str, shapes.ContentPattern] | None = getattr(request, kind)
        if specs is None:
            return None
        where = _key(location, kind)
        return {name: string_matcher(p, _key(where, name)) for name, p in specs.items()}

    headers = named("headers")
    if request.basicAuthCredentials is not None:
        creds = request.basicAuthCredentials
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        expected: wire.StringMatcherSpec = f"Basic {token}"
        headers = dict(headers or {})
        present = next((k for k in headers if k.lower() == "authorization"), None)
        if present is not None:
            expected = wire.StringMatcher(all_of=[headers.pop(present), expected])
        headers["Authorization"] = expected
    body = request.bodyPatterns
    if isinstance(body, shapes.ContentPattern):
        body = [body]
    body_conditions = body_match(body, _key(location, "bodyPatterns")) if body else None
    match = wire.Match(
        url=url,
        host=None
        if request.host is None
        else string_matcher(_host(request.host), _key(location, "host")),
        scheme=request.scheme,
        port=_build(_key(location, "port"), _port, port=request.port),
        client_ip=(
            None
            if request.clientIp is None
            else string_matcher(request.clientIp, _key(location, "clientIp"))
        ),
        path_params=named("pathParameters"),
        query=named("queryParameters"),
        headers=headers,
        cookies=named("cookies"),
        form=named("formParameters"),
        multipart=_multipart(request.multipartPatterns, _key(location, "multipartPatterns")),
    )
    if body_conditions is not None:
        for name in _BODY_FIELDS:
            setattr(match, name, getattr(body_conditions, name))
    method = (request.method or "ANY").upper()
    method = "*" if method == "ANY" else method
    if not method.isalpha() and method != "*":
        raise InvalidInput(
            f"`method` must be an HTTP method or ANY, got {method!r}",
            location=_key(location, "method"),
        )
    empty = msgspec.structs.asdict(match) == msgspec.structs.asdict(wire.Match())
    return method, path, path_regex, None if empty else match


def _host(pattern: shapes.ContentPattern) -> shapes.ContentPattern:
    """Hostnames are case-insensitive (RFC 3986 3.2.2) and the native `host` is lower-case:
    an `equalTo` host is lower-cased so that `API.test` matches."""
    if pattern.equalTo is None:
        return pattern
    return msgspec.structs.replace(pattern, equalTo=pattern.equalTo.lower())


def _port(port: int | None) -> int | None:
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"a port is 1-65535, not {port}")
    return port


def _multipart(
    patterns: list[shapes.MultipartPattern] | None, location: str
) -> list[wire.MultipartCondition] | None:
    """`multipartPatterns`: each part seen as a request of its own (headers, body)."""
    if not patterns:
        return None
    conditions = []
    for index, pattern in enumerate(patterns):
        at = f"{location}[{index}]"
        where = _key(at, "headers")
        part = (
            body_match(pattern.bodyPatterns, _key(at, "bodyPatterns"))
            if pattern.bodyPatterns
            else wire.Match()
        )
        if pattern.headers is not None:
            part.headers = {
                name: string_matcher(p, _key(where, name)) for name, p in pattern.headers.items()
            }
        parts: Literal["any", "all"] = "all" if pattern.matchingType == "ALL" else "any"
        conditions.append(_build(at, wire.MultipartCondition, part=part, parts=parts))
    return conditions


def compile_pattern(
    request: shapes.RequestPattern, location: str = "$", *, journal: bool = True
) -> CompiledRoute:
    """A request pattern compiled like a route: for counting and finding the journal's
    requests, or (`journal=False`) for testing requests as they arrive."""
    if journal and request.clientIp is not None:
        raise InvalidInput(
            "the journal does not keep client addresses (reading the address would cost "
            "every request; only routes that match on it read it), so `clientIp` cannot "
            "select journaled requests; it applies to stubs and recording filters",
            location=_key(location, "clientIp"),
        )
    method, path, path_regex, match = pattern_parts(request, location)
    spec = wire.Route(
        method=method,
        handler="pattern",
        path=path,
        path_regex=path_regex,
        match=match,
        id="pattern",
    )
    try:
        return compile_route(spec, 0)
    except ValueError as exc:
        raise InvalidInput(str(exc), location=location) from None
