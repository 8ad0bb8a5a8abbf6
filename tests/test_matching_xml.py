"""`xml` and `xpath` conditions: equality, placeholders, namespaces, hostile bodies."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest
import requests
from multidict import CIMultiDict

from controlplane import wire, xmldoc
from controlplane.matching.conditions import CompiledMatch, compile_match
from controlplane.request_view import RequestView
from tests.conftest import SessionHandle


def match(**fields: Any) -> CompiledMatch:
    compiled = compile_match(msgspec.convert(fields, wire.Match))
    assert compiled is not None
    return compiled


def view(body: str | bytes) -> RequestView:
    raw = body.encode() if isinstance(body, str) else body
    return RequestView("POST", "/x", "", CIMultiDict(), raw)


def test_equality_ignores_prefixes_attribute_order_whitespace_and_comments() -> None:
    m = match(xml=[{"value": '<p:a xmlns:p="urn:a" x="1" y="2"><p:b>t</p:b></p:a>'}])
    assert m(view('<a xmlns="urn:a" y="2" x="1">\n  <!-- note --><b> t </b>\n</a>'))
    assert m(view('<?xml version="1.0"?><q:a xmlns:q="urn:a" x="1" y="2"><q:b>t</q:b></q:a>'))


@pytest.mark.parametrize(
    "body",
    [
        '<a xmlns="urn:other" x="1" y="2"><b>t</b></a>',  # another namespace
        '<a xmlns="urn:a" x="1"><b>t</b></a>',  # an attribute missing
        '<a xmlns="urn:a" x="1" y="3"><b>t</b></a>',  # an attribute differs
        '<a xmlns="urn:a" x="1" y="2"><b>u</b></a>',  # text differs
        '<a xmlns="urn:a" x="1" y="2"><b/></a>',  # text missing
        '<a xmlns="urn:a" x="1" y="2"><b>t</b><b>t</b></a>',  # an extra element
        '<a xmlns="urn:a" x="1" y="2">t<b>t</b></a>',  # extra text
        "<a",  # not XML
        "",  # no body
    ],
)
def test_equality_fails_on_any_real_difference(body: str) -> None:
    m = match(xml=[{"value": '<p:a xmlns:p="urn:a" x="1" y="2"><p:b>t</p:b></p:a>'}])
    assert not m(view(body))


def test_element_order_matters() -> None:
    m = match(xml=[{"value": "<a><b/><c/></a>"}])
    assert m(view("<a><b/><c/></a>")) and not m(view("<a><c/><b/></a>"))


@pytest.mark.parametrize(
    ("body", "matches"),
    [
        ("<a>t<b/><c>1</c></a>", True),
        ("<a>t<c>1</c><b/></a>", True),  # differently named siblings in any order
        ("<a><c>1</c><b/>t</a>", True),  # text is compared apart from the elements
        ("<a>t<c>1</c></a>", False),  # a child missing
        ("<a>t<c>1</c><b/><b/></a>", False),  # a child too many
        ("<a>u<c>1</c><b/></a>", False),  # text differs
        ("<a><c>1</c><b/></a>", False),  # text missing
        ("<a>t<c>2</c><b/></a>", False),  # a child differs
    ],
)
def test_any_order_compares_siblings_sorted_by_local_name(body: str, matches: bool) -> None:
    m = match(xml=[{"value": "<a>t<b/><c>1</c></a>", "any_order": True}])
    assert m(view(body)) is matches


def test_any_order_keeps_the_order_of_same_named_siblings() -> None:
    m = match(xml=[{"value": '<a><i n="1"/><j/><i n="2"/></a>', "any_order": True}])
    assert m(view('<a><j/><i n="1"/><i n="2"/></a>'))
    assert m(view('<a><i n="1"/><i n="2"/><j/></a>'))
    assert not m(view('<a><i n="2"/><j/><i n="1"/></a>'))


def test_an_ignored_text_placeholder_also_stands_for_no_text_in_any_order() -> None:
    m = match(
        xml=[{"value": "<a>${xmlunit.ignore}<b/></a>", "placeholders": True, "any_order": True}]
    )
    assert m(view("<a><b/></a>")) and m(view("<a>x<b/></a>"))
    assert not m(view("<a>x</a>"))


def test_placeholders() -> None:
    m = match(
        xml=[
            {
                "value": '<a id="${xmlunit.isNumber}"><t>${xmlunit.isDateTime}</t>'
                "<c>${xmlunit.matchesRegex([a-z]+)}</c><i>${xmlunit.ignore}</i></a>",
                "placeholders": True,
            }
        ]
    )
    assert m(view('<a id="4.5"><t>2021-06-01T10:00:00Z</t><c>abc</c><i>anything</i></a>'))
    assert m(view('<a id="4"><t>2021-06-01T10:00:00</t><c>x</c><i/></a>'))
    assert not m(view('<a id="four"><t>2021-06-01T10:00:00Z</t><c>abc</c><i/></a>'))
    assert not m(view('<a id="4"><t>June</t><c>abc</c><i/></a>'))
    assert not m(view('<a id="4"><t>2021-06-01T10:00:00Z</t><c>ABC</c><i/></a>'))


def test_xpath_exists_matcher_namespaces_and_booleans() -> None:
    doc = '<o:order xmlns:o="urn:o"><o:id>42</o:id><o:line qty="2"/><o:line qty="3"/></o:order>'
    assert match(xpath=[{"expression": "/order/id"}])(view(doc))  # local names without namespaces
    assert not match(xpath=[{"expression": "/order/missing"}])(view(doc))
    namespaced = match(xpath=[{"expression": "//x:line/@qty", "namespaces": {"x": "urn:o"}}])
    assert namespaced(view(doc))
    assert not match(xpath=[{"expression": "//x:line", "namespaces": {"x": "urn:other"}}])(
        view(doc)
    )
    any_qty = match(xpath=[{"expression": "//line/@qty", "matcher": "3"}])
    assert any_qty(view(doc))
    assert not match(xpath=[{"expression": "//line/@qty", "matcher": "4"}])(view(doc))
    assert match(xpath=[{"expression": "count(//line) = 2"}])(view(doc))
    assert not match(xpath=[{"expression": "count(//line) = 3"}])(view(doc))
    assert match(xpath=[{"expression": "/order/id", "matcher": {"matches": "[0-9]+"}}])(view(doc))


def test_the_body_is_parsed_once_per_request_for_all_xml_conditions() -> None:
    m = match(
        xml=[{"value": "<a><b>1</b></a>"}],
        xpath=[{"expression": "/a/b", "matcher": "1"}, {"expression": "//b"}],
    )
    request = view("<a><b>1</b></a>")
    assert m(request)
    first = request.derived("xml", lambda v: pytest.fail("parsed twice"))
    assert first is request.derived("xml", lambda v: pytest.fail("parsed twice"))


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    )
    + "]><lolz>&lol9;</lolz>"
)
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BILLION_LAUGHS, "DTDForbidden"),
        (EXTERNAL, "DTDForbidden"),
        ("<a>" * (xmldoc.MAX_XML_DEPTH + 1) + "</a>" * (xmldoc.MAX_XML_DEPTH + 1), "deeper"),
        ("<a>" + "<b/>" * xmldoc.MAX_XML_ELEMENTS + "</a>", "more than"),
    ],
)
def test_hostile_xml_is_not_xml(body: str, reason: str) -> None:
    m = match(xpath=[{"expression": "/*"}])
    request = view(body)
    assert not m(request)
    assert reason in m.diffs(request)[0].actual


def test_limits_are_inclusive() -> None:
    depth = xmldoc.MAX_XML_DEPTH
    assert match(xpath=[{"expression": "/*"}])(view("<a>" * depth + "</a>" * depth))
    many = "<a>" + "<b/>" * (xmldoc.MAX_XML_ELEMENTS - 1) + "</a>"
    assert match(xml=[{"value": many}])(view(many))


def test_xpath_runs_on_documents_of_at_most_max_xpath_elements() -> None:
    m = match(xpath=[{"expression": "count(//b) > 0"}], xml=[])
    at_limit = "<a>" + "<b/>" * (xmldoc.MAX_XPATH_ELEMENTS - 1) + "</a>"
    assert m(view(at_limit))
    over = "<a>" + "<b/>" * xmldoc.MAX_XPATH_ELEMENTS + "</a>"
    assert not m(view(over))
    assert m.diffs(view(over))[0].actual == (
        f"<not evaluated: more than {xmldoc.MAX_XPATH_ELEMENTS} elements, "
        "too many to query by XPath>"
    )
    # Equality has no such limit below MAX_XML_ELEMENTS.
    assert match(xml=[{"value": over}])(view(over))


def test_oversized_bodies_are_not_parsed() -> None:
    body = b"<a>" + b" " * xmldoc.MAX_XML_BYTES + b"</a>"
    m = match(xpath=[{"expression": "/a"}])
    assert not m(view(body))
    assert "larger than" in m.diffs(view(body))[0].actual


@pytest.mark.parametrize(
    ("fields", "location", "message"),
    [
        ({"xml": [{"value": "<a>"}]}, "$.match.xml[0].value", "`value` is not usable XML: "),
        (
            {"xml": [{"value": "<a>${xmlunit.matchesRegex(()}</a>", "placeholders": True}]},
            "$.match.xml[0].value",
            "`value` is not usable XML: placeholder",
        ),
        ({"xpath": [{"expression": "//["}]}, "$.match.xpath[0].expression", "`expression` is not"),
        (
            {"xpath": [{"expression": "//q:a"}]},
            "$.match.xpath[0].expression",
            "`expression` is not valid XPath",
        ),
    ],
)
def test_bad_xml_conditions_are_422_with_their_location(
    cp: SessionHandle, fields: dict[str, Any], location: str, message: str
) -> None:
    route = {"method": "POST", "path": "/x", "handler": "x", "match": fields}
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=10)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["location"] == location
    assert error["message"].startswith(message)


def test_a_billion_laughs_request_answers_404_quickly_and_other_requests_go_on(
    cp: SessionHandle,
) -> None:
    cp.add_route(
        method="POST",
        path="/x",
        handler="x",
        match={"xml": [{"value": "<lolz>lol</lolz>"}]},
        response={"type": "raw", "body": "ok"},
    )
    started = time.monotonic()
    bomb = requests.post(f"{cp.mock_url}/x", data=BILLION_LAUGHS.encode(), timeout=30)
    assert bomb.status_code == 404
    assert time.monotonic() - started < 10  # a generous bound: expansion would take minutes
    diffs = bomb.json()["near_misses"][0]["diffs"]
    assert diffs[0]["field"] == "xml" and diffs[0]["actual"].startswith("<not XML: DTDForbidden")
    assert requests.post(f"{cp.mock_url}/x", data=b"<lolz>lol</lolz>", timeout=10).text == "ok"
