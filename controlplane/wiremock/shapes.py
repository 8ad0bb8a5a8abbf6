"""WireMock's JSON, declared once as msgspec Structs with WireMock's own (camelCase) names.

Inputs (stub mappings, request patterns, settings, import bodies) refuse unknown fields,
so a typo is a 422 at its JSON pointer. Fields WireMock has and controlplane does not
serve yet are declared, so that `translate` can say "not supported yet" instead of
"unknown field". Outputs (serve events, logged requests, near misses) leave out what
is unset.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, Struct, UnsetType, field

__all__ = [
    "AllMappings",
    "BasicAuth",
    "CaptureHeader",
    "ChunkedDribbleDelay",
    "ContentPattern",
    "Count",
    "DelayDistribution",
    "ExtendedSettings",
    "FoundRequests",
    "GlobalSettings",
    "ImportBody",
    "ImportOptions",
    "JsonPathPattern",
    "LoggedRequest",
    "MatchResult",
    "Meta",
    "MultipartPattern",
    "NearMiss",
    "NearMisses",
    "QueryParameter",
    "RecordFilters",
    "RecordSpec",
    "RecordedIds",
    "RecordedMappings",
    "RecordingStatus",
    "RemovedEvents",
    "RequestBodyPatternSpec",
    "RequestPattern",
    "ResponseDefinition",
    "ScenarioState",
    "ServeEvent",
    "ServeEventList",
    "ServeEventListener",
    "ServedResponse",
    "SettingsAnswer",
    "StubMapping",
    "WebhookParameters",
    "WireMockScenario",
    "WireMockScenarios",
]

_IN = {"forbid_unknown_fields": True, "omit_defaults": True, "kw_only": True}
_OUT = {"omit_defaults": True, "kw_only": True}


class ContentPattern(Struct, **_IN):
    """One matcher (`equalTo`, `contains`, `equalToJson`, `and`...): exactly one operator."""

    equalTo: str | None = None
    caseInsensitive: bool | None = None
    contains: str | None = None
    doesNotContain: str | None = None
    matches: str | None = None
    doesNotMatch: str | None = None
    absent: bool | None = None
    anything: Any | UnsetType = UNSET
    equalToJson: Any | UnsetType = UNSET
    ignoreArrayOrder: bool | None = None
    ignoreExtraElements: bool | None = None
    matchesJsonPath: str | JsonPathPattern | None = None
    binaryEqualTo: str | None = None
    and_: list[ContentPattern] | None = field(default=None, name="and")
    or_: list[ContentPattern] | None = field(default=None, name="or")
    not_: ContentPattern | None = field(default=None, name="not")
    hasExactly: list[ContentPattern] | None = None
    includes: list[ContentPattern] | None = None
    #: XML bodies: `xml` and `xpath` conditions.
    equalToXml: str | None = None
    enablePlaceholders: bool | None = None
    matchesXPath: str | JsonPathPattern | None = None
    xPathNamespaces: dict[str, str] | None = None
    #: `json_schema`: the schema inline or as a string; `V4` ... `V202012`.
    matchesJsonSchema: Any | UnsetType = UNSET
    schemaVersion: Literal["V4", "V6", "V7", "V201909", "V202012"] | None = None
    #: Date-time string matchers.
    equalToDateTime: str | None = None
    before: str | None = None
    after: str | None = None
    actualFormat: str | None = None
    expectedOffset: int | None = None
    expectedOffsetUnit: str | None = None
    truncateExpected: str | None = None
    truncateActual: str | None = None
    # Custom placeholder delimiters: refused (`patterns` says why).
    placeholderOpeningDelimiterRegex: Any | UnsetType = UNSET
    placeholderClosingDelimiterRegex: Any | UnsetType = UNSET
    #: XMLUnit comparison types not to count: only those the native comparison never
    #: makes are accepted (`patterns.XML_NEVER_COMPARED`).
    exemptedComparisons: list[str] | None = None
    #: `STRICT` is the native comparison (WireMock's default); `LEGACY` and `NONE` are
    #: refused (`patterns` says why).
    namespaceAwareness: Literal["STRICT", "LEGACY", "NONE"] | None = None


class JsonPathPattern(ContentPattern, **_IN):
    """`matchesJsonPath` or `matchesXPath` with a nested matcher:
    `{"expression": "$.a", "equalTo": "x"}`."""

    expression: str = ""


class MultipartPattern(Struct, **_IN):
    """One of `multipartPatterns`: `ANY` part or `ALL` parts have these headers and bodies."""

    name: str | None = None
    matchingType: Literal["ANY", "ALL"] = "ANY"
    headers: dict[str, ContentPattern] | None = None
    bodyPatterns: list[ContentPattern] | None = None


class BasicAuth(Struct, **_IN):
    username: str
    password: str


class RequestPattern(Struct, **_IN):
    """What a stub matches (also the body of `/requests/count`, `/find`...)."""

    method: str | None = None
    url: str | None = None
    urlPath: str | None = None
    urlPattern: str | None = None
    urlPathPattern: str | None = None
    urlPathTemplate: str | None = None
    pathParameters: dict[str, ContentPattern] | None = None
    queryParameters: dict[str, ContentPattern] | None = None
    headers: dict[str, ContentPattern] | None = None
    cookies: dict[str, ContentPattern] | None = None
    formParameters: dict[str, ContentPattern] | None = None
    basicAuthCredentials: BasicAuth | None = None
    # A list in WireMock; the Python client's pattern model sends one object (a bug).
    bodyPatterns: list[ContentPattern] | ContentPattern | None = None
    multipartPatterns: list[MultipartPattern] | None = None
    #: From the `Host` header (host without port; the port, else the scheme's default).
    host: ContentPattern | None = None
    port: int | None = None
    scheme: str | None = None
    #: The peer address of the connection.
    clientIp: ContentPattern | None = None
    # A Java extension: refused (`patterns.pattern_parts` says why).
    customMatcher: Any | UnsetType = UNSET
    # Sent by the Python client's pattern model; meaningless for matching, ignored.
    browserProxyRequest: Any | UnsetType = UNSET
    loggedDate: Any | UnsetType = UNSET
    loggedDateString: Any | UnsetType = UNSET


class DelayDistribution(Struct, **_IN):
    type: Literal["uniform", "lognormal", "fixed"]
    lower: float | None = None
    upper: float | None = None
    median: float | None = None
    sigma: float | None = None
    milliseconds: float | None = None


class ChunkedDribbleDelay(Struct, **_IN):
    numberOfChunks: int
    totalDuration: int | float


Fault = Literal[
    "EMPTY_RESPONSE",
    "CONNECTION_RESET_BY_PEER",
    "MALFORMED_RESPONSE_CHUNK",
    "RANDOM_DATA_THEN_CLOSE",
]


class ResponseDefinition(Struct, **_IN):
    status: int | None = None
    statusMessage: str | None = None
    headers: dict[str, str | list[str]] | None = None
    body: str | None = None
    jsonBody: Any | UnsetType = UNSET
    base64Body: str | None = None
    bodyFileName: str | None = None
    fixedDelayMilliseconds: int | float | None = None
    delayDistribution: DelayDistribution | None = None
    chunkedDribbleDelay: ChunkedDribbleDelay | None = None
    fault: Fault | None = None
    fromConfiguredStub: bool | None = None
    #: Proxying: the native `proxy` response (url, strip_prefix, headers, remove_headers).
    proxyBaseUrl: str | None = None
    proxyUrlPrefixToRemove: str | None = None
    additionalProxyRequestHeaders: dict[str, str] | None = None
    removeProxyRequestHeaders: list[str] | None = None
    #: `["response-template"]` renders the headers and body as templates.
    transformers: list[str] | None = None
    # Not served yet.
    transformerParameters: dict[str, Any] | None = None


class WebhookParameters(Struct, **_IN):
    """A webhook's `parameters`: the native route `webhooks` (always templated)."""

    method: str | None = None
    url: str | None = None
    headers: dict[str, str | list[str]] | None = None
    body: str | None = None
    base64Body: str | None = None
    delay: DelayDistribution | None = None


