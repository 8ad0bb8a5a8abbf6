"""asyncly's srvmocker errors: one base, `SrvMockerError`, as in asyncly."""

from __future__ import annotations

__all__ = [
    "MissingResponseError",
    "NoMatchError",
    "SequenceExhausted",
    "SrvMockerError",
    "UnknownHandlerError",
]


class SrvMockerError(Exception):
    """Base of every srvmocker error."""


class SequenceExhausted(SrvMockerError):
    """A `SequenceResponse` with `on_exhausted="raise"` was asked past its last response.

    Raised by `await sequence.response(request)`; through the server, the request gets
    a 500 (as with asyncly, where aiohttp turns the exception into one).
    """


class UnknownHandlerError(SrvMockerError):
    """`register` named a handler that no `MockRoute` declares."""

    def __init__(self, name: str, declared: frozenset[str]) -> None:
        self.name = name
        self.declared = sorted(declared)
        super().__init__(
            f"register() called with unknown handler_name {name!r}; "
            f"declared handlers: {self.declared}"
        )


class MissingResponseError(SrvMockerError):
    """A request reached a route whose handler has no registered response.

    The request gets a 500, and the error is logged through Python `logging` (logger
    `controlplane.srvmocker`), as asyncly reports it.
    """


class NoMatchError(SrvMockerError):
    """Reserved, as in asyncly: a request no route matched gets a 404, not this error."""
