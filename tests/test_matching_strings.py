"""String matchers: every operator, missing values, nesting and multi-valued fields."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from controlplane import wire
from controlplane.matching.strings import compile_string_matcher


def matcher(spec: Any) -> Any:
    if isinstance(spec, str):
        return compile_string_matcher(spec)
    return compile_string_matcher(msgspec.convert(spec, wire.StringMatcher))


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("abc", "ABC", False),
        ({"equals": "abc"}, "abc", True),
        ({"equals": "abc", "case_insensitive": True}, "AbC", True),
        ({"equals": "straße", "case_insensitive": True}, "STRASSE", True),
        ({"equals": "abc", "case_insensitive": True}, "abd", False),
        ({"contains": "bc"}, "abcd", True),
        ({"contains": "x"}, "abcd", False),
        ({"not_contains": "x"}, "abcd", True),
        ({"not_contains": "b"}, "abcd", False),
        ({"starts_with": "ab"}, "abcd", True),
        ({"starts_with": "b"}, "abcd", False),
        ({"ends_with": "cd"}, "abcd", True),
        ({"ends_with": "c"}, "abcd", False),
        ({"matches": "[a-d]+"}, "abcd", True),
        ({"matches": "b"}, "abc", False),  # full match, not search
        ({"not_matches": "[0-9]+"}, "abc", True),
        ({"not_matches": "a.c"}, "abc", False),
        ({"not_matches": "b"}, "abc", True),  # full match: "b" does not match all of "abc"
        ({"absent": True}, "abc", False),
        ({"any_of": ["x", {"starts_with": "a"}]}, "abc", True),
        ({"any_of": ["x", "y"]}, "abc", False),
        ({"all_of": [{"starts_with": "a"}, {"ends_with": "c"}]}, "abc", True),
        ({"all_of": [{"starts_with": "a"}, {"ends_with": "x"}]}, "abc", False),
        ({"not": "abc"}, "abc", False),
        ({"not": {"contains": "x"}}, "abc", True),
        ({"not": {"not": "abc"}}, "abc", True),
        (
            {"any_of": [{"not": {"matches": "a.*"}}, {"all_of": ["b", {"contains": "b"}]}]},
            "b",
            True,
        ),
        (
            {"any_of": [{"not": {"matches": "a.*"}}, {"all_of": ["b", {"contains": "b"}]}]},
            "a",
            False,
        ),
    ],
)
def test_string_matcher_on_a_present_value(spec: Any, value: str, expected: bool) -> None:
    assert matcher(spec)(value) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("abc", False),
        ({"equals": "", "case_insensitive": True}, False),
        ({"contains": ""}, False),
        ({"not_contains": "x"}, False),  # needs the value present
        ({"starts_with": ""}, False),
        ({"ends_with": ""}, False),
        ({"matches": ".*"}, False),
        ({"not_matches": "x"}, False),
        ({"absent": True}, True),
        ({"not": {"contains": "x"}}, True),  # not inverts: "contains" fails on a missing value
        ({"not": {"absent": True}}, False),
        ({"any_of": ["x", {"absent": True}]}, True),
        ({"all_of": [{"absent": True}, {"not": "x"}]}, True),
    ],
)
def test_missing_value_matches_only_absent_or_an_inverted_failure(
    spec: Any, expected: bool
) -> None:
    assert matcher(spec)(None) is expected


def test_empty_string_is_present_not_absent() -> None:
    assert matcher({"absent": True})("") is False
    assert matcher("")("") is True


def test_matches_any_is_true_when_any_value_matches() -> None:
    m = matcher({"starts_with": "b"})
    assert m.matches_any(["a", "b1"]) is True
    assert m.matches_any(["a", "c"]) is False


def test_matches_any_with_no_values_evaluates_a_missing_value() -> None:
    assert matcher({"absent": True}).matches_any([]) is True
    assert matcher("x").matches_any([]) is False
    assert matcher({"not": "x"}).matches_any(()) is True


def test_not_applies_per_value_so_one_other_value_suffices() -> None:
    assert matcher({"not": "a"}).matches_any(["a", "b"]) is True
    assert matcher({"not": "a"}).matches_any(["a"]) is False


def test_regex_special_characters_in_equals_are_literal() -> None:
    assert matcher("a.c")("abc") is False
    assert matcher({"contains": ".*"})("x.*y") is True


@pytest.mark.parametrize(
    ("spec", "description"),
    [
        ("x", 'equals "x"'),
        ({"equals": "x", "case_insensitive": True}, 'equals "x" (case-insensitive)'),
        ({"contains": "abc"}, 'contains "abc"'),
        ({"not_contains": "a"}, 'does not contain "a"'),
        ({"starts_with": "a"}, 'starts with "a"'),
        ({"ends_with": "a"}, 'ends with "a"'),
        ({"matches": "[0-9]+"}, 'matches "[0-9]+"'),
        ({"not_matches": "a"}, 'does not match "a"'),
        ({"absent": True}, "absent"),
        ({"any_of": ["a", {"contains": "b"}]}, 'any of [equals "a", contains "b"]'),
        ({"all_of": ["a", "b"]}, 'all of [equals "a", equals "b"]'),
        ({"not": {"contains": "x"}}, 'not (contains "x")'),
        ('say "hi"', 'equals "say \\"hi\\""'),
    ],
)
def test_description_reads_as_the_matcher(spec: Any, description: str) -> None:
    assert matcher(spec).description == description
