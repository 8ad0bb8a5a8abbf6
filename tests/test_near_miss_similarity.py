"""The near-miss similarity is 2 * the longest common subsequence / both lengths (the
Indel ratio), computed by rapidfuzz: pinned against a dynamic programme over every
pair of characters (`tests.matching_support.similarity`) on every kind of pair."""

from __future__ import annotations

import random
from difflib import SequenceMatcher

import pytest

from controlplane.matching.near_miss import _similarity
from tests.matching_support import similarity

PAIRS = [
    ("/items/5990", "/items/5x"),
    ("/items/6", "/items/5x"),
    ("/users/", "/users/42/orders"),
    ("abcabc", "cbacba"),
    ("aaaa", "aa"),
    ("xyzq", "xyzxyzw"),
    ("ab", "ba"),
    ("/a/b/c", "/c/b/a"),
    ("same", "same"),
    ("", "/items"),
    ("/items", ""),
    ("/\u00e9\U0001f600/x", "/\U0001f600/\u00e9"),
    ("a" * 300, "a" * 280 + "b"),
    ("ab" * 150, "ba" * 150),
]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_the_similarity_of_chosen_pairs_is_the_common_subsequences_ratio(a: str, b: str) -> None:
    assert _similarity(a, b) == similarity(a, b)
    assert _similarity(b, a) == similarity(b, a)


def test_the_similarity_of_random_pairs_is_the_common_subsequences_ratio() -> None:
    rng = random.Random(15)
    for alphabet in ("ab", "abc", "/ab1", "/itemsx0123456789", "abcdefghijklmnopqrstuvwxyz/"):
        for _ in range(600):
            a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
            b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
            assert _similarity(a, b) == similarity(a, b), (a, b)


def test_only_the_first_256_characters_of_each_side_count() -> None:
    head = "/a" * 128
    assert _similarity(head + "/x" * 50, head + "/y" * 80) == 1.0


def test_the_similarity_counts_the_common_subsequence_where_difflib_did_not() -> None:
    # difflib's ratio (the metric before) matches the longest block first ("/", at
    # the start of one and the end of the other) and then nothing on either side of
    # it: 1/3. The common subsequence "1/" makes 2/3.
    a, b = "/1/", "1a/"
    assert SequenceMatcher(None, a, b, autojunk=False).ratio() == 2 * 1 / 6
    assert _similarity(a, b) == 2 * 2 / 6
