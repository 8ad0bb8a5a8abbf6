"""Callbacks across processes (`serve --state`): a socket held by one, used by all.

A callback's WebSocket is held by the process it connected to (`controlplane.
callbacks`); `SharedCallbacks` (plugged into its `Callbacks` as `shared`) makes every
process answer the handler's mock requests with it:

- the registration goes through the op log (an internal op, `callback-opened`), so
  that every process stacks it at the same point of the handler's history; the holder
  installs its `Registration`, the others a `Remote`;
- a `Remote` forwards each request to the holder (`controlplane.cluster.forward`,
  service `callback`), which asks its socket exactly as for its own requests
  (`Registration.ask`: timeouts and errors the same) and replies with the client's
  answer; the `Remote` compiles and renders it, so the response, its delays and its
  journal entry are those of the process that took the request;
- when the socket has closed, the holder replies `closed`, and the `Remote` steps
  aside at once (the handler answers with what it displaced), as it does when the
  holder no longer listens; a `callback-closed` op, sent in the background, then
  removes it everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
from aiohttp import web

from controlplane import ids, wire
from controlplane.callbacks import (
    Callback,
    Callbacks,
    Failure,
    Registration,
    callback_request,
    failure_outcome,
    rendered,
)
from controlplane.cluster import StateUnavailable
from controlplane.cluster.forward import ProcessGone, Relay
from controlplane.cluster.replica import Replica
from controlplane.errors import InvalidInput, NotFound
from controlplane.logs import get_logger
from controlplane.request_view import RequestView
from controlplane.responses import ResponseSpecError
from controlplane.responses.outcome import Outcome, no_response_outcome
from controlplane.sessions import SessionState, SessionStore

__all__ = ["FORWARD_MARGIN_S", "Remote", "SharedCallbacks"]

_log = get_logger("callbacks")
_encode = msgspec.json.encode

#: Seconds a forwarded request waits past its `timeout_ms` for the holder's answer
#: (which says `callback_timeout` itself when the client is late).
FORWARD_MARGIN_S: Final = 2.0
_OPENED, _CLOSED, _SERVICE = "callback-opened", "callback-closed", "callback"


class _Opened(msgspec.Struct, array_like=True, frozen=True):
    """The op `callback-opened`: a socket `holder` holds is `handler`'s responder."""

    key: str
    holder: str
    session: str
    handler: str
    timeout_ms: int


class _Ask(msgspec.Struct, frozen=True):
    """A request forwarded to the holder of the callback `key`."""

    key: str
    request: wire.CallbackRequest


class _Told(msgspec.Struct, frozen=True):
    """The holder's reply: the client's answer, a failure, or `closed` (the socket is
    gone, or was never held here: the handler answers without it)."""

    answer: wire.CallbackAnswer | None = None
    status: int = 0
    code: str = ""
    message: str = ""
    closed: bool = False


_ask_decoder = msgspec.json.Decoder(_Ask)
_told_decoder = msgspec.json.Decoder(_Told)
_opened_decoder = msgspec.msgpack.Decoder(_Opened)


class Remote(Callback):
    """A callback whose socket another process holds (`holder`): each request is
    forwarded there."""

    def __init__(
        self,
        relay: Relay,
        holder: str,
        session: SessionState,
        handler: str,
        timeout_ms: int,
        key: str,
    ) -> None:
        super().__init__(session, handler, timeout_ms, key)
        self.holder = holder
        self._relay = relay

    async def _forward(
        self, view: RequestView, request: web.BaseRequest, params: Mapping[str, str]
    ) -> Outcome:
        ask = _Ask(self.key, callback_request(view, self.session.id, self.handler, params))
        try:
            raw = await self._relay.call(
                self.holder, _SERVICE, _encode(ask), self._timeout + FORWARD_MARGIN_S
            )
        except ProcessGone:
            told = _Told(closed=True)
        except TimeoutError:
            return failure_outcome(self._timed_out())
        except StateUnavailable as exc:
            message = (
                f"the callback for handler {self.handler!r} is held by another process, "
                f"which this one cannot reach: {exc.message}"
            )
            return failure_outcome(self._failure(502, "callback_gone", message))
        else:
            told = _told_decoder.decode(raw)
        if told.closed:  # the socket closed there: answer as the handler does without it
            self.close()
            current = self.session.responses.get(self.handler)
            if current is None:
                return no_response_outcome(self.handler, session=self.session.id)
            return await rendered(current, view, request, params)
        if told.code:  # logged by the holder
            return failure_outcome(Failure(told.status, told.code, told.message))
        answer = told.answer
        # The holder sends answers with a response only.
        assert answer is not None and answer.response is not None
        try:
            responder = self._compile(answer.response)
        except ResponseSpecError as exc:  # compiled at the holder: this process differs
            error = InvalidInput(exc.message, location="$.response" + exc.at)
            return failure_outcome(
                self._failure(502, "callback_invalid", self._invalid_message(error))
            )
        outcome = await rendered(responder, view, request, params)
        outcome.type = "callback"
        return outcome