class ServeEventListener(Struct, **_IN):
    """One of `serveEventListeners` (and of the older `postServeActions`); `webhook` is
    the one controlplane serves. `requestPhases` is accepted: webhooks go after the
    response, whatever it says."""

    name: str
    parameters: WebhookParameters = field(default_factory=WebhookParameters)
    requestPhases: list[str] | None = None


class StubMapping(Struct, **_IN):
    """A stub mapping as WireMock's API and files write it."""

    id: str | None = None
    uuid: str | None = None
    name: str | None = None
    request: RequestPattern = field(default_factory=RequestPattern)
    response: ResponseDefinition = field(default_factory=ResponseDefinition)
    priority: int | None = None
    persistent: bool | None = None
    metadata: dict[str, Any] | None = None
    scenarioName: str | None = None
    requiredScenarioState: str | None = None
    newScenarioState: str | None = None
    insertionIndex: int | None = None
    #: Webhooks, as native route `webhooks`; `postServeActions` is WireMock 2's name
    #: (a list like this one, or the oldest form `{"webhook": parameters}`).
    serveEventListeners: list[ServeEventListener] | None = None
    postServeActions: list[ServeEventListener] | dict[str, WebhookParameters] | None = None


class RecordFilters(RequestPattern, **_IN):
    """Which requests a recording or snapshot takes: a request pattern, serve event ids."""

    ids: list[str] | None = None
    allowNonProxied: bool | None = None


