"""Every example of docs/reference/templating.md, run against a real server.

An example is a fenced block tagged `template`: `request: METHOD /path?query`, any
`header: Name: value` and `body: ...` lines, `template: ...`, then `renders: ...` (the
exact answer, to the end of the block) or `matches: ...` (a regular expression the
whole answer matches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from controlplane.responses.template_helpers import HELPERS
from tests.conftest import SessionHandle

DOC = Path(__file__).resolve().parent.parent / "docs" / "reference" / "templating.md"


@dataclass
class Example:
    method: str
    target: str
    template: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    renders: str | None = None
    matches: str | None = None


def _examples() -> list[Example]:
    blocks = re.findall(r"^```template\n(.*?)^```$", DOC.read_text(), re.M | re.S)
    examples = []
    for block in blocks:
        fields: dict[str, str] = {}
        headers: list[tuple[str, str]] = []
        lines = block.rstrip("\n").split("\n")
        for index, line in enumerate(lines):
            key, _, value = line.partition(": ")
            if key == "header":
                name, _, header_value = value.partition(": ")
                headers.append((name, header_value))
            elif key == "renders":
                fields[key] = "\n".join([value, *lines[index + 1 :]])
                break
            else:
                fields[key] = value
        method, _, target = fields.pop("request").partition(" ")
        examples.append(Example(method, target, fields.pop("template"), headers, **fields))
    return examples


EXAMPLES = _examples()


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) >= 25
    assert all(e.renders is not None or e.matches is not None for e in EXAMPLES)


def test_every_helper_has_an_example() -> None:
    used = {
        name
        for example in EXAMPLES
        for name in re.findall(r"[{(][#/]?([A-Za-z][A-Za-z0-9]*)", example.template)
    }
    assert sorted(set(HELPERS) - used) == []


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.template[:40] for e in EXAMPLES])
def test_doc_example_renders_as_documented(cp: SessionHandle, example: Example) -> None:
    cp.add_route(
        method="*",
        path="/{first}/{id}/{rest:.*}" if example.target.count("/") >= 3 else "/{rest:.*}",
        handler="doc",
        response={"type": "raw", "template": True, "body": example.template},
    )
    answer = requests.request(
        example.method,
        cp.mock_url + example.target,
        headers=dict(example.headers),
        data=example.body,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    if example.renders is not None:
        assert answer.text == example.renders
    else:
        assert example.matches is not None
        assert re.fullmatch(example.matches, answer.text), answer.text
