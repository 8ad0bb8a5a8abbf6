"""Stub mappings -> native routes: WireMock's JSON translated onto the one model.

A mapping becomes one `wire.Route`: its id is the mapping id, its handler is
`wiremock-{id}` (one handler per mapping, so responses never leak between mappings),
its answers carry `Matched-Stub-Id`. Request patterns become a path (exact, template or
regex) plus `wire.Match` conditions; response definitions become a native response.
Nothing here matches requests: the core does, with the same code as for native routes.

Errors are `InvalidInput`s located in the mapping as the client sent it
(`$.request.bodyPatterns[0].equalToJson`); WireMock features not served yet are named.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import msgspec

from controlplane import wire
from controlplane.admin.decoding import Step, leading_steps, render_location
from controlplane.errors import InvalidInput
from controlplane.matching import CompiledRoute, compile_route
from controlplane.responses import BodyFiles, ResponseSpecError, check_body_file
from controlplane.responses.templating import TemplateSyntaxError, compile_value
from controlplane.wiremock import shapes

__all__ = [
    "HANDLER_PREFIX",
    "MATCHED_STUB_ID",
    "body_match",
    "compile_pattern",
    "handler_for",
    "mapping_to_route",
    "pattern_parts",
    "string_matcher",
]

_T = TypeVar("_T")
MATCHED_STUB_ID = "Matched-Stub-Id"
HANDLER_PREFIX = "wiremock-"
_ANY_TEXT = wire.StringMatcher(matches=r"(?s).*")
_FAULTS: dict[str, wire.FaultKind] = {
    "EMPTY_RESPONSE": "empty_response",
    "CONNECTION_RESET_BY_PEER": "connection_reset",
    "MALFORMED_RESPONSE_CHUNK": "malformed_chunk",
    "RANDOM_DATA_THEN_CLOSE": "random_data_then_close",
}
_NOT_YET_PATTERN = (
    "placeholderOpeningDelimiterRegex",
    "placeholderClosingDelimiterRegex",
    "exemptedComparisons",
    "namespaceAwareness",
)
#: Fields that go with one operator only.
_MODIFIERS = {
    "caseInsensitive": ("equalTo",),
    "ignoreArrayOrder": ("equalToJson",),
    "ignoreExtraElements": ("equalToJson",),
    "enablePlaceholders": ("equalToXml",),
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
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def handler_for(mapping_id: str) -> str:
    return HANDLER_PREFIX + mapping_id


def _key(location: str, name: str) -> str:
    if _IDENT.fullmatch(name):
        return f"{location}.{name}"
    return f"{location}[{msgspec.json.encode(name).decode()}]"


def _not_yet(feature: str, location: str) -> InvalidInput:
    return InvalidInput(
        f"`{feature}` is a WireMock feature controlplane does not serve yet "
        "(see docs/reference/wiremock.md)",
        location=_key(location, feature),
    )


def _build(
    location: str,
    make: Callable[..., _T],
    names: Mapping[tuple[Step, ...], str] | None = None,
    /,
    **fields: Any,
) -> _T:
    """Construct a wire struct; its own checks (a bad regex) are reported at `location`.

    With `names` (native location steps -> the mapping's name for them), a check that
    names what it is about (`headers["Content-Length"]`, `uniform_ms[1]`) points at
    that place in the mapping, in the mapping's words (longest known prefix renamed).
    """
    try:
        return make(**fields)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        steps = leading_steps(message) if names is not None else []
        for size in range(len(steps), 0, -1):
            if names is not None and (known := names.get(tuple(steps[:size]))) is not None:
                location = render_location([known, *steps[size:]], location)
                break
        raise InvalidInput(message, location=location) from None


#: Native proxy fields as a response definition names them.
_PROXY_FIELDS: dict[tuple[Step, ...], str] = {
    ("url",): "proxyBaseUrl",
    ("strip_prefix",): "proxyUrlPrefixToRemove",
    ("headers",): "additionalProxyRequestHeaders",
    ("remove_headers",): "removeProxyRequestHeaders",
}

#: Native response fields as a response definition names them.
_RESPONSE_FIELDS: dict[tuple[Step, ...], str] = {
    ("status",): "status",
    ("headers",): "headers",
    ("reason",): "statusMessage",
    ("body_file",): "bodyFileName",
    ("body_base64",): "base64Body",
    ("template",): "transformers",
}


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
    for name in _NOT_YET_PATTERN:
        if getattr(p, name) is not msgspec.UNSET:
            raise _not_yet(name, location)
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
            iee = bool(p.ignoreExtraElements)
            json_compare.append(
                wire.JsonCompare(
                    value=_json_value(p.equalToJson, _key(at, op)),
                    ignore_array_order=bool(p.ignoreArrayOrder),
                    ignore_extra_fields=iee,
                    ignore_extra_items=iee,
                )
            )
        elif op == "matchesJsonPath":
            json_path.append(_json_path(p.matchesJsonPath, _key(at, op)))
        elif op == "equalToXml":
            placeholders = bool(p.enablePlaceholders)
            xml.append(
                _build(_key(at, op), wire.XmlEqual, value=p.equalToXml, placeholders=placeholders)
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


def _xpath(
    spec: str | shapes.JsonPathPattern | None, namespaces: dict[str, str] | None, location: str
) -> wire.XPathCondition:
    """`matchesXPath`, plain or `{"expression", <matcher>}`, with the pattern's namespaces."""
    if isinstance(spec, str):
        return _build(location, wire.XPathCondition, expression=spec, namespaces=namespaces)
    assert spec is not None
    if not spec.expression:
        raise InvalidInput("`expression` is required", location=_key(location, "expression"))
    op = _one_operator(spec, location)
    if op in _BODY_ONLY:
        raise _not_yet(f"matchesXPath with {op}", location)
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


def _json_path(spec: str | shapes.JsonPathPattern | None, location: str) -> wire.JsonPathCondition:
    if isinstance(spec, str):
        return _build(location, wire.JsonPathCondition, expression=spec)
    assert spec is not None
    if not spec.expression:
        raise InvalidInput("`expression` is required", location=_key(location, "expression"))
    op = _one_operator(spec, location)
    if op in _BODY_ONLY:
        raise _not_yet(f"matchesJsonPath with {op}", location)
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
    for name in ("clientIp", "customMatcher"):
        if getattr(request, name) is not msgspec.UNSET:
            raise _not_yet(name, location)
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
        host=None if request.host is None else string_matcher(request.host, _key(location, "host")),
        scheme=request.scheme,
        port=_build(_key(location, "port"), _port, port=request.port),
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


def compile_pattern(request: shapes.RequestPattern, location: str = "$") -> CompiledRoute:
    """A request pattern compiled like a route (for counting and finding requests)."""
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


# ------------------------------------------------------------------ responses


def _delay(
    response: shapes.ResponseDefinition | shapes.GlobalSettings,
    fixed: float | None,
    location: str,
    fixed_name: str,
) -> wire.Delay | None:
    dist = response.delayDistribution
    if fixed is not None and dist is not None:
        raise InvalidInput(
            "controlplane takes one delay per response: give a fixed delay or "
            "`delayDistribution`, not both",
            location=_key(location, "delayDistribution"),
        )
    if fixed is not None:
        return _build(_key(location, fixed_name), wire.Delay, fixed_ms=fixed)
    if dist is None:
        return None
    at = _key(location, "delayDistribution")
    if dist.type == "uniform":
        if dist.lower is None or dist.upper is None:
            raise InvalidInput("a uniform delay needs `lower` and `upper`", location=at)
        return _build(at, wire.Delay, _UNIFORM, uniform_ms=(dist.lower, dist.upper))
    if dist.type == "lognormal":
        if dist.median is None or dist.sigma is None:
            raise InvalidInput("a lognormal delay needs `median` and `sigma`", location=at)
        lognormal = _build(
            at, wire.LognormalDelay, _LOGNORMAL, median_ms=dist.median, sigma=dist.sigma
        )
        return _build(at, wire.Delay, lognormal=lognormal)
    if dist.milliseconds is None:
        raise InvalidInput("a fixed delay distribution needs `milliseconds`", location=at)
    return _build(_key(at, "milliseconds"), wire.Delay, fixed_ms=dist.milliseconds)


_DRIBBLE: dict[tuple[Step, ...], str] = {
    ("chunks",): "numberOfChunks",
    ("total_ms",): "totalDuration",
}
_LOGNORMAL: dict[tuple[Step, ...], str] = {("median_ms",): "median", ("sigma",): "sigma"}
_UNIFORM: dict[tuple[Step, ...], str] = {("uniform_ms", 0): "lower", ("uniform_ms", 1): "upper"}


def global_delay(settings: shapes.GlobalSettings) -> wire.Delay | None:
    """The session-wide delay of WireMock's global settings."""
    return _delay(settings, settings.fixedDelay, "$", "fixedDelay")


#: The one response transformer WireMock ships, served as native `template: true`.
RESPONSE_TEMPLATE = "response-template"


def _templated(transformers: list[str] | None, at: str) -> bool:
    """Whether `transformers` asks for response templating; refuses any other transformer."""
    for index, name in enumerate(transformers or ()):
        if name != RESPONSE_TEMPLATE:
            raise InvalidInput(
                f"unknown transformer {name!r}: controlplane serves {RESPONSE_TEMPLATE!r} "
                "(Handlebars response templating) only",
                location=f"{at}[{index}]",
            )
    return bool(transformers)


def response_spec(
    response: shapes.ResponseDefinition, files: BodyFiles | None, location: str = "$.response"
) -> wire.AnyResponse:
    """A response definition as a native response; `files` is where `bodyFileName` is
    looked up (the session's files directory), so a bad one is reported at that field."""
    delay = _delay(response, response.fixedDelayMilliseconds, location, "fixedDelayMilliseconds")
    templated = _templated(response.transformers, _key(location, "transformers"))
    if response.proxyBaseUrl is not None:
        return _build(
            location,
            wire.ProxyResponse,
            _PROXY_FIELDS,
            url=response.proxyBaseUrl,
            strip_prefix=response.proxyUrlPrefixToRemove,
            headers=dict(response.additionalProxyRequestHeaders or {}),
            remove_headers=list(response.removeProxyRequestHeaders or ()),
            delay=delay,
            **({"template": True} if templated else {}),
        )
    for name in (
        "proxyUrlPrefixToRemove",
        "additionalProxyRequestHeaders",
        "removeProxyRequestHeaders",
    ):
        if getattr(response, name) is not None:
            raise InvalidInput(
                f"`{name}` goes with `proxyBaseUrl`, which this response does not have",
                location=_key(location, name),
            )
    if response.fault is not None:
        return wire.FaultResponse(fault=_FAULTS[response.fault], delay=delay)
    bodies = [
        n
        for n in ("body", "jsonBody", "base64Body", "bodyFileName")
        if getattr(response, n) not in (None, msgspec.UNSET)
    ]
    if len(bodies) > 1:
        raise InvalidInput(
            f"give one of body, jsonBody, base64Body, bodyFileName (found: {', '.join(bodies)})",
            location=_key(location, bodies[1]),
        )
    common: dict[str, Any] = {
        "status": 200 if response.status is None else response.status,
        "headers": dict(response.headers or {}),
        "delay": delay,
    }
    if response.statusMessage is not None:
        common["reason"] = response.statusMessage
    if templated:
        common["template"] = True
    if response.chunkedDribbleDelay is not None:
        dribble = response.chunkedDribbleDelay
        common["chunked_dribble"] = _build(
            _key(location, "chunkedDribbleDelay"),
            wire.ChunkedDribble,
            _DRIBBLE,
            chunks=dribble.numberOfChunks,
            total_ms=dribble.totalDuration,
        )
    if response.jsonBody is not msgspec.UNSET:
        if common.get("template"):
            try:
                compile_value(response.jsonBody)
            except TemplateSyntaxError as exc:
                raise InvalidInput(
                    exc.message, location=_key(location, "jsonBody") + exc.at
                ) from None
        return _build(
            location, wire.JsonResponse, _RESPONSE_FIELDS, body=response.jsonBody, **common
        )
    if response.base64Body is not None:
        return _build(
            location,
            wire.RawResponse,
            _RESPONSE_FIELDS,
            body_base64=response.base64Body,
            **common,
        )
    if response.bodyFileName is not None:
        raw = _build(
            location,
            wire.RawResponse,
            _RESPONSE_FIELDS,
            body_file=response.bodyFileName,
            **common,
        )
        try:
            check_body_file(files, response.bodyFileName)
        except ResponseSpecError as exc:
            raise InvalidInput(exc.message, location=_key(location, "bodyFileName")) from None
        return raw
    return _build(location, wire.RawResponse, _RESPONSE_FIELDS, body=response.body, **common)


# ------------------------------------------------------------------ mappings


def mapping_to_route(
    mapping: shapes.StubMapping,
    mapping_id: str,
    files: BodyFiles | None,
    location: str = "$",
) -> wire.Route:
    """The native route a stub mapping stands for (`mapping_id` already assigned).

    Errors are located under `location`, where the mapping sits in the document read
    (`$.mappings[2]` in an import); `files` is the session's files directory.
    """
    for name in ("postServeActions", "serveEventListeners"):
        if getattr(mapping, name) is not msgspec.UNSET:
            raise _not_yet(name, location)
    method, path, path_regex, match = pattern_parts(mapping.request, _key(location, "request"))
    scenario: wire.Scenario | msgspec.UnsetType = msgspec.UNSET
    if mapping.scenarioName is not None:
        scenario = _build(
            _key(location, "scenarioName"),
            wire.Scenario,
            name=mapping.scenarioName,
            required_state=mapping.requiredScenarioState,
            new_state=mapping.newScenarioState,
        )
    elif mapping.requiredScenarioState is not None or mapping.newScenarioState is not None:
        raise InvalidInput(
            "`requiredScenarioState` and `newScenarioState` need a `scenarioName`",
            location=_key(location, "scenarioName"),
        )
    return _build(
        _key(location, "request"),
        wire.Route,
        id=mapping_id,
        method=method,
        handler=handler_for(mapping_id),
        path=path,
        path_regex=path_regex,
        priority=5 if mapping.priority is None else mapping.priority,
        match=match,
        response=response_spec(mapping.response, files, _key(location, "response")),
        scenario=scenario,
        id_header=MATCHED_STUB_ID,
    )
