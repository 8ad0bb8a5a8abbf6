"""`multipart` conditions: any/all parts, part headers and bodies, bounds, near misses."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import requests
from multidict import CIMultiDict

from controlplane import wire
from controlplane.matching.conditions import CompiledMatch, compile_match
from controlplane.matching.multipart import MAX_PARTS
from controlplane.request_view import RequestView
from tests.conftest import SessionHandle

BOUNDARY = "b0und"
KIND = f'multipart/form-data; boundary="{BOUNDARY}"'


def body(*parts: tuple[str, str | bytes]) -> bytes:
    out = b"preamble\r\n"
    for name, content in parts:
        raw = content.encode() if isinstance(content, str) else content
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + raw
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


def match(**fields: Any) -> CompiledMatch:
    compiled = compile_match(msgspec.convert(fields, wire.Match))
    assert compiled is not None
    return compiled


def view(raw: bytes, content_type: str = KIND) -> RequestView:
    return RequestView("POST", "/x", "", CIMultiDict({"Content-Type": content_type}), raw)


NAMED_META = {"headers": {"Content-Disposition": {"contains": 'name="meta"'}}}


def test_any_part_with_headers_and_a_json_body() -> None:
    m = match(multipart=[{"part": {**NAMED_META, "json_subset": {"kind": "photo"}}}])
    assert m(view(body(("file", "xx"), ("meta", '{"kind": "photo", "n": 1}'))))
    assert not m(view(body(("file", '{"kind": "photo"}'), ("meta", '{"kind": "x"}'))))


def test_all_parts() -> None:
    m = match(multipart=[{"parts": "all", "part": {"body_matcher": {"starts_with": "ok"}}}])
    assert m(view(body(("a", "ok 1"), ("b", "ok 2"))))
    assert not m(view(body(("a", "ok 1"), ("b", "no"))))


def test_a_part_without_conditions_needs_a_multipart_body() -> None:
    m = match(multipart=[{"part": {}}])
    assert m(view(body(("a", "x"))))
    assert not m(view(b"plain", "text/plain"))


def test_binary_and_xml_part_bodies() -> None:
    m = match(
        multipart=[
            {"part": {"body_base64": "AAEC"}},
            {"part": {"xpath": [{"expression": "/doc/id", "matcher": "7"}]}},
        ]
    )
    assert m(view(body(("bin", b"\x00\x01\x02"), ("x", "<doc><id>7</id></doc>"))))
    assert not m(view(body(("bin", b"\x00\x01"), ("x", "<doc><id>7</id></doc>"))))


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (body(("a", "x")), "multipart/form-data"),  # no boundary
        (body(("a", "x")), "multipart/form-data; boundary=other"),
        (body(("a", "x")), "application/json"),
        (body(("a", "x")).replace(f"--{BOUNDARY}--".encode(), b""), KIND),  # no close
        (f"--{BOUNDARY}\r\nbroken header line\r\n\r\nx\r\n--{BOUNDARY}--".encode(), KIND),
        (b"", KIND),
    ],
)
def test_bodies_that_are_not_well_formed_multipart_have_no_parts(
    raw: bytes, content_type: str
) -> None:
    m = match(multipart=[{"part": {}}])
    request = view(raw, content_type)
    assert not m(request)
    assert m.diffs(request)[0].actual == "<not multipart>"


def test_at_most_max_parts() -> None:
    m = match(multipart=[{"part": {}}])
    assert m(view(body(*[("p", "x")] * MAX_PARTS)))
    assert not m(view(body(*[("p", "x")] * (MAX_PARTS + 1))))


def test_near_miss_describes_each_part() -> None:
    m = match(multipart=[{"part": {**NAMED_META, "body": "yes"}}])
    diff = m.diffs(view(body(("meta", "no"), ("file", "yes"))))[0]
    assert diff.field == "multipart (any parts)"
    assert diff.expected == 'header Content-Disposition contains "name=\\"meta\\""; body yes'
    assert diff.actual == (
        'part 1: body: no | part 2: header Content-Disposition: form-data; name="file"'
    )


def test_a_part_may_not_carry_request_only_conditions(cp: SessionHandle) -> None:
    route = {
        "method": "POST",
        "path": "/x",
        "handler": "x",
        "match": {"multipart": [{"part": {"query": {"a": "b"}}}]},
    }
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_input",
        "message": "`part` has headers and a body only; query cannot apply to it",
        "location": "$.match.multipart[0].part",
    }


def test_a_multipart_route_over_the_mock_port(cp: SessionHandle) -> None:
    cp.add_route(
        method="POST",
        path="/upload",
        handler="upload",
        match={"multipart": [{"part": {**NAMED_META, "body": "hello"}}]},
        response={"type": "raw", "body": "stored"},
    )
    files = {"meta": (None, "hello"), "file": ("a.txt", b"data", "text/plain")}
    answer = requests.post(f"{cp.mock_url}/upload", files=files, timeout=10)
    assert (answer.status_code, answer.text) == (200, "stored")
    files = {"meta": (None, "bye")}
    assert requests.post(f"{cp.mock_url}/upload", files=files, timeout=10).status_code == 404
