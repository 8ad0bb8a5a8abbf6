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

With shared state (`serve --state`) the socket is held by the process it connected
to, and every process answers mock requests for it: `controlplane.remote_callbacks`
plugs into `Callbacks.shared`, and its `Remote` (a `Callback` too) forwards requests
to the holder, whose `Registration.ask` asks the socket as for its own requests.

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
from collections.abc import Collection, Coroutine, Mapping
from functools import partial
from typing import Any, Final, NamedTuple, Protocol

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
    "Callback",
    "Callbacks",
    "Failure",
    "Registration",
    "Sharing",
    "callback_request",
    "decode_answer",
    "failure_outcome",
    "rendered",
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


class Failure(NamedTuple):
    """A callback that did not deliver: what the mock caller is answered."""

    status: int
    code: str
    message: str


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


def callback_request(
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


def _failed(session: str, handler: str, status: int, code: str, message: str) -> Failure:
    _log.info(code, session=session, handler=handler, message=message)
    return Failure(status, code, message)


def failure_outcome(failure: Failure) -> Outcome:
    """The mock caller's answer to a callback that did not deliver."""
    body = error_body(failure.code, failure.message)
    return error_outcome(failure.code, body, type="callback", status=failure.status)


class Callback:
    """A callback installed as its handler's responder: in the process that holds its
    socket (`Registration`) or in another one (`Remote`)."""

    def __init__(self, session: SessionState, handler: str, timeout_ms: int, key: str) -> None:
        self.spec = wire.CallbackResponse(timeout_ms=timeout_ms)
        self.session = session
        self.handler = handler
        #: The same in every process (with shared state): which registration an op names.
        self.key = key
        #: What answered before this registration, and answers again once it closes.
        self.displaced: Responder | None = None
        self._timeout = timeout_ms / 1000
        self.open = True
        self.installed = False

    def answer(self, view: RequestView) -> Outcome:
        # The answer needs an await: the mock handler renders it after the side effects.
        return Outcome(_PLACEHOLDER, 502, "callback", render=partial(self._forward, view))

    async def _forward(
        self, view: RequestView, request: web.BaseRequest, params: Mapping[str, str]
    ) -> Outcome:
        raise NotImplementedError

    def install(self) -> None:
        """Answer for the handler from now on (NotFound: the session no longer has it)."""
        self.displaced = self.session.responses.get(self.handler)
        self.session.install_responder(self.handler, self)
        self.installed = True

    def close(self) -> None:
        """Give the handler back what this registration displaced (once)."""
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
            while isinstance(current, Callback):
                if current.displaced is self:
                    current.displaced = self.displaced
                    break
                current = current.displaced

    def _failure(self, status: int, code: str, message: str) -> Failure:
        return _failed(self.session.id, self.handler, status, code, message)

    def _gone(self) -> Failure:
        message = f"the callback for handler {self.handler!r} disconnected before answering"
        return self._failure(502, "callback_gone", message)

    def _timed_out(self) -> Failure:
        message = (
            f"the callback for handler {self.handler!r} did not answer within "
            f"{self.spec.timeout_ms} ms (its `timeout_ms`)"
        )
        return self._failure(504, "callback_timeout", message)

    def _invalid_message(self, error: ControlplaneError) -> str:
        where = f" at {error.location}" if error.location else ""
        return (
            f"the callback for handler {self.handler!r} answered with something that is "
            f"not a valid answer{where}: {error.message}"
        )

    def _compile(self, response: wire.AnyResponse) -> Responder:
        """The client's response, compiled as if it had been registered
        (ResponseSpecError when it does not compile)."""
        session = self.session
        return compile_response(
            response, session.files, session.upstreams, session.streams.channel(self.handler)
        )


async def rendered(
    responder: Responder, view: RequestView, request: web.BaseRequest, params: Mapping[str, str]
) -> Outcome:
    outcome = responder.answer(view)
    if outcome.render is not None:
        outcome = await outcome.render(request, params)
    return outcome


class Registration(Callback):
    """One callback WebSocket, held by this process."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: SessionState,
        handler: str,
        timeout_ms: int,
        key: str = "",
    ) -> None:
        super().__init__(session, handler, timeout_ms, key)
        self.ws = ws
        self._pending: dict[str, asyncio.Future[wire.CallbackAnswer | Failure]] = {}
        self._ids = itertools.count(1)

    async def _forward(
        self, view: RequestView, request: web.BaseRequest, params: Mapping[str, str]
    ) -> Outcome:
        asked = await self.ask(callback_request(view, self.session.id, self.handler, params))
        if isinstance(asked, Failure):
            return failure_outcome(asked)
        outcome = await rendered(asked[1], view, request, params)
        outcome.type = "callback"
        return outcome

    async def ask(
        self, call_request: wire.CallbackRequest
    ) -> tuple[wire.CallbackAnswer, Responder] | Failure:
        """Send the request to the client; its answer, compiled, or why there is none."""
        if not self.open:
            return self._gone()
        call_id = str(next(self._ids))
        waiter: asyncio.Future[wire.CallbackAnswer | Failure] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[call_id] = waiter
        call = wire.CallbackCall(id=call_id, request=call_request)
        try:
            async with asyncio.timeout(self._timeout):
                await self.ws.send_frame(_encode(call), WSMsgType.TEXT)
                answer = await waiter
        except TimeoutError:
            return self._timed_out()
        except ConnectionError:
            return self._gone()
        finally:
            self._pending.pop(call_id, None)
        if isinstance(answer, Failure):
            return answer
        if answer.response is None:
            message = f"the callback for handler {self.handler!r} failed: {answer.error}"
            return self._failure(500, "callback_error", message)
        try:
            responder = self._compile(answer.response)
        except ResponseSpecError as exc:
            error = InvalidInput(exc.message, location="$.response" + exc.at)
            return await self._invalid(call_id, error)
        return answer, responder

    async def received(self, data: bytes) -> None:
        """A frame from the client: an answer to a pending call, or a mistake."""
        try:
            answer = decode_answer(data)
        except ControlplaneError as error:
            call_id = _id_of(data)
            failure = await self._invalid(call_id, error)
            waiter = self._pending.get(call_id) if call_id is not None else None
            if waiter is not None and not waiter.done():
                waiter.set_result(failure)
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

    async def _invalid(self, call_id: str | None, error: ControlplaneError) -> Failure:
        """Tell the client what was wrong with its frame; the mock caller's 502."""
        await self._refuse(call_id, "callback_invalid", error.message, error.location)
        return self._failure(502, "callback_invalid", self._invalid_message(error))

    async def _refuse(
        self, call_id: str | None, code: str, message: str, location: str | None
    ) -> None:
        refusal = wire.CallbackRefusal(
            id=call_id, error=wire.ErrorDetail(code=code, message=message, location=location)
        )
        # Gone: its pending calls are answered `callback_gone` when the reader stops.
        with contextlib.suppress(ConnectionError):
            await self.ws.send_frame(_encode(refusal), WSMsgType.TEXT)

    def close(self) -> None:
        """The socket closes: give the handler back, answer the pending calls `gone`
        (once; the registry and the socket's end may both call it)."""
        if not self.open:
            return
        super().close()
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_result(self._gone())


class Sharing(Protocol):
    """How a process's callbacks reach the others (`controlplane.remote_callbacks`)."""

    async def register(self, registration: Registration) -> str | None:
        """Install `registration` in every process; None, or why it could not be."""
        ...

    def closed(self, registration: Registration) -> None:
        """Its socket ended here: the other processes drop it."""
        ...


class Callbacks:
    """Every callback of one admin application: the sockets it holds, and (with shared
    state) the ones other processes hold."""

    def __init__(self) -> None:
        self._open: set[Callback] = set()
        self._closing: set[asyncio.Task[object]] = set()
        #: With shared state (`serve --state`): how callbacks reach other processes.
        self.shared: Sharing | None = None

    async def register(self, registration: Registration) -> str | None:
        """Install `registration`; None, or why it could not be (the handler is gone,
        the shared state does not answer)."""
        if self.shared is not None:
            return await self.shared.register(registration)
        try:
            registration.install()
        except NotFound as gone:  # its last route went while the socket opened
            return gone.message
        self.opened(registration)
        return None

    def opened(self, callback: Callback) -> None:
        self._open.add(callback)

    def dropped(self, callback: Callback) -> None:
        self._open.discard(callback)

    def closed(self, registration: Registration) -> None:
        """Its socket ended (`Registration.close` ran)."""
        self._open.discard(registration)
        if self.shared is not None:
            self.shared.closed(registration)

    def close(
        self,
        session: str | None = None,
        reason: str = "server shutdown",
        handlers: Collection[str] | None = None,
    ) -> None:
        """Start closing the sockets of `session` (None: of every session), code 1001;
        with `handlers`, only those registered for one of them. (With shared state, each
        process closes what it holds and drops what others hold.)"""
        for callback in [
            c
            for c in self._open
            if session in (None, c.session.id) and (handlers is None or c.handler in handlers)
        ]:
            callback.close()
            if isinstance(callback, Registration):
                self.background(callback.ws.close(code=1001, message=reason.encode()))
            else:
                self._open.discard(callback)

    def background(self, work: Coroutine[Any, Any, object]) -> None:
        """Run `work` in a task that `aclose` waits for."""
        task = asyncio.get_running_loop().create_task(work)
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
    registry = request.app[CALLBACKS]
    registration = Registration(ws, session, handler, timeout_ms)
    refused = await registry.register(registration)
    if refused is not None:
        # Installed all the same when the shared state only failed to confirm it.
        registration.close()
        registry.closed(registration)
        await ws.close(code=1008, message=refused.encode()[:120])
        return ws
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
