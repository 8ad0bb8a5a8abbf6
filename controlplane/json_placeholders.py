"""JsonUnit's placeholders in an expected JSON document (WireMock's `equalToJson`).

A string value of the expected document that is exactly one of these stands for a
test on the actual value at its place instead of a literal:

    ${json-unit.any-string}     a string
    ${json-unit.any-number}     a number (not a boolean)
    ${json-unit.any-boolean}    true or false
    ${json-unit.ignore}         any value, null included (the key must be present)
    ${json-unit.regex}RE        a string that RE2 regex RE matches in full

`compile_placeholders` finds them once, when the condition is registered, and answers
None for a document without any, whose comparison then never looks for them. Any
other `${json-unit.` string (`ignore-element`, `matches:NAME`, a typo) is refused: it
would otherwise be compared literally and never match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from controlplane import regex as user_regex

__all__ = ["PREFIX", "Placeholder", "compile_placeholders"]

PREFIX: Final = "${json-unit."
_REGEX: Final = "${json-unit.regex}"


def _any_number(value: Any) -> bool:
    return isinstance(value, int | float) and type(value) is not bool


_SIMPLE: Final[dict[str, Callable[[Any], bool]]] = {
    "${json-unit.any-string}": lambda value: isinstance(value, str),
    "${json-unit.any-number}": _any_number,
    "${json-unit.any-boolean}": lambda value: type(value) is bool,
    "${json-unit.ignore}": lambda value: True,
}


class Placeholder:
    """One placeholder of an expected document: call it with the actual value."""

    __slots__ = ("holds", "text")

    def __init__(self, text: str, holds: Callable[[Any], bool]) -> None:
        self.text = text
        self.holds = holds

    def __repr__(self) -> str:
        return f"Placeholder({self.text!r})"


def _placeholder(text: str, where: str) -> Placeholder:
    simple = _SIMPLE.get(text)
    if simple is not None:
        return Placeholder(text, simple)
    if text.startswith(_REGEX):
        try:
            pattern = user_regex.compile_user(text[len(_REGEX) :])
        except user_regex.RegexError as exc:
            raise ValueError(f"placeholder {text!r} at {where}: {exc}") from None
        return Placeholder(
            text, lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None
        )
    known = ", ".join([*_SIMPLE, _REGEX + "RE"])
    raise ValueError(f"unknown placeholder {text!r} at {where} (known: {known})")


def compile_placeholders(document: Any) -> Any | None:
    """`document` with every placeholder string replaced by its `Placeholder`; None
    when it holds none. Raises ValueError for an unknown placeholder or a bad regex."""
    found = False

    def walk(value: Any, where: str) -> Any:
        nonlocal found
        if isinstance(value, str):
            if value.startswith(PREFIX):
                found = True
                return _placeholder(value, where)
            return value
        if isinstance(value, dict):
            return {key: walk(item, f"{where}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return value

    compiled = walk(document, "$")
    return compiled if found else None
