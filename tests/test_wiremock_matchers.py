"""WireMock's XML, JSON Schema, date-time, multipart and host/scheme/port matching, driven
by WireMock's own Python client (`wiremock` on PyPI) against a real server.

The client's `MappingRequest` has no `host`, `port`, `scheme`, `clientIp` or
`multipartPatterns` properties; `FullRequest` declares them the way the client declares
its own, so the mapping still goes out through the client's `Mappings.create_mapping`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from wiremock.base.base_entity import JsonProperty
from wiremock.constants import Config
from wiremock.resources.mappings import Mapping, MappingRequest, MappingResponse
from wiremock.resources.mappings.resource import Mappings
from wiremock.resources.near_misses import NearMissMatchPatternRequest, NearMissMatchRequest
from wiremock.resources.near_misses.resource import NearMisses
from wiremock.resources.requests.resource import Requests

from controlplane.server import ControlplaneServer, ServerConfig
from tests.conftest import SessionHandle
from tests.test_tls import TlsFiles, tls  # noqa: F401 (the fixture)


class FullRequest(MappingRequest):
    host = JsonProperty("host", klass=dict)
    port = JsonProperty("port")
    scheme = JsonProperty("scheme")
    multipart_patterns = JsonProperty("multipartPatterns", klass=list, list_klass=dict)
    client_ip = JsonProperty("clientIp", klass=dict)


@pytest.fixture
def wm(cp: SessionHandle) -> Iterator[SessionHandle]:
    previous = Config.base_url
    Config.base_url = cp.api + "/__admin"
    try:
        yield cp
    finally:
        Config.base_url = previous


def stub(request: MappingRequest, body: str = "hit") -> str:
    created = Mappings.create_mapping(
        Mapping(request=request, response=MappingResponse(status=200, body=body))
    )
    return str(created.id)


def post(cp: SessionHandle, path: str, body: str | bytes, **headers: str) -> int:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(f"{cp.mock_url}{path}", data=data, headers=headers, timeout=10).status_code


def refused(request: dict[str, Any], cp: SessionHandle) -> dict[str, Any]:
    mapping = {"request": request, "response": {"status": 200}}
    answer = requests.post(f"{cp.api}/__admin/mappings", json=mapping, timeout=10)
    assert answer.status_code == 422, answer.text
    error: dict[str, Any] = answer.json()["errors"][0]
    return error


# ------------------------------------------------------------------ XML


ORDER = '<order xmlns="urn:shop"><id>42</id><item sku="a1">pen</item></order>'


def test_equal_to_xml_with_placeholders_and_namespaces(wm: SessionHandle) -> None:
    stub(
        MappingRequest(
            method="POST",
            url_path="/xml",
            body_patterns=[
                {
                    "equalToXml": '<s:order xmlns:s="urn:shop"><s:id>${xmlunit.isNumber}</s:id>'
                    '<s:item sku="${xmlunit.ignore}">pen</s:item></s:order>',
                    "enablePlaceholders": True,
                }
            ],
        )
    )
    assert post(wm, "/xml", ORDER) == 200
    assert post(wm, "/xml", ORDER.replace("42", "forty-two")) == 404
    assert post(wm, "/xml", ORDER.replace("urn:shop", "urn:other")) == 404
    assert post(wm, "/xml", "not xml") == 404


def test_equal_to_xml_ignores_the_order_of_differently_named_siblings(wm: SessionHandle) -> None:
    """WireMock's equalToXml matches children after a stable sort by local name."""
    stub(
        MappingRequest(
            method="POST",
            url_path="/xml",
            body_patterns=[{"equalToXml": '<o><id>1</id><line n="1"/><line n="2"/></o>'}],
        )
    )
    assert post(wm, "/xml", '<o><line n="1"/><line n="2"/><id>1</id></o>') == 200
    assert post(wm, "/xml", '<o><line n="1"/><id>1</id><line n="2"/></o>') == 200
    assert post(wm, "/xml", '<o><id>1</id><line n="2"/><line n="1"/></o>') == 404
    assert post(wm, "/xml", '<o><id>1</id><line n="1"/></o>') == 404


