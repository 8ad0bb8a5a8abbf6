"""Errors a person can act on.

    ControlplaneError            base: HTTP status, machine code, message, JSON location
    ├── InvalidJson        400   the admin body is not JSON
    ├── InvalidInput       422   JSON of the wrong shape; `location` is e.g. `$[1].response.status`
    ├── RouteFileError     422   a route or WireMock mapping file that cannot be loaded
    ├── Unauthorized       401   admin token missing or wrong
    ├── NotFound           404   unknown session, route or handler (named in the message)
    └── Conflict           409   an id already taken; `default` cannot be removed

The admin API turns every one of them into `{"error": {"code", "message", "location"}}`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "Conflict",
    "ControlplaneError",
    "InvalidInput",
    "InvalidJson",
    "NotFound",
    "RouteFileError",
    "Unauthorized",
]


class ControlplaneError(Exception):
    """Base of every error controlplane reports to a client."""

    status = 500
    code = "internal"

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


class InvalidJson(ControlplaneError):
    status = 400
    code = "invalid_json"


class InvalidInput(ControlplaneError):
    status = 422
    code = "invalid_input"


class Unauthorized(ControlplaneError):
    status = 401
    code = "unauthorized"


class NotFound(ControlplaneError):
    status = 404
    code = "not_found"


class Conflict(ControlplaneError):
    status = 409
    code = "conflict"


class RouteFileError(ControlplaneError):
    """A route file or WireMock mapping file that cannot be loaded, named with the location."""

    status = 422
    code = "invalid_mapping_file"

    def __init__(self, path: Path, problem: str, *, location: str | None = None) -> None:
        where = f" at {location}" if location is not None else ""
        super().__init__(f"{path}: {problem}{where}", location=location)
        self.path = path
        self.problem = problem
