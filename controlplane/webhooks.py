"""Webhooks: the HTTP calls a route makes after its answer has been sent.

    compile_webhooks(specs) -> Hooks       at registration: url, header values and
                                           body compiled as templates (a syntax error
                                           is a `WebhookSpecError`, a 422 at its field)
    Webhooks.fire(log, hooks, ...)         per request, after the mock response was
                                           written: one task per webhook, never awaited
    WebhookLog                             per session: the calls made, oldest first,
                                           bounded like the journal (`--journal-size`)

`Webhooks` is the server's one sender: a single `aiohttp.ClientSession` (made on the
first call, closed by `close` at shutdown), at most `MAX_IN_FLIGHT` calls on the wire
at once (a semaphore: the rest wait their turn), at most `MAX_PENDING` calls started
and not finished (waiting out a `delay`, waiting for a place, or sending); a call
beyond that is not made and is recorded as `overloaded`. Every call is bounded by its
webhook's `timeout_ms`. Templates see the request that triggered the call as
`originalRequest` (WireMock's name) and as `request` (the response templates' name).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any, Final

import aiohttp
import msgspec
from multidict import CIMultiDict

from controlplane import wire
from controlplane.journal import iso_utc
from controlplane.logs import get_logger
from controlplane.request_view import RequestView
from controlplane.responses.delays import DelaySampler, compile_delay
from controlplane.responses.templating import (
    Rendering,
    Template,
    TemplateFailure,
    TemplateSyntaxError,
    compile_value,
    render_headers,
    render_value,
)

__all__ = [
    "MAX_IN_FLIGHT",
    "MAX_PENDING",
    "CompiledWebhook",
    "Hooks",
    "WebhookLog",
    "WebhookSpecError",
    "Webhooks",
    "compile_webhooks",
]

_log = get_logger("webhooks")

#: Webhook calls on the wire at once, for the whole server.
MAX_IN_FLIGHT: Final = 16
#: Webhook calls started and not finished (delayed, waiting or sending), for the whole
#: server; a call beyond this is recorded as `overloaded` and not made.
MAX_PENDING: Final = 1_000


class WebhookSpecError(ValueError):
    """A webhook whose templates do not compile; `at` is where (`[0].body`)."""

    def __init__(self, message: str, at: str) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


class CompiledWebhook:
    """One webhook, ready to render and send."""

    __slots__ = (
        "_body",
        "_headers",
        "_json",
        "_url",
        "delay",
        "index",
        "method",
        "timeout",
    )

    def __init__(self, spec: wire.Webhook, index: int) -> None:
        self.index = index
        self.method = spec.method
        self.delay: DelaySampler = compile_delay(spec.delay)
        self.timeout = spec.timeout_ms / 1000
        self._url: str | Template = _compiled(spec.url, f"[{index}].url")
        headers: list[tuple[str, str | Template]] = []
        for name, value in spec.headers.items():
            at = f"[{index}].headers[{msgspec.json.encode(name).decode()}]"
            for item in [value] if isinstance(value, str) else value:
                headers.append((name, _compiled(item, at)))
        has_type = any(name.lower() == "content-type" for name, _ in headers)
        #: The body: bytes as they are, a `Template` (text) or None (no body).
        self._body: bytes | Template | None = None
        #: A JSON body with templates in it (`compile_value`), rendered then encoded.
        self._json: Any = None
        if spec.body_base64 is not None:
            self._body = base64.b64decode(spec.body_base64)
        elif spec.body is not None:
            body = _compiled(spec.body, f"[{index}].body")
            self._body = body.encode() if isinstance(body, str) else body
        elif spec.json is not wire.UNSET:
            try:
                compiled = compile_value(spec.json)
            except TemplateSyntaxError as exc:
                raise WebhookSpecError(exc.message, f"[{index}].json{exc.at}") from None
            if compiled is spec.json:
                self._body = msgspec.json.encode(spec.json)
            else:
                self._json = compiled
            if not has_type:
                headers.append(("Content-Type", "application/json"))
        self._headers = tuple(headers)

    def render(self, rendering: Rendering) -> tuple[str, CIMultiDict[str], bytes | None]:
        """(url, headers, body) for one call; raises `TemplateFailure`, or `ValueError`
        when the rendered url is not an absolute http(s) URL."""
        url = self._url if isinstance(self._url, str) else self._url.render(rendering)
        if isinstance(self._url, Template):
            wire.check_webhook_url(url, "url")
        headers = render_headers(self._headers, rendering)
        body = self._body
        if isinstance(body, Template):
            body = body.render(rendering).encode()
        elif self._json is not None:
            try:
                body = msgspec.json.encode(render_value(self._json, rendering))
            except (TypeError, ValueError, msgspec.EncodeError) as exc:
                raise TemplateFailure(f"the rendered body cannot be encoded: {exc}") from exc
        return url, headers, body


def _compiled(text: str, at: str) -> str | Template:
    try:
        compiled: str | Template = compile_value(text)
    except TemplateSyntaxError as exc:
        raise WebhookSpecError(exc.message, at) from None
    return compiled


#: A route's compiled webhooks, in order.
Hooks = tuple[CompiledWebhook, ...]


def compile_webhooks(specs: list[wire.Webhook]) -> Hooks:
    """Compile a route's `webhooks`; raises `WebhookSpecError` (its `at` is `[i].field`)."""
    return tuple(CompiledWebhook(spec, index) for index, spec in enumerate(specs))