def test_equal_to_xml_without_placeholders_is_literal(wm: SessionHandle) -> None:
    stub(
        MappingRequest(
            method="POST",
            url_path="/xml",
            body_patterns=[{"equalToXml": "<a><b>${xmlunit.ignore}</b></a>"}],
        )
    )
    assert post(wm, "/xml", "<a><b>${xmlunit.ignore}</b></a>") == 200
    assert post(wm, "/xml", "<a><b>x</b></a>") == 404


def test_matches_xpath_plain_with_namespaces_and_with_a_matcher(wm: SessionHandle) -> None:
    stub(
        MappingRequest(
            method="POST",
            url_path="/xpath",
            body_patterns=[
                {"matchesXPath": "/order/item[@sku='a1']"},
                {
                    "matchesXPath": {"expression": "//s:id/text()", "matches": "[0-9]+"},
                    "xPathNamespaces": {"s": "urn:shop"},
                },
            ],
        )
    )
    assert post(wm, "/xpath", ORDER) == 200
    assert post(wm, "/xpath", ORDER.replace("a1", "b2")) == 404
    assert post(wm, "/xpath", ORDER.replace("42", "x")) == 404


def test_a_billion_laughs_body_simply_does_not_match(wm: SessionHandle) -> None:
    stub(MappingRequest(method="POST", url_path="/xml", body_patterns=[{"matchesXPath": "//a"}]))
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE a [{entities}]><a>&l9;</a>'
    assert post(wm, "/xml", bomb) == 404
    assert post(wm, "/xml", "<a/>") == 200


def test_invalid_xml_and_xpath_are_422_at_their_pointer(wm: SessionHandle) -> None:
    bad = {"method": "POST", "url": "/x", "bodyPatterns": [{"equalToXml": "<a>"}]}
    error = refused(bad, wm)
    assert error["source"]["pointer"] == "/request/bodyPatterns/0/equalToXml"
    assert error["detail"].startswith("`value` is not usable XML: ")
    bad = {"method": "POST", "url": "/x", "bodyPatterns": [{"matchesXPath": "//["}]}
    error = refused(bad, wm)
    assert error["source"]["pointer"] == "/request/bodyPatterns/0/matchesXPath"
    assert error["detail"].startswith("`expression` is not valid XPath: ")
    bad = {"method": "GET", "url": "/x", "headers": {"X": {"equalToXml": "<a/>"}}}
    assert (
        refused(bad, wm)["detail"]
        == "`equalToXml` applies to request bodies only (in `bodyPatterns`)"
    )
    bad = {"method": "GET", "url": "/x", "bodyPatterns": [{"equalTo": "a", "xPathNamespaces": {}}]}
    error = refused(bad, wm)
    assert error["source"]["pointer"] == "/request/bodyPatterns/0/xPathNamespaces"
    assert error["detail"] == "`xPathNamespaces` goes with matchesXPath, not equalTo"


def test_xml_near_miss_is_readable(wm: SessionHandle) -> None:
    stub(MappingRequest(method="POST", url_path="/xml", body_patterns=[{"equalToXml": "<a>1</a>"}]))
    assert post(wm, "/xml", "<a>2</a>") == 404
    unmatched = requests.get(f"{wm.api}/requests/unmatched", timeout=10).json()["requests"]
    diffs = unmatched[-1]["near_misses"][0]["diffs"]
    assert diffs == [{"field": "xml", "expected": "<a>1</a>", "actual": "<a>2</a>"}]
    report = requests.post(f"{wm.mock_url}/xml", data=b"<a>2</a>", timeout=10)
    assert report.status_code == 404
    (line,) = [line for line in report.text.splitlines() if line.startswith("xml: ")]
    assert line.split() == [
        "xml:",
        "<a>1</a>",
        "|",
        "<a>2</a>",
        "<<<<<",
        "xml",
        "does",
        "not",
        "match",
    ]


# ------------------------------------------------------------------ JSON Schema

SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
}


