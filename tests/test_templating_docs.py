"""Every example of docs/reference/templating.md, run against a real server.

An example is a fenced block tagged `template`: `request: METHOD /path?query`, any
`header: Name: value` and `body: ...` lines, `template: ...`, then `renders: ...` (the
exact answer, to the end of the block) or `matches: ...` (a regular expression the
whole answer matches). The cookbook's recipes (`### Title` and a JSON block each) are
registered as written and called here, one test each (the webhook's in test_webhooks.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from controlplane.responses.template_helpers import HELPERS
from tests.conftest import SessionHandle
from tests.origins import Origin

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


UUID = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def cookbook() -> str:
    return DOC.read_text().split("\n## Cookbook\n", 1)[1].split("\n## ", 1)[0]


def recipe(title: str) -> Any:
    """The JSON block of the cookbook's recipe `### title`, parsed."""
    section = cookbook().split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0]
    [block] = re.findall(r"^```json\n(.*?)^```$", section, re.M | re.S)
    return json.loads(block)


def test_the_cookbook_has_the_recipes_the_issue_asks_for() -> None:
    assert re.findall(r"^### (.+)$", cookbook(), re.M) == [
        "Echo a path parameter",
        "The current time and a random id",
        "A conditional status",
        "A conditional body",
        "Forward to the origin a header names",
        "Webhook after order creation",
        "A Python callback",
    ]
    assert "[A Python callback](../how-to/callbacks.md)" in cookbook()
    assert (DOC.parent.parent / "how-to" / "callbacks.md").exists()


def test_recipe_echo_a_path_parameter(cp: SessionHandle) -> None:
    cp.add_route(**recipe("Echo a path parameter"))
    answer = requests.get(f"{cp.mock_url}/users/42", headers={"X-Request-Id": "r-1"}, timeout=10)
    assert answer.json() == {"id": "42", "name": "user 42"}
    assert answer.headers["X-Request-Id"] == "r-1"


def test_recipe_the_current_time_and_a_random_id(cp: SessionHandle) -> None:
    response = recipe("The current time and a random id")
    cp.add_route(method="POST", path="/orders", handler="create_order", response=response)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    answer = requests.post(f"{cp.mock_url}/orders", timeout=10)
    after = dt.datetime.now(dt.UTC)
    assert answer.status_code == 201
    assert re.fullmatch(f"/orders/{UUID}", answer.headers["Location"])
    body = answer.json()
    assert before <= dt.datetime.fromisoformat(body["created"]) <= after
    assert body["expires"] in {
        (m + dt.timedelta(days=30)).date().isoformat() for m in (before, after)
    }
    assert re.fullmatch("[0-9A-Z]{10}", body["reference"])


def test_recipe_a_conditional_status(cp: SessionHandle) -> None:
    added = requests.post(f"{cp.api}/routes", json=recipe("A conditional status"), timeout=10)
    assert added.status_code == 201, added.text
    taken = requests.post(f"{cp.mock_url}/users", json={"email": "ann@example.com"}, timeout=10)
    assert taken.status_code == 409
    assert taken.json() == {"error": "ann@example.com is already registered"}
    created = requests.post(f"{cp.mock_url}/users", json={"email": "bob@example.com"}, timeout=10)
    assert created.status_code == 201
    assert created.json()["email"] == "bob@example.com"
    assert re.fullmatch(UUID, created.json()["id"])


def test_recipe_a_conditional_body(cp: SessionHandle) -> None:
    response = recipe("A conditional body")
    cp.add_route(method="POST", path="/plans", handler="plan", response=response)
    for plan, limit in (("pro", 1000), ("free", 10), (None, 10)):
        answer = requests.post(f"{cp.mock_url}/plans", json={"plan": plan}, timeout=10)
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json() == {"limit": limit}, plan


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


def test_recipe_forward_to_the_origin_a_header_names(cp: SessionHandle, origin: Origin) -> None:
    response = recipe("Forward to the origin a header names")
    cp.add_route(method="GET", path="/{rest:.*}", handler="forward", response=response)
    answer = requests.get(f"{cp.mock_url}/echo/a?b=1", headers={"X-Origin": origin.url}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["raw_path"] == "/echo/a?b=1"
