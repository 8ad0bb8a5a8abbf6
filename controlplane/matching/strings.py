"""String matchers: one small compiled object per operator, built once at registration.

A value of `None` means "missing" (no such header, query parameter, cookie...).
Only `absent` matches a missing value, and `not` inverts whatever its inner matcher
says, so `not: {contains: x}` matches a missing value while `not_contains: x` does not.

`includes` and `has_exactly` look at all values of a repeated field at once (through
`matches_any`), where every other operator is tried value by value.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from controlplane import wire
from controlplane.dates import DateTimeSpec
from controlplane.regex import compile_user

__all__ = ["CompiledStringMatcher", "compile_string_matcher", "quote"]


def quote(text: str) -> str:
    """Text as a JSON string literal, so descriptions show quotes and escapes unambiguously."""
    return msgspec.json.encode(text).decode()


class CompiledStringMatcher:
    """A compiled string test; call it with a value, or `None` when the value is missing."""

    __slots__ = ("description",)

    description: str
    #: The text a value must equal when that is all this matcher asks (`equals`, not
    #: case-insensitive), else None: conditions test it with `in`, without a call.
    equals: str | None = None
    #: Whether `matches_any` holds exactly when some value matches on its own (every
    #: operator but `includes` and `has_exactly`): one matching value then decides.
    per_value = True

    def __call__(self, value: str | None) -> bool:
        raise NotImplementedError

    def matches_any(self, values: Sequence[str]) -> bool:
        """True when any value matches; with no values, whether a missing value matches.

        The common operators override it with the same answer and no call per value."""
        if not values:
            return self(None)
        # A plain loop, not any(...): no generator on the hot path.
        for value in values:  # noqa: SIM110
            if self(value):
                return True
        return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


class _Equals(CompiledStringMatcher):
    __slots__ = ("_expected", "equals")

    def __init__(self, expected: str) -> None:
        self._expected = self.equals = expected
        self.description = f"equals {quote(expected)}"

    def __call__(self, value: str | None) -> bool:
        return value == self._expected

    def matches_any(self, values: Sequence[str]) -> bool:
        # No values: a missing value equals nothing.
        return self._expected in values


class _EqualsFolded(CompiledStringMatcher):
    __slots__ = ("_folded",)

    def __init__(self, expected: str) -> None:
        # casefold rather than lower: it also equates e.g. "ß" and "SS".
        self._folded = expected.casefold()
        self.description = f"equals {quote(expected)} (case-insensitive)"

    def __call__(self, value: str | None) -> bool:
        return value is not None and value.casefold() == self._folded


class _Contains(CompiledStringMatcher):
    __slots__ = ("_needle",)

    def __init__(self, needle: str) -> None:
        self._needle = needle
        self.description = f"contains {quote(needle)}"

    def __call__(self, value: str | None) -> bool:
        return value is not None and self._needle in value

    def matches_any(self, values: Sequence[str]) -> bool:
        needle = self._needle
        for value in values:  # noqa: SIM110 (hot path: no generator)
            if needle in value:
                return True
        return False


class _NotContains(CompiledStringMatcher):
    __slots__ = ("_needle",)

    def __init__(self, needle: str) -> None:
        self._needle = needle
        self.description = f"does not contain {quote(needle)}"

    def __call__(self, value: str | None) -> bool:
        return value is not None and self._needle not in value


class _StartsWith(CompiledStringMatcher):
    __slots__ = ("_prefix",)

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self.description = f"starts with {quote(prefix)}"

    def __call__(self, value: str | None) -> bool:
        return value is not None and value.startswith(self._prefix)

    def matches_any(self, values: Sequence[str]) -> bool:
        prefix = self._prefix
        for value in values:  # noqa: SIM110 (hot path: no generator)
            if value.startswith(prefix):
                return True
        return False


class _EndsWith(CompiledStringMatcher):
    __slots__ = ("_suffix",)

    def __init__(self, suffix: str) -> None:
        self._suffix = suffix
        self.description = f"ends with {quote(suffix)}"

    def __call__(self, value: str | None) -> bool:
        return value is not None and value.endswith(self._suffix)


class _Matches(CompiledStringMatcher):
    __slots__ = ("_regex",)

    def __init__(self, pattern: str) -> None:
        self._regex = compile_user(pattern)
        self.description = f"matches {quote(pattern)}"

    def __call__(self, value: str | None) -> bool:
        return value is not None and self._regex.fullmatch(value) is not None


class _NotMatches(CompiledStringMatcher):
    __slots__ = ("_regex",)

    def __init__(self, pattern: str) -> None:
        self._regex = compile_user(pattern)
        self.description = f"does not match {quote(pattern)}"

    def __call__(self, value: str | None) -> bool:
        return value is not None and self._regex.fullmatch(value) is None


class _Absent(CompiledStringMatcher):
    __slots__ = ()

    def __init__(self) -> None:
        self.description = "absent"

    def __call__(self, value: str | None) -> bool:
        return value is None

    def matches_any(self, values: Sequence[str]) -> bool:
        return not values


class _AnyOf(CompiledStringMatcher):
    __slots__ = ("_inner",)

    def __init__(self, inner: tuple[CompiledStringMatcher, ...]) -> None:
        self._inner = inner
        self.description = f"any of [{', '.join(m.description for m in inner)}]"

    def __call__(self, value: str | None) -> bool:
        for matcher in self._inner:  # noqa: SIM110 (hot path: no generator)
            if matcher(value):
                return True
        return False


class _AllOf(CompiledStringMatcher):
    __slots__ = ("_inner",)

    def __init__(self, inner: tuple[CompiledStringMatcher, ...]) -> None:
        self._inner = inner
        self.description = f"all of [{', '.join(m.description for m in inner)}]"

    def __call__(self, value: str | None) -> bool:
        for matcher in self._inner:  # noqa: SIM110 (hot path: no generator)
            if not matcher(value):
                return False
        return True


class _Not(CompiledStringMatcher):
    __slots__ = ("_inner",)

    def __init__(self, inner: CompiledStringMatcher) -> None:
        self._inner = inner
        self.description = f"not ({inner.description})"

    def __call__(self, value: str | None) -> bool:
        return not self._inner(value)


class _Includes(CompiledStringMatcher):
    """Over all values of a field: each inner matcher matches at least one of them."""

    __slots__ = ("_inner",)
    per_value = False

    def __init__(self, inner: tuple[CompiledStringMatcher, ...]) -> None:
        self._inner = inner
        self.description = f"includes [{', '.join(m.description for m in inner)}]"

    def __call__(self, value: str | None) -> bool:
        return self.matches_any(() if value is None else (value,))

    def matches_any(self, values: Sequence[str]) -> bool:
        return all(any(m(v) for v in values) for m in self._inner)


class _HasExactly(_Includes):
    """Over all values of a field: as many values as matchers, each value matched by one."""

    __slots__ = ()

    def __init__(self, inner: tuple[CompiledStringMatcher, ...]) -> None:
        super().__init__(inner)
        self.description = f"has exactly [{', '.join(m.description for m in inner)}]"

    def matches_any(self, values: Sequence[str]) -> bool:
        return (
            len(values) == len(self._inner)
            and super().matches_any(values)
            and all(any(m(v) for m in self._inner) for v in values)
        )


class _DateTime(CompiledStringMatcher):
    """`before`, `after`, `equals_date_time`: the value read as a date-time and compared."""

    __slots__ = ("_spec",)

    _WORDS = {"before": "before", "after": "after", "equals_date_time": "at"}

    def __init__(self, operator: str, spec: wire.StringMatcher) -> None:
        expected: str = getattr(spec, operator)
        self._spec = DateTimeSpec(
            operator, expected, spec.actual_format, spec.truncate_expected, spec.truncate_actual
        )
        extras = [
            f"{name.replace('_', ' ')} {quote(value)}"
            for name, value in (
                ("actual_format", spec.actual_format),
                ("truncate_expected", spec.truncate_expected),
                ("truncate_actual", spec.truncate_actual),
            )
            if value is not None
        ]
        more = f" ({', '.join(extras)})" if extras else ""
        self.description = f"a date-time {self._WORDS[operator]} {quote(expected)}{more}"

    def __call__(self, value: str | None) -> bool:
        return self._spec.holds(value)


_DATE_OPERATORS = ("before", "after", "equals_date_time")


def compile_string_matcher(spec: wire.StringMatcherSpec) -> CompiledStringMatcher:
    """Compile a wire string matcher (a bare string means `equals`); regexes compile here."""
    if isinstance(spec, str):
        return _Equals(spec)
    # wire.StringMatcher has already checked that exactly one operator is set.
    if spec.equals is not None:
        return _EqualsFolded(spec.equals) if spec.case_insensitive else _Equals(spec.equals)
    if spec.contains is not None:
        return _Contains(spec.contains)
    if spec.not_contains is not None:
        return _NotContains(spec.not_contains)
    if spec.starts_with is not None:
        return _StartsWith(spec.starts_with)
    if spec.ends_with is not None:
        return _EndsWith(spec.ends_with)
    if spec.matches is not None:
        return _Matches(spec.matches)
    if spec.not_matches is not None:
        return _NotMatches(spec.not_matches)
    if spec.absent:
        return _Absent()
    if spec.any_of is not None:
        return _AnyOf(tuple(compile_string_matcher(s) for s in spec.any_of))
    if spec.all_of is not None:
        return _AllOf(tuple(compile_string_matcher(s) for s in spec.all_of))
    if spec.not_ is not None:
        return _Not(compile_string_matcher(spec.not_))
    if spec.includes is not None:
        return _Includes(tuple(compile_string_matcher(s) for s in spec.includes))
    if spec.has_exactly is not None:
        return _HasExactly(tuple(compile_string_matcher(s) for s in spec.has_exactly))
    for operator in _DATE_OPERATORS:
        if getattr(spec, operator) is not None:
            return _DateTime(operator, spec)
    raise ValueError("a string matcher needs one operator")