def test_matches_json_schema_inline_and_as_a_string_with_a_version(wm: SessionHandle) -> None:
    stub(
        MappingRequest(method="POST", url_path="/v", body_patterns=[{"matchesJsonSchema": SCHEMA}])
    )
    draft4 = '{"type": "integer", "minimum": 3, "exclusiveMinimum": true}'
    stub(
        MappingRequest(
            method="POST",
            url_path="/v4",
            body_patterns=[{"matchesJsonSchema": draft4, "schemaVersion": "V4"}],
        )
    )
    assert post(wm, "/v", '{"name": "Tom", "age": 3}') == 200
    assert post(wm, "/v", '{"name": "Tom", "age": -1}') == 404
    assert post(wm, "/v", '{"name": "Tom"}') == 404
    assert post(wm, "/v", "not json") == 404
    assert post(wm, "/v4", "4") == 200
    assert post(wm, "/v4", "3") == 404  # draft 4's boolean exclusiveMinimum


def test_invalid_json_schema_is_422(wm: SessionHandle) -> None:
    bad = {"method": "POST", "url": "/x", "bodyPatterns": [{"matchesJsonSchema": {"type": 5}}]}
    error = refused(bad, wm)
    assert error["source"]["pointer"] == "/request/bodyPatterns/0/matchesJsonSchema"
    assert error["detail"].startswith("`schema` is not a valid schema: ")
    remote = {"$ref": "http://127.0.0.1:9/schema.json"}
    bad = {"method": "POST", "url": "/x", "bodyPatterns": [{"matchesJsonSchema": remote}]}
    assert "remote references are refused" in refused(bad, wm)["detail"]


# ------------------------------------------------------------------ date-time


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_before_after_and_equal_to_date_time_with_offsets(wm: SessionHandle) -> None:
    stub(
        MappingRequest(
            method="GET",
            url_path="/d",
            headers={
                "X-Before": {"before": "now +3 days"},
                "X-After": {"after": "now", "expectedOffset": -1, "expectedOffsetUnit": "hours"},
                "X-At": {"equalToDateTime": "2021-06-24T00:00:00Z", "actualFormat": "dd/MM/yyyy"},
            },
        )
    )
    now = dt.datetime.now(dt.UTC)
    good = {
        "X-Before": _iso(now + dt.timedelta(days=2)),
        "X-After": _iso(now),
        "X-At": "24/06/2021",
    }
    assert requests.get(f"{wm.mock_url}/d", headers=good, timeout=10).status_code == 200
    for name, value in (
        ("X-Before", _iso(now + dt.timedelta(days=4))),
        ("X-After", _iso(now - dt.timedelta(hours=2))),
        ("X-At", "25/06/2021"),
        ("X-At", "not a date"),
    ):
        bad = {**good, name: value}
        assert requests.get(f"{wm.mock_url}/d", headers=bad, timeout=10).status_code == 404


