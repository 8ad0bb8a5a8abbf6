"""The `sse` response: a `text/event-stream` of scripted and pushed events.

Each request gets its own stream (`SseStream`): aiohttp sends the status line and
headers at once (`prepare`), then calls `write_eof`, where the stream runs. It sends
the scripted events each `delay_ms` after the previous one, any event pushed meanwhile
at once (`POST .../handlers/{name}/events`), a comment line (`: heartbeat`) whenever it
has been idle `heartbeat_ms`, and ends after the last scripted event, unless
`keep_open`, in which case it waits for pushes until the client leaves, the session is
reset or deleted, or the server stops. Every event goes out in one write, flushed.

`drop_after` closes the connection abruptly once that many events went out (no end
of the chunked body: the client sees the stream break, as from a crashed server).

A reconnecting client sends `Last-Event-ID`: the journal entry's headers keep it, and
when it names the `id` of a scripted event, the script resumes after that event.

Framing (the WHATWG event-stream format): optional `: comment` lines, `event:`, `id:`,
`retry:`, then one `data:` line per line of the data (any of CRLF, CR, LF splits it),
then a blank line. Data that is not a string is sent as its JSON text. All of it is
encoded once, at registration.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from multidict import CIMultiDict

from controlplane import wire
from controlplane.request_view import RequestView
from controlplane.responses.delays import DelaySampler, compile_delay
from controlplane.responses.outcome import Outcome, ResponseSpecError
from controlplane.responses.streams import Channel, Payload
from controlplane.responses.templating import (
    Rendering,
    TemplateFailure,
    TemplateSyntaxError,
    compile_value,
    render_value,
    template_failed,
)

__all__ = ["SseResponder", "SseStream", "encode_event"]

_LINES = re.compile(r"\r\n|\r|\n")
_HEARTBEAT: Final = b": heartbeat\n\n"
#: A pushed event, encoded once for every stream it goes to: its HTTP chunk (the
#: event with the chunked framing around it) and what the frame log records.
Pushed = tuple[bytes, Payload]
#: A scripted event: seconds to wait before it, its encoding, what the log records.
ScriptStep = tuple[float, bytes, Payload]


def encode_event(event: wire.SseEvent) -> bytes:
    """`event` in the event-stream format, blank line included."""
    lines: list[str] = []
    if event.comment is not None:
        lines.extend(": " + line for line in _LINES.split(event.comment))
    if event.event is not None:
        lines.append("event: " + event.event)
    if event.id is not None:
        lines.append("id: " + event.id)
    if event.retry is not None:
        lines.append(f"retry: {event.retry}")
    if event.data is not wire.UNSET:
        lines.extend("data: " + line for line in _LINES.split(data_text(event)))
    return ("\n".join(lines) + "\n\n").encode()


def data_text(event: wire.SseEvent) -> str:
    """The event's data as sent: a string as is, anything else as JSON text."""
    data = event.data
    return data if isinstance(data, str) else msgspec.json.encode(data).decode()


