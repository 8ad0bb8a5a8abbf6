"""Errors the client raises.

ClientError                 base
├── ServerUnavailable       no answer from the admin API (connection refused, timeout)
├── WireFormatError         an answer without the expected shape (also a ValueError)
└── AdminError              the admin API answered an error (status, code, message, location)
    ├── BadRequest    400   the body was not JSON
    ├── Unauthorized  401   admin token missing or wrong
    ├── NotFound      404   unknown session, route or handler (named in the message)
    ├── Conflict      409   an id already taken; `default` cannot be removed
    └── InvalidInput  422   wrong shape; `location` says where (`$.response.status`)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AdminError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "ServerUnavailable",
    "Unauthorized",
    "WireFormatError",
]


class ClientError(Exception):
    """Base of every error this client raises."""


class ServerUnavailable(ClientError):
    """The admin API did not answer (is the server running? is `admin_url` right?)."""

    @classmethod
    def at(cls, admin_url: str, reason: object) -> ServerUnavailable:
        """The error both clients raise when `admin_url` does not answer."""
        return cls(
            f"no answer from the controlplane admin API at {admin_url} ({reason}); "
            "is the server running, and is this its admin URL?"
        )


class WireFormatError(ClientError, ValueError):
    """A server answer does not have the shape this client expects."""


class AdminError(ClientError):
    """The admin API answered with an error."""

    def __init__(self, status: int, code: str, message: str, location: str | None = None) -> None:
        where = f" (at {location})" if location else ""
        super().__init__(f"{status} {code}: {message}{where}")
        self.status = status
        self.code = code
        self.message = message
        self.location = location


class BadRequest(AdminError):
    pass


class Unauthorized(AdminError):
    pass


class NotFound(AdminError):
    pass


class Conflict(AdminError):
    pass


class InvalidInput(AdminError):
    pass


_BY_STATUS: dict[int, type[AdminError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
}


def admin_error(status: int, body: Any, fallback: str) -> AdminError:
    """The error for an answer with `status` and decoded JSON `body` (or None)."""
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        code = str(detail.get("code", "error"))
        message = str(detail.get("message", fallback))
        location = detail.get("location")
    else:
        code, message, location = "error", fallback, None
    return _BY_STATUS.get(status, AdminError)(
        status, code, message, location if isinstance(location, str) else None
    )