def test_truncated_expected_and_actual(wm: SessionHandle) -> None:
    stub(
        MappingRequest(
            method="GET",
            url_path="/d",
            query_parameters={
                "from": {"after": "now", "truncateExpected": "first day of month"},
                "year": {
                    "equalToDateTime": "now",
                    "truncateExpected": "first day of year",
                    "truncateActual": "first day of year",
                },
            },
        )
    )
    now = dt.datetime.now(dt.UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    params = {"from": _iso(first + dt.timedelta(seconds=1)), "year": _iso(now)}
    assert requests.get(f"{wm.mock_url}/d", params=params, timeout=10).status_code == 200
    params["from"] = _iso(first)  # not after the first instant of the month
    assert requests.get(f"{wm.mock_url}/d", params=params, timeout=10).status_code == 404
    params = {"from": _iso(now), "year": _iso(now.replace(year=now.year - 1))}
    assert requests.get(f"{wm.mock_url}/d", params=params, timeout=10).status_code == 404


def test_invalid_date_time_matchers_are_422_at_the_field(wm: SessionHandle) -> None:
    bad = {"method": "GET", "url": "/x", "headers": {"D": {"before": "soon"}}}
    error = refused(bad, wm)
    assert error["source"]["pointer"] == "/request/headers/D/before"
    assert error["detail"].startswith("`before` 'soon' is not a date-time")
    bad = {"method": "GET", "url": "/x", "headers": {"D": {"after": "now", "truncateActual": "x"}}}
    error = refused(bad, wm)
    assert error["source"]["pointer"] == "/request/headers/D/truncateActual"
    bad = {"method": "GET", "url": "/x", "headers": {"D": {"after": "now", "actualFormat": "qq"}}}
    assert refused(bad, wm)["source"]["pointer"] == "/request/headers/D/actualFormat"
    bad = {"method": "GET", "url": "/x", "headers": {"D": {"after": "now", "expectedOffset": 1}}}
    error = refused(bad, wm)
    assert error["detail"] == "give `expectedOffset` and `expectedOffsetUnit` together"


# ------------------------------------------------------------------ multipart


def _multipart(*parts: tuple[dict[str, str], str]) -> tuple[bytes, str]:
    chunks = []
    for headers, body in parts:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        chunks.append(f"--XyZ\r\n{head}\r\n{body}\r\n")
    return "".join(chunks).encode() + b"--XyZ--\r\n", "multipart/form-data; boundary=XyZ"


def test_multipart_patterns_any_and_all(wm: SessionHandle) -> None:
    stub(
        FullRequest(
            method="POST",
            url_path="/upload",
            multipart_patterns=[
                {
                    "matchingType": "ANY",
                    "headers": {"Content-Disposition": {"contains": 'name="meta"'}},
                    "bodyPatterns": [{"equalToJson": {"kind": "photo"}}],
                },
                {
                    "matchingType": "ALL",
                    "headers": {"Content-Disposition": {"contains": "form-data"}},
                },
            ],
        )
    )
    body, kind = _multipart(
        ({"Content-Disposition": 'form-data; name="meta"'}, '{"kind": "photo"}'),
        ({"Content-Disposition": 'form-data; name="file"'}, "bytes"),
    )
    assert post(wm, "/upload", body, **{"Content-Type": kind}) == 200
    wrong, _ = _multipart(({"Content-Disposition": 'form-data; name="meta"'}, '{"kind": "x"}'))
    assert post(wm, "/upload", wrong, **{"Content-Type": kind}) == 404
    inline, _ = _multipart(
        ({"Content-Disposition": 'form-data; name="meta"'}, '{"kind": "photo"}'),
        ({"Content-Disposition": "inline"}, "x"),
    )
    assert post(wm, "/upload", inline, **{"Content-Type": kind}) == 404  # ALL fails
    assert post(wm, "/upload", body, **{"Content-Type": "text/plain"}) == 404


# ------------------------------------------------------------------ host, scheme, port


def test_host_port_and_scheme_come_from_the_host_header(wm: SessionHandle) -> None:
    stub(
        FullRequest(
            method="GET", url_path="/h", host={"equalTo": "api.test"}, port=8443, scheme="http"
        )
    )
    url = f"{wm.mock_url}/h"
    assert requests.get(url, headers={"Host": "api.test:8443"}, timeout=10).status_code == 200
    assert requests.get(url, headers={"Host": "api.test"}, timeout=10).status_code == 404
    assert requests.get(url, headers={"Host": "web.test:8443"}, timeout=10).status_code == 404


def test_an_equal_to_host_matches_whatever_its_case(wm: SessionHandle) -> None:
    """Hostnames are case-insensitive: `equalTo: API.test` matches `Host: api.TEST`."""
    stub(FullRequest(method="GET", url_path="/hc", host={"equalTo": "API.test"}))
    stub(FullRequest(method="GET", url_path="/hm", host={"matches": "API\\.test"}))
    url = f"{wm.mock_url}/hc"
    assert requests.get(url, headers={"Host": "api.TEST:8080"}, timeout=10).status_code == 200
    assert requests.get(url, headers={"Host": "API.test"}, timeout=10).status_code == 200
    assert requests.get(url, headers={"Host": "api.testx"}, timeout=10).status_code == 404
    # Other operators see the lower-case host as they are given (the row says so).
    hm = f"{wm.mock_url}/hm"
    assert requests.get(hm, headers={"Host": "API.test"}, timeout=10).status_code == 404


def test_port_defaults_to_the_schemes_and_scheme_is_checked(wm: SessionHandle) -> None:
    stub(FullRequest(method="GET", url_path="/p", port=80))
    stub(FullRequest(method="GET", url_path="/s", scheme="https"))
    assert (
        requests.get(f"{wm.mock_url}/p", headers={"Host": "a.test"}, timeout=10).status_code == 200
    )
    assert requests.get(f"{wm.mock_url}/s", timeout=10).status_code == 404
    error = refused({"method": "GET", "url": "/x", "port": 0}, wm)
    assert error["source"]["pointer"] == "/request/port"


# ------------------------------------------------------------------ JSONPath filters (Jayway)


def test_json_path_filters_apply_to_an_object_itself(wm: SessionHandle) -> None:
    stub(
        MappingRequest(
            method="POST",
            url_path="/j",
            body_patterns=[
                {"matchesJsonPath": "$.meta[?(@.gift == true)]"},
                {"matchesJsonPath": "$[?(@.total > 5)]"},
                {"matchesJsonPath": "$.items[?(@.qty > 1)]"},
            ],
        )
    )
    good = '{"meta": {"gift": true}, "total": 7, "items": [{"qty": 1}, {"qty": 2}]}'
    assert post(wm, "/j", good) == 200
    assert post(wm, "/j", good.replace("true", "false")) == 404
    assert post(wm, "/j", good.replace("7", "5")) == 404
    assert post(wm, "/j", good.replace('"qty": 2', '"qty": 1')) == 404


def test_client_counts_requests_and_finds_near_misses_with_new_matchers(
    wm: SessionHandle,
) -> None:
    stub(
        MappingRequest(method="POST", url_path="/v", body_patterns=[{"matchesJsonSchema": SCHEMA}])
    )
    assert post(wm, "/v", '{"name": "Tom", "age": 3}') == 200
    assert post(wm, "/v", "<a>1</a>") == 404
    by_xpath = NearMissMatchPatternRequest(
        method="POST", url_path="/v", body_patterns={"matchesXPath": "/a[. = 1]"}
    )
    assert Requests.get_matching_request_count(by_xpath).count == 1
    near = NearMisses.find_nearest_misses_by_request(
        NearMissMatchRequest(url="/v", method="POST", body='{"name": "Tom", "age": "x"}')
    ).near_misses
    assert len(near) == 1 and 0 < near[0].match_result.distance < 1


async def test_scheme_and_default_port_over_https(tls: TlsFiles) -> None:  # noqa: F811
    config = ServerConfig(port=0, admin_port=0, tls_cert=tls.cert, tls_key=tls.key)
    async with (
        ControlplaneServer(config) as server,
        httpx.AsyncClient(verify=tls.client_context(), timeout=10) as client,
    ):
        for path, extra in (("/s", {"scheme": "https"}), ("/p", {"port": 443})):
            mapping = {"request": {"method": "GET", "urlPath": path, **extra}, "response": {}}
            added = await client.post(f"{server.admin_url}/__admin/mappings", json=mapping)
            assert added.status_code == 201, added.text
        assert (await client.get(f"{server.mock_url}/s")).status_code == 200
        assert (await client.get(f"{server.mock_url}/p")).status_code == 404  # Host names its port
        named = await client.get(f"{server.mock_url}/p", headers={"Host": "api.test"})
        assert named.status_code == 200


# ------------------------------------------------------------------ client address


def test_client_ip_matches_the_connections_peer(wm: SessionHandle) -> None:
    stub(FullRequest(method="GET", url_path="/local", client_ip={"equalTo": "127.0.0.1"}))
    stub(FullRequest(method="GET", url_path="/far", client_ip={"matches": "10\\..*"}))
    assert requests.get(f"{wm.mock_url}/local", timeout=10).status_code == 200
    missed = requests.get(f"{wm.mock_url}/far", timeout=10)
    assert missed.status_code == 404
    assert "Client IP" in missed.text and "127.0.0.1" in missed.text
    # A posted request names its client: near misses are computed against that address.
    near = NearMisses.find_nearest_misses_by_request(
        NearMissMatchRequest(url="/far", method="GET", client_ip="10.1.2.3")
    ).near_misses
    assert near[0].match_result.distance == 0


def test_client_ip_cannot_select_journaled_requests(wm: SessionHandle) -> None:
    pattern = {"method": "GET", "url": "/local", "clientIp": {"equalTo": "127.0.0.1"}}
    answer = requests.post(f"{wm.api}/__admin/requests/count", json=pattern, timeout=10)
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["source"]["pointer"] == "/clientIp"
    assert error["detail"].startswith("the journal does not keep client addresses")


def test_a_custom_matcher_is_refused_saying_why(wm: SessionHandle) -> None:
    error = refused({"method": "GET", "url": "/c", "customMatcher": {"name": "mine"}}, wm)
    assert error["source"]["pointer"] == "/request/customMatcher"
    assert error["detail"].startswith(
        "`customMatcher` names a WireMock extension, Java code that runs inside WireMock; "
        "controlplane runs no Java"
    )


# ------------------------------------------------------------------ JSON placeholders


def test_equal_to_json_placeholders_are_on_as_in_wiremock(wm: SessionHandle) -> None:
    expected = {
        "id": "${json-unit.any-number}",
        "name": "${json-unit.any-string}",
        "ok": "${json-unit.any-boolean}",
        "trace": "${json-unit.ignore}",
        "code": "${json-unit.regex}[A-Z]{3}",
        "tags": ["${json-unit.any-string}", "fixed"],
    }
    stub(
        MappingRequest(
            method="POST",
            url_path="/ph",
            body_patterns=[{"equalToJson": expected, "ignoreArrayOrder": True}],
        )
    )
    body = {"id": 7, "name": "n", "ok": True, "trace": None, "code": "ABC", "tags": ["fixed", "x"]}
    assert post(wm, "/ph", json.dumps(body)) == 200
    for wrong in ({"id": "7"}, {"code": "ABCD"}, {"ok": "yes"}, {"tags": ["x", "y"]}):
        assert post(wm, "/ph", json.dumps({**body, **wrong})) == 404, wrong
    extra = {**body, "more": 1}
    assert post(wm, "/ph", json.dumps(extra)) == 404
    stub(
        MappingRequest(
            method="POST",
            url_path="/lenient",
            body_patterns=[
                {"equalToJson": '{"id": "${json-unit.any-number}"}', "ignoreExtraElements": True}
            ],
        )
    )
    assert post(wm, "/lenient", json.dumps({"id": 1, "more": [1]})) == 200
    error = refused(
        {
            "method": "POST",
            "url": "/x",
            "bodyPatterns": [{"equalToJson": {"a": "${json-unit.nope}"}}],
        },
        wm,
    )
    assert error["source"]["pointer"] == "/request/bodyPatterns/0/equalToJson"
    assert error["detail"].startswith("unknown placeholder '${json-unit.nope}' at $.a")


def test_a_document_matcher_nested_in_a_path_is_refused_saying_why(wm: SessionHandle) -> None:
    nested = {"expression": "$.a", "matchesJsonSchema": {"type": "object"}}
    error = refused({"url": "/n", "bodyPatterns": [{"matchesJsonPath": nested}]}, wm)
    pointer = "/request/bodyPatterns/0/matchesJsonPath/matchesJsonSchema"
    assert error["source"]["pointer"] == pointer
    assert error["detail"].startswith(
        "`matchesJsonPath` with `matchesJsonSchema` is not served: the native json_path "
        "condition applies a string matcher to what the expression finds"
    )
    nested = {"expression": "/a", "equalToXml": "<b/>"}
    error = refused({"url": "/n", "bodyPatterns": [{"matchesXPath": nested}]}, wm)
    assert error["source"]["pointer"] == "/request/bodyPatterns/0/matchesXPath/equalToXml"
    assert "the native xpath condition" in error["detail"]


def test_equal_to_json_nested_in_a_json_path_compares_the_found_value(wm: SessionHandle) -> None:
    nested = {
        "expression": "$.order",
        "equalToJson": {"id": "${json-unit.any-number}", "lines": [{"sku": "a"}]},
        "ignoreExtraElements": True,
    }
    stub(MappingRequest(method="POST", url_path="/o", body_patterns=[{"matchesJsonPath": nested}]))
    order = {"id": 4, "lines": [{"sku": "a", "qty": 2}], "note": "x"}
    assert post(wm, "/o", json.dumps({"order": order, "other": 1})) == 200
    assert post(wm, "/o", json.dumps({"order": {**order, "id": "4"}})) == 404
    assert post(wm, "/o", json.dumps({"other": order})) == 404
