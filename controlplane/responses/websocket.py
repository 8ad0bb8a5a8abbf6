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
  are sent at once: written by the admin request that makes them, as one frame built
  for every connection (uncompressed), waiting for no client;
- every message and close frame, in and out, is recorded in the session's frame log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
from typing import Final

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.abc import AbstractStreamWriter

from controlplane import wire
from controlplane.matching.conditions import json_subset
from controlplane.matching.strings import compile_string_matcher
from controlplane.request_view import RequestView
from controlplane.responses.delays import DelaySampler, compile_delay
from controlplane.responses.outcome import Outcome, error_body
from controlplane.responses.streams import Channel, Payload

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
    """A message ready to send: its bytes and opcode, what the frame log records of it,
    and the wait before it. Built once for every connection it goes to."""

    __slots__ = ("data", "delay", "opcode", "record")

    def __init__(self, payload: str | bytes, delay: float = 0.0) -> None:
        text = isinstance(payload, str)
        self.data = payload.encode() if isinstance(payload, str) else payload
        self.opcode = WSMsgType.TEXT if text else WSMsgType.BINARY
        self.record = Payload("text" if text else "binary", payload)
        self.delay = delay

    @classmethod
    def compile(cls, spec: wire.WsMessage) -> _Message:
        if spec.text is not None:
            return cls(spec.text, spec.delay_ms / 1000)
        if spec.binary_base64 is not None:
            return cls(base64.b64decode(spec.binary_base64), spec.delay_ms / 1000)
        return cls(msgspec.json.encode(spec.json).decode(), spec.delay_ms / 1000)


#: A pushed message and its whole frame, built once for every connection it goes to.
_Pushed = tuple[_Message, bytes]


def _frame(message: _Message) -> bytes:
    """`message` as a server sends it in one frame (RFC 6455 5.2: FIN, unmasked)."""
    data, first = message.data, 0x80 | message.opcode
    if len(data) < 126:
        return bytes((first, len(data))) + data
    if len(data) < 1 << 16:
        return struct.pack("!BBH", first, 126, len(data)) + data
    return struct.pack("!BBQ", first, 127, len(data)) + data


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
        self._transport: asyncio.Transport | None = None

    @staticmethod
    def encode_push(item: wire.WsMessage) -> _Pushed:
        message = _Message.compile(item)
        return message, _frame(message)

    def push(self, encoded: _Pushed) -> None:
        transport = self._transport
        if self._ending or self.closed or transport is None or transport.is_closing():
            return  # closing or gone: its close is recorded too
        message, frame = encoded
        # Recorded first: whatever a client has read is already in the log.
        self._channel.record(self.id, "out", message.record)
        # Uncompressed even where permessage-deflate was agreed (RFC 7692 lets a
        # message go either way), so one frame serves every connection; one write, so
        # it never splits a frame that aiohttp writes.
        transport.write(frame)

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter:
        writer = await super().prepare(request)
        self._transport = request.transport
        return writer

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
                self._channel.record(self.id, "in", Payload("text", received.data))
                self._answer(received.data)
            elif kind is WSMsgType.BINARY:
                self._channel.record(self.id, "in", Payload("binary", received.data))
                self._answer(received.data)
            elif kind is WSMsgType.CLOSE:
                # aiohttp has answered the close already (autoclose).
                close = (int(received.data), received.extra or "")
                self._channel.record(self.id, "in", Payload("close", close=close))
                return
            else:
                if not self._ending:  # CLOSED or ERROR: the client left without a close
                    code = self.close_code or WSCloseCode.ABNORMAL_CLOSURE
                    left = Payload("close", close=(code, "client left"))
                    self._channel.record(self.id, "in", left)
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
        # Recorded first: whatever a client has read is already in the log.
        self._channel.record(self.id, "out", message.record)
        # Closing or gone: its close is recorded too.
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send_frame(message.data, message.opcode)

    async def _close(self, code: int, reason: str) -> None:
        if self._ending or self.closed:
            return
        self._ending = True
        self._channel.record(self.id, "out", Payload("close", close=(code, reason)))
        # A client that went first ends the conversation all the same.
        with contextlib.suppress(ConnectionError):
            await self.close(code=code, message=reason.encode())
