"""`compile_document_match`: a match's body conditions applied to a document's bytes."""

from __future__ import annotations

import pytest

from controlplane import wire
from controlplane.matching import compile_document_match

DOC = b'{"team": "payments", "tags": ["a", "b"], "n": 3}'


@pytest.mark.parametrize(
    ("match", "holds"),
    [
        (wire.Match(), True),
        (wire.Match(json_subset={"team": "payments"}), True),
        (wire.Match(json_subset={"team": "search"}), False),
        (wire.Match(json={"team": "payments"}), False),
        (wire.Match(json_path=[wire.JsonPathCondition(expression="$.tags[1]")]), True),
        (wire.Match(json_path=[wire.JsonPathCondition(expression="$.tags[2]")]), False),
        (wire.Match(body_matcher=wire.StringMatcher(contains='"n": 3')), True),
        (wire.Match(body=DOC.decode()), True),
        (wire.Match(body_matcher=wire.StringMatcher(contains="x"), json_subset={"n": 3}), False),
    ],
)
def test_body_conditions_hold_on_the_document(match: wire.Match, holds: bool) -> None:
    assert compile_document_match(match)(DOC) is holds


def test_a_document_that_is_not_json_fails_json_conditions_only() -> None:
    assert compile_document_match(wire.Match(json_subset={}))(b"not json") is False
    assert compile_document_match(wire.Match(body="not json"))(b"not json") is True


@pytest.mark.parametrize(
    ("match", "named"),
    [
        (wire.Match(query={"a": "1"}), "query"),
        (wire.Match(headers={"a": "1"}, cookies={"c": "1"}), "headers, cookies"),
        (wire.Match(url="/x"), "url"),
        (wire.Match(form={"f": "1"}, json_subset={}), "form"),
    ],
)
def test_conditions_on_anything_but_the_body_are_refused(match: wire.Match, named: str) -> None:
    with pytest.raises(ValueError) as raised:
        compile_document_match(match)
    assert str(raised.value) == f"a document has a body only; {named} cannot apply to it"