class SharedCallbacks:
    """This process's callbacks known to every process, and theirs to it."""

    def __init__(self, registry: Callbacks, replica: Replica, store: SessionStore) -> None:
        self._registry = registry
        self._replica = replica
        self._store = store
        #: The sockets held here, by key (installed once their `callback-opened` is
        #: applied), and the callbacks other processes hold.
        self._held: dict[str, Registration] = {}
        self._remotes: dict[str, Remote] = {}
        replica.internal(_OPENED, self._apply_opened)
        replica.internal(_CLOSED, self._apply_closed)
        replica.relay.serve(_SERVICE, self._serve_call)
        registry.shared = self

    async def register(self, registration: Registration) -> str | None:
        """Install `registration` in every process; None, or why it could not be."""
        replica = self._replica
        registration.key = key = ids.new_token(16)
        self._held[key] = registration
        opened = _Opened(
            key,
            replica.cluster.process_id,
            registration.session.id,
            registration.handler,
            registration.spec.timeout_ms,
        )
        try:
            refused = await replica.submit_internal(_OPENED, msgspec.msgpack.encode(opened))
        except StateUnavailable as exc:
            return exc.message
        finally:
            if not registration.installed:
                self._held.pop(key, None)
        return refused if isinstance(refused, str) else None

    def closed(self, registration: Registration) -> None:
        """Its socket ended: the other processes drop it (in the background: they step
        aside already when they ask)."""
        if self._held.pop(registration.key, None) is None:
            return
        if self._replica.following:  # not while this process stops: its holder is gone
            self._registry.background(self._announce_closed(registration.key))

    async def _announce_closed(self, key: str) -> None:
        try:
            await self._replica.submit_internal(_CLOSED, key.encode())
        except StateUnavailable as exc:  # the others drop it when they next ask
            _log.info("callback_close_unshared", message=exc.message)

    async def _apply_opened(self, body: bytes) -> str | None:
        opened = _opened_decoder.decode(body)
        session = self._store.get(opened.session)
        if session is None:
            return f"session {opened.session!r} was deleted"
        callback: Callback
        if opened.holder == self._replica.cluster.process_id:
            held = self._held.get(opened.key)
            if held is None or not held.open:  # its socket closed while it was being opened
                return None
            callback = held
        else:
            callback = Remote(
                self._replica.relay,
                opened.holder,
                session,
                opened.handler,
                opened.timeout_ms,
                opened.key,
            )
        try:
            callback.install()
        except NotFound as gone:
            return gone.message
        if isinstance(callback, Remote):
            self._remotes[opened.key] = callback
        self._registry.opened(callback)
        return None

    async def _apply_closed(self, body: bytes) -> None:
        remote = self._remotes.pop(body.decode(), None)
        if remote is not None:
            remote.close()
            self._registry.dropped(remote)

    async def _serve_call(self, payload: bytes) -> bytes:
        """Another process forwards a request to a socket held here."""
        ask = _ask_decoder.decode(payload)
        held = self._held.get(ask.key)
        if held is None or not held.open:
            return _encode(_Told(closed=True))
        asked = await held.ask(ask.request)
        if isinstance(asked, Failure):
            return _encode(_Told(status=asked.status, code=asked.code, message=asked.message))
        return _encode(_Told(answer=asked[0]))
