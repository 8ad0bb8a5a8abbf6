"""The near-miss similarity is difflib's ratio (`SequenceMatcher(None, a, b,
autojunk=False).ratio()`, which the distances of docs/ and tests were written with),
computed by substring searches: pinned against difflib itself on every kind of pair."""

from __future__ import annotations

import random
from difflib import SequenceMatcher

import pytest

from controlplane.matching.near_miss import _similarity

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
    ("a" * 300, "a" * 280 + "b"),
    ("ab" * 150, "ba" * 150),
]


def difflib_ratio(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a[:256], b[:256], autojunk=False).ratio()


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_the_similarity_of_chosen_pairs_is_difflibs_ratio(a: str, b: str) -> None:
    assert _similarity(a, b) == difflib_ratio(a, b)
    assert _similarity(b, a) == difflib_ratio(b, a)


def test_the_similarity_of_random_pairs_is_difflibs_ratio() -> None:
    rng = random.Random(15)
    for alphabet in ("ab", "abc", "/ab1", "/itemsx0123456789", "abcdefghijklmnopqrstuvwxyz/"):
        for _ in range(600):
            a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
            b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
            assert _similarity(a, b) == difflib_ratio(a, b), (a, b)
