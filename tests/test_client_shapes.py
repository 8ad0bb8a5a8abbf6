"""The client's shapes are generated from the server's, and the two agree on the wire.

- the committed `_shapes.py` is what `make generate` (tools/generate.py) writes today;
- every field of every shape the client sends is set by some sample below, each sample
  goes through the real server, and the echo parses back (strictly) into an equal object;
- every answer of the admin API parses strictly into the client's types and encodes
  back to the same JSON.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import requests
from controlplane_client import (
    UNSET,
    Client,
    Delay,
    FaultResponse,
    JsonPathCondition,
    JsonResponse,
    LognormalDelay,
    Match,
    MsgpackResponse,
    ProxyResponse,
    RawResponse,
    Route,
    SequenceResponse,
    StringMatcher,
    TomlResponse,
    YamlResponse,
    from_wire,
    to_wire,
)
from controlplane_client import _shapes as shapes

from tools import client_shapes as codegen


def test_committed_shapes_module_is_current() -> None:
    assert codegen.SHAPES_PATH.read_text() == codegen.render(), (
        "clients/python/src/controlplane_client/_shapes.py is stale: run `make generate`"
    )


def test_every_public_wire_struct_has_a_client_shape() -> None:
    from controlplane import wire

    structs = {
        name
        for name in wire.__all__
        if isinstance(getattr(wire, name), type)
        and hasattr(getattr(wire, name), "__struct_fields__")
    }
    assert structs <= set(shapes.STRUCTS)


def _optional(cls: type, name: str, value: Any) -> dict[str, Any]:
    """`{name: value}` when the (possibly newer) shape has that field, else nothing."""
    return {name: value} if name in {f.name for f in dataclasses.fields(cls)} else {}


DELAYS = [
    Delay(fixed_ms=1),
    Delay(uniform_ms=(0.0, 1.0)),
    Delay(lognormal=LognormalDelay(median_ms=1, sigma=0.1)),
]

MATCHERS: list[StringMatcher] = [
    StringMatcher(equals="a", case_insensitive=True),
    StringMatcher(contains="b"),
    StringMatcher(not_contains="c"),
    StringMatcher(starts_with="d"),
    StringMatcher(ends_with="e"),
    StringMatcher(matches="f.*"),
    StringMatcher(not_matches="g.*"),
    StringMatcher(absent=True),
    StringMatcher(any_of=["h", StringMatcher(contains="i")]),
    StringMatcher(all_of=[StringMatcher(starts_with="j"), "jk"]),
    StringMatcher(not_=StringMatcher(equals="k")),
]
if "includes" in {f.name for f in dataclasses.fields(StringMatcher)}:
    MATCHERS += [
        StringMatcher(**{"includes": ["l"]}),
        StringMatcher(**{"has_exactly": ["m", StringMatcher(contains="n")]}),
    ]
if "before" in {f.name for f in dataclasses.fields(StringMatcher)}:
    MATCHERS += [
        StringMatcher(**{"before": "now +1 days", "actual_format": "dd/MM/yyyy"}),
        StringMatcher(**{"after": "2021-01-01", "truncate_actual": "first day of month"}),
        StringMatcher(**{"equals_date_time": "now", "truncate_expected": "first hour of day"}),
    ]


def _responses() -> list[Any]:
    def common(cls: type, i: int) -> dict[str, Any]:
        """Every field the HTTP responses share, set (newer fields when the shape has them)."""
        extra: dict[str, Any] = {"status": 201 + i, "headers": {"X-A": str(i)}}
        extra["delay"] = DELAYS[i % len(DELAYS)]
        extra |= _optional(cls, "reason", f"Reason {i}")
        extra |= _optional(cls, "template", True)
        if "ChunkedDribble" in shapes.STRUCTS:
            extra |= _optional(
                cls, "chunked_dribble", shapes.STRUCTS["ChunkedDribble"](chunks=2, total_ms=1)
            )
        return extra

    return [
        JsonResponse({"a": [1, 2.5, None, True]}, **common(JsonResponse, 0)),
        RawResponse("text", content_type="text/x-a", **common(RawResponse, 1)),
        RawResponse(body_base64="AAE="),
        MsgpackResponse([1, "two"], **common(MsgpackResponse, 2)),
        YamlResponse({"y": 1}, **common(YamlResponse, 3)),
        TomlResponse({"t": {"u": 1}}, **common(TomlResponse, 4)),
        SequenceResponse(
            [JsonResponse(1), FaultResponse("disconnect")], on_exhausted="cycle", delay=DELAYS[0]
        ),
        FaultResponse("connection_reset", delay=DELAYS[0]),
        *(
            [
                ProxyResponse(
                    url="http://127.0.0.1:9/base",
                    strip_prefix="/p",
                    headers={"X-Added": "1"},
                    remove_headers=["X-Gone"],
                    timeout_ms=250,
                    preserve_host=True,
                    insecure=True,
                    delay=DELAYS[0],
                    **_optional(shapes.STRUCTS["ProxyResponse"], "template", True),
                )
            ]
            if "ProxyResponse" in shapes.STRUCTS
            else []
        ),
    ]


def _documents() -> dict[str, Any]:
    """The XML, JSON Schema, multipart and scheme/port conditions of `Match`."""
    structs = shapes.STRUCTS
    part = Match(headers={"Content-Disposition": StringMatcher(contains="file")}, body="x")
    return {
        "scheme": "http",
        "port": 8080,
        "xml": [
            structs["XmlEqual"](value="<a>${xmlunit.ignore}</a>", placeholders=True, any_order=True)
        ],
        "xpath": [
            structs["XPathCondition"](
                expression="//p:a", namespaces={"p": "urn:p"}, matcher=StringMatcher(contains="1")
            )
        ],
        "json_schema": [structs["JsonSchemaCondition"](schema={"type": "object"}, draft="7")],
        "multipart": [structs["MultipartCondition"](part=part, parts="all")],
    }


def _routes() -> list[Route]:
    full_match = Match(
        query={f"q{i}": m for i, m in enumerate(MATCHERS)} | {"plain": "p"},
        headers={"X-H": StringMatcher(contains="h")},
        host=StringMatcher(ends_with=".test"),
        cookies={"c": "v"},
        json={"exact": [1]},
        json_subset={"partial": True},
        json_path=[
            JsonPathCondition("$.a"),
            JsonPathCondition("$.b", StringMatcher(matches="1")),
            *(
                [JsonPathCondition("$.c", json_compare=shapes.STRUCTS["JsonCompare"](value=1))]
                if "json_compare" in {f.name for f in dataclasses.fields(JsonPathCondition)}
                else []
            ),
        ],
        body="body",
        body_base64="Ym9keQ==",
        body_matcher=StringMatcher(contains="od"),
        form={"f": "1"},
        **_optional(Match, "url", StringMatcher(starts_with="/")),
        **_optional(Match, "path_params", {"id": StringMatcher(matches="[0-9]+")}),
        **_optional(Match, "client_ip", StringMatcher(starts_with="127.")),
        **(
            {
                "json_compare": [
                    shapes.STRUCTS["JsonCompare"](
                        value=[1],
                        ignore_array_order=True,
                        ignore_extra_fields=True,
                        ignore_extra_items=True,
                        **_optional(shapes.STRUCTS["JsonCompare"], "placeholders", True),
                    )
                ]
            }
            if "json_compare" in {f.name for f in dataclasses.fields(Match)}
            else {}
        ),
        **(_documents() if "XmlEqual" in shapes.STRUCTS else {}),
    )
    routes = [
        Route(method="post", path="/users/{id}", handler="full", match=full_match, priority=3),
        Route(method="*", path_regex="/r/(?P<n>[0-9]+)", handler="regex", times=2),
        Route(method="GET", path="/null-json", handler="nulls", match=Match(json=None)),
    ]
    if "scenario" in {f.name for f in dataclasses.fields(Route)}:
        scenario = shapes.STRUCTS["Scenario"](name="s", required_state="Started", new_state="n")
        routes.append(
            Route(
                method="GET",
                path="/scenario",
                handler="scenario",
                scenario=scenario,
                **_optional(Route, "id_header", "X-Route"),
            )
        )
    if "webhooks" in {f.name for f in dataclasses.fields(Route)}:
        hook = shapes.STRUCTS["Webhook"]
        target = "http://127.0.0.1:9"
        webhooks = [
            hook(
                method="PUT",
                url=target + "/{{request.path}}",
                headers={"X-A": "{{request.method}}"},
                body="b",
                delay=shapes.STRUCTS["Delay"](fixed_ms=5),
                timeout_ms=500,
            ),
            hook(method="POST", url=target + "/json", json={"a": "{{request.method}}"}),
            hook(method="POST", url=target + "/bytes", body_base64="AA=="),
        ]
        routes.append(Route(method="POST", path="/hooked", handler="hooked", webhooks=webhooks))
    routes += [
        Route(method="GET", path=f"/responses/{i}", handler=f"response{i}", response=response)
        for i, response in enumerate(_responses())
    ]
    return routes


#: Fields no round trip can set: they need files on the server's side.
NOT_ROUND_TRIPPED = {
    ("RawResponse", "body_file"),
    ("ProxyResponse", "ca_file"),
    ("ProxyResponse", "client_cert"),
    ("ProxyResponse", "client_key"),
}


def _set_fields(value: Any, found: set[tuple[str, str]]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            default = (
                f.default
                if f.default is not dataclasses.MISSING
                else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            )
            if item is not UNSET and item != default:
                found.add((type(value).__name__, f.name))
            _set_fields(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _set_fields(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _set_fields(item, found)


def test_samples_set_every_field_the_client_sends() -> None:
    found: set[tuple[str, str]] = set()
    _set_fields([*_routes(), *_responses(), *MATCHERS, *DELAYS], found)
    sent = {
        "Route",
        "Match",
        "StringMatcher",
        "JsonPathCondition",
        "JsonCompare",
        "XmlEqual",
        "XPathCondition",
        "JsonSchemaCondition",
        "MultipartCondition",
        "Delay",
        "LognormalDelay",
        "Scenario",
        "ChunkedDribble",
        "JsonResponse",
        "RawResponse",
        "MsgpackResponse",
        "YamlResponse",
        "TomlResponse",
        "SequenceResponse",
        "FaultResponse",
        "ProxyResponse",
        "Webhook",
    }
    expected = {
        (name, f.name)
        for name in sent
        if name in shapes.STRUCTS
        for f in dataclasses.fields(shapes.STRUCTS[name])
        # `id` is assigned by the server.
        if (name, f.name) not in NOT_ROUND_TRIPPED and (name, f.name) != ("Route", "id")
    }
    missing = sorted(expected - found)
    assert not missing, f"add samples that set these fields: {missing}"


def test_routes_round_trip_through_the_server(controlplane: Client) -> None:
    sent = _routes()
    api = controlplane.info.admin_url
    answer = requests.post(f"{api}/routes", json=to_wire(sent), timeout=10)
    assert answer.status_code == 201, answer.text
    echoed = answer.json()["routes"]
    for route, echo in zip(sent, echoed, strict=True):
        parsed = from_wire(Route, echo, strict=True)
        expected = dataclasses.replace(route, id=parsed.id, method=route.method.upper())
        assert parsed == expected
        assert to_wire(parsed) == echo  # the client encodes exactly what the server echoes
    assert controlplane.routes() == [from_wire(Route, e) for e in echoed]


@pytest.mark.parametrize("response", _responses(), ids=lambda r: type(r).__name__)
def test_responses_round_trip_through_the_server(controlplane: Client, response: Any) -> None:
    controlplane.add_route(Route(method="GET", path="/r", handler="h"))
    assert controlplane.register("h", response) == response
    api = controlplane.info.admin_url
    answer = requests.put(f"{api}/handlers/h/response", json=to_wire(response), timeout=10)
    assert answer.json() == to_wire(response)


@pytest.mark.controlplane_allow_unmatched
def test_every_admin_answer_parses_strictly(controlplane: Client) -> None:
    controlplane.add_routes(
        Route(method="GET", path="/a/{id}", handler="a", response=JsonResponse({"ok": 1})),
        Route(method="POST", path="/b", handler="b"),
    )
    mock = controlplane.mock_url
    requests.get(f"{mock}/a/7?x=1&x=2", headers={"X-T": "t"}, timeout=10)
    requests.post(f"{mock}/b", data=b"\xff\x00", timeout=10)  # no response: a 500, not JSON
    requests.get(f"{mock}/nowhere", timeout=10)
    admin, api = controlplane.admin_url, controlplane.info.admin_url
    reads: list[tuple[str, str, str, Any]] = [
        ("GET", f"{admin}/health", "Health", None),
        ("GET", f"{admin}/api/sessions", "SessionList", None),
        ("GET", api, "Session", None),
        ("GET", f"{api}/routes", "RouteList", None),
        ("GET", f"{api}/handlers", "HandlerList", None),
        ("GET", f"{api}/handlers/a/calls", "CallList", None),
        ("GET", f"{api}/requests", "RequestList", None),
        ("GET", f"{api}/requests/unmatched", "UnmatchedRequestList", None),
        ("POST", f"{api}/handlers/a/verify", "VerifyResult", {"times": 1}),
        ("POST", f"{api}/handlers/a/verify", "VerifyResult", {"times": 5, "query": {"x": "3"}}),
        ("GET", f"{api}/routes/nope", "ErrorBody", None),
        ("POST", f"{api}/routes", "ErrorBody", {"method": "GET"}),
    ]
    for method, url, name, body in reads:
        answer = requests.request(method, url, json=body, timeout=10)
        data = answer.json()
        parsed = from_wire(shapes.STRUCTS[name], data, strict=True)
        assert to_wire(parsed) == data, f"{method} {url}"
    unmatched = controlplane.unmatched().requests
    assert unmatched[0].near_misses and unmatched[0].path == "/nowhere"
    binary = controlplane.get_calls("b")[0]
    assert binary.body is None and binary.content == b"\xff\x00"
    assert controlplane.last_call("a").json is UNSET
