"""Wire types: every JSON shape the admin API reads or writes, declared once.

Validation of admin input, route files (JSON/YAML), the OpenAPI document and the
journal all use these `msgspec.Struct`s; nothing restates a field by hand.

Shapes that the design distinguishes by *which key is present* (string matchers,
delays) are one Struct with optional fields and a `__post_init__` that insists on
exactly one operator; msgspec reports the error with its JSON location.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from jsonpath_ng.ext.parser import parse as parse_jsonpath
from msgspec import UNSET, Meta, Struct, UnsetType, field
from msgspec.json import encode as _json_encode

from controlplane import dates, json_placeholders, json_schema, xmldoc
from controlplane import regex as user_regex

__all__ = [
    "MAX_DELAY_MS",
    "MAX_SIGMA",
    "MAX_WEBHOOK_TIMEOUT_MS",
    "PATH_PARAM",
    "SAFE_ID",
    "SAFE_ID_RULE",
    "UNSET",
    "AnyResponse",
    "CallList",
    "CallbackAnswer",
    "CallbackCall",
    "CallbackHello",
    "CallbackRefusal",
    "CallbackRegistered",
    "CallbackRequest",
    "CallbackResponse",
    "ChunkedDribble",
    "ConnectionsClosed",
    "Delay",
    "Delivered",
    "Diff",
    "ErrorBody",
    "ErrorDetail",
    "FaultResponse",
    "HandlerInfo",
    "HandlerList",
    "HeaderValues",
    "Health",
    "InProcessResponse",
    "JsonCompare",
    "JsonPathCondition",
    "JsonResponse",
    "JsonSchemaCondition",
    "LognormalDelay",
    "Match",
    "MessageMatcher",
    "MsgpackResponse",
    "MultipartCondition",
    "NearMiss",
    "NoRouteBody",
    "ProxyResponse",
    "PushedEvent",
    "PushedMessage",
    "RawResponse",
    "RecordedRequest",
    "RecordedResponse",
    "RecordingResult",
    "RecordingStart",
    "RecordingStatus",
    "RequestList",
    "Route",
    "RouteList",
    "Scenario",
    "ScenarioInfo",
    "ScenarioList",
    "ScenarioStateUpdate",
    "SchemaDraft",
    "SequenceResponse",
    "Session",
    "SessionCounts",
    "SessionCreate",
    "SessionList",
    "Settings",
    "SkippedExchange",
    "SnapshotRequest",
    "SseEvent",
    "SseResponse",
    "StreamFrame",
    "StreamFrameList",
    "StringMatcher",
    "StringMatcherSpec",
    "TomlResponse",
    "UnknownSessionBody",
    "UnmatchedRequest",
    "UnmatchedRequestList",
    "VerifyRequest",
    "VerifyResult",
    "WebSocketResponse",
    "Webhook",
    "WebhookCall",
    "WebhookList",
    "WsClose",
    "WsMessage",
    "WsRule",
    "XPathCondition",
    "XmlEqual",
    "YamlResponse",
    "response_type",
]

# Matchers, conditions and delays are told apart by which keys are present, so their
# echoes leave unset keys out; routes and responses echo every field, defaults included.
_STRICT = {"forbid_unknown_fields": True, "omit_defaults": True, "kw_only": True}


def _stated(**schema: Any) -> Meta:
    """A constraint checked in `__post_init__` (with a message a person can act on) and
    stated in the JSON schema too, so that the OpenAPI document says what the server
    refuses; msgspec itself does not enforce it."""
    return Meta(extra_json_schema=schema)


def _given(fields: dict[str, str | dict[str, Any]]) -> list[dict[str, Any]]:
    """One schema per field: "this field is given", with a value of its JSON type (a
    name, which excludes null) or of its schema."""
    return [
        {
            "required": [name],
            "properties": {name: {"type": kind} if isinstance(kind, str) else kind},
        }
        for name, kind in fields.items()
    ]


def _exactly_one_of(**fields: str | dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of "exactly one of these fields is given and not null"
    (field name -> its JSON type), for a Struct's `json_schema_extra`."""
    return {"oneOf": _given(fields)}


