"""Callbacks: a client answers a handler's mock requests itself, over a WebSocket.

    GET {/api | /api/sessions/{sid}}/handlers/{name}/callback?timeout_ms=N   (upgrade)

`serve` runs one such WebSocket. While it is open its `Registration` is the handler's
responder (`SessionState.responses`), so the mock hot path needs nothing new: the
responder's `Outcome.render` (awaited after the route's side effects, as for
in-process responses) sends the request to the client (`wire.CallbackCall`), waits for
its `wire.CallbackAnswer` and answers with the wire response in it, compiled then as
if it had been registered. Frames are JSON text; docs/reference/admin-api.md states
the protocol for other languages.

Registrations stack like registered responses: the newest one answers, and when its
socket closes the handler gets back what it displaced (an older callback, a registered
response, or nothing). A response registered while a callback is connected replaces it
(the last write wins); the socket stays open but is no longer asked. A reset or the
deletion of the session closes its callbacks (`Callbacks.close`).

What the mock caller gets when the callback does not deliver (the journal entry's
`response.type` is `callback`, its `error` the code):

    504 callback_timeout   no answer within `timeout_ms`
    502 callback_gone      the socket closed before the answer came
    502 callback_invalid   the answer is not a `CallbackAnswer`, or its response does not
                           compile; the client gets a `wire.CallbackRefusal` saying where
    500 callback_error     the client reported that the callback failed (`error`)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from collections.abc import Collection, Mapping
from functools import partial
from typing import Final

import msgspec
from aiohttp import WSMsgType, web

from controlplane import wire
from controlplane.admin.decoding import depth_problem, malformed_json, validation_error
from controlplane.errors import ControlplaneError, InvalidInput, InvalidJson, NotFound
from controlplane.logs import get_logger
from controlplane.request_view import NOT_JSON, RequestView
from controlplane.responses import ResponseSpecError, compile_response
from controlplane.responses.outcome import Outcome, Responder, error_body, error_outcome
from controlplane.sessions import SessionState

__all__ = [
    "CALLBACKS",
    "DEFAULT_TIMEOUT_MS",
    "MAX_TIMEOUT_MS",
    "Callbacks",
    "Registration",
    "decode_answer",
    "serve",
]

#: How long the server waits for an answer when the client does not say (`timeout_ms`).
DEFAULT_TIMEOUT_MS: Final = 5_000
#: The longest wait a client may ask for.
MAX_TIMEOUT_MS: Final = 300_000
#: The largest frame either side may send (as large as an admin request body).
MAX_FRAME: Final = 64 * 1024 * 1024
#: Seconds between pings, so a peer that vanished (another machine) is noticed.
HEARTBEAT: Final = 20.0

_log = get_logger("callbacks")
_encode = msgspec.json.encode
_answer_decoder = msgspec.json.Decoder(wire.CallbackAnswer)
_PLACEHOLDER = web.Response(status=502)


class UpgradeRequired(ControlplaneError):
    status = 426
    code = "upgrade_required"


def decode_answer(data: bytes) -> wire.CallbackAnswer:
    """A client's frame as a `CallbackAnswer`; InvalidJson / InvalidInput (with the
    JSON location, `$.response.status`) as the admin API reports a bad body."""
    if (too_deep := depth_problem(data)) is not None:
        raise InvalidJson(f"the frame {too_deep}")
    try:
        return _answer_decoder.decode(data)
    except msgspec.ValidationError as exc:
        document = msgspec.json.decode(data)  # well-formed: shape errors come after parsing
        raise validation_error(exc, document=document, target=wire.CallbackAnswer) from None
    except msgspec.DecodeError as exc:
        problem = malformed_json(data, exc)
        raise InvalidJson(f"the frame is not valid JSON: {problem}") from None


def _id_of(data: bytes) -> str | None:
    """The `id` of a frame that is not a valid answer, when it has one."""
    try:
        document = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) else None


def _request(
    view: RequestView, session: str, handler: str, params: Mapping[str, str]
) -> wire.CallbackRequest:
    query: dict[str, list[str]] = {}
    for name, value in view.query.items():
        query.setdefault(name, []).append(value)
    parsed = view.json
    return wire.CallbackRequest(
        session=session,
        handler=handler,
        method=view.method,
        path=view.path,
        query=query,
        headers=[(str(name), value) for name, value in view.headers.items()],
        path_params=dict(params),
        body=view.text,
        body_base64=base64.b64encode(view.body).decode("ascii"),
        json=wire.UNSET if parsed is NOT_JSON else parsed,
    )


class Registration:
    """One callback WebSocket, installed as its handler's responder while it is open."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: SessionState,
        handler: str,
        timeout_ms: int,
        displaced: Responder | None,
    ) -> None:
        self.spec = wire.CallbackResponse(timeout_ms=timeout_ms)
        self.ws = ws
        self.session = session
        self.handler = handler
        #: What answered before this registration, and answers again once it closes.
        self.displaced = displaced
        self._timeout = timeout_ms / 1000
        self._pending: dict[str, asyncio.Future[wire.CallbackAnswer | Outcome]] = {}
        self._ids = itertools.count(1)
        self.open = True

    def answer(self, view: RequestView) -> Outcome:
        # The answer needs an await: the mock handler renders it after the side effects.
        return Outcome(_PLACEHOLDER, 502, "callback", render=partial(self._forward, view))

    async def _forward(
        self, view: RequestView, request: web.BaseRequest, params: Mapping[str, str]
    ) -> Outcome:
        if not self.open:
            return self._gone()
        call_id = str(next(self._ids))
        waiter: asyncio.Future[wire.CallbackAnswer | Outcome] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[call_id] = waiter
        call = wire.CallbackCall(
            id=call_id,
            request=_request(view, self.session.id, self.handler, params),
        )
        try:
            async with asyncio.timeout(self._timeout):
                await self.ws.send_frame(_encode(call), WSMsgType.TEXT)
                answer = await waiter
        except TimeoutError:
            message = (
                f"the callback for handler {self.handler!r} did not answer within "
                f"{self.spec.timeout_ms} ms (its `timeout_ms`)"
            )
            return self._failed(504, "callback_timeout", message)
        except ConnectionError:
            return self._gone()
        finally:
            self._pending.pop(call_id, None)
        if isinstance(answer, Outcome):
            return answer
        if answer.response is None:
            message = f"the callback for handler {self.handler!r} failed: {answer.error}"
            return self._failed(500, "callback_error", message)
        session = self.session
        try:
            responder = compile_response(
                answer.response,
                session.files,
                session.upstreams,
                session.streams.channel(self.handler),
            )
        except ResponseSpecError as exc:
            error = InvalidInput(exc.message, location="$.response" + exc.at)
            return await self._invalid(call_id, error)
        outcome = responder.answer(view)
        if outcome.render is not None:
            outcome = await outcome.render(request, params)
        outcome.type = "callback"
        return outcome

    async def received(self, data: bytes) -> None:
        """A frame from the client: an answer to a pending call, or a mistake."""
        try:
            answer = decode_answer(data)
        except ControlplaneError as error:
            call_id = _id_of(data)
            outcome = await self._invalid(call_id, error)
            waiter = self._pending.get(call_id) if call_id is not None else None
            if waiter is not None and not waiter.done():
                waiter.set_result(outcome)
            return
        waiter = self._pending.get(answer.id)
        if waiter is None or waiter.done():
            # Typically an answer that came after its timeout: nobody waits for it.
            _log.info(
                "callback_answer_unexpected",
                session=self.session.id,
                handler=self.handler,
                id=answer.id,
            )
            message = (
                f"no request with id {answer.id!r} is waiting for an answer "
                "(it timed out, was answered already, or was never sent)"
            )
            await self._refuse(answer.id, "callback_unknown_id", message, None)
            return
        waiter.set_result(answer)

    async def _invalid(self, call_id: str | None, error: ControlplaneError) -> Outcome:
        """Tell the client what was wrong with its frame; the mock caller's 502."""
        await self._refuse(call_id, "callback_invalid", error.message, error.location)
        where = f" at {error.location}" if error.location else ""
        message = (
            f"the callback for handler {self.handler!r} answered with something that is "
            f"not a valid answer{where}: {error.message}"
        )
        return self._failed(502, "callback_invalid", message)

    async def _refuse(
        self, call_id: str | None, code: str, message: str, location: str | None
    ) -> None:
        refusal = wire.CallbackRefusal(
            id=call_id, error=wire.ErrorDetail(code=code, message=message, location=location)
        )
        # Gone: its pending calls are answered `callback_gone` when the reader stops.
        with contextlib.suppress(ConnectionError):
            await self.ws.send_frame(_encode(refusal), WSMsgType.TEXT)

    def _gone(self) -> Outcome:
        message = f"the callback for handler {self.handler!r} disconnected before answering"
        return self._failed(502, "callback_gone", message)

    def _failed(self, status: int, code: str, message: str) -> Outcome:
        _log.info(code, session=self.session.id, handler=self.handler, message=message)
        return error_outcome(code, error_body(code, message), type="callback", status=status)

    def close(self) -> None:
        """The socket closes: give the handler back, answer the pending calls `gone`
        (once; the registry and the socket's end may both call it)."""
        if not self.open:
            return
        self.open = False
        responses = self.session.responses
        current = responses.get(self.handler)
        if current is self:
            if self.displaced is None:
                del responses[self.handler]
            else:
                responses[self.handler] = self.displaced
        else:
            # Deeper in the stack (a newer callback displaced this one): unlink it.
            while isinstance(current, Registration):
                if current.displaced is self:
                    current.displaced = self.displaced
                    break
                current = current.displaced
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_result(self._gone())


