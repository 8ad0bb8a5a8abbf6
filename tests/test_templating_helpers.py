"""Each helper given what it cannot use, and the bounds summed over a response's templates.

What each helper renders for good arguments is pinned by the examples of
docs/reference/templating.md (`test_templating_docs.py`); here, the branches those
examples do not reach: WireMock's in-place `[ERROR: ...]` texts and empty inputs.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from controlplane.responses.templating import MAX_BLOCKS, MAX_OUTPUT
from tests.conftest import SessionHandle

MATH_OPERANDS = (
    "All maths functions require two operands and an operator as parameters e.g. 3 '+' 2"
)


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{eq 'a'}}", "[ERROR: comparisons need two values, e.g. {{#eq a 'b'}}]"),
        ("{{#gt 1}}y{{else}}n{{/gt}}", "[ERROR: comparisons need two values, e.g. {{#eq a 'b'}}]"),
        ("{{base64 'a!b' decode=true}}", "[ERROR: 'a!b' is not base64]"),
        ("{{base64 '' decode=true}}", ""),
        ("{{urlEncode '%zz' decode=true}}", "%zz"),
        ("{{jsonPath request.body ''}}", "[ERROR: The JSONPath cannot be empty]"),
        ("{{jsonPath 'nope' '$.a'}}", "[ERROR: nope is not valid JSON]"),
        ("{{jsonPath request.body '$[?'}}", "[ERROR: $[? is not a valid JSONPath expression]"),
        ("{{parseJson}}", "[ERROR: Missing required JSON string parameter]"),
        ("{{parseJson '{oops'}}", "[ERROR: {oops is not valid JSON]"),
        ("{{toJson (parseJson '')}}", "{ }"),
        ("{{matches 'a' '('}}", "[ERROR: Invalid regex string (]"),
        ("{{regexExtract 'abc' '('}}", "[ERROR: Invalid regex string (]"),
        ("{{regexExtract 'abc' '[0-9]'}}", "[ERROR: Nothing matched [0-9]]"),
        (
            "{{pickRandom}}",
            "[ERROR: Must specify either a single list argument or a set of single value "
            "arguments.]",
        ),
        ("[{{pickRandom (array)}}]", "[]"),
        ("{{pickRandom request.query.c}}", "x"),
        ("{{size (pickRandom (array 1 2) count=5)}}", "2"),
        ("{{range 3 1}}", "[]"),
        (
            "{{range 1}}",
            "[ERROR: The range helper requires both lower and upper bounds as integer parameters]",
        ),
        ("{{math 1 '^' 2}}", "[ERROR: ^ is not a valid mathematical operator]"),
        ("{{math 1 '+'}}", f"[ERROR: {MATH_OPERANDS}]"),
        (
            "{{randomValue length=-1}}",
            "[ERROR: `length` must be a number of characters, e.g. length=8]",
        ),
        ("[{{randomValue length=0}}]", "[]"),
        ("[{{upper}}{{trim}}{{capitalize ''}}{{size}}{{toJson}}]", "[]"),
    ],
)
def test_a_helper_given_what_it_cannot_use_renders_in_place(
    cp: SessionHandle, template: str, rendered: str
) -> None:
    cp.add_route(
        method="POST",
        path="/h",
        handler="h",
        response={"type": "raw", "template": True, "body": template},
    )
    answer = requests.post(f"{cp.mock_url}/h?c=x", data='{"a": 1}', timeout=10)
    assert answer.status_code == 200
    assert answer.text == rendered


def test_an_unknown_random_value_type_is_printable_ascii_as_in_wiremock(
    cp: SessionHandle,
) -> None:
    body = "{{randomValue length=200 type='NOPE'}}"
    cp.add_route(
        method="GET",
        path="/h",
        handler="h",
        response={"type": "raw", "template": True, "body": body},
    )
    text = requests.get(f"{cp.mock_url}/h", timeout=10).text
    assert len(text) == 200 and text.isprintable() and text == text.lower()


def limit_message(cp: SessionHandle, response: dict[str, Any]) -> str:
    cp.add_route(method="GET", path="/h", handler="h", response={**response, "template": True})
    answer = requests.get(f"{cp.mock_url}/h", timeout=30)
    assert answer.status_code == 500, answer.text[:200]
    error = answer.json()["error"]
    assert error["code"] == "template_limit"
    message: str = error["message"]
    return message


def test_the_output_bound_counts_every_template_of_the_response(cp: SessionHandle) -> None:
    half = f"{{{{randomValue length={MAX_OUTPUT // 2 + 1}}}}}"  # each alone is within it
    message = limit_message(cp, {"type": "json", "body": {"a": half, "b": half}})
    assert message == f"the template's output is over {MAX_OUTPUT} characters"


def test_the_block_bound_counts_every_template_of_the_response(cp: SessionHandle) -> None:
    loop = f"{{{{#each (range 1 {MAX_BLOCKS // 2 + 1})}}}}x{{{{/each}}}}"  # each alone is within it
    message = limit_message(cp, {"type": "raw", "headers": {"X-Loop": loop}, "body": loop})
    assert message == (
        f"the template rendered more than {MAX_BLOCKS} block bodies "
        "(`#each` turns count one each): loop over less"
    )


def test_the_bounds_are_per_request(cp: SessionHandle) -> None:
    loop = f"{{{{#each (range 1 {MAX_BLOCKS - 1})}}}}x{{{{/each}}}}"
    cp.add_route(
        method="GET",
        path="/h",
        handler="h",
        response={"type": "raw", "template": True, "body": loop},
    )
    for _ in range(3):
        answer = requests.get(f"{cp.mock_url}/h", timeout=30)
        assert answer.status_code == 200 and len(answer.text) == MAX_BLOCKS - 1
