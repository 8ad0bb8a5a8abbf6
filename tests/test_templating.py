"""`template: true`: responses rendered per request, over real sockets.

The helpers' semantics are pinned by the examples of docs/reference/templating.md
(`test_templating_docs.py`); here: what is templated, registration errors, the bounds
on a render, the proxy's url and headers, and the journal.
"""

from __future__ import annotations

import gc
import time
import tomllib
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import requests
import yaml

from controlplane.responses.templating import MAX_BLOCKS, MAX_NESTING, MAX_OUTPUT
from tests.conftest import SessionHandle
from tests.origins import Origin
from tests.responses_support import responder_for, view


def route(cp: SessionHandle, response: dict[str, Any], path: str = "/t/{id}") -> None:
    cp.add_route(method="*", path=path, handler="h", response=response)


def refused(cp: SessionHandle, response: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(
        f"{cp.api}/routes",
        json={"method": "GET", "path": "/t", "handler": "h", "response": response},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def failed(cp: SessionHandle, answer: requests.Response, code: str) -> str:
    """The message of a 500 with the admin API's error shape, after checking the journal."""
    assert answer.status_code == 500, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == code
    assert cp.calls("h")[-1]["response"]["error"] == code
    assert cp.calls("h")[-1]["response"]["status"] == 500
    message: str = error["message"]
    return message


def test_raw_body_and_headers_echo_the_request(cp: SessionHandle) -> None:
    route(
        cp,
        {
            "type": "raw",
            "template": True,
            "headers": {"X-Echo": "{{request.headers.X-In}}", "X-Static": "plain"},
            "body": (
                "{{request.method}} {{request.url}} id={{request.path_params.id}} "
                "seg={{request.path.[1]}} q={{request.query.q}} c={{request.cookies.c}} "
                "b={{jsonPath request.body '$.name'}}"
            ),
        },
    )
    answer = requests.post(
        f"{cp.mock_url}/t/42?q=x&q=y",
        headers={"X-In": "abc", "Cookie": "c=v"},
        json={"name": "Ann"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.text == "POST /t/42?q=x&q=y id=42 seg=42 q=x c=v b=Ann"
    assert answer.headers["X-Echo"] == "abc"
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert cp.calls("h")[-1]["response"] == {
        "status": 200,
        "type": "raw",
        "delay_ms": 0.0,
        "error": None,
    }


def test_every_string_of_a_json_body_is_templated_and_other_values_kept(
    cp: SessionHandle,
) -> None:
    body = {
        "id": "{{request.path.id}}",
        "{{request.method}}": [1, 2.5, None, True, "{{upper request.query.q}}"],
        "nested": {"plain": "{ not a template }", "deep": ["{{size request.query.q}}"]},
    }
    route(cp, {"type": "json", "template": True, "status": 201, "body": body})
    answer = requests.get(f"{cp.mock_url}/t/7?q=a&q=b", timeout=10)
    assert answer.status_code == 201
    assert answer.json() == {
        "id": "7",
        "GET": [1, 2.5, None, True, "A"],
        "nested": {"plain": "{ not a template }", "deep": ["2"]},
    }


def test_without_template_mustaches_are_sent_as_written(cp: SessionHandle) -> None:
    route(cp, {"type": "raw", "body": "{{request.method}}", "headers": {"X-A": "{{x}}"}})
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=10)
    assert answer.text == "{{request.method}}"
    assert answer.headers["X-A"] == "{{x}}"


def test_structured_bodies_are_templated_before_encoding(cp: SessionHandle) -> None:
    for kind, decode in (
        ("msgpack", msgpack.unpackb),
        ("yaml", yaml.safe_load),
        ("toml", lambda data: tomllib.loads(data.decode())),
    ):
        route(
            cp,
            {"type": kind, "template": True, "body": {"id": "{{request.path.id}}", "n": 1}},
            path=f"/{kind}/{{id}}",
        )
        answer = requests.get(f"{cp.mock_url}/{kind}/9", timeout=10)
        assert answer.status_code == 200, kind
        assert decode(answer.content) == {"id": "9", "n": 1}, kind


def test_sequence_items_render_each_with_the_sequences_delay(cp: SessionHandle) -> None:
    route(
        cp,
        {
            "type": "sequence",
            "delay": {"fixed_ms": 5},
            "responses": [
                {"type": "raw", "template": True, "body": "first {{request.path.id}}"},
                {"type": "raw", "body": "second {{request.path.id}}"},
            ],
        },
    )
    assert requests.get(f"{cp.mock_url}/t/1", timeout=10).text == "first 1"
    assert requests.get(f"{cp.mock_url}/t/2", timeout=10).text == "second {{request.path.id}}"
    assert [c["response"]["delay_ms"] for c in cp.calls("h")] == [5.0, 5.0]


def test_a_dribbled_templated_body_arrives_whole(cp: SessionHandle) -> None:
    route(
        cp,
        {
            "type": "raw",
            "template": True,
            "body": "{{request.path.id}}-0123456789",
            "chunked_dribble": {"chunks": 3, "total_ms": 30},
        },
    )
    assert requests.get(f"{cp.mock_url}/t/abc", timeout=10).text == "abc-0123456789"


@pytest.mark.parametrize(
    ("response", "location", "message"),
    [
        (
            {"type": "raw", "body": "{{#if a}}open"},
            "$.response.body",
            "template syntax error: Unclosed block at line 1, column 14",
        ),
        (
            {"type": "json", "body": {"a": [1, "ok { }", "{{a b=}}"]}},
            "$.response.body.a[2]",
            "template syntax error: Expected path expression, got CLOSE at line 1, column 7",
        ),
        (
            {"type": "raw", "headers": {"X-A": "{{> partial}}"}},
            '$.response.headers["X-A"]',
            "template syntax error: Partials are not supported at line 1, column 1",
        ),
        (
            {"type": "raw", "body": "{{shout request.method}}"},
            "$.response.body",
            "unknown helper `shout`; the helpers are: and, array, base64, capitalize, "
            "contains, each, eq, gt, gte, if, jsonPath, lookup, lower, lt, lte, matches, "
            "math, neq, not, now, or, parseJson, pickRandom, randomValue, range, "
            "regexExtract, size, toJson, trim, unless, upper, urlEncode, with",
        ),
        (
            {"type": "raw", "body": "host: {{hostname}}"},
            "$.response.body",
            "helper `hostname` is WireMock's and controlplane does not provide it "
            "(see the templating reference for the helpers it has)",
        ),
        (
            {"type": "raw", "body": "{{#each (xPath request.body '/a')}}{{/each}}"},
            "$.response.body",
            "helper `xPath` is WireMock's and controlplane does not provide it "
            "(see the templating reference for the helpers it has)",
        ),
        (
            {
                "type": "raw",
                "body": "{{#if a}}" * (MAX_NESTING + 1) + "{{/if}}" * (MAX_NESTING + 1),
            },
            "$.response.body",
            f"template nests too deep: at most {MAX_NESTING} levels of blocks and subexpressions",
        ),
        (
            {"type": "raw", "body": "{{#if a}}" * 5000 + "{{/if}}" * 5000},
            "$.response.body",
            f"template nests too deep: at most {MAX_NESTING} levels of blocks and subexpressions",
        ),
        (
            {"type": "raw", "body": "{{size " + "(size " * 40 + "1" + ")" * 40 + "}}"},
            "$.response.body",
            f"template nests too deep: at most {MAX_NESTING} levels of blocks and subexpressions",
        ),
    ],
)
def test_a_bad_template_is_refused_at_registration_with_its_location(
    cp: SessionHandle, response: dict[str, Any], location: str, message: str
) -> None:
    error = refused(cp, {**response, "template": True})
    assert error["location"] == location
    assert error["message"] == message


def test_nesting_up_to_the_bound_is_accepted(cp: SessionHandle) -> None:
    body = "{{#if true}}" * MAX_NESTING + "deep" + "{{/if}}" * MAX_NESTING
    route(cp, {"type": "raw", "template": True, "body": body})
    assert requests.get(f"{cp.mock_url}/t/1", timeout=10).text == "deep"


def test_nested_each_over_range_stops_at_the_block_budget(cp: SessionHandle) -> None:
    loop = "{{#each (range 1 1000)}}"
    body = loop * 3 + "x" + "{{/each}}" * 3
    route(cp, {"type": "raw", "template": True, "body": body})
    started = time.monotonic()
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=30)
    assert time.monotonic() - started < 5  # a billion turns would take hours
    assert failed(cp, answer, "template_limit") == (
        f"the template rendered more than {MAX_BLOCKS} block bodies "
        "(`#each` turns count one each): loop over less"
    )


def test_a_loop_of_exactly_the_budget_renders(cp: SessionHandle) -> None:
    # The body of the template is one program, each turn another.
    route(
        cp,
        {
            "type": "raw",
            "template": True,
            "body": f"{{{{#each (range 2 {MAX_BLOCKS})}}}}x{{{{/each}}}}",
        },
    )
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=10)
    assert answer.status_code == 200
    assert answer.text == "x" * (MAX_BLOCKS - 1)


def test_a_huge_range_is_refused_before_it_is_built(cp: SessionHandle) -> None:
    route(cp, {"type": "raw", "template": True, "body": "{{size (range 1 1000000000)}}"})
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=10)
    assert failed(cp, answer, "template_limit") == (
        f"`range 1 1000000000` has 1000000000 numbers; at most {MAX_BLOCKS}"
    )


