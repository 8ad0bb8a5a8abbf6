"""`multipart`: conditions on the parts of a `multipart/*` body (WireMock's `multipartPatterns`).

The body is split into parts once per request (`RequestView.derived`), at most
`MAX_PARTS` of them: a body with more, or without the `boundary` its `Content-Type`
names, has no parts and fails every multipart condition. Each part is seen as a small
request of its own (its headers, its body), so a part's conditions are the native
`headers` and body conditions, compiled by `compile_match` like a route's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from multidict import CIMultiDict, CIMultiDictProxy

from controlplane import wire
from controlplane.matching.checks import Check, clip
from controlplane.request_view import RequestView

if TYPE_CHECKING:
    from controlplane.matching.conditions import CompiledMatch

__all__ = ["MAX_PARTS", "Multipart", "parts_of"]

MAX_PARTS: Final = 100


def _boundary(content_type: str) -> bytes | None:
    kind, _, params = content_type.partition(";")
    if not kind.strip().lower().startswith("multipart/"):
        return None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary":
            value = value.strip().strip('"')
            return value.encode() if 0 < len(value) <= 200 else None
    return None


def _part(raw: bytes, view: RequestView) -> RequestView | None:
    raw = raw[2:] if raw.startswith(b"\r\n") else raw.lstrip(b"\n")
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
        if not sep:
            return None
    headers: CIMultiDict[str] = CIMultiDict()
    for line in head.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            return None
        headers.add(name.strip(), value.strip())
    body = body[:-2] if body.endswith(b"\r\n") else body.removesuffix(b"\n")
    return RequestView(view.method, view.path, "", CIMultiDictProxy(headers), body, peer=view.peer)


def _split(view: RequestView) -> tuple[RequestView, ...] | None:
    boundary = _boundary(view.headers.get("Content-Type", ""))
    if boundary is None or not view.body:
        return None
    delimiter = b"--" + boundary
    pieces = view.body.split(delimiter, MAX_PARTS + 2)
    # pieces: preamble, part, part, ..., "--" + epilogue
    if len(pieces) < 3 or len(pieces) > MAX_PARTS + 2 or not pieces[-1].startswith(b"--"):
        return None
    parts = [_part(piece, view) for piece in pieces[1:-1]]
    if any(part is None for part in parts):
        return None
    return tuple(part for part in parts if part is not None)


def parts_of(view: RequestView) -> tuple[RequestView, ...] | None:
    """The parts of a multipart body (once per request), or None when it is not one."""
    return view.derived("multipart", _split)


class Multipart(Check):
    __slots__ = ("_all", "_match")
    cost = 9

    def __init__(self, spec: wire.MultipartCondition, match: CompiledMatch | None) -> None:
        self._all = spec.parts == "all"
        self._match = match
        self.field = f"multipart ({spec.parts} parts)"
        described = [f"{c.field} {c.expected}" for c in (match.checks if match else ())]
        self.expected = clip("; ".join(described) or "a part")

    def _holds(self, part: RequestView) -> bool:
        return self._match is None or self._match(part)

    def __call__(self, view: RequestView) -> bool:
        parts = parts_of(view)
        if not parts:
            return False
        if self._all:
            return all(map(self._holds, parts))
        return any(map(self._holds, parts))

    def actual(self, view: RequestView) -> str:
        parts = parts_of(view)
        if not parts:
            return "<not multipart>"
        notes = []
        for index, part in enumerate(parts, 1):
            diffs = self._match.diffs(part) if self._match is not None else []
            summary = "; ".join(f"{d.field}: {d.actual}" for d in diffs) or "holds"
            notes.append(f"part {index}: {summary}")
        return clip(" | ".join(notes))