class CaptureHeader(Struct, **_IN):
    caseInsensitive: bool | None = None


class RequestBodyPatternSpec(Struct, **_IN):
    """How recorded stubs match bodies; `auto` picks equalToJson, equalTo or binaryEqualTo."""

    matcher: Literal["auto", "equalTo", "equalToJson"] = "auto"
    ignoreArrayOrder: bool | None = None
    ignoreExtraElements: bool | None = None
    caseInsensitive: bool | None = None


class RecordSpec(Struct, **_IN):
    """The body of `/recordings/start` (needs `targetBaseUrl`) and `/recordings/snapshot`."""

    targetBaseUrl: str | None = None
    filters: RecordFilters | None = None
    captureHeaders: dict[str, CaptureHeader] | None = None
    requestBodyPattern: RequestBodyPatternSpec | None = None
    persist: bool = True
    repeatsAsScenarios: bool = True
    outputFormat: Literal["FULL", "IDS"] = "FULL"
    #: Accepted and ignored: bodies are always kept in the mapping.
    extractBodyCriteria: Any | UnsetType = UNSET
    # Not served yet.
    transformers: Any | UnsetType = UNSET
    transformerParameters: Any | UnsetType = UNSET


class RecordingStatus(Struct, kw_only=True):
    status: Literal["NeverStarted", "Recording", "Stopped"]


class RecordedMappings(Struct, kw_only=True):
    mappings: list[StubMapping]


class RecordedIds(Struct, kw_only=True):
    ids: list[str]


class Meta(Struct, kw_only=True):
    total: int


class AllMappings(Struct, kw_only=True):
    mappings: list[StubMapping]
    meta: Meta


class ImportOptions(Struct, **_IN):
    duplicatePolicy: Literal["OVERWRITE", "IGNORE"] = "OVERWRITE"
    deleteAllNotInImport: bool = False


class ImportBody(Struct, **_IN):
    mappings: list[StubMapping] = field(default_factory=list)
    importOptions: ImportOptions = field(default_factory=ImportOptions)


class GlobalSettings(Struct, **_IN):
    fixedDelay: int | float | None = None
    delayDistribution: DelayDistribution | None = None
    extended: dict[str, Any] | None = None
    proxyPassThrough: bool | None = None


class ExtendedSettings(Struct, **_IN):
    """The body of `PATCH /settings/extended`."""

    extended: dict[str, Any] | None = None


class SettingsAnswer(Struct, kw_only=True):
    settings: GlobalSettings


class SettingsBody(Struct, **_IN):
    """`POST /settings` wrapped as `GET /settings` answers: `{"settings": {...}}`."""

    settings: GlobalSettings


class ScenarioState(Struct, **_IN):
    state: str | None = None


class WireMockScenario(Struct, kw_only=True):
    id: str
    name: str
    state: str
    possibleStates: list[str]
    mappings: list[StubMapping]


class WireMockScenarios(Struct, kw_only=True):
    scenarios: list[WireMockScenario]


# ------------------------------------------------------------------ the journal


class QueryParameter(Struct, kw_only=True):
    key: str
    values: list[str]


class LoggedRequest(Struct, **_OUT):
    """A request as WireMock logs it (also the body of `/near-misses/request`)."""

    url: str = "/"
    absoluteUrl: str | None = None
    method: str = "GET"
    clientIp: str | None = None
    headers: dict[str, str | list[str]] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    browserProxyRequest: bool = False
    loggedDate: int | None = None
    loggedDateString: str | None = None
    bodyAsBase64: str | None = None
    body: str | None = None
    queryParams: dict[str, QueryParameter] | None = None


class ServedResponse(Struct, **_OUT):
    status: int
    headers: dict[str, str | list[str]] | None = None


class ServeEvent(Struct, kw_only=True):
    id: str
    request: LoggedRequest
    responseDefinition: ResponseDefinition
    response: ServedResponse
    wasMatched: bool
    stubMapping: StubMapping | None = None


class ServeEventList(Struct, kw_only=True):
    requests: list[ServeEvent]
    meta: Meta
    requestJournalDisabled: bool = False


class FoundRequests(Struct, kw_only=True):
    requests: list[LoggedRequest]
    requestJournalDisabled: bool = False


class Count(Struct, kw_only=True):
    count: int
    requestJournalDisabled: bool = False


class MatchResult(Struct, kw_only=True):
    distance: float


class NearMiss(Struct, **_OUT):
    request: LoggedRequest
    requestPattern: RequestPattern
    matchResult: MatchResult
    stubMapping: StubMapping | None = None


class NearMisses(Struct, kw_only=True):
    nearMisses: list[NearMiss]


class RemovedEvents(Struct, kw_only=True):
    serveEvents: list[ServeEvent]