class WebhookLog:
    """One session's webhook calls, oldest first; the oldest go past `size`."""

    def __init__(self, session_id: str, size: int) -> None:
        self.session_id = session_id
        self._calls: deque[wire.WebhookCall] = deque(maxlen=size)
        self._seq = itertools.count(1)
        #: Calls dropped to keep `size` since the last `clear`.
        self.evicted = 0
        #: Calls started and not recorded yet.
        self.pending = 0

    def record(
        self,
        route_id: str,
        handler: str,
        hook: CompiledWebhook,
        url: str,
        started: float,
        duration: float,
        status: int | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> wire.WebhookCall:
        calls = self._calls
        if len(calls) == calls.maxlen:
            self.evicted += 1
        call = wire.WebhookCall(
            id=str(uuid.uuid4()),
            seq=next(self._seq),
            time=iso_utc(started),
            session=self.session_id,
            route_id=route_id,
            handler=handler,
            webhook=hook.index,
            method=hook.method,
            url=url,
            status=status,
            error=error,
            message=message,
            duration_ms=round(duration * 1000, 3),
        )
        calls.append(call)
        return call

    def clear(self) -> None:
        self._calls.clear()
        self.evicted = 0

    def __iter__(self) -> Iterator[wire.WebhookCall]:
        return iter(self._calls)

    def describe(self) -> wire.WebhookList:
        return wire.WebhookList(
            webhooks=list(self._calls), pending=self.pending, evicted=self.evicted
        )


class Webhooks:
    """The server's webhook sender: one client session, bounded concurrency, its tasks."""

    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT, max_pending: int = MAX_PENDING) -> None:
        self._client: aiohttp.ClientSession | None = None
        self._places = asyncio.Semaphore(max_in_flight)
        self._max_pending = max_pending
        self._tasks: set[asyncio.Task[None]] = set()

    def fire(
        self,
        log: WebhookLog,
        hooks: Hooks,
        view: RequestView,
        params: Mapping[str, str],
        route_id: str,
        handler: str,
    ) -> None:
        """Start one call per webhook (the mock response has been sent already)."""
        for hook in hooks:
            if len(self._tasks) >= self._max_pending:
                log.record(
                    route_id,
                    handler,
                    hook,
                    "",
                    time.time(),
                    0.0,
                    error="overloaded",
                    message=f"{self._max_pending} webhook calls are under way already: "
                    "this one was not made",
                )
                _log.warning("webhook_overloaded", session=log.session_id, route_id=route_id)
                continue
            log.pending += 1
            task = asyncio.get_running_loop().create_task(
                self._call(log, hook, view, params, route_id, handler)
            )
            self._tasks.add(task)
            # Not a `finally` in `_call`: a task cancelled before its first step never
            # runs its body.
            task.add_done_callback(partial(self._done, log))

    def _done(self, log: WebhookLog, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        log.pending -= 1

    async def _call(
        self,
        log: WebhookLog,
        hook: CompiledWebhook,
        view: RequestView,
        params: Mapping[str, str],
        route_id: str,
        handler: str,
    ) -> None:
        delay = hook.delay()
        if delay:
            await asyncio.sleep(delay / 1000)
        async with self._places:
            started, clock = time.time(), time.monotonic()
            url, status, error, message = await self._send(hook, view, params)
            duration = time.monotonic() - clock
        call = log.record(route_id, handler, hook, url, started, duration, status, error, message)
        _log.info(
            "webhook_called",
            session=log.session_id,
            route_id=route_id,
            webhook=hook.index,
            method=hook.method,
            url=url,
            status=status,
            error=error,
            duration_ms=call.duration_ms,
        )

    async def _send(
        self, hook: CompiledWebhook, view: RequestView, params: Mapping[str, str]
    ) -> tuple[str, int | None, str | None, str | None]:
        """(url, status, error, message) of one call."""
        rendering = Rendering(view, params)
        rendering.root["originalRequest"] = rendering.root["request"]
        try:
            url, headers, body = hook.render(rendering)
        except TemplateFailure as exc:
            return "", None, exc.code, exc.message
        except ValueError as exc:
            return "", None, "invalid_url", str(exc)
        try:
            async with asyncio.timeout(hook.timeout):
                request = self._session().request(
                    hook.method, url, headers=headers, data=body, allow_redirects=False
                )
                async with request as answer:
                    return url, answer.status, None, None
        except TimeoutError:
            return url, None, "timeout", f"no answer within {hook.timeout * 1000:g} ms"
        except aiohttp.InvalidURL as exc:
            return url, None, "invalid_url", f"not a URL aiohttp can call: {exc}"
        except aiohttp.ClientConnectorError as exc:
            return url, None, "unreachable", f"cannot connect: {exc.os_error or exc}"
        except aiohttp.ClientError as exc:
            return url, None, "connection_error", f"{type(exc).__name__}: {exc}"

    def _session(self) -> aiohttp.ClientSession:
        client = self._client
        if client is None or client.closed:
            client = self._client = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=False,
            )
        return client

    async def close(self) -> None:
        """Cancel the calls under way, wait for them, close the client session (shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None
