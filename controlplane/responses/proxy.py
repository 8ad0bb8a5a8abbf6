"""The `proxy` response: forward the request to an origin and relay what it answers.

Built for "stub these endpoints, pass the rest to staging" and for recording. The
contract (DESIGN.md, "Talking to real services"):

- the request goes out with its method, raw path (less the session prefix and
  `strip_prefix`, appended to the url's path), raw query, body and headers; hop-by-hop
  headers (RFC 9110 §7.6.1, and every header `Connection` names) are dropped, nothing
  of ours is added (no `User-Agent`, no `Accept-Encoding`), `Host` is the origin's
  unless `preserve_host`, the session header `X-Controlplane-Session` stays with us;
  `headers` then sets and `remove_headers` removes;
- the origin's status, reason, headers (less hop-by-hop) and body come back as they
  are, streamed as they arrive: a gzip body stays gzip with its length, a
  `text/event-stream` reaches the client event by event, a redirect is returned;
- an origin that cannot be reached answers 502 (`proxy_unreachable`), one that does
  not connect or answer within `timeout_ms` 504 (`proxy_timeout`), each with the
  admin API's error shape; one that breaks off mid-body has the client's connection
  closed, as the origin closed ours.

Requests go out through the hop client (`hop.py`): pooled keep-alive connections per
origin and TLS configuration (`Upstreams`), closed when the server stops.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from functools import partial
from typing import Any

import msgspec
from aiohttp import web

from controlplane import wire
from controlplane.journal import OriginAnswer
from controlplane.logs import get_logger
from controlplane.request_view import RequestView
from controlplane.responses import hop
from controlplane.responses.delays import DelaySampler, compile_delay, no_delay
from controlplane.responses.hop import HOP_BY_HOP, TlsKey, Upstreams
from controlplane.responses.one_write import Relayed
from controlplane.responses.outcome import Outcome, ResponseSpecError, error_body
from controlplane.responses.templating import (
    Rendering,
    Template,
    TemplateFailure,
    TemplateSyntaxError,
    compile_template,
    compile_value,
    has_mustache,
    render_headers,
    template_failed,
)

__all__ = ["HOP_BY_HOP", "ProxyResponder", "Upstreams"]

_log = get_logger("proxy")

#: Not forwarded to the origin: its own `Host` is set, the body's length is recomputed
#: (the body is read whole before forwarding), and the session header is ours.
_REQUEST_ONLY = frozenset(("host", "content-length", "x-controlplane-session"))
#: Idempotent methods (RFC 9110 §9.2.2): the hop may send one again on a fresh connection.
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
#: Methods whose request carries a `Content-Length` even when the body is empty.
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_JSON = {"Content-Type": "application/json"}
#: Bodies of a known length up to this are read whole and sent with the headers.
_SEND_WHOLE = 64 * 1024


def _tls_key(spec: wire.ProxyResponse) -> TlsKey:
    return (spec.insecure, spec.ca_file, spec.client_cert, spec.client_key)


def _ssl_for(spec: wire.ProxyResponse) -> ssl.SSLContext:
    """The TLS settings for the origin, read now so a bad file is refused at registration."""
    field = ".ca_file"
    try:
        context = ssl.create_default_context(cafile=spec.ca_file)
        if spec.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if spec.client_cert is not None:
            field = ".client_cert"
            context.load_cert_chain(spec.client_cert, spec.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise ResponseSpecError(
            f"cannot load {field[1:]}: {getattr(exc, 'strerror', None) or exc}", field
        ) from None
    return context


def _encode_headers(headers: Mapping[str, str]) -> bytes:
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())


def _split_base(base: str) -> tuple[str, str]:
    """`http://h:1/a` -> (`http://h:1`, `/a`); `http://h:1` -> (`http://h:1`, "")."""
    slash = base.find("/", base.index("://") + 3)
    return (base, "") if slash < 0 else (base[:slash], base[slash:])


def _named_by_connection(raw_headers: tuple[tuple[bytes, bytes], ...]) -> frozenset[bytes]:
    """The lower-case header names the request's `Connection` headers list."""
    return frozenset(
        name.strip().lower()
        for key, value in raw_headers
        if key.lower() == b"connection"
        for name in value.split(b",")
        if name.strip()
    )


