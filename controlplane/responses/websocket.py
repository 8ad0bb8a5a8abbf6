"""The `websocket` response: a scripted WebSocket peer that tests can push through.

The upgrade happens in the responder's render (aiohttp's pattern: `prepare` inside the
handler), so the mock handler journals the request as a call answered 101; a request
that is not a WebSocket upgrade is answered 426 (`websocket_upgrade_required`). The
conversation itself runs in `write_eof`, which aiohttp calls once the handler returned:

- `on_connect` messages go out first, each `delay_ms` after the previous one (the
  response's `delay` holds back the first);
- each incoming message is tried against `rules` in order: a string matcher tests a
  text message, `json_subset` a text message that parses as JSON (binary messages
  match no rule); the first rule that matches queues its `reply` messages and then its
  `close`; a message no rule matches is echoed back as it came when `echo` is on;
- replies go out from one queue, in order, so a slow reply delays those after it but
  never the reading of messages, nor pings (answered by aiohttp), nor pushes, which
  are sent at once;
- every message and close frame, in and out, is recorded in the session's frame log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Final

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from controlplane import wire
from controlplane.matching.conditions import json_subset
from controlplane.matching.strings import compile_string_matcher
from controlplane.request_view import RequestView
from controlplane.responses.delays import DelaySampler, compile_delay
from controlplane.responses.outcome import Outcome, error_body
from controlplane.responses.streams import Channel, FrameKind

__all__ = ["Conversation", "WebSocketResponder"]

_UPGRADE_MESSAGE: Final = (
    "this handler answers WebSocket connections only: connect with a WebSocket client "
    "(GET with `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Key` and "
    "`Sec-WebSocket-Version: 13`)"
)
_UPGRADE_BODY: Final = error_body("websocket_upgrade_required", _UPGRADE_MESSAGE)
#: Seconds to wait for the client's answer to our close frame before dropping it.
_CLOSE_TIMEOUT: Final = 5.0


class _Message:
    """A message ready to send: text or bytes, and the wait before it."""

    __slots__ = ("delay", "payload")

    def __init__(self, payload: str | bytes, delay: float = 0.0) -> None:
        self.payload = payload
        self.delay = delay

    @classmethod
    def compile(cls, spec: wire.WsMessage) -> _Message:
        if spec.text is not None:
            return cls(spec.text, spec.delay_ms / 1000)
        if spec.binary_base64 is not None:
            return cls(base64.b64decode(spec.binary_base64), spec.delay_ms / 1000)
        return cls(msgspec.json.encode(spec.json).decode(), spec.delay_ms / 1000)


class _Rule:
    """A compiled rule: its test on an incoming message and what it sends."""

    __slots__ = ("close", "json", "reply", "test")

    def __init__(self, spec: wire.WsRule) -> None:
        match = spec.match
        self.json = match.json_subset if isinstance(match, wire.MessageMatcher) else wire.UNSET
        self.test = None if self.json is not wire.UNSET else compile_string_matcher(match)
        self.reply = tuple(_Message.compile(message) for message in spec.reply)
        self.close = spec.close

    def matches(self, text: str) -> bool:
        if self.test is not None:
            return self.test(text)
        try:
            parsed = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return False
        return json_subset(self.json, parsed)


class WebSocketResponder:
    """Compiled once: the messages, the rules, the protocols offered."""

    def __init__(self, spec: wire.WebSocketResponse, channel: Channel) -> None:
        self.spec = spec
        self.channel = channel
        self.on_connect = tuple(_Message.compile(message) for message in spec.on_connect)
        self.rules = tuple(_Rule(rule) for rule in spec.rules)
        self._delay: DelaySampler = compile_delay(spec.delay)
        self._placeholder = web.Response(status=500)

    def answer(self, view: RequestView) -> Outcome:
        delay_ms = self._delay()

        async def render(request: web.BaseRequest, params: object) -> Outcome:
            return await self._upgrade(request, delay_ms)

        return Outcome(self._placeholder, 101, "websocket", delay_ms, render=render)

    async def _upgrade(self, request: web.BaseRequest, delay_ms: float) -> Outcome:
        conversation = Conversation(self)
        if not conversation.can_prepare(request).ok:
            refusal = web.Response(
                status=426,
                body=_UPGRADE_BODY,
                headers={"Content-Type": "application/json", "Upgrade": "websocket"},
            )
            return Outcome(refusal, 426, "websocket", delay_ms, "websocket_upgrade_required")
        await conversation.prepare(request)
        return Outcome(conversation, 101, "websocket", delay_ms)


class Conversation(web.WebSocketResponse):
    """One client's WebSocket; runs in `write_eof`, registered while it runs."""

    kind: Final = "websocket"

    def __init__(self, responder: WebSocketResponder) -> None:
        super().__init__(protocols=responder.spec.protocols, timeout=_CLOSE_TIMEOUT)
        self.id = responder.channel.new_id()
        self._responder = responder
        self._channel = responder.channel
        self._outbox: asyncio.Queue[_Message | wire.WsClose] = asyncio.Queue()
        self._ran = False
        self._ending = False

    @staticmethod
    def encode_push(item: wire.WsMessage) -> _Message:
        return _Message.compile(item)

    async def push(self, encoded: _Message) -> None:
        await self._send(encoded)

    async def end(self, code: int, reason: str) -> None:
        await self._close(code, reason)

    async def write_eof(self) -> None:  # type: ignore[override]
        if not self._ran:
            self._ran = True
            self._channel.opened(self)
            sender = asyncio.get_running_loop().create_task(self._send_queued())
            try:
                await self._converse()
            finally:
                sender.cancel()
                self._channel.closed(self)
        await super().write_eof()

    async def _converse(self) -> None:
        responder = self._responder
        for message in responder.on_connect:
            self._outbox.put_nowait(message)
        while True:
            received = await self.receive()
            kind = received.type
            if kind is WSMsgType.TEXT:
                self._channel.record(self.id, "in", "text", received.data)
                self._answer(received.data)
            elif kind is WSMsgType.BINARY:
                self._channel.record(self.id, "in", "binary", received.data)
                self._answer(received.data)
            elif kind is WSMsgType.CLOSE:
                # aiohttp has answered the close already (autoclose).
                self._channel.record(
                    self.id, "in", "close", close=(int(received.data), received.extra or "")
                )
                return
            else:
                if not self._ending:  # CLOSED or ERROR: the client left without a close
                    code = self.close_code or WSCloseCode.ABNORMAL_CLOSURE
                    self._channel.record(self.id, "in", "close", close=(code, "client left"))
                return  # or CLOSING: we are closing

    def _answer(self, data: str | bytes) -> None:
        """Queue what the first matching rule sends, or the echo, or nothing."""
        if isinstance(data, str):
            for rule in self._responder.rules:
                if rule.matches(data):
                    for message in rule.reply:
                        self._outbox.put_nowait(message)
                    if rule.close is not None:
                        self._outbox.put_nowait(rule.close)
                    return
        if self._responder.spec.echo:
            self._outbox.put_nowait(_Message(data))

    async def _send_queued(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, wire.WsClose):
                await self._close(item.code, item.reason)
                return
            if item.delay:
                await asyncio.sleep(item.delay)
            await self._send(item)

    async def _send(self, message: _Message) -> None:
        payload = message.payload
        # Recorded first: whatever a client has read is already in the log.
        kind: FrameKind = "text" if isinstance(payload, str) else "binary"
        self._channel.record(self.id, "out", kind, payload)
        try:
            if isinstance(payload, str):
                await self.send_str(payload)
            else:
                await self.send_bytes(payload)
        except (ConnectionError, RuntimeError):
            pass  # closing or gone: its close is recorded too

    async def _close(self, code: int, reason: str) -> None:
        if self._ending or self.closed:
            return
        self._ending = True
        self._channel.record(self.id, "out", "close", close=(code, reason))
        # A client that went first ends the conversation all the same.
        with contextlib.suppress(ConnectionError):
            await self.close(code=code, message=reason.encode())
