"""In-process responses: Python code in the server's process builds the answer.

Only code that runs the server in its own process registers these (through
`SessionState.install_responder`): `controlplane.srvmocker` uses them for asyncly's
custom `BaseMockResponse` subclasses, whose `async def response(request)` builds an
aiohttp response itself. The admin API shows them (`{"type": "in_process", "name"}`)
and cannot create one: a wire response cannot carry code.

The mock handler awaits `Outcome.render` after the route's side effects (its `times`,
its scenario move), so those stay atomic with the match. What the code raises becomes
a 500 with the admin API's error shape (`in_process_error`), logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from controlplane import wire
from controlplane.logs import get_logger
from controlplane.request_view import RequestView
from controlplane.responses.outcome import Outcome, error_body, error_outcome

__all__ = ["InProcessRequest", "InProcessResponder"]

_log = get_logger("mock")

#: Builds the answer to one request (aiohttp's, plus `match_info`).
AnswerFunction = Callable[["InProcessRequest"], Awaitable[web.StreamResponse]]


class InProcessRequest:
    """The server's aiohttp request as in-process code sees it, plus `match_info`.

    The mock port has no aiohttp router, so its requests have no `match_info`; this
    wrapper carries the route's path parameters there (read-only) and hands every other
    attribute to the real request, whose body is already read: `await request.read()`,
    `.json()` and `.text()` answer at once.
    """

    __slots__ = ("_request", "match_info")

    def __init__(self, request: web.BaseRequest, params: Mapping[str, str]) -> None:
        self._request = request
        self.match_info: Mapping[str, str] = params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class InProcessResponder:
    """A handler's response built per request by `answer` (an async function)."""

    def __init__(self, name: str, answer: AnswerFunction) -> None:
        self.spec = wire.InProcessResponse(name=name)
        self._answer = answer
        self._placeholder = web.Response(status=500)

    def answer(self, view: RequestView) -> Outcome:
        # The real answer needs the aiohttp request and an await: the caller renders it.
        return Outcome(self._placeholder, 500, "in_process", render=self._render)

    async def _render(self, request: web.BaseRequest, params: Mapping[str, str]) -> Outcome:
        try:
            response = await self._answer(InProcessRequest(request, params))
        except Exception as exc:
            _log.error(
                "mock_in_process_error",
                response=self.spec.name,
                method=request.method,
                path=request.path,
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
            )
            message = f"in-process response {self.spec.name} raised {type(exc).__name__}: {exc}"
            return error_outcome(
                "in_process_error", error_body("in_process_error", message), type="in_process"
            )
        return Outcome(response, response.status, "in_process")