class ProxyResponder:
    """Compiled once per registration: the origin's URL parts, TLS and timeouts."""

    def __init__(self, spec: wire.ProxyResponse, upstreams: Upstreams) -> None:
        self.spec = spec
        self._upstreams = upstreams
        self._tls_key = _tls_key(spec)
        self._tls = _ssl_for(spec)
        self._base = spec.url.rstrip("/")
        self._strip = spec.strip_prefix.rstrip("/") if spec.strip_prefix else ""
        self._timeout = spec.timeout_ms / 1000
        self._preserve_host = spec.preserve_host
        self._set = _encode_headers(spec.headers)
        # `template: true`: the url and header values rendered per request (None: static).
        self._url_template: Template | None = None
        self._header_templates: tuple[tuple[str, Any], ...] = ()
        if spec.template is True:
            self._compile_templates(spec)
        #: A static url split once: its origin (`scheme://authority`) and path ("" or
        #: "/a/b"), and that origin's pool, looked up on first use.
        self._origin, self._prefix = ("", "") if self._url_template else _split_base(self._base)
        self._pool: hop.Pool | None = None
        remove = (*spec.remove_headers, *spec.headers, *HOP_BY_HOP, *_REQUEST_ONLY)
        #: Request headers not forwarded (lower-case bytes, as `raw_headers` names them).
        self._drop = frozenset(name.lower().encode() for name in remove)
        self._delay: DelaySampler = compile_delay(spec.delay)
        self._placeholder = web.Response(status=502)

    def _compile_templates(self, spec: wire.ProxyResponse) -> None:
        where = ".url"
        try:
            if has_mustache(spec.url):
                self._url_template = compile_template(spec.url)
            templates: list[tuple[str, Any]] = []
            for name, value in spec.headers.items():
                where = f".headers[{msgspec.json.encode(name).decode()}]"
                templates.append((name, compile_value(value)))
        except TemplateSyntaxError as exc:
            raise ResponseSpecError(exc.message, where) from None
        if not all(isinstance(value, str) for _, value in templates):
            self._header_templates = tuple(templates)

    def answer(self, view: RequestView) -> Outcome:
        delay = self._delay
        outcome = Outcome(self._placeholder, 502, "proxy", 0.0 if delay is no_delay else delay())
        # A partial, not a closure: no frame of its own per request. `_forward` unlinks
        # it first: the outcome and its `render` would otherwise be a cycle (holding the
        # request) that only the garbage collector frees.
        outcome.render = partial(self._forward, outcome, view)
        return outcome

    def _base_for(self, rendering: Rendering) -> str:
        """The origin's base URL: the templated one rendered and checked, or the static one."""
        if self._url_template is None:
            return self._base
        url = self._url_template.render(rendering)
        try:
            wire.check_origin_url(url, "url")
        except ValueError as exc:
            raise TemplateFailure(f"the templated proxy url rendered to {url!r}: {exc}") from None
        return url.rstrip("/")

    def destination(self, request: web.BaseRequest, view: RequestView) -> tuple[str, str]:
        """Where this request goes without templates: the origin (`scheme://authority`)
        and the target (the url's path, then the raw path less prefixes, raw query kept)."""
        return self._origin, self._prefix + self._target_path(request, view)

    def _target(self, request: web.BaseRequest, view: RequestView, base: str) -> str:
        """The origin URL for this request under a rendered base url."""
        return base + self._target_path(request, view)

    def _target_path(self, request: web.BaseRequest, view: RequestView) -> str:
        """The request's raw path less the session prefix and `strip_prefix`, raw query kept."""
        raw = request.raw_path
        if raw[0] != "/":  # a forward-proxy request (absolute-form): its target's path
            raw = request.rel_url.raw_path_qs
        cut = len(request.path) - len(view.path)  # the session prefix's length, if any
        if not cut and not self._strip:
            return raw  # the common case: the raw path and query as they came
        raw_path, _, raw_query = raw.partition("?")
        prefix = request.path[:cut]
        if prefix and raw_path.startswith(prefix):
            raw_path = raw_path[len(prefix) :] or "/"
        if self._strip and (raw_path == self._strip or raw_path.startswith(self._strip + "/")):
            raw_path = raw_path[len(self._strip) :]
        return raw_path + "?" + raw_query if raw_query else raw_path

    def _request(
        self,
        request: web.BaseRequest,
        method: str,
        body: bytes,
        path: str,
        host: bytes,
        extra: bytes,
    ) -> bytes:
        """The request as the origin receives it, head and body in one buffer."""
        raw = request.raw_headers
        drop = self._drop
        if self._preserve_host:
            host = next((v for n, v in raw if n.lower() == b"host"), host)
        parts = [f"{method} {path} HTTP/1.1\r\nHost: ".encode("utf-8", "surrogateescape")]
        parts.append(host)
        parts.append(b"\r\n")
        named = False
        for name, value in raw:
            lower = name.lower()
            if lower not in drop:
                parts += (name, b": ", value, b"\r\n")
            elif lower == b"connection":
                named = True
        if named:  # and drop what `Connection` names (rare: start again, without them)
            drop = drop | _named_by_connection(raw)
            del parts[3:]
            for name, value in raw:
                if name.lower() not in drop:
                    parts += (name, b": ", value, b"\r\n")
        parts.append(extra)
        if body or method in _BODY_METHODS or request.body_exists:
            parts.append(b"Content-Length: %d\r\n\r\n" % len(body))
            parts.append(body)
        else:
            parts.append(b"\r\n")
        return b"".join(parts)

    async def _forward(
        self,
        outcome: Outcome,
        view: RequestView,
        request: web.BaseRequest,
        params: Mapping[str, str],
    ) -> Outcome:
        """The origin's answer as `outcome` (the one `answer` made, filled in), or an error."""
        outcome.render = None  # see `answer`
        # Read when rendered: an enclosing sequence adds its own delay after `answer`.
        delay_ms = outcome.delay_ms
        if self._url_template is None and not self._header_templates:
            origin_url, path = self.destination(request, view)
            extra = self._set
            pool = self._pool
            # Not always the static url's origin: the forward proxy's pass-through
            # (`forward_proxy._PassThrough`) gives each request its own destination.
            if pool is None or pool.closed or pool.origin != origin_url:
                pool = self._pool = self._upstreams.pool(origin_url, self._tls_key, self._tls)
        else:
            rendering = Rendering(view, params)
            try:
                url = self._target(request, view, self._base_for(rendering))
                extra = (
                    _encode_headers(render_headers(self._header_templates, rendering))
                    if self._header_templates
                    else self._set
                )
            except TemplateFailure as exc:
                return template_failed(exc, "proxy", delay_ms)
            origin_url, path = hop.split_url(url)
            pool = self._upstreams.pool(origin_url, self._tls_key, self._tls)
        method = view.method  # the request's, read once by the handler
        head_only = method == "HEAD"
        try:
            answer = await pool.send(
                self._request(request, method, view.body, path, pool.host, extra),
                head_only,
                method in _IDEMPOTENT,
                self._timeout,
                _SEND_WHOLE,
            )
        except hop.TimedOut:
            url = origin_url + path
            return self._failed(
                504,
                "proxy_timeout",
                f"no answer from {url} within {self.spec.timeout_ms:g} ms (`timeout_ms`)",
                delay_ms,
            )
        except hop.Unreachable as exc:
            message = f"cannot reach {origin_url + path}: {exc}"
            return self._failed(502, "proxy_unreachable", message, delay_ms)
        except hop.Broken as exc:
            message = f"{origin_url + path} broke off its answer: {exc}"
            return self._failed(502, "proxy_broken", message, delay_ms)
        # The journal's copy keeps the header lines as relayed, decoded if ever read.
        outcome.origin = origin = OriginAnswer(answer.status, answer.reason, lines=answer.lines)
        outcome.status = status = answer.status
        body = answer.body
        if body is not None and not head_only and status not in (204, 304):
            # A small body of known length goes out with the head, built as bytes from
            # the origin's header lines, in one write.
            origin.whole(body)
            whole: web.StreamResponse | None = Relayed.build(
                request,
                status,
                answer.reason,
                answer.lines,
                answer.names,
                answer.length,
                body,
            )
            if whole is None:
                whole = web.Response(
                    body=body, status=status, reason=answer.reason, headers=origin.headers
                )
            outcome.response = whole
        else:
            outcome.response = _Relay(answer, origin_url + path, origin)
        return outcome

    def _failed(self, status: int, code: str, message: str, delay_ms: float) -> Outcome:
        _log.info(code, url=self.spec.url, message=message)
        response = web.Response(status=status, body=error_body(code, message), headers=_JSON)
        return Outcome(response, status, "proxy", delay_ms, code)


