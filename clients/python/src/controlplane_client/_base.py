"""What the sync and the async client share: everything but sending a request.

httpx's model (`BaseClient`, `Client`, `AsyncClient`): `BaseClient` holds the settings,
turns an `Op` into a request (URL, headers, a JSON body encoded from the generated
shapes) and an answer into a result or an `AdminError`, and builds the operations that
are more than one admin call's answer (`last_call`, the assertions, a bound session).
`Client` (urllib) and `AsyncClient` (aiohttp) add `_run`, which sends, and the public
methods in their sync or async form, each one line over what is here.
"""

from __future__ import annotations

import copy
import json as jsonlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from controlplane_client._assertions import check_received
from controlplane_client._codec import to_wire
from controlplane_client._ops import NO_BODY, Op, Ops
from controlplane_client._shapes import (
    CallList,
    RecordedRequest,
    Route,
    Session,
    StreamFrame,
    StreamFrameList,
    VerifyResult,
)
from controlplane_client.errors import ServerUnavailable, WireFormatError, admin_error

__all__ = ["DEFAULT_TIMEOUT", "BaseClient", "CallCheck", "Request"]

# pytest leaves this module's frames out of tracebacks (`--full-trace` keeps them): a
# failed assertion or an admin API error points at the test's line, not at the client.
__tracebackhide__ = True

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0

#: A call assertion: (handler, its calls) -> the failure message, or None when it holds.
CallCheck = Callable[[str, Sequence[RecordedRequest]], str | None]


@dataclass(frozen=True)
class Request:
    """What to send for one `Op`, ready for any HTTP library."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


class BaseClient:
    """The admin API at `admin_url`, bound to one session (`default` unless given)."""

    def __init__(
        self,
        admin_url: str,
        *,
        session: str = "default",
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        info: Session | None = None,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.session_id = session
        self.token = token
        self.timeout = timeout
        self._ops = Ops(session)
        self._info = info
        #: Callbacks registered through this client (`on_request`), to close at the end.
        self._callbacks: list[Any] = []
        self._open()

    def _open(self) -> None:
        """Set up what sends requests; the session clients made by `session()` share it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.admin_url!r}, session={self.session_id!r})"

    def session(self, session_id: str, *, info: Session | None = None) -> Self:
        """A client like this one bound to an existing session (no request is made)."""
        bound = copy.copy(self)  # same URL, token, timeout and connections
        bound.session_id, bound._ops, bound._info = session_id, Ops(session_id), info
        bound._callbacks = []
        return bound

    # ------------------------------------------------------------ requests and answers

    def _request(self, op: Op[Any]) -> Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = None if op.body is NO_BODY else jsonlib.dumps(to_wire(op.body)).encode()
        return Request(op.method, op.url(self.admin_url), headers, body)

    def _answer(self, op: Op[Any], status: int, raw: bytes) -> Any:
        """The answer's JSON, or the AdminError for an unexpected status."""
        try:
            data = jsonlib.loads(raw) if raw.strip() else None
        except ValueError:
            data = None
            if status in op.ok:
                raise WireFormatError(f"{op.method} {op.path}: the answer is not JSON") from None
        if status not in op.ok:
            text = raw.decode("utf-8", "replace")[:500] or f"HTTP {status}"
            raise admin_error(status, data, text)
        return data

    def _unavailable(self, reason: object) -> ServerUnavailable:
        return ServerUnavailable.at(self.admin_url, reason)

    # ------------------------------------------------------------ operations beyond one answer

    def _create_session(self, name: str | None, session_id: str | None) -> Op[Self]:
        return Ops.create_session(name, session_id).then(self._bound)

    def _bound(self, info: Session) -> Self:
        return self.session(info.id, info=info)

    def _get_session(self, session_id: str | None) -> Op[Session]:
        if session_id is not None:
            return Ops.get_session(session_id)
        return Ops.get_session(self.session_id).then(self._remember)

    def _remember(self, info: Session) -> Session:
        self._info = info
        return info

    def _delete_session(self, session_id: str | None) -> Op[None]:
        return Ops.delete_session(session_id or self.session_id)

    def _add_route(self, route: Route) -> Op[Route]:
        return self._ops.add_routes(route).then(_first)

    def _get_calls(self, handler: str) -> Op[list[RecordedRequest]]:
        return self._ops.calls(handler).then(_calls)

    def _last_call(self, handler: str) -> Op[RecordedRequest]:
        def last(calls: CallList) -> RecordedRequest:
            if not calls.calls:
                raise AssertionError(f"handler {handler!r} was never called")
            return calls.calls[-1]

        return self._ops.calls(handler).then(last)

    def _assert_verified(self, handler: str, **predicates: Any) -> Op[VerifyResult]:
        return self._ops.verify(handler, **predicates).then(_verified)

    def _assert_calls(self, handler: str, check: CallCheck) -> Op[None]:
        """`check` (`check_called` with its predicates, or `check_not_called`) on the calls."""

        def fail_unless_passed(calls: CallList) -> None:
            message = check(handler, calls.calls)
            if message is not None:
                raise AssertionError(message)

        return self._ops.calls(handler).then(fail_unless_passed)

    def _messages(self, handler: str) -> Op[list[StreamFrame]]:
        return self._ops.messages(handler).then(_frames)

    def _assert_received(self, handler: str, **predicates: Any) -> Op[None]:
        """`check_received` with `predicates` on the frames of `handler`."""

        def fail_unless_received(frames: StreamFrameList) -> None:
            message = check_received(handler, frames.messages, **predicates)
            if message is not None:
                raise AssertionError(message)

        return self._ops.messages(handler).then(fail_unless_received)


def _frames(listed: StreamFrameList) -> list[StreamFrame]:
    return listed.messages


def _first(routes: list[Route]) -> Route:
    return routes[0]


def _calls(calls: CallList) -> list[RecordedRequest]:
    return calls.calls


def _verified(result: VerifyResult) -> VerifyResult:
    if not result.ok:
        raise AssertionError(result.message)
    return result
