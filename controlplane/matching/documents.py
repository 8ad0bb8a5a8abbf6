"""Body conditions applied to a document rather than to a request.

WireMock finds and removes stubs by their metadata with the same content patterns it
matches request bodies with. `compile_document_match` gives a dialect exactly that:
the body conditions of a `wire.Match` (`json`, `json_subset`, `json_path`,
`json_compare`, `json_schema`, `xml`, `xpath`, `body`, `body_base64`,
`body_matcher`), tested against a document's
bytes as they would be against a request body, so both can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable

from multidict import CIMultiDict, CIMultiDictProxy

from controlplane import wire
from controlplane.matching.conditions import compile_match
from controlplane.request_view import RequestView

__all__ = ["compile_document_match"]

#: Conditions that read something a document does not have.
_REQUEST_ONLY = (
    "url",
    "host",
    "scheme",
    "port",
    "path_params",
    "query",
    "headers",
    "cookies",
    "form",
    "multipart",
)

_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def compile_document_match(match: wire.Match) -> Callable[[bytes], bool]:
    """A predicate on a document's bytes: do the body conditions of `match` all hold?

    Raises ValueError when `match` has a condition on something other than the body,
    and for the reasons `compile_match` gives (an invalid JSONPath expression).
    """
    used = [name for name in _REQUEST_ONLY if getattr(match, name) is not None]
    if used:
        raise ValueError(f"a document has a body only; {', '.join(used)} cannot apply to it")
    compiled = compile_match(match)
    if compiled is None:
        return lambda document: True

    def holds(document: bytes) -> bool:
        return compiled(RequestView("GET", "/", "", _NO_HEADERS, document))

    return holds