class Callbacks:
    """Every open callback socket of one admin application."""

    def __init__(self) -> None:
        self._open: set[Registration] = set()
        self._closing: set[asyncio.Task[bool]] = set()

    def opened(self, registration: Registration) -> None:
        self._open.add(registration)

    def closed(self, registration: Registration) -> None:
        self._open.discard(registration)

    def close(
        self,
        session: str | None = None,
        reason: str = "server shutdown",
        handlers: Collection[str] | None = None,
    ) -> None:
        """Start closing the sockets of `session` (None: of every session), code 1001;
        with `handlers`, only those registered for one of them."""
        for registration in [
            r
            for r in self._open
            if session in (None, r.session.id) and (handlers is None or r.handler in handlers)
        ]:
            registration.close()
            task = asyncio.get_running_loop().create_task(
                registration.ws.close(code=1001, message=reason.encode())
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self, app: web.Application | None = None) -> None:
        """Close every socket and wait (the admin application shuts down)."""
        self.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


CALLBACKS: Final = web.AppKey("callbacks", Callbacks)


async def serve(
    request: web.Request, session: SessionState, handler: str, timeout_ms: int | None
) -> web.WebSocketResponse:
    """Run one callback WebSocket for `handler` of `session` until either side closes it."""
    if timeout_ms is None:
        timeout_ms = DEFAULT_TIMEOUT_MS
    elif not 1 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidInput(
            f"`timeout_ms` must be between 1 and {MAX_TIMEOUT_MS}, got {timeout_ms}",
            location="?timeout_ms",
        )
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_FRAME)
    if not ws.can_prepare(request).ok:
        raise UpgradeRequired(
            "this endpoint is a WebSocket: connect to it with a WebSocket client (the frames "
            "are described in docs/reference/admin-api.md, Callbacks)"
        )
    await ws.prepare(request)
    try:
        displaced = session.responses.get(handler)
        registration = Registration(ws, session, handler, timeout_ms, displaced)
        session.install_responder(handler, registration)
    except NotFound as gone:  # its last route went while the socket opened
        await ws.close(code=1008, message=gone.message.encode()[:120])
        return ws
    registry = request.app[CALLBACKS]
    registry.opened(registration)
    _log.info("callback_registered", session=session.id, handler=handler, timeout_ms=timeout_ms)
    hello = wire.CallbackHello(
        registered=wire.CallbackRegistered(
            session=session.id, handler=handler, timeout_ms=timeout_ms
        )
    )
    try:
        await ws.send_frame(_encode(hello), WSMsgType.TEXT)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await registration.received(message.data.encode())
            elif message.type is WSMsgType.BINARY:
                await registration.received(message.data)
    finally:
        registration.close()
        registry.closed(registration)
        _log.info("callback_closed", session=session.id, handler=handler, code=ws.close_code)
    return ws
