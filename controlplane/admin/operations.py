"""`Operation`: one native admin endpoint, written once.

The table of them (`controlplane.admin.app.OPERATIONS`) is what the router registers
and what the OpenAPI document renders (`controlplane.admin.openapi`); the Python
client's operations are checked against it (tests/test_client_operations.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from controlplane.wire import ErrorBody

__all__ = ["SESSION_PREFIXES", "Operation"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Where a session-scoped operation is served: for `default`, and for any session.
SESSION_PREFIXES = ("/api", "/api/sessions/{sid}")


@dataclass(frozen=True)
class Operation:
    """An admin endpoint: where, who answers, and what it takes and gives."""

    method: Literal["GET", "POST", "PUT", "DELETE"]
    #: The path; for `scope="session"`, the part after a session prefix (`/routes`).
    path: str
    handler: Handler
    summary: str
    #: Status -> (description, body type or None).
    answers: Mapping[int, tuple[str, Any]]
    #: The request body's type (None: no body).
    body: Any = None
    #: An empty body is accepted (every field defaulted).
    body_optional: bool = False
    scope: Literal["global", "session"] = "session"
    #: OpenAPI parameter objects of its query string.
    query: tuple[Mapping[str, Any], ...] = ()

    def answers_at(self, path: str) -> dict[int, tuple[str, Any]]:
        """Its answers at `path` (one of `routes()`), with the errors every operation of
        its kind can give: 400 and 422 when it takes a body or a query, 404 when the
        path names a session (listed answers win)."""
        implied: dict[int, tuple[str, Any]] = {}
        if self.body is not None:
            implied[400] = ("The body is not JSON (or is empty where one is needed)", ErrorBody)
        if self.body is not None or self.query:
            implied[422] = ("Wrong shape; `location` says where", ErrorBody)
        answers = dict(self.answers)
        if "{sid}" in path:
            implied[404] = ("Unknown session", ErrorBody)
            if 404 in answers and answers[404][0] != "Unknown session":
                description, schema = answers[404]
                answers[404] = (f"{description}, or unknown session", schema)
        return dict(sorted((implied | answers).items()))

    def routes(self) -> list[tuple[str, str]]:
        """(path, summary) of every path it is served at."""
        if self.scope == "global":
            return [(self.path, self.summary)]
        default, any_session = SESSION_PREFIXES
        return [
            (default + self.path, self.summary + " (session default)"),
            (any_session + self.path, self.summary),
        ]
