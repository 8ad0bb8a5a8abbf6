"""Stub mappings -> native routes: WireMock's JSON translated onto the one model.

A mapping becomes one `wire.Route`: its id is the mapping id, its handler is
`wiremock-{id}` (one handler per mapping, so responses never leak between mappings),
its answers carry `Matched-Stub-Id`. Request patterns become a path (exact, template or
regex) plus `wire.Match` conditions; response definitions become a native response.
Nothing here matches requests: the core does, with the same code as for native routes.

Request patterns and matchers are translated by `patterns`. Errors are `InvalidInput`s
located in the mapping as the client sent it (`$.request.bodyPatterns[0].equalToJson`;
`located`); WireMock features not served yet are named.
"""

from __future__ import annotations

from typing import Any

import msgspec

from controlplane import wire
from controlplane.admin.decoding import Step
from controlplane.errors import InvalidInput
from controlplane.responses import BodyFiles, ResponseSpecError, check_body_file
from controlplane.responses.templating import TemplateSyntaxError, compile_value
from controlplane.webhooks import WebhookSpecError, compile_webhooks
from controlplane.wiremock import shapes
from controlplane.wiremock.located import build as _build
from controlplane.wiremock.located import key as _key
from controlplane.wiremock.patterns import (
    body_match,
    compile_pattern,
    pattern_parts,
    string_matcher,
)

__all__ = [
    "HANDLER_PREFIX",
    "MATCHED_STUB_ID",
    "body_match",
    "compile_pattern",
    "handler_for",
    "mapping_to_route",
    "pattern_parts",
    "string_matcher",
    "webhooks",
]

MATCHED_STUB_ID = "Matched-Stub-Id"
HANDLER_PREFIX = "wiremock-"
_FAULTS: dict[str, wire.FaultKind] = {
    "EMPTY_RESPONSE": "empty_response",
    "CONNECTION_RESET_BY_PEER": "connection_reset",
    "MALFORMED_RESPONSE_CHUNK": "malformed_chunk",
    "RANDOM_DATA_THEN_CLOSE": "random_data_then_close",
}


def handler_for(mapping_id: str) -> str:
    return HANDLER_PREFIX + mapping_id


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
    return _distribution(dist, _key(location, "delayDistribution"))


def _distribution(dist: shapes.DelayDistribution, at: str) -> wire.Delay:
    """A `delayDistribution` (or a webhook's `delay`) at `at` as a native delay."""
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
                "(Handlebars response templating) only; any other transformer is a WireMock "
                "extension, Java code running inside WireMock, and controlplane runs no Java",
                location=f"{at}[{index}]",
            )
    return bool(transformers)


def response_spec(
    response: shapes.ResponseDefinition,
    files: BodyFiles | None,
    location: str = "$.response",
    *,
    templating: bool = False,
) -> wire.AnyResponse:
    """A response definition as a native response; `files` is where `bodyFileName` is
    looked up (the session's files directory), so a bad one is reported at that field.
    With `templating` (global response templating), it is templated without asking."""
    delay = _delay(response, response.fixedDelayMilliseconds, location, "fixedDelayMilliseconds")
    templated = _templated(response.transformers, _key(location, "transformers")) or templating
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


# ------------------------------------------------------------------ webhooks

#: The one serve event listener (post-serve action) WireMock ships, served as native
#: route `webhooks`.
WEBHOOK = "webhook"

#: Native webhook fields as a webhook's `parameters` name them.
_WEBHOOK_FIELDS: dict[tuple[Step, ...], str] = {
    ("method",): "method",
    ("url",): "url",
    ("headers",): "headers",
    ("body",): "body",
    ("body_base64",): "base64Body",
}


def webhooks(mapping: shapes.StubMapping, location: str = "$") -> list[wire.Webhook]:
    """The mapping's `serveEventListeners`, then its `postServeActions`, as webhooks."""
    found: list[wire.Webhook] = []
    for field_name in ("serveEventListeners", "postServeActions"):
        listeners = getattr(mapping, field_name)
        where = _key(location, field_name)
        if isinstance(listeners, dict):  # WireMock 2's oldest form: {"webhook": {...}}
            items = [(name, params, _key(where, name)) for name, params in listeners.items()]
            names = [_key(where, name) for name in listeners]
        else:
            items = [
                (item.name, item.parameters, f"{where}[{index}].parameters")
                for index, item in enumerate(listeners or ())
            ]
            names = [f"{where}[{index}].name" for index in range(len(items))]
        for (name, params, at), name_at in zip(items, names, strict=True):
            if name != WEBHOOK:
                raise InvalidInput(
                    f"unknown serve event listener {name!r}: controlplane serves {WEBHOOK!r} only",
                    location=name_at,
                )
            found.append(_webhook(params, at))
    return found


def _webhook(params: shapes.WebhookParameters, at: str) -> wire.Webhook:
    for required in ("method", "url"):
        if getattr(params, required) is None:
            raise InvalidInput(f"a webhook needs a `{required}`", location=_key(at, required))
    hook = _build(
        at,
        wire.Webhook,
        _WEBHOOK_FIELDS,
        method=params.method,
        url=params.url,
        headers=dict(params.headers or {}),
        body=params.body,
        body_base64=params.base64Body,
        delay=None if params.delay is None else _distribution(params.delay, _key(at, "delay")),
    )
    try:
        compile_webhooks([hook])  # its templates, checked here to point into the mapping
    except WebhookSpecError as exc:
        raise InvalidInput(exc.message, location=at + exc.at.removeprefix("[0]")) from None
    return hook


# ------------------------------------------------------------------ mappings


def mapping_to_route(
    mapping: shapes.StubMapping,
    mapping_id: str,
    files: BodyFiles | None,
    location: str = "$",
    *,
    templating: bool = False,
) -> wire.Route:
    """The native route a stub mapping stands for (`mapping_id` already assigned).

    Errors are located under `location`, where the mapping sits in the document read
    (`$.mappings[2]` in an import); `files` is the session's files directory. With
    `templating` (global response templating) its response is templated without asking.
    """
    hooks = webhooks(mapping, location)
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
        response=response_spec(
            mapping.response, files, _key(location, "response"), templating=templating
        ),
        scenario=scenario,
        id_header=MATCHED_STUB_ID,
        **({"webhooks": hooks} if hooks else {}),
    )
