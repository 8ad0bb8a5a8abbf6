"""User-supplied regular expressions, compiled with RE2: matching time is linear in the text.

Every pattern a user registers (`path_regex`, `matches`/`not_matches`, a template
parameter's regex such as `{n:[0-9]+}`, the WireMock dialect's `urlPattern`,
`urlPathPattern` and `matches`) compiles here, so no request can make the event loop
backtrack for seconds (`(a+)+` against `aaaa…!`). RE2 refuses what it cannot run in
linear time: backreferences, lookaround, and repetition counts above 1000; `check`
says which construct, for a 422 at registration. Python-style named groups
(`(?P<name>...)`) work, and become path params.

Patterns controlplane builds itself from escaped literals stay on `re`, which is faster
for them and cannot backtrack badly (see docs/decisions.md).

RE2 works on UTF-8 bytes: a text is encoded once per match and group values are decoded
from the byte spans. The low-level `re2._re2.RE2` object is used rather than the
package's `re`-like wrapper, which costs about 15 µs per match in Python overhead.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2
from re2 import _re2

__all__ = [
    "RE2_SYNTAX_URL",
    "RegexError",
    "UserMatch",
    "UserRegex",
    "check",
    "compile_search",
    "compile_user",
]

#: Where the accepted syntax is documented (named in every refusal).
RE2_SYNTAX_URL = "https://github.com/google/re2/wiki/Syntax"
#: RE2's largest repetition count (`a{1000}`).
MAX_REPEAT = 1000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is our 422, not a line on stderr
_BOTH = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_SPAN = (-1, -1)
_MEMO_BYTES = 4096

#: A repetition count outside a character class; RE2 reads a count it cannot parse
#: (`a{99999999999}`) as literal text, which is never what the author meant.
_COUNTS = re.compile(r"\\.|\[(?:\\.|[^\]\\])*\]|\{(\d+)(?:,(\d*))?\}", re.DOTALL)


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message names the construct and the syntax."""


class UserMatch:
    """A successful full match: named groups by name, `None` for one that took no part."""

    __slots__ = ("_data", "_names", "_spans", "_text")

    def __init__(
        self, text: str | None, data: bytes, spans: list[tuple[int, int]], names: dict[str, int]
    ) -> None:
        self._text = text  # set when byte offsets are character offsets (ASCII text)
        self._data = data
        self._spans = spans
        self._names = names

    # Typed as `re.Match[str]` is: `Any` stands for the `None` of a group that took no part.
    def group(self, name: str) -> str | Any:
        start, end = self._spans[self._names[name]]
        if start == -1:
            return None
        return self._text[start:end] if self._text is not None else _decode(self._data[start:end])

    def groupdict(self) -> dict[str, str | Any]:
        return {name: self.group(name) for name in self._names}


class UserRegex:
    """A compiled user pattern; `fullmatch` as `re.Pattern.fullmatch`, in linear time."""

    __slots__ = ("_last", "_regexp", "groupindex", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        regexp = _re2.RE2(_encode(source), _OPTIONS)
        if not regexp.ok():
            raise RegexError(_explain(source, regexp.error().decode(errors="replace")))
        if (count := _oversized_count(source)) is not None:
            raise RegexError(_explain(source, f"invalid repetition size: {count}"))
        self._regexp = regexp
        #: Named group -> group number, as `re.Pattern.groupindex`.
        self.groupindex: dict[str, int] = {
            name.decode(): index for name, index in regexp.NamedCapturingGroups()
        }
        # The last (text, pos, answer) for a short text: the route index tests a
        # path_regex, then the winning route matches the same path object again for its
        # params. Bodies are not kept: a regex must not hold on to a megabyte.
        self._last: tuple[str, int, UserMatch | None] = ("", -1, None)

    def fullmatch(self, text: str, pos: int = 0) -> UserMatch | None:
        """The match when all of `text` from `pos` on matches, else None."""
        last_text, last_pos, last = self._last
        if text is last_text and pos == last_pos:
            return last
        data = _encode(text)
        ascii_text = len(data) == len(text)
        spans = self._regexp.Match(
            _BOTH, data, pos if ascii_text else len(_encode(text[:pos])), len(data)
        )
        found = (
            None
            if spans[0] == _NO_SPAN
            else UserMatch(text if ascii_text else None, data, spans, self.groupindex)
        )
        if len(data) <= _MEMO_BYTES:
            self._last = (text, pos, found)
        return found

    def __repr__(self) -> str:
        return f"UserRegex({self.source!r})"


@functools.lru_cache(maxsize=1024)
def compile_user(pattern: str) -> UserRegex:
    """Compile a user's pattern (cached: validation and compilation share the work).

    Raises RegexError for a pattern RE2 refuses.
    """
    return UserRegex(pattern)


def check(pattern: str) -> None:
    """Raise RegexError, naming the construct, when RE2 cannot compile `pattern`."""
    compile_user(pattern)


def _oversized_count(pattern: str) -> str | None:
    for token in _COUNTS.finditer(pattern):
        low, high = token.group(1), token.group(2)
        if low is not None and max(int(low), int(high or 0)) > MAX_REPEAT:
            return token.group(0)
    return None


#: RE2's error for a construct -> what a person calls it.
_CONSTRUCTS = (
    ("invalid perl operator: (?=", "lookahead `(?=...)` is not supported"),
    ("invalid perl operator: (?!", "negative lookahead `(?!...)` is not supported"),
    ("invalid perl operator: (?<=", "lookbehind `(?<=...)` is not supported"),
    ("invalid perl operator: (?<!", "negative lookbehind `(?<!...)` is not supported"),
    ("invalid perl operator: (?P=", "backreference `(?P=name)` is not supported"),
    ("invalid perl operator: (?P>", "recursion `(?P>name)` is not supported"),
    ("invalid repetition size", f"repetition counts above {MAX_REPEAT} are not supported"),
    ("bad repetition operator", "a repeated repetition (such as `a**`) is not supported"),
    ("pattern too large", "the pattern is too large once compiled"),
)
_BACKREFERENCE = re.compile(r"invalid escape sequence: \\[1-9]")


def _explain(pattern: str, error: str) -> str:
    """`pattern` with RE2's `error` in words; RE2's own text is kept at the end."""
    if error.startswith("invalid perl operator: (?P") and "(?P=" in pattern:
        error = "invalid perl operator: (?P="
    reason = next((words for prefix, words in _CONSTRUCTS if error.startswith(prefix)), None)
    if reason is None and _BACKREFERENCE.match(error):
        reason = "backreferences such as `\\1` are not supported"
    detail = error if reason is None else f"{reason} ({error})"
    return (
        f"is not a valid regular expression ({pattern!r}: {detail}); controlplane uses "
        f"RE2 syntax, which has no backreferences or lookaround: {RE2_SYNTAX_URL}"
    )


def _encode(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (from a percent-decoded path)
        return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("utf-8", "surrogatepass")  # a lone surrogate went in
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace")  # `\C` (any byte) split a character


@functools.lru_cache(maxsize=256)
def compile_search(pattern: str) -> Any:
    """A user's pattern for searching a text (`search`, `finditer`, groups: as `re`), on
    RE2's `re`-like wrapper: linear time, a few microseconds more per call than
    `compile_user`'s full match. Raises RegexError for a pattern RE2 refuses."""
    check(pattern)
    return re2.compile(pattern, _OPTIONS)