def test_ten_megabytes_of_output_stop_at_the_output_bound(cp: SessionHandle) -> None:
    body = "{{#each (range 1 10000)}}{{randomValue length=1000}}{{/each}}"
    route(cp, {"type": "raw", "template": True, "body": body})
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=30)
    assert failed(cp, answer, "template_limit") == (
        f"the template's output is over {MAX_OUTPUT} characters"
    )


def test_one_huge_random_value_is_refused_before_it_is_built(cp: SessionHandle) -> None:
    route(cp, {"type": "raw", "template": True, "body": "{{randomValue length=10000000}}"})
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=10)
    assert failed(cp, answer, "template_limit") == (
        f"randomValue length=10000000 is over {MAX_OUTPUT} characters"
    )


def test_output_of_exactly_the_bound_renders(cp: SessionHandle) -> None:
    route(cp, {"type": "raw", "template": True, "body": f"{{{{randomValue length={MAX_OUTPUT}}}}}"})
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=10)
    assert answer.status_code == 200
    assert len(answer.text) == MAX_OUTPUT


@pytest.mark.parametrize(
    "template",
    [
        "{{request.__class__}}",
        "{{request.__class__.__mro__}}",
        "{{request.method.__class__}}",
        "{{request.body.__class__.__init__.__globals__}}",
        "{{request.query.__dict__}}",
        "{{request.headers.__class__}}",
        "{{lookup request '__class__'}}",
        "{{lookup request.path '__class__'}}",
        "{{#with request.__class__}}{{__name__}}{{/with}}",
        "{{#each request.__class__}}{{this}}{{/each}}",
        "{{@root.__class__}}",
        "{{request._view}}",
    ],
)
def test_python_attributes_are_unreachable(cp: SessionHandle, template: str) -> None:
    route(cp, {"type": "raw", "template": True, "body": f"[{template}]"})
    answer = requests.post(f"{cp.mock_url}/t/1?q=1", data="text", timeout=10)
    assert answer.status_code == 200
    assert answer.text == "[]"