class SseResponder:
    """Compiled once: the encoded script, the headers, where a resumed stream starts."""

    def __init__(self, spec: wire.SseResponse, channel: Channel) -> None:
        self.spec = spec
        self.channel = channel
        self.script = tuple(
            (event.delay_ms / 1000, encode_event(event), _payload(event)) for event in spec.events
        )
        #: Last-Event-ID -> index of the next scripted event (the last event with an id wins).
        self.resume_at = {
            event.id: index + 1 for index, event in enumerate(spec.events) if event.id is not None
        }
        self.headers: CIMultiDict[str] = CIMultiDict()
        for name, value in spec.headers.items():
            for item in [value] if isinstance(value, str) else value:
                self.headers.add(name, item)
        self.headers.setdefault("Content-Type", "text/event-stream")
        self.headers.setdefault("Cache-Control", "no-cache")
        self.heartbeat = None if spec.heartbeat_ms is None else spec.heartbeat_ms / 1000
        self._delay: DelaySampler = compile_delay(spec.delay)

        #: With `template: true`, each event's compiled `data` (None: no template in it).
        self._templates: tuple[Any, ...] = ()
        if spec.template is True:
            self._templates = tuple(
                _compiled_data(event, index) for index, event in enumerate(spec.events)
            )
            if all(t is None for t in self._templates):
                self._templates = ()

    def answer(self, view: RequestView) -> Outcome:
        last_id = view.headers.get("Last-Event-ID")
        start = 0 if last_id is None else self.resume_at.get(last_id, 0)
        if not self._templates:
            return Outcome(SseStream(self, start), 200, "sse", self._delay())
        placeholder = Outcome(web.Response(status=500), 500, "sse", self._delay())

        async def render(request: web.BaseRequest, params: Mapping[str, str]) -> Outcome:
            placeholder.render = None  # no cycle left for the garbage collector
            try:
                script = self._rendered_script(Rendering(view, params))
            except TemplateFailure as exc:
                return template_failed(exc, "sse", placeholder.delay_ms)
            return Outcome(SseStream(self, start, script), 200, "sse", placeholder.delay_ms)

        placeholder.render = render
        return placeholder

    def _rendered_script(self, rendering: Rendering) -> tuple[ScriptStep, ...]:
        steps = []
        for step, event, data in zip(self.script, self.spec.events, self._templates, strict=True):
            if data is not None:
                event = msgspec.structs.replace(event, data=render_value(data, rendering))
                step = (step[0], encode_event(event), _payload(event))
            steps.append(step)
        return tuple(steps)


def _compiled_data(event: wire.SseEvent, index: int) -> Any:
    """The event's `data` compiled as a template, or None when it holds none."""
    if event.data is wire.UNSET:
        return None
    try:
        compiled = compile_value(event.data)
    except TemplateSyntaxError as exc:
        raise ResponseSpecError(exc.message, f".events[{index}].data{exc.at}") from None
    return None if compiled is event.data else compiled


