"""What one answer is (`Outcome`), who produces it (`Responder`), and the error answers.

The mock hot path asks a compiled `Responder` for an `Outcome`, sleeps `delay_ms`
itself (so a delay never blocks the event loop), journals `status`/`type`/`error`
and returns `response` from its aiohttp handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Final, Protocol

import msgspec
from aiohttp import web
from multidict import CIMultiDict

from controlplane import wire
from controlplane.journal import OriginAnswer
from controlplane.request_view import RequestView

__all__ = [
    "Outcome",
    "Responder",
    "ResponseSpecError",
    "error_body",
    "error_outcome",
    "no_response_outcome",
]


class ResponseSpecError(ValueError):
    """A response that cannot be compiled; `at` is where inside it (`.body`, `.responses[1]`)."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.at = at

    def within(self, prefix: str) -> ResponseSpecError:
        """The same error seen from an enclosing response (a sequence item at `prefix`)."""
        return ResponseSpecError(self.message, prefix + self.at)


class Outcome:
    """One answer: the aiohttp response plus what the journal records about it."""

    __slots__ = ("delay_ms", "error", "origin", "render", "response", "status", "type")

    def __init__(
        self,
        response: web.StreamResponse,
        status: int,
        type: str,
        delay_ms: float = 0.0,
        error: str | None = None,
        render: Render | None = None,
        origin: OriginAnswer | None = None,
    ) -> None:
        self.response = response
        #: Status for the journal; 0 for faults (no status line reaches the client).
        self.status = status
        #: "json" | "raw" | "msgpack" | "yaml" | "toml" | "fault" | "sequence" | "in_process"
        #: | "callback" (and the stream and proxy types).
        self.type = type
        #: Milliseconds the caller sleeps before returning `response`.
        self.delay_ms = delay_ms
        #: Machine-readable reason when the answer is an error, e.g. "sequence_exhausted".
        self.error = error
        #: Set by in-process responders only: the caller awaits it (after the route's
        #: side effects) for the real outcome, and `response` is a placeholder.
        self.render = render
        #: Set by proxy responses: the origin's answer, which the journal entry keeps and
        #: the relay fills in as it streams.
        self.origin = origin

    def __repr__(self) -> str:
        return (
            f"Outcome(status={self.status}, type={self.type!r}, "
            f"delay_ms={self.delay_ms:.1f}, error={self.error!r})"
        )


#: An in-process answer: given the server's request and the route's path parameters,
#: the outcome to send (see `controlplane.responses.in_process`).
Render = Callable[[web.BaseRequest, Mapping[str, str]], Awaitable[Outcome]]


class Responder(Protocol):
    """A response compiled once at registration; `answer` runs once per mock request."""

    @property
    def spec(self) -> wire.AnyResponse | wire.InProcessResponse | wire.CallbackResponse:
        """The wire response this responder was compiled from."""
        ...

    def answer(self, view: RequestView) -> Outcome:
        """Pick, sample and build the answer to one request (synchronous, no awaits)."""
        ...


_JSON_HEADERS: Final = CIMultiDict({"Content-Type": "application/json"})


def error_body(code: str, message: str) -> bytes:
    """The admin API's error shape, `{"error": {"code", "message", ...}}`, as JSON bytes."""
    return msgspec.json.encode(wire.ErrorBody(error=wire.ErrorDetail(code=code, message=message)))


def error_outcome(
    code: str, body: bytes, *, type: str, delay_ms: float = 0.0, status: int = 500
) -> Outcome:
    """A 500 (or `status`) carrying a prebuilt `error_body`, so one parser reads admin and
    mock errors."""
    response = web.Response(body=body, status=status, headers=_JSON_HEADERS)
    return Outcome(response, status, type, delay_ms, code)


@lru_cache(maxsize=1024)
def _no_response_body(handler: str, session: str) -> bytes:
    # Cached: a suite that forgot to register a response may hit this path in a loop.
    prefix = "/api" if session == "default" else f"/api/sessions/{session}"
    message = (
        f"handler {handler!r} has no registered response; register one on the admin "
        f"port with PUT {prefix}/handlers/{handler}/response "
        f'(e.g. {{"type": "json", "body": {{}}}}) or give its route an inline `response`'
    )
    return error_body("no_response", message)


def no_response_outcome(handler: str, *, session: str = "default") -> Outcome:
    """The 500 a route answers when its handler has no registered response."""
    return error_outcome("no_response", _no_response_body(handler, session), type="json")