def test_a_header_rendering_a_line_break_answers_500(cp: SessionHandle) -> None:
    route(
        cp,
        {"type": "raw", "template": True, "headers": {"X-A": "{{jsonPath request.body '$.v'}}"}},
    )
    answer = requests.post(f"{cp.mock_url}/t/1", json={"v": "a\r\nSet-Cookie: x=1"}, timeout=10)
    assert failed(cp, answer, "template_error") == (
        "header X-A rendered to a value with a control character (CR, LF, NUL or another): "
        "'a\\r\\nSet-Cookie: x=1'"
    )
    assert "Set-Cookie" not in answer.headers


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


def test_a_proxy_url_and_headers_are_templated(cp: SessionHandle, origin: Origin) -> None:
    route(
        cp,
        {
            "type": "proxy",
            "template": True,
            "url": "{{request.headers.X-Origin}}/echo/{{request.path.id}}",
            "headers": {"X-Added": "id-{{request.path.id}}"},
        },
        path="/t/{id}/{rest:.*}",
    )
    answer = requests.get(
        f"{cp.mock_url}/t/5/more?x=1", headers={"X-Origin": origin.url}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    echo = answer.json()
    assert echo["raw_path"] == "/echo/5/t/5/more?x=1"
    assert dict(echo["headers"])["X-Added"] == "id-5"


def test_a_proxy_url_that_renders_to_no_url_answers_500(cp: SessionHandle) -> None:
    route(
        cp,
        {"type": "proxy", "template": True, "url": "{{request.headers.X-Origin}}"},
    )
    answer = requests.get(f"{cp.mock_url}/t/5", headers={"X-Origin": "ftp://x"}, timeout=10)
    assert failed(cp, answer, "template_error") == (
        "the templated proxy url rendered to 'ftp://x': `url` must be an absolute http:// "
        "or https:// URL, got 'ftp://x'"
    )


def test_a_static_proxy_url_is_still_checked_at_registration(cp: SessionHandle) -> None:
    error = refused(cp, {"type": "proxy", "template": True, "url": "ftp://x"})
    assert error["message"] == "`url` must be an absolute http:// or https:// URL, got 'ftp://x'"


def test_the_echo_omits_template_unless_set(cp: SessionHandle) -> None:
    route(cp, {"type": "raw", "body": "x"}, path="/plain")
    route(cp, {"type": "raw", "body": "x", "template": True}, path="/templated")
    routes = requests.get(f"{cp.api}/routes", timeout=10).json()["routes"]
    by_path = {r["path"]: r["response"] for r in routes}
    assert "template" not in by_path["/plain"]
    assert by_path["/templated"]["template"] is True


async def test_a_templated_answer_leaves_no_reference_cycle() -> None:
    # A cycle per request would be freed only by the garbage collector: measured, it
    # tripled the cost of a templated answer.
    responder = responder_for(
        {"type": "json", "template": True, "body": {"id": "{{request.path.id}}"}}
    )
    gc.collect()
    gc.disable()
    try:
        for _ in range(200):
            outcome = responder.answer(view())
            assert outcome.render is not None
            rendered = await outcome.render(None, {})  # type: ignore[arg-type]
            assert rendered.status == 200
        del outcome, rendered
        # With a cycle per answer, 1,600 objects; a few may be the event loop's own.
        assert gc.collect() < 50
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{math 'NaN' '+' 1}}", "1"),
        ("{{math 'Infinity' '*' 2}}", "0"),
        (
            "{{math '1e999999999' '*' '1e999999999'}}",
            "[ERROR: Overflow in 1E+999999999 * 1E+999999999]",
        ),
        (
            "{{range 1 '1e999999999'}}",
            "[ERROR: The range helper requires both lower and upper bounds as integer parameters]",
        ),
        (
            "{{randomValue length='1e999999999'}}",
            "[ERROR: `length` must be a number of characters, e.g. length=8]",
        ),
    ],
)
def test_hostile_numbers_render_an_error_at_once(
    cp: SessionHandle, template: str, rendered: str
) -> None:
    route(cp, {"type": "raw", "template": True, "body": template})
    started = time.monotonic()
    answer = requests.get(f"{cp.mock_url}/t/1", timeout=30)
    assert time.monotonic() - started < 5  # `1e999999999` as a Python int would not be
    assert answer.status_code == 200
    assert answer.text == rendered


def test_regex_extract_runs_on_re2_so_a_backtracking_pattern_cannot_hang(
    cp: SessionHandle,
) -> None:
    body = "{{regexExtract request.body '(a+)+b' default='none'}}|{{regexExtract 'aa' 'a(?=a)'}}"
    route(cp, {"type": "raw", "template": True, "body": body})
    started = time.monotonic()
    # On a backtracking engine `(a+)+b` over 40 `a`s and no `b` takes 2^40 steps.
    answer = requests.post(f"{cp.mock_url}/t/1", data="a" * 40 + "!", timeout=10)
    assert time.monotonic() - started < 5
    # RE2 has no lookaround: the pattern is refused in place, as a bad one is.
    assert answer.text == "none|[ERROR: Invalid regex string a(?=a)]"
