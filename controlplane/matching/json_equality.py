"""JSON documents compared: equality, subset, and comparison with leniencies.

- `json_equal` is deep equality of parsed JSON. Numbers compare by value (`1` equals
  `1.0`, as JSON itself does not tell them apart) but booleans are never numbers
  (`true` does not equal `1`).
- `json_subset` is partial: every expected object key must be present with a
  subset-equal value, extra keys are ignored; an expected array must have the same
  length as the actual one and match it element by element (each element a subset).
  Scalars compare as in `json_equal`.
- `json_comparer` builds an equality test with leniencies chosen per condition: arrays
  as multisets (`ignore_array_order`), extra object keys (`ignore_extra_fields`), extra
  array items (`ignore_extra_items`; in order, extra items may follow; without order,
  any extra items), and JsonUnit's placeholders (`placeholders`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from controlplane.json_placeholders import Placeholder, compile_placeholders

__all__ = ["has_number_or_bool", "json_comparer", "json_equal", "json_subset", "subset_test"]


def json_equal(expected: Any, actual: Any) -> bool:
    """Deep JSON equality where booleans are distinct from numbers."""
    if type(expected) is bool or type(actual) is bool:
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(json_equal(value, actual[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(map(json_equal, expected, actual))
        )
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and expected == actual
    return bool(expected == actual)


def json_subset(expected: Any, actual: Any) -> bool:
    """Whether `actual` contains `expected` (objects: extra keys ignored; arrays: same length)."""
    return subset_test(expected)(actual)


_MISSING: Any = object()


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str)


def subset_test(expected: Any) -> Callable[[Any], bool]:
    """`json_subset(expected, ·)` built once: a route's `json_subset` is compiled at
    registration into nested tests, so a request pays one call per object or array
    and none per string or null it compares."""
    if isinstance(expected, dict):
        leaves = _plain_leaves(expected)
        if leaves is not None and any(len(keys) > 1 for keys, _ in leaves):
            return _leaves_test(leaves)
        # Strings and nulls equal only themselves (never a boolean or a number): `!=`.
        equal = tuple((k, v) for k, v in expected.items() if _plain(v))
        other = tuple((k, subset_test(v)) for k, v in expected.items() if not _plain(v))

        def holds_object(actual: Any) -> bool:
            if not isinstance(actual, dict):
                return False
            for key, value in equal:
                if actual.get(key, _MISSING) != value:
                    return False
            for key, test in other:
                value = actual.get(key, _MISSING)
                if value is _MISSING or not test(value):
                    return False
            return True

        return holds_object
    if isinstance(expected, list):
        tests = tuple(subset_test(value) for value in expected)
        size = len(tests)

        def holds_array(actual: Any) -> bool:
            if not isinstance(actual, list) or len(actual) != size:
                return False
            for test, value in zip(tests, actual, strict=True):  # noqa: SIM110
                if not test(value):
                    return False
            return True

        return holds_array
    return partial(json_equal, expected)


_Leaves = list[tuple[tuple[str, ...], Any]]


def _plain_leaves(expected: dict[str, Any], keys: tuple[str, ...] = ()) -> _Leaves | None:
    """Each string or null in an object of those and of non-empty such objects, by its
    key path (`{"a": {"b": "x"}}` -> `[(("a", "b"), "x")]`); None for anything else."""
    leaves: _Leaves = []
    for key, value in expected.items():
        if _plain(value):
            leaves.append(((*keys, key), value))
        elif isinstance(value, dict) and value:
            inner = _plain_leaves(value, (*keys, key))
            if inner is None:
                return None
            leaves.extend(inner)
        else:
            return None
    return leaves


def _leaves_test(leaves: _Leaves) -> Callable[[Any], bool]:
    """`subset_test` of nested objects of strings and nulls: one call, not one per object."""

    def holds_leaves(actual: Any) -> bool:
        for keys, value in leaves:
            node = actual
            for key in keys:
                if not isinstance(node, dict):
                    return False
                node = node.get(key, _MISSING)
            # Strings and nulls equal only themselves; _MISSING equals nothing.
            if node != value:
                return False
        return True

    return holds_leaves


def json_comparer(
    expected: Any,
    *,
    ignore_array_order: bool = False,
    ignore_extra_fields: bool = False,
    ignore_extra_items: bool = False,
    placeholders: bool = False,
) -> Callable[[Any], bool]:
    """A test of actual documents against `expected`, with the given leniencies, built
    once (see the module docstring). With `placeholders`, JsonUnit's placeholders in
    `expected` are found here (`json_placeholders`); a document without any compares
    exactly as without `placeholders`. Raises ValueError for an unusable placeholder."""
    compiled = compile_placeholders(expected) if placeholders else None
    # A placeholder is neither an object nor an array: it reaches `leaf` like a scalar.
    leaf = json_equal if compiled is None else _equal_or_placeholder

    def same(e: Any, a: Any) -> bool:
        if isinstance(e, dict):
            if not isinstance(a, dict):
                return False
            if not ignore_extra_fields and e.keys() != a.keys():
                return False
            return all(key in a and same(value, a[key]) for key, value in e.items())
        if isinstance(e, list):
            if not isinstance(a, list) or len(a) < len(e):
                return False
            if len(a) != len(e) and not ignore_extra_items:
                return False
            if not ignore_array_order:
                return all(map(same, e, a))
            return _each_has_its_own(e, a, same)
        return leaf(e, a)

    return partial(same, expected if compiled is None else compiled)


def _equal_or_placeholder(expected: Any, actual: Any) -> bool:
    if type(expected) is Placeholder:
        return expected.holds(actual)
    return json_equal(expected, actual)


def _each_has_its_own(
    expected: Sequence[Any], actual: Sequence[Any], same: Callable[[Any, Any], bool]
) -> bool:
    """Whether every expected item can take a different actual item that is `same`.

    A bipartite matching, grown one expected item at a time along augmenting paths
    found breadth-first: at most len(expected) * len(actual) `same` calls and no
    recursion. (Backtracking over assignments took seconds for `[1, 1, 1, 1, 2]`
    against thirty 1s, and grew factorially.)
    """
    candidates: list[list[int] | None] = [None] * len(expected)
    owner = [-1] * len(actual)  # actual index -> the expected index holding it
    held = [-1] * len(expected)  # expected index -> the actual index it holds
    for root in range(len(expected)):
        came_from: dict[int, int] = {}  # actual index -> expected index that reached it
        queue = deque([root])
        free = -1
        while queue and free == -1:
            x = queue.popleft()
            found = candidates[x]
            if found is None:
                found = candidates[x] = [
                    j for j, item in enumerate(actual) if same(expected[x], item)
                ]
            for j in found:
                if j not in came_from:
                    came_from[j] = x
                    if owner[j] == -1:
                        free = j
                        break
                    queue.append(owner[j])
        if free == -1:
            return False
        while free != -1:  # flip the path: each expected item on it moves one step on
            x = came_from[free]
            owner[free], held[x], free = x, free, held[x]
    return True


def has_number_or_bool(value: Any) -> bool:
    if isinstance(value, dict):
        return any(has_number_or_bool(v) for v in value.values())
    if isinstance(value, list):
        return any(has_number_or_bool(v) for v in value)
    return isinstance(value, int | float)  # bool is an int subclass, so it counts too