class SseStream(web.StreamResponse):
    """One client's event stream; runs in `write_eof`, registered while it runs.

    A push is written by the admin request that makes it, straight to the connection
    (`push`: the chunk is encoded once for every stream; nothing waits for a client),
    while the stream's own task sends the script and heartbeats through aiohttp.
    """

    kind: Final = "sse"

    def __init__(
        self,
        responder: SseResponder,
        start: int,
        script: tuple[ScriptStep, ...] | None = None,
    ) -> None:
        super().__init__(status=200, headers=responder.headers)
        #: The scripted events: the responder's, or rendered for this request.
        self._script = responder.script if script is None else script
        self.enable_chunked_encoding()
        self.id = responder.channel.new_id()
        self._responder = responder
        self._first = start
        #: Set to end the stream cleanly (`end`).
        self._ended = asyncio.Event()
        self._sent = 0
        #: When an event or heartbeat last went out (loop time): heartbeats fill the gaps.
        self._last_write = 0.0
        self._transport: asyncio.Transport | None = None
        #: Pushes made before the headers went out (None once they have).
        self._early: list[Pushed] | None = []
        self._end_reason: str | None = None

    @staticmethod
    def encode_push(item: wire.SseEvent) -> Pushed:
        encoded = encode_event(item)
        return b"%x\r\n%b\r\n" % (len(encoded), encoded), _payload(item)

    def push(self, encoded: Pushed) -> None:
        transport = self._transport
        if transport is None:
            if self._early is not None:
                self._early.append(encoded)
            return
        if transport.is_closing() or self._end_reason is not None:
            return  # ending: its close is recorded by `write_eof`
        if self._sent_all_it_may():
            return  # `drop_after` reached: the connection is being cut
        chunk, payload = encoded
        # Recorded first: whatever a client has read is already in the log.
        self._responder.channel.record(self.id, "out", payload)
        # The headers went out in `prepare` and the body is chunked: one chunk, one
        # write, so it never splits a scripted event that aiohttp writes.
        transport.write(chunk)
        self._last_write = asyncio.get_running_loop().time()
        self._sent += 1
        if self._sent_all_it_may():
            # aiohttp cancels the stream's task once the connection is lost, and
            # `write_eof` records the drop.
            transport.close()

    async def end(self, code: int, reason: str) -> None:
        if self._end_reason is None:  # the first reason to end it is the one recorded
            self._end_reason = reason
            self._ended.set()

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        # Registered before the headers go out, in the loop step that returned the
        # answer: a push made once the call is journaled reaches this stream, unless a
        # `delay` still holds the answer back.
        self._responder.channel.opened(self)
        try:
            writer = await super().prepare(request)
        except BaseException:
            self._responder.channel.closed(self)
            self._early = None
            raise
        # Pushes write to the transport once the headers are out; any made meanwhile now.
        self._transport = request.transport
        early, self._early = self._early or [], None
        for pushed in early:
            self.push(pushed)
        return writer

    async def write_eof(self, data: bytes = b"") -> None:
        if self._transport is not None:  # once: aiohttp may call write_eof again
            channel = self._responder.channel
            try:
                await self._run()
            except (ConnectionError, asyncio.CancelledError):
                if self._sent_all_it_may():
                    channel.record(self.id, "out", Payload("close", close=(None, "drop_after")))
                else:  # the client left: a write failed, or aiohttp cancelled us
                    channel.record(self.id, "in", Payload("close", close=(None, "client left")))
                raise
            else:
                reason = "end of events" if self._end_reason is None else self._end_reason
                channel.record(self.id, "out", Payload("close", close=(None, reason)))
            finally:
                channel.closed(self)
                self._transport = None
        await super().write_eof(data)

    async def _run(self) -> None:
        responder = self._responder
        loop = asyncio.get_running_loop()
        script = self._script[self._first :]
        heartbeat = responder.heartbeat
        keep_open = responder.spec.keep_open
        self._check_drop()
        position = 0
        now = self._last_write = loop.time()
        due = now + script[0][0] if script else 0.0
        while position < len(script) or keep_open:
            wake = due if position < len(script) else None
            if heartbeat is not None:
                beat = self._last_write + heartbeat
                wake = beat if wake is None else min(wake, beat)
            if self._ended.is_set():
                return
            try:
                if wake is None:
                    await self._ended.wait()
                else:
                    await asyncio.wait_for(self._ended.wait(), max(0.0, wake - now))
            except TimeoutError:
                pass
            else:
                return
            now = loop.time()
            if position < len(script) and now >= due:
                _, encoded, payload = script[position]
                position += 1
                if position < len(script):
                    due = now + script[position][0]
                await self._send(encoded, payload)
            elif heartbeat is not None and now >= self._last_write + heartbeat:
                await self.write(_HEARTBEAT)
            else:
                continue  # a push went out meanwhile: the heartbeat is due later
            self._last_write = now

    async def _send(self, encoded: bytes, payload: Payload) -> None:
        # Recorded first: whatever a client has read is already in the log.
        self._responder.channel.record(self.id, "out", payload)
        await self.write(encoded)
        self._sent += 1
        self._check_drop()

    def _sent_all_it_may(self) -> bool:
        drop_after = self._responder.spec.drop_after
        return drop_after is not None and self._sent >= drop_after

    def _check_drop(self) -> None:
        """At `drop_after` events, close the connection without ending the body."""
        if not self._sent_all_it_may():
            return
        if self._transport is not None:
            self._transport.close()  # flushes what was written, then FIN
        raise ConnectionResetError(f"sse stream dropped after {self._sent} events (drop_after)")


def _payload(event: wire.SseEvent) -> Payload:
    """What the frame log records of an event: its data as sent, and the event."""
    return Payload("event", None if event.data is wire.UNSET else data_text(event), event)