def _at_least_one_of(**fields: str | dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of "at least one of these fields is given (as `_exactly_one_of`)"."""
    return {"anyOf": _given(fields)}


NonEmpty = Annotated[str, _stated(minLength=1)]


# --------------------------------------------------------------------------- matchers


class StringMatcher(Struct, **_STRICT):
    """One string test. Exactly one operator is set; `case_insensitive` goes with `equals`."""

    equals: str | None = None
    case_insensitive: bool = False
    contains: str | None = None
    not_contains: str | None = None
    starts_with: str | None = None
    ends_with: str | None = None
    matches: str | None = None
    not_matches: str | None = None
    absent: bool | None = None
    any_of: list[StringMatcherSpec] | None = None
    all_of: list[StringMatcherSpec] | None = None
    not_: StringMatcherSpec | None = field(default=None, name="not")
    includes: list[StringMatcherSpec] | None = None
    has_exactly: list[StringMatcherSpec] | None = None
    #: Date-time operators: the value, read as a date-time, is before, after or at the
    #: moment `expected` names (`2026-01-01T00:00:00Z`, `now`, `now +3 days`).
    before: str | None = None
    after: str | None = None
    equals_date_time: str | None = None
    #: With a date-time operator: how the value is written (a Java `DateTimeFormatter`
    #: pattern, or `unix`/`epoch`); ISO 8601 and RFC 1123 without it.
    actual_format: str | None = None
    #: With a date-time operator: round the expected or the actual moment down (or up)
    #: first, e.g. `first day of month` (see `dates.TRUNCATIONS`).
    truncate_expected: str | None = None
    truncate_actual: str | None = None

    def __post_init__(self) -> None:
        operators = [
            name
            for name in _OPERATORS
            if getattr(self, name if name != "not" else "not_") is not None
        ]
        if len(operators) != 1:
            found = ", ".join(operators) or "none"
            raise ValueError(
                f"a string matcher takes exactly one of {', '.join(_OPERATORS)} (found: {found})"
            )
        if self.case_insensitive and operators != ["equals"]:
            raise ValueError("`case_insensitive` goes only with `equals`")
        _check_date_time(self, operators[0])
        if self.absent is False:
            raise ValueError("`absent` must be true; to require a value use `matches: '.*'`")
        for name in ("matches", "not_matches"):
            pattern = getattr(self, name)
            if pattern is not None:
                _check_regex(pattern, name)
        for name in ("any_of", "all_of", "includes", "has_exactly"):
            items = getattr(self, name)
            if items is not None and not items:
                raise ValueError(f"`{name}` needs at least one matcher")


_OPERATORS = (
    "equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "matches",
    "not_matches",
    "absent",
    "any_of",
    "all_of",
    "not",
    "includes",
    "has_exactly",
    "before",
    "after",
    "equals_date_time",
)
_DATE_OPERATORS = ("before", "after", "equals_date_time")
_DATE_MODIFIERS = ("actual_format", "truncate_expected", "truncate_actual")


def _check_date_time(matcher: StringMatcher, operator: str) -> None:
    given = [name for name in _DATE_MODIFIERS if getattr(matcher, name) is not None]
    if operator not in _DATE_OPERATORS:
        if given:
            raise ValueError(f"`{given[0]}` goes only with before, after or equals_date_time")
        return
    problem = dates.problem(
        operator,
        getattr(matcher, operator),
        matcher.actual_format,
        matcher.truncate_expected,
        matcher.truncate_actual,
    )
    if problem is not None:
        field, message = problem
        raise ValueError(f"`{operator if field == 'expected' else field}` {message}")


#: A bare string means equality.
StringMatcherSpec = str | StringMatcher


def _check_regex(pattern: str, field: str) -> None:
    # The message starts with the field's name so the admin API can point at it.
    try:
        user_regex.check(pattern)
    except user_regex.RegexError as exc:
        raise ValueError(f"`{field}` {exc}") from None


class JsonPathCondition(Struct, **_STRICT):
    """A JSONPath expression; without a matcher it means "the path exists". `matcher`
    tests what it finds as text, `json_compare` as JSON (give one of them at most)."""

    expression: str
    matcher: StringMatcherSpec | None = None
    json_compare: JsonCompare | None = None

    def __post_init__(self) -> None:
        try:
            parse_jsonpath(self.expression)
        except Exception as exc:  # jsonpath_ng raises plain Exceptions of its own
            raise ValueError(f"`expression` is not valid JSONPath: {exc}") from None
        if self.matcher is not None and self.json_compare is not None:
            raise ValueError("give `matcher` or `json_compare`, not both")


class JsonCompare(Struct, **_STRICT):
    """The body parsed as JSON compared with `value`, with the leniencies asked for.

    `ignore_array_order`: arrays match as multisets. `ignore_extra_fields`: objects may
    have keys `value` does not name. `ignore_extra_items`: arrays may have more items.
    """

    value: Any
    ignore_array_order: bool = False
    ignore_extra_fields: bool = False
    ignore_extra_items: bool = False
    #: JsonUnit's placeholders in `value`'s strings: `${json-unit.any-string}`,
    #: `${json-unit.any-number}`, `${json-unit.any-boolean}`, `${json-unit.ignore}`,
    #: `${json-unit.regex}RE` (see matching.md).
    placeholders: bool = False

    def __post_init__(self) -> None:
        if self.placeholders:
            json_placeholders.compile_placeholders(self.value)  # ValueError: a 422


class XmlEqual(Struct, **_STRICT):
    """The body parsed as XML equals `value` (namespace-aware; see matching.md)."""

    value: str
    #: `${xmlunit.ignore}`, `${xmlunit.isNumber}`, `${xmlunit.isDateTime}`,
    #: `${xmlunit.matchesRegex(RE)}` in expected text and attribute values.
    placeholders: bool = False
    #: Sibling elements in any order: compared after a stable sort by local name, as
    #: WireMock's `equalToXml` (same-named siblings keep their order).
    any_order: bool = False

    def __post_init__(self) -> None:
        try:
            xmldoc.ExpectedXml(self.value, self.placeholders, self.any_order)
        except xmldoc.XmlError as exc:
            raise ValueError(f"`value` is not usable XML: {exc}") from None


class XPathCondition(Struct, **_STRICT):
    """An XPath 2.0 expression on the body parsed as XML; without a matcher it means
    "selects something" (a boolean expression: "is true")."""

    expression: str
    #: Prefix -> namespace URI for the expression; without it, names are local names.
    namespaces: dict[str, str] | None = None
    matcher: StringMatcherSpec | None = None

    def __post_init__(self) -> None:
        try:
            xmldoc.compile_xpath(self.expression, self.namespaces)
        except xmldoc.XmlError as exc:
            raise ValueError(f"`expression` is {exc}") from None


SchemaDraft = Literal["4", "6", "7", "2019-09", "2020-12"]


class JsonSchemaCondition(Struct, **_STRICT):
    """The body parsed as JSON is valid against `schema` (draft: the given one, else
    the schema's `$schema`, else 2020-12)."""

    schema: Any
    draft: SchemaDraft | None = None

    def __post_init__(self) -> None:
        try:
            json_schema.compile_schema(self.schema, self.draft)
        except json_schema.SchemaError as exc:
            raise ValueError(f"`schema` is {exc}") from None


class MultipartCondition(Struct, **_STRICT):
    """Parts of a `multipart/*` body: `any` (one part at least) or `all` of them hold
    `part`, whose `headers` are the part's headers and whose body conditions its body."""

    part: Match
    parts: Literal["any", "all"] = "any"

    def __post_init__(self) -> None:
        used = [
            name
            for name in ("url", "host", "scheme", "port", "path_params", "query", "cookies", "form")
            if getattr(self.part, name) is not None
        ]
        if self.part.multipart is not None:
            used.append("multipart")
        if used:
            raise ValueError(
                f"`part` has headers and a body only; {', '.join(used)} cannot apply to it"
            )


class Match(Struct, **_STRICT):
    """Conditions beyond method and path; every field set must hold."""

    url: StringMatcherSpec | None = None
    #: The target host, without port, lower-case: a forward-proxy request's destination
    #: (`GET http://api.test/x`, `CONNECT`'s host) or, for any other request, its `Host`.
    host: StringMatcherSpec | None = None
    #: `http` or `https`: how the request reached the mock port (a forward-proxy
    #: request: its target URL's scheme).
    scheme: StringMatcherSpec | None = None
    #: The port of the `Host` header (the scheme's default when it names none).
    port: Annotated[int, Meta(ge=1, le=65535)] | None = None
    #: The address of the connection's other end (`127.0.0.1`, `::1`): the client's,
    #: or the last proxy's in front of the mock port. Requests rebuilt from the journal
    #: have none (only `absent: true` holds there).
    client_ip: StringMatcherSpec | None = None
    path_params: dict[str, StringMatcherSpec] | None = None
    query: dict[str, StringMatcherSpec] | None = None
    headers: dict[str, StringMatcherSpec] | None = None
    cookies: dict[str, StringMatcherSpec] | None = None
    json: Any | UnsetType = UNSET
    json_subset: Any | UnsetType = UNSET
    json_path: list[JsonPathCondition] | None = None
    json_compare: list[JsonCompare] | None = None
    body: str | None = None
    body_base64: str | None = None
    body_matcher: StringMatcherSpec | None = None
    form: dict[str, StringMatcherSpec] | None = None
    xml: list[XmlEqual] | None = None
    xpath: list[XPathCondition] | None = None
    json_schema: list[JsonSchemaCondition] | None = None
    multipart: list[MultipartCondition] | None = None

    def __post_init__(self) -> None:
        if self.body_base64 is not None:
            _check_base64(self.body_base64)


def _given_fields(struct: object, *names: str) -> list[str]:
    """Which of the fields `names` of `struct` were given (neither None nor unset)."""
    return [name for name in names if getattr(struct, name) not in (None, UNSET)]


def _check_base64(text: str, name: str = "body_base64") -> None:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"`{name}` is not valid base64") from None


#: Base64 text as the schema states it (`_check_base64` checks it): padded, no spaces.
Base64 = Annotated[
    str,
    _stated(pattern="^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"),
]


# --------------------------------------------------------------------------- delays


#: The longest delay any response, sequence or session may ask for: 10 minutes.
MAX_DELAY_MS = 600_000
#: The largest lognormal `sigma`: wider spreads only produce samples beyond the cap.
MAX_SIGMA = 10.0
#: A delay in milliseconds, as the schema states it (`_check_ms` checks it).
DelayMs = Annotated[float, _stated(minimum=0, maximum=MAX_DELAY_MS)]


def _check_ms(value: float, name: str) -> None:
    # `not 0 <= v <= max` also refuses NaN, which a constructed struct could hold.
    if not 0 <= value <= MAX_DELAY_MS:
        raise ValueError(
            f"`{name}` must be >= 0 and at most {MAX_DELAY_MS} ms (10 minutes), not {value:.15g}"
        )


class LognormalDelay(Struct, **_STRICT):
    """A random delay whose median is `median_ms`; `sigma` is the spread of its logarithm.

    Samples are capped at `MAX_DELAY_MS`.
    """

    median_ms: DelayMs
    sigma: Annotated[float, _stated(minimum=0, maximum=MAX_SIGMA)]

    def __post_init__(self) -> None:
        _check_ms(self.median_ms, "median_ms")
        if not 0 <= self.sigma <= MAX_SIGMA:
            raise ValueError(
                f"`sigma` must be >= 0 and at most {MAX_SIGMA:g}, not {self.sigma:.15g}"
            )


class Delay(Struct, **_STRICT):
    """Exactly one of `fixed_ms`, `uniform_ms` ([lo, hi]) or `lognormal`.

    Each is at most `MAX_DELAY_MS` (10 minutes).
    """

    #: Merged into the Struct's schema component by the OpenAPI document.
    json_schema_extra: ClassVar[dict[str, Any]] = _exactly_one_of(
        fixed_ms="number", uniform_ms="array", lognormal="object"
    )

    fixed_ms: DelayMs | None = None
    uniform_ms: tuple[DelayMs, DelayMs] | None = None
    lognormal: LognormalDelay | None = None

    def __post_init__(self) -> None:
        chosen = [
            n for n in ("fixed_ms", "uniform_ms", "lognormal") if getattr(self, n) is not None
        ]
        if len(chosen) != 1:
            raise ValueError("a delay takes exactly one of fixed_ms, uniform_ms, lognormal")
        if self.fixed_ms is not None:
            _check_ms(self.fixed_ms, "fixed_ms")
        if self.uniform_ms is not None:
            lo, hi = self.uniform_ms
            _check_ms(lo, "uniform_ms[0]")
            _check_ms(hi, "uniform_ms[1]")
            if hi < lo:
                raise ValueError("`uniform_ms` is [lo, hi] with 0 <= lo <= hi")


# --------------------------------------------------------------------------- responses

_RESPONSE = {"tag_field": "type", "forbid_unknown_fields": True, "kw_only": True}


def _check_status(status: int) -> None:
    # 1xx are interim answers (a client reads on for the final one) and 101 switches
    # protocols: neither can be a mock's whole answer.
    if not 200 <= status <= 599:
        interim = " (a 1xx answer is interim: it cannot be a whole response)"
        raise ValueError(
            f"`status` must be an HTTP status code 200-599, not {status}"
            + (interim if 100 <= status < 200 else "")
        )


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Control characters other than tab: a header value or status line holding one is
#: not HTTP (CR and LF would even start a header or a response of their own).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: Headers that frame the message: the server sets them from the body it sends.
_FRAMING = frozenset({"content-length", "transfer-encoding"})

#: A response header's value, or its values in order (the header is sent once per value).
HeaderValues = str | list[str]


def _unsafe(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _header_key(name: str) -> str:
    """`headers` and the key, as a location step the admin API can point at."""
    return f"headers[{_json_encode(name).decode()}]"


def _check_header_lines(headers: dict[str, HeaderValues]) -> None:
    """Refuse names that are not tokens and values that would break the header block
    (or inject into it): a response's headers and a webhook's.

    Messages start with the header's location (`headers["X-A"]`), so errors point at it.
    """
    for name, value in headers.items():
        at = _header_key(name)
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(
                f"`{at}`: {name!r} is an invalid header name "
                "(a token: letters, digits and !#$%&'*+-.^_`|~)"
            )
        values = [value] if isinstance(value, str) else value
        if any(_unsafe(v) for v in values):
            raise ValueError(
                f"`{at}`: the value contains a control character (CR, LF, NUL or another)"
            )


def _check_headers(headers: dict[str, HeaderValues]) -> None:
    """Refuse what would break the response on the wire: `_check_header_lines`, and
    the headers that frame the message, which the server sets."""
    _check_header_lines(headers)
    for name, value in headers.items():
        at = _header_key(name)
        values = [value] if isinstance(value, str) else value
        lowered = name.lower()
        if lowered in _FRAMING:
            raise ValueError(
                f"`{at}`: {name} frames the message, so the server sets it from the body "
                "it sends; remove it (for a short body use a `truncated` fault)"
            )
        if lowered == "connection" and [v.strip().lower() for v in values] != ["close"]:
            raise ValueError(
                f"`{at}`: Connection may only be `close` (the server then closes the "
                "connection after the answer); keep-alive is the server's decision"
            )


class ChunkedDribble(Struct, **_STRICT):
    """Send the body in `chunks` chunked-encoding pieces spread evenly over `total_ms`."""

    chunks: Annotated[int, _stated(minimum=1)]
    total_ms: DelayMs

    def __post_init__(self) -> None:
        if self.chunks < 1:
            raise ValueError("`chunks` must be >= 1")
        _check_ms(self.total_ms, "total_ms")


class _HttpResponse(Struct, **_RESPONSE):
    """What every response that sends a status line has: status, headers, delay."""

    status: Annotated[int, _stated(minimum=200, maximum=599)] = 200
    headers: dict[str, HeaderValues] = field(default_factory=dict)
    delay: Delay | None = None
    # Added after 0.1: unset fields stay out of echoes, which are otherwise complete.
    #: The status line's reason phrase; unset means the standard one (`OK`, `Not Found`).
    reason: str | UnsetType = UNSET
    chunked_dribble: ChunkedDribble | UnsetType = UNSET
    #: Render the body's text (every string of a structured body) and the header values
    #: as Handlebars templates over the request, per request (docs: templating).
    template: bool | UnsetType = UNSET

    def __post_init__(self) -> None:
        _check_status(self.status)
        _check_headers(self.headers)
        if isinstance(self.reason, str) and _unsafe(self.reason):
            raise ValueError("`reason` contains a control character (CR, LF, NUL or another)")


class JsonResponse(_HttpResponse, tag="json"):
    """`body` serialised as JSON, `application/json`."""

    body: Any = None


class RawResponse(_HttpResponse, tag="raw"):
    """Bytes exactly as given: `body` (text), `body_base64` or `body_file`, at most one.

    `body_file` is a path relative to the server's files directory (`__files/` of the
    `--mappings` root), read when the response is registered.
    """

    body: str | None = None
    body_base64: str | None = None
    content_type: str | None = None
    body_file: str | UnsetType = UNSET

    def __post_init__(self) -> None:
        super().__post_init__()
        given = _given_fields(self, "body", "body_base64", "body_file")
        if len(given) > 1:
            named = " and ".join(f"`{n}`" for n in given)
            raise ValueError(f"give {named}, not both: a raw response has one body")
        if self.body_base64 is not None:
            _check_base64(self.body_base64)
        if self.content_type is not None and _unsafe(self.content_type):
            raise ValueError("`content_type` contains a control character (CR, LF, NUL or another)")
        if isinstance(self.body_file, str) and "\x00" in self.body_file:
            raise ValueError("`body_file` contains a NUL character, which no file name can hold")


class MsgpackResponse(_HttpResponse, tag="msgpack"):
    """`body` as MessagePack, `application/msgpack`."""

    body: Any = None


class YamlResponse(_HttpResponse, tag="yaml"):
    """`body` as YAML, `application/yaml`."""

    body: Any = None


class TomlResponse(_HttpResponse, tag="toml"):
    """`body` as TOML, `application/toml`; it must be an object: TOML documents are tables."""

    body: dict[str, Any] = field(default_factory=dict)


class SequenceResponse(Struct, tag="sequence", **_RESPONSE):
    """Answers with each response in turn; `on_exhausted` says what follows the last."""

    responses: Annotated[list[AnyResponse], _stated(minItems=1)]
    on_exhausted: Literal["raise", "cycle", "last"] = "raise"
    delay: Delay | None = None

    def __post_init__(self) -> None:
        if not self.responses:
            raise ValueError("`responses` needs at least one response")


FaultKind = Literal[
    "disconnect",
    "empty_response",
    "connection_reset",
    "truncated",
    "malformed_chunk",
    "random_data_then_close",
]


class FaultResponse(Struct, tag="fault", **_RESPONSE):
    """A socket-level failure the client really sees."""

    fault: FaultKind
    delay: Delay | None = None


#: An origin to proxy to, as the schema states it (`check_origin_url` checks it).
OriginUrl = Annotated[str, _stated(pattern="^https?://[^/?#][^?#]*$")]
#: A header name, as the schema states it.
HeaderName = Annotated[str, _stated(pattern=f"^{_HEADER_NAME.pattern}$")]


def check_origin_url(url: str, name: str) -> None:
    """Raise ValueError unless `url` (field `name`) is an origin to proxy to."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest or rest.startswith("/"):
        raise ValueError(f"`{name}` must be an absolute http:// or https:// URL, got {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port that is not a number raises here
    except ValueError as exc:
        raise ValueError(f"`{name}` is not a valid URL ({exc}): {url!r}") from None
    if not parts.hostname:
        raise ValueError(f"`{name}` names no host: {url!r}")
    if "?" in url or "#" in url:
        raise ValueError(
            f"`{name}` takes no query or fragment: the request's own query is forwarded"
        )


class ProxyResponse(Struct, tag="proxy", **_RESPONSE):
    """Forward the request to `url` and answer with what the origin answers.

    The request's path (less `strip_prefix`) is appended to the url's path and its raw
    query kept; its headers go along less hop-by-hop ones, `Host` becoming the origin's
    unless `preserve_host`. The origin's status, headers and body come back untouched
    (a gzip body stays gzip), streamed as they arrive; redirects are returned, not
    followed. `timeout_ms` bounds connecting and each read: past it the answer is 504,
    and an origin that cannot be reached is a 502.
    """

    url: OriginUrl
    strip_prefix: Annotated[str, _stated(pattern="^/")] | None = None
    headers: dict[HeaderName, str] = field(default_factory=dict)
    remove_headers: list[str] = field(default_factory=list)
    timeout_ms: Annotated[float, _stated(exclusiveMinimum=0, maximum=600_000)] = 10_000
    preserve_host: bool = False
    #: Do not verify the origin's certificate (HTTPS origins with a self-signed one).
    insecure: bool = False
    #: PEM file of the CAs to trust for this origin, instead of the system's.
    ca_file: str | None = None
    #: PEM files of a client certificate and its key, for origins that ask for one.
    client_cert: str | None = None
    client_key: str | None = None
    delay: Delay | None = None
    #: Render `url` and the `headers` values as Handlebars templates over the request.
    template: bool | UnsetType = UNSET

    def __post_init__(self) -> None:
        # A templated url is checked once rendered, per request.
        if not (self.template is True and "{{" in self.url):
            check_origin_url(self.url, "url")
        if not 0 < self.timeout_ms <= 600_000:
            raise ValueError(
                f"`timeout_ms` must be > 0 and at most 600000, got {self.timeout_ms:g}"
            )
        if self.strip_prefix is not None and not self.strip_prefix.startswith("/"):
            raise ValueError(f"`strip_prefix` must start with '/', got {self.strip_prefix!r}")
        _check_headers(dict(self.headers))
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("`client_cert` and `client_key` go together: give both or neither")
        if self.insecure and self.ca_file is not None:
            raise ValueError("`insecure` trusts any certificate: give it or `ca_file`, not both")


# --------------------------------------------------------------------------- streaming

#: The WebSocket close codes a server may send (RFC 6455 §7.4): 1000-1003, 1007-1014,
#: and 3000-4999 (registered and private); 1004-1006 and 1015 never go on the wire.
_WS_CLOSE_CODES = (*range(1000, 1004), *range(1007, 1015), *range(3000, 5000))


#: One line of an event stream's field, as the schema states it (`_check_line` checks it).
OneLine = Annotated[str, _stated(pattern="^[^\\r\\n\\x00]*$")]


def _check_line(value: str | None, name: str) -> None:
    if value is not None and ("\r" in value or "\n" in value or "\x00" in value):
        raise ValueError(
            f"`{name}` must be one line: CR, LF and NUL would break the event stream's framing"
        )


class SseEvent(Struct, **_STRICT):
    """One Server-Sent Event: `data`, `event`, `id`, `retry` and `comment`, at least one.

    `data` is sent as is when a string, as its JSON text otherwise. `retry` is in
    milliseconds. Multi-line data becomes one `data:` line per line. In a response's `events`,
    `delay_ms` is the wait after the previous event (or the headers); a pushed event
    is sent at once and takes no delay.
    """

    #: Merged into the Struct's schema component by the OpenAPI document.
    json_schema_extra: ClassVar[dict[str, Any]] = _at_least_one_of(
        data={}, event="string", id="string", retry="integer", comment="string"
    )

    data: Any | UnsetType = UNSET
    event: OneLine | None = None
    id: OneLine | None = None
    retry: Annotated[int, _stated(minimum=0)] | None = None
    comment: str | None = None
    delay_ms: DelayMs = 0

    def __post_init__(self) -> None:
        if (
            self.data is UNSET
            and self.event is None
            and self.id is None
            and (self.retry is None and self.comment is None)
        ):
            raise ValueError("an event needs at least one of data, event, id, retry, comment")
        _check_line(self.event, "event")
        _check_line(self.id, "id")
        if self.retry is not None and self.retry < 0:
            raise ValueError(f"`retry` must be >= 0 (milliseconds), not {self.retry}")
        _check_ms(self.delay_ms, "delay_ms")


class SseResponse(Struct, tag="sse", **_RESPONSE):
    """A `text/event-stream` of `events`, each sent after its `delay_ms`.

    The stream ends after the last event unless `keep_open`: then pushed events
    (`POST .../handlers/{name}/events`) keep reaching it.
    `heartbeat_ms` sends a comment line whenever the stream has been idle that long;
    `drop_after` closes the connection abruptly (no end of stream) once that many
    events went out, pushed ones included.
    """

    events: list[SseEvent] = field(default_factory=list)
    keep_open: bool = False
    heartbeat_ms: float | None = None
    drop_after: int | None = None
    headers: dict[str, HeaderValues] = field(default_factory=dict)
    delay: Delay | None = None
    #: Render the strings in each scripted event's `data` as Handlebars templates over
    #: the request that opened the stream (pushed events are sent as given).
    template: bool | UnsetType = UNSET

    def __post_init__(self) -> None:
        _check_headers(self.headers)
        if self.heartbeat_ms is not None and not 0 < self.heartbeat_ms <= MAX_DELAY_MS:
            raise ValueError(
                f"`heartbeat_ms` must be > 0 and at most {MAX_DELAY_MS} ms, "
                f"not {self.heartbeat_ms:.15g}"
            )
        if self.drop_after is not None and self.drop_after < 0:
            raise ValueError(f"`drop_after` must be >= 0 (events), not {self.drop_after}")


class WsMessage(Struct, **_STRICT):
    """One WebSocket message: exactly one of `text`, `json` and `binary_base64`.

    `json` is sent as a text message. In a response, `delay_ms` is the wait after the
    previous message; a pushed message is sent at once and takes no delay.
    """

    #: Merged into the Struct's schema component by the OpenAPI document.
    json_schema_extra: ClassVar[dict[str, Any]] = _exactly_one_of(
        text="string", json={"not": {"type": "null"}}, binary_base64="string"
    )

    text: str | None = None
    json: Any | UnsetType = UNSET
    binary_base64: Base64 | None = None
    delay_ms: DelayMs = 0

    def __post_init__(self) -> None:
        given = _given_fields(self, "text", "json", "binary_base64")
        if len(given) != 1:
            found = ", ".join(given) or "none"
            raise ValueError(
                f"a message takes exactly one of text, json, binary_base64 (found: {found})"
            )
        if self.binary_base64 is not None:
            _check_base64(self.binary_base64, "binary_base64")
        _check_ms(self.delay_ms, "delay_ms")


#: A pushed event or message (`POST .../events`, `.../messages`) is sent at once: its
#: schema says what those endpoints check, that `delay_ms` is 0 or left out.
_SENT_AT_ONCE = _stated(properties={"delay_ms": {"const": 0}})
PushedEvent = Annotated[SseEvent, _SENT_AT_ONCE]
PushedMessage = Annotated[WsMessage, _SENT_AT_ONCE]


class WsClose(Struct, **_STRICT):
    """A close frame: `code` (1000, 1001-1003, 1007-1014 or 3000-4999) and a `reason`."""

    code: int = 1000
    reason: str = ""

    def __post_init__(self) -> None:
        if self.code not in _WS_CLOSE_CODES:
            raise ValueError(
                f"`code` must be a close code a server may send (1000-1003, 1007-1014, "
                f"3000-4999), not {self.code}"
            )
        if len(self.reason.encode()) > 123:
            raise ValueError("`reason` is at most 123 bytes (UTF-8): it must fit a control frame")


class MessageMatcher(StringMatcher):
    """A string matcher on a text message, or `json_subset` on its JSON parse.

    `json_subset` holds when the message parses as JSON containing this (extra keys
    ignored).
    """

    json_subset: Any | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.json_subset is UNSET:
            super().__post_init__()
            return
        operators = [
            n for n in _OPERATORS if getattr(self, n if n != "not" else "not_") is not None
        ]
        if operators or self.case_insensitive:
            raise ValueError(
                f"give `json_subset` or a string operator, not both (found: {', '.join(operators)})"
            )


class WsRule(Struct, **_STRICT):
    """When an incoming message matches `match`: send `reply`, then `close` if given."""

    match: str | MessageMatcher
    reply: list[WsMessage] = field(default_factory=list)
    close: WsClose | None = None


class WebSocketResponse(Struct, tag="websocket", **_RESPONSE):
    """A WebSocket peer: `on_connect` messages, then `rules` answer incoming messages.

    Each incoming message is answered by the first rule it matches, or echoed
    (`echo`), or left unanswered.
    `protocols` are the subprotocols offered, in order of preference: the first one the
    client asks for is chosen. `delay` holds the first message back, not the upgrade.
    """

    on_connect: list[WsMessage] = field(default_factory=list)
    rules: list[WsRule] = field(default_factory=list)
    echo: bool = False
    protocols: list[str] = field(default_factory=list)
    delay: Delay | None = None

    def __post_init__(self) -> None:
        for protocol in self.protocols:
            if not _HEADER_NAME.fullmatch(protocol):
                raise ValueError(
                    f"`protocols`: {protocol!r} is not a valid subprotocol name (a token)"
                )


class Delivered(Struct, kw_only=True):
    """How many open connections a push reached."""

    delivered: int


class ConnectionsClosed(Struct, kw_only=True):
    """How many open connections were closed."""

    closed: int


class StreamFrame(Struct, kw_only=True, omit_defaults=True):
    """One frame in or out of a WebSocket or SSE stream: a message, an event or a close.

    `text` holds a text message (or an event's data as sent) and `json` its parse when
    it is JSON; `binary_base64` a binary message; `code` and `reason` a close.
    """

    seq: int
    time: str
    connection: str
    direction: Literal["in", "out"]
    kind: Literal["text", "binary", "close", "event"]
    text: str | None = None
    json: Any | UnsetType = UNSET
    binary_base64: str | None = None
    event: str | None = None
    id: str | None = None
    code: int | None = None
    reason: str | None = None


class StreamFrameList(Struct, kw_only=True):
    messages: list[StreamFrame]
    evicted: int
    #: The `after` cursor of the next page; null when this page is the last.
    next: int | None = None


class InProcessResponse(Struct, tag="in_process", kw_only=True):
    """A response answered by Python code inside the server's process.

    Only Python code running the server in-process registers these
    (`controlplane.srvmocker`, for asyncly's custom `BaseMockResponse` subclasses); the
    admin API shows them in a handler's `response` and cannot create one.
    """

    #: What answers: the Python class's qualified name, e.g. `tests.fakes.CatResponse`.
    name: str


class CallbackResponse(Struct, tag="callback", kw_only=True):
    """A handler answered by a connected callback (a client's WebSocket to the admin API).

    The admin API shows it in a handler's `response` while the callback is connected
    and cannot create one: `GET .../handlers/{name}/callback` (a WebSocket) does.
    """

    #: How long the server waits for each answer before it answers 504 itself.
    timeout_ms: int


AnyResponse = (
    JsonResponse
    | RawResponse
    | MsgpackResponse
    | YamlResponse
    | TomlResponse
    | SequenceResponse
    | FaultResponse
    | ProxyResponse
    | SseResponse
    | WebSocketResponse
)


# --------------------------------------------------------------------------- webhooks

#: The longest a webhook call may take (`timeout_ms`): one minute.
MAX_WEBHOOK_TIMEOUT_MS = 60_000


class Webhook(Struct, **_STRICT):
    """An HTTP call a route makes after its response is sent (docs: webhooks).

    `url`, the header values and `body` (every string of `json`) are Handlebars
    templates over the request that triggered it, always rendered (`originalRequest`,
    WireMock's name, and `request` are the same model). At most one of `body`, `json`
    and `body_base64`; `json` sends `Content-Type: application/json` unless `headers`
    name one. `delay` waits before the call; `timeout_ms` bounds the whole call.
    """

    method: Annotated[str, _stated(pattern="^[A-Za-z]+$")]
    url: NonEmpty
    headers: dict[str, HeaderValues] = field(default_factory=dict)
    body: str | None = None
    json: Any | UnsetType = UNSET
    body_base64: str | None = None
    delay: Delay | None = None
    timeout_ms: Annotated[float, _stated(exclusiveMinimum=0, maximum=MAX_WEBHOOK_TIMEOUT_MS)] = (
        10_000
    )

    def __post_init__(self) -> None:
        if not self.method.isascii() or not self.method.isalpha():
            raise ValueError(f"`method` must be an HTTP method (letters), got {self.method!r}")
        self.method = self.method.upper()
        if not self.url:
            raise ValueError("`url` must not be empty")
        if "{{" not in self.url:
            check_webhook_url(self.url, "url")
        given = _given_fields(self, "body", "json", "body_base64")
        if len(given) > 1:
            named = " and ".join(f"`{n}`" for n in given)
            raise ValueError(f"give {named}, not both: a webhook sends one body")
        if self.body_base64 is not None:
            _check_base64(self.body_base64)
        _check_header_lines(self.headers)
        if not 0 < self.timeout_ms <= MAX_WEBHOOK_TIMEOUT_MS:
            raise ValueError(
                f"`timeout_ms` must be > 0 and at most {MAX_WEBHOOK_TIMEOUT_MS}, "
                f"got {self.timeout_ms:g}"
            )


def check_webhook_url(url: str, name: str) -> None:
    """Raise ValueError unless `url` (field `name`) is an absolute http(s) URL with a host."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        raise ValueError(f"`{name}` must be an absolute http:// or https:// URL, got {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a port that is not a number raises here
    except ValueError as exc:
        raise ValueError(f"`{name}` is not a valid URL ({exc}): {url!r}") from None
    if not parts.hostname:
        raise ValueError(f"`{name}` names no host: {url!r}")
    if _unsafe(url) or " " in url:
        raise ValueError(f"`{name}` contains a space or a control character: {url!r}")


class WebhookCall(Struct, kw_only=True):
    """One webhook call a route made: where to, and what came of it.

    `status` is the target's HTTP status; when there is none, `error` says why
    (`timeout`, `unreachable`, `connection_error`, `invalid_url`, `template_error`,
    `template_limit`, `overloaded`) and `message` explains it.
    """

    id: str
    seq: int
    #: When the call was started (after its delay), ISO 8601 UTC.
    time: str
    session: str
    route_id: str
    handler: str
    #: Which of the route's `webhooks` (its index).
    webhook: int
    method: str
    #: The url as rendered ("" when rendering failed).
    url: str
    status: int | None
    error: str | None
    message: str | None
    duration_ms: float


class WebhookList(Struct, kw_only=True):
    """A session's webhook calls, oldest first; `pending` have not finished yet."""

    webhooks: list[WebhookCall]
    pending: int
    evicted: int


# --------------------------------------------------------------------------- routes

#: A `{name}` or `{name:regex}` in a path template (the regex may hold one level of braces).
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::((?:[^{}]|\{[^{}]*\})*))?\}")

_TEMPLATE_FORMS = (
    "a parameter is {name} or {name:regex}, its name a letter or _ then letters, "
    "digits or _; for a literal brace use `path_regex`"
)


def template_problem(path: str) -> str | None:
    """What is wrong with the braces of a path template, or None when there is nothing.

    Every `{` must open a parameter and every `}` close one: `/x/{id` is refused rather
    than served as a literal path nobody meant.
    """
    end = 0
    for param in PATH_PARAM.finditer(path):
        if (stray := _stray_brace(path, end, param.start())) is not None:
            return stray
        end = param.end()
    return _stray_brace(path, end, len(path))


def _stray_brace(path: str, start: int, stop: int) -> str | None:
    for index in range(start, stop):
        char = path[index]
        if char == "}":
            return (
                f"has a '}}' that closes no parameter at character {index + 1} of "
                f"{path!r}: {_TEMPLATE_FORMS}"
            )
        if char == "{":
            closing = path.find("}", index)
            if closing == -1:
                return (
                    f"has an unclosed '{{' at character {index + 1} of {path!r}: {_TEMPLATE_FORMS}"
                )
            return (
                f"has {path[index : closing + 1]!r} at character {index + 1} of {path!r}, "
                f"which is not a parameter: {_TEMPLATE_FORMS}"
            )
    return None


class Scenario(Struct, **_STRICT):
    """A route's part in a named state machine (initial state `Started`).

    The route matches only while the scenario is in `required_state` (any state when
    unset) and, when it wins, moves the scenario to `new_state` (if set).
    """

    name: NonEmpty
    required_state: str | None = None
    new_state: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("`name` must not be empty")


def check_route_path(path: str | None, path_regex: str | None) -> None:
    """Raise ValueError unless exactly one of a route's `path` and `path_regex` is valid.

    A dialect that translates its own path forms calls this to report a bad one at its
    own field; `Route` runs the same check.
    """
    if (path is None) == (path_regex is None):
        raise ValueError("a route takes exactly one of `path` and `path_regex`")
    if path is not None:
        if not path.startswith("/"):
            raise ValueError(f"`path` must start with '/', got {path!r}")
        if (problem := template_problem(path)) is not None:
            raise ValueError(f"`path` {problem}")
        for m in PATH_PARAM.finditer(path):
            if m.group(2) is not None:
                _check_regex(m.group(2), "path")
    if path_regex is not None:
        _check_regex(path_regex, "path_regex")


#: A route's method: an HTTP method (ASCII letters, any case) or `*` for any.
_METHOD = re.compile(r"\*|[A-Za-z]+")


class Route(Struct, forbid_unknown_fields=True, kw_only=True):
    """Method + path (+ conditions) -> handler. `id` is assigned when not given."""

    #: Merged into the Struct's schema component by the OpenAPI document.
    json_schema_extra: ClassVar[dict[str, Any]] = _exactly_one_of(
        path="string", path_regex="string"
    )

    method: Annotated[str, _stated(pattern=f"^(?:{_METHOD.pattern})$")]
    handler: NonEmpty
    path: Annotated[str, _stated(pattern="^/")] | None = None
    path_regex: str | None = None
    priority: int = 5
    match: Match | None = None
    times: Annotated[int, _stated(minimum=1)] | None = None
    response: AnyResponse | None = None
    id: Annotated[str, _stated(minLength=1)] | None = None
    # Added after 0.1: unset fields stay out of echoes, which are otherwise complete.
    scenario: Scenario | UnsetType = UNSET
    #: When set, answers of this route carry a header of this name holding the route id
    #: (the WireMock dialect sets `Matched-Stub-Id`).
    id_header: Annotated[str, _stated(pattern=f"^{_HEADER_NAME.pattern}$")] | UnsetType = UNSET
    #: HTTP calls made after each answer of this route (docs: webhooks).
    webhooks: list[Webhook] | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.id_header, str) and not _HEADER_NAME.fullmatch(self.id_header):
            raise ValueError(f"`id_header` is not a valid header name: {self.id_header!r}")
        if self.id == "":
            raise ValueError(
                "`id` must not be empty: give one, or leave it out to have one assigned"
            )
        check_route_path(self.path, self.path_regex)
        if self.times is not None and self.times < 1:
            raise ValueError("`times` is null (unlimited) or >= 1")
        if not self.handler:
            raise ValueError("`handler` must not be empty")
        if not _METHOD.fullmatch(self.method):
            raise ValueError(f"`method` must be an HTTP method or '*', got {self.method!r}")
        self.method = self.method.upper()


class RouteList(Struct, forbid_unknown_fields=True, kw_only=True):
    routes: list[Route]


# --------------------------------------------------------------------------- sessions


#: An id that is safe as a URL path segment and as a file name: 1-64 of A-Z a-z 0-9
#: _ . -, not starting with a dot (so never `.`, `..` or a hidden file).
SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
#: `SAFE_ID` in words, for messages.
SAFE_ID_RULE = "1-64 of A-Z a-z 0-9 _ . -, not starting with '.'"


class SessionCreate(Struct, **_STRICT):
    name: str | None = None
    #: See `SAFE_ID`; a client normalises `.` and `..` out of its URLs.
    id: Annotated[str, _stated(pattern=f"^{SAFE_ID.pattern}$")] | None = None

    def __post_init__(self) -> None:
        if self.id is not None and not SAFE_ID.fullmatch(self.id):
            raise ValueError(f"`id` takes {SAFE_ID_RULE}, not {self.id!r}")


class SessionCounts(Struct, kw_only=True):
    """What a session holds now, counted without reading its journal."""

    routes: int
    #: Entries in its journal (at most `--journal-size`).
    requests: int
    #: Of those, requests no route matched and nothing else answered.
    unmatched: int
    #: Entries its journal dropped to stay within `--journal-size` since it was cleared.
    evicted: int


class Session(Struct, kw_only=True):
    id: str
    name: str | None
    mock_url: str
    admin_url: str
    counts: SessionCounts


class SessionList(Struct, kw_only=True):
    sessions: list[Session]


class Health(Struct, kw_only=True):
    status: str
    version: str
    #: The answering process (several serve one port with `--workers`).
    pid: int | None = None


# --------------------------------------------------------------------------- scenarios


class ScenarioInfo(Struct, kw_only=True):
    """One scenario: its state, the states its routes name, and those routes."""

    name: str
    state: str
    possible_states: list[str]
    route_ids: list[str]


class ScenarioList(Struct, kw_only=True):
    scenarios: list[ScenarioInfo]


class ScenarioStateUpdate(Struct, **_STRICT):
    """The state to put a scenario in; without `state`, back to `Started`."""

    state: str | None = None


# --------------------------------------------------------------------------- settings


class Settings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Session-wide settings: `delay` is added to every answer of the session.

    The forward proxy (a client whose `HTTP_PROXY` points at the mock port) reads the
    other two: `passthrough_unmatched` sends a proxy request no route matches on to
    its real destination (instead of a 404), and `proxy_auth` (`user:password`) makes
    proxy requests without those Basic credentials a 407.
    """

    delay: Delay | None = None
    passthrough_unmatched: bool = False
    proxy_auth: str | None = None

    def __post_init__(self) -> None:
        if self.proxy_auth is not None:
            user, colon, _ = self.proxy_auth.partition(":")
            if not colon or not user:
                # The value is not echoed: it may be a password.
                raise ValueError(
                    "`proxy_auth` is `user:password`: a user name, a colon, then the password"
                )
            if any(ord(c) < 32 or ord(c) == 127 for c in self.proxy_auth):
                raise ValueError("`proxy_auth` may not contain control characters")


# --------------------------------------------------------------------------- journal


class RecordedResponse(Struct, kw_only=True):
    status: int
    type: str
    delay_ms: float = 0
    error: str | None = None


class RecordedRequest(Struct, kw_only=True):
    id: str
    seq: int
    time: str
    session: str
    handler: str | None
    route_id: str | None
    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    path_params: dict[str, str]
    body: str | None
    body_base64: str
    #: The whole body's length in bytes, as received (`body` may hold less).
    body_size: int
    #: True when the journal kept only the first `--journal-body-limit` bytes.
    body_truncated: bool
    response: RecordedResponse
    matched: bool
    json: Any | UnsetType = UNSET
    #: True when the request was forwarded to an origin (a `proxy` response or a
    #: recording); recording builds routes from these entries.
    proxied: bool = False


#: `gc=False` (Diff and NearMiss): the journal keeps every unmatched request's near misses,
#: which the collector would otherwise walk; they hold strings, a float and a list of
#: Diffs, so no cycle can pass through them.
class Diff(Struct, kw_only=True, gc=False):
    field: str
    expected: str
    actual: str


class NearMiss(Struct, kw_only=True, gc=False):
    route_id: str
    handler: str
    distance: float
    diffs: list[Diff]


class UnmatchedRequest(RecordedRequest, kw_only=True):
    near_misses: list[NearMiss] = field(default_factory=list)


class UnknownSessionBody(Struct, kw_only=True):
    """The mock port's 404 body for a request to a session that does not exist."""

    message: str
    session: str


class NoRouteBody(Struct, kw_only=True, gc=False):
    """The mock port's 404 body for a request no route matched, closest routes first.

    `gc=False`: one is made per unmatched request and dropped once encoded; it holds
    strings and the near-miss list, which never refers back to it (no cycle).
    """

    message: str
    session: str
    method: str
    path: str
    near_misses: list[NearMiss]


class RequestList(Struct, kw_only=True):
    requests: list[RecordedRequest]
    evicted: int
    #: The `after` cursor of the next page; null when this page is the last.
    next: int | None = None


class UnmatchedRequestList(Struct, kw_only=True):
    requests: list[UnmatchedRequest]
    evicted: int
    #: The `after` cursor of the next page; null when this page is the last.
    next: int | None = None


class CallList(Struct, kw_only=True):
    calls: list[RecordedRequest]
    evicted: int
    #: The `after` cursor of the next page; null when this page is the last.
    next: int | None = None


# --------------------------------------------------------------------------- handlers


class HandlerInfo(Struct, kw_only=True):
    name: str
    route_ids: list[str]
    calls: int
    response: AnyResponse | InProcessResponse | CallbackResponse | None


class HandlerList(Struct, kw_only=True):
    handlers: list[HandlerInfo]


# --------------------------------------------------------------------------- verify


class VerifyRequest(Struct, **_STRICT):
    """Which calls to count (`json`/`body` exact, `headers`/`query` subset) and how many."""

    times: int | None = None
    at_least: int | None = None
    at_most: int | None = None
    json: Any | UnsetType = UNSET
    body: str | None = None
    headers: dict[str, str] | None = None
    query: dict[str, str] | None = None

    def __post_init__(self) -> None:
        for name in ("times", "at_least", "at_most"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"`{name}` must be >= 0")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError("`at_least` is greater than `at_most`: no count can satisfy both")


class VerifyResult(Struct, kw_only=True, omit_defaults=True):
    ok: bool
    count: int
    evicted: int
    message: str | None = None


# --------------------------------------------------------------------------- recording


class RecordingStart(Struct, **_STRICT):
    """Start recording: the session's unmatched requests go to `target` and are captured.

    `match` limits which requests are proxied and recorded (any method and path);
    `capture_headers` names the request headers recorded routes match on; with
    `add_routes` false, stop only returns the routes instead of adding them too.
    """

    target: OriginUrl
    match: Match | None = None
    capture_headers: list[HeaderName] = field(default_factory=list)
    add_routes: bool = True

    def __post_init__(self) -> None:
        check_origin_url(self.target, "target")
        for name in self.capture_headers:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"`capture_headers` holds {name!r}, which is not a header name")


class SnapshotRequest(Struct, **_STRICT):
    """Build routes from the journal's proxied exchanges (`match` and the rest as in start)."""

    match: Match | None = None
    capture_headers: list[HeaderName] = field(default_factory=list)
    add_routes: bool = True

    def __post_init__(self) -> None:
        for name in self.capture_headers:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"`capture_headers` holds {name!r}, which is not a header name")


class RecordingStatus(Struct, kw_only=True):
    """Whether the session records, where to, and how many exchanges it captured."""

    status: Literal["recording", "stopped"]
    target: str | None = None
    captured: int = 0


class SkippedExchange(Struct, forbid_unknown_fields=True, kw_only=True):
    """A proxied exchange no route was built from, and why."""

    method: str
    path: str
    reason: str


class RecordingResult(Struct, forbid_unknown_fields=True, kw_only=True):
    """The routes built from the recorded exchanges, and the exchanges skipped.

    Saved as it is, it is a route file (`--mappings`): that is playback.
    """

    routes: list[Route]
    skipped: list[SkippedExchange] = field(default_factory=list)


# --------------------------------------------------------------------------- callbacks
# The frames of a callback WebSocket (`GET .../handlers/{name}/callback`), JSON text.


class CallbackRegistered(Struct, kw_only=True):
    session: str
    handler: str
    timeout_ms: int


class CallbackHello(Struct, kw_only=True):
    """Server -> client, first: the registration is live; requests may follow."""

    registered: CallbackRegistered


class CallbackRequest(Struct, kw_only=True):
    """A mock request as a callback sees it (the journal's fields, as far as known)."""

    session: str
    handler: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    path_params: dict[str, str]
    body: str | None
    body_base64: str
    json: Any | UnsetType = UNSET


class CallbackCall(Struct, kw_only=True):
    """Server -> client: answer `request` with a `CallbackAnswer` carrying the same `id`."""

    id: str
    request: CallbackRequest


class CallbackAnswer(Struct, forbid_unknown_fields=True, kw_only=True):
    """Client -> server: the `response` to the call `id`, or the `error` the callback hit."""

    id: str
    response: AnyResponse | None = None
    #: The callback failed (its exception, as text): the mock request answers 500.
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.response is None) == (self.error is None):
            raise ValueError("give exactly one of `response` and `error`")


class CallbackRefusal(Struct, kw_only=True):
    """Server -> client: a frame it could not use (`id` null when it had none)."""

    id: str | None
    error: ErrorDetail


# --------------------------------------------------------------------------- errors


class ErrorDetail(Struct, kw_only=True):
    code: str
    message: str
    location: str | None = None


class ErrorBody(Struct, kw_only=True):
    error: ErrorDetail


def response_type(spec: AnyResponse) -> str:
    """The `type` tag of a response (`json`, `raw`, ...)."""
    return str(spec.__struct_config__.tag)