class _Relay(web.StreamResponse):
    """The origin's answer: status and headers now, the body streamed when aiohttp sends it.

    Each chunk is written to the client and added to `origin` (the journal's copy, cut
    to the journal's body limit), so nothing waits for the whole body.
    """

    def __init__(self, answer: hop.Answer, url: str, origin: OriginAnswer) -> None:
        super().__init__(status=answer.status, reason=answer.reason, headers=origin.headers)
        self._answer = answer
        self._url = url
        self._origin = origin

    def __del__(self) -> None:
        # Never sent (the handler was cancelled during a delay, its client gone): the
        # origin's connection would otherwise wait, paused, for a reader until shutdown.
        self._answer.discard()

    async def write_eof(self, data: bytes = b"") -> None:
        answer = self._answer
        origin = self._origin
        try:
            while chunk := await answer.read():
                origin.add(chunk)
                await self.write(chunk)
        except hop.Broken as exc:
            _log.info("proxy_broken", url=self._url, error=str(exc))
            # aiohttp closes the client's connection on a ConnectionError, without a
            # traceback: the client sees the body end early, as we did.
            raise ConnectionResetError(f"the origin {self._url} broke off its answer") from exc
        except BaseException:
            answer.discard()  # the client went away: stop reading from the origin
            raise
        origin.complete = True
        await super().write_eof(data)
