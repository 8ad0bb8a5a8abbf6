"""Static responses (json, raw, msgpack, yaml, toml): encoded once, answered cheaply.

Everything that does not change between requests (the body bytes, the header
multidict) is built in `compile_body`; `BodyResponder.answer` only constructs the
`web.Response`. Passing a prebuilt `CIMultiDict` is the cheapest public way aiohttp
accepts headers (it copies it, which it must: it adds Content-Length, Date, Server).

An answer that never changes (no template, delay or dribble) is also encoded whole,
status line to body, once (on first use), as `BodyResponder.one_write`
(`controlplane.responses.one_write`): the mock handler sends that in one write, with
no response built per request.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
from aiohttp import web
from multidict import CIMultiDict

from controlplane import wire
from controlplane.request_view import RequestView
from controlplane.responses.delays import DelaySampler, compile_delay, no_delay
from controlplane.responses.files import BodyFiles, no_files
from controlplane.responses.one_write import Canned
from controlplane.responses.outcome import Outcome, ResponseSpecError
from controlplane.responses.templating import (
    Rendering,
    TemplateFailure,
    TemplateSyntaxError,
    compile_value,
    has_mustache,
    render_headers,
    render_value,
    template_failed,
)

__all__ = [
    "BodyResponder",
    "BodySpec",
    "DribbledResponse",
    "TemplatedResponder",
    "compile_body",
    "encode_body",
]

BodySpec = (
    wire.JsonResponse
    | wire.RawResponse
    | wire.MsgpackResponse
    | wire.YamlResponse
    | wire.TomlResponse
)

_CONTENT_TYPES: Final[dict[str, str]] = {
    "json": "application/json",
    "msgpack": "application/msgpack",
    "yaml": "application/yaml",
    "toml": "application/toml",
}
_ENCODERS: Final[dict[str, Callable[[Any], bytes]]] = {
    "json": msgspec.json.encode,
    "msgpack": msgspec.msgpack.encode,
    "yaml": msgspec.yaml.encode,
    "toml": msgspec.toml.encode,
}
# TOML integers are signed 64-bit (TOML 1.0, "Integer").
_TOML_INT_MIN: Final = -(2**63)
_TOML_INT_MAX: Final = 2**63 - 1


class DribbledResponse(web.StreamResponse):
    """A body sent as chunked-encoding pieces with pauses between them.

    aiohttp calls `prepare` (status line and headers go out) and then `write_eof`,
    which is where the pieces are written, one per interval; other requests are
    served during the pauses.
    """

    def __init__(
        self,
        *,
        status: int,
        reason: str | None,
        headers: CIMultiDict[str],
        pieces: tuple[bytes, ...],
        interval: float,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        self.enable_chunked_encoding()
        self._pieces = pieces
        self._interval = interval

    async def write_eof(self, data: bytes = b"") -> None:
        pieces, self._pieces = self._pieces, ()
        for piece in pieces:
            await asyncio.sleep(self._interval)
            await self.write(piece)
        await super().write_eof(data)


def _split(body: bytes, chunks: int) -> tuple[bytes, ...]:
    """`body` in `chunks` nearly equal, non-empty pieces (fewer when it is shorter)."""
    count = max(1, min(chunks, len(body)))
    size, extra = divmod(len(body), count)
    pieces: list[bytes] = []
    start = 0
    for index in range(count):
        stop = start + size + (1 if index < extra else 0)
        pieces.append(body[start:stop])
        start = stop
    return tuple(pieces)


def _dribbled(
    body: bytes, dribble: wire.ChunkedDribble | None
) -> tuple[tuple[bytes, ...] | None, float]:
    """The pieces of a dribbled body and the pause before each (None: not dribbled)."""
    if dribble is None:
        return None, 0.0
    pieces = _split(body, dribble.chunks)
    return pieces, dribble.total_ms / 1000 / len(pieces)


class BodyResponder:
    """Answers every request with the same status, headers and prebuilt body."""

    __slots__ = (
        "_body",
        "_cannable",
        "_canned",
        "_close",
        "_delay",
        "_dribble",
        "_headers",
        "_interval",
        "_reason",
        "_status",
        "_type",
        "spec",
    )

    def __init__(self, spec: BodySpec, body: bytes, headers: CIMultiDict[str]) -> None:
        self.spec: wire.AnyResponse = spec
        self._type: str = spec.__struct_config__.tag  # type: ignore[assignment]
        self._status: int = spec.status
        self._reason = spec.reason if isinstance(spec.reason, str) else None
        self._body = body
        self._headers = headers
        # The wire types let `Connection` through only as `close`: then it is true.
        self._close = "Connection" in headers
        self._delay: DelaySampler = compile_delay(spec.delay)
        dribble = (
            spec.chunked_dribble if isinstance(spec.chunked_dribble, wire.ChunkedDribble) else None
        )
        self._dribble, self._interval = _dribbled(body, dribble)
        # Encoded whole on the first request that can use it (most of 10,000 registered
        # routes may never be asked): True until then when the answer never changes.
        self._canned: Canned | None = None
        self._cannable = dribble is None and self._delay is no_delay and spec.template is not True

    @property
    def one_write(self) -> Canned | None:
        """The whole answer encoded once, when it is the same for every request (None:
        `answer` builds it per request)."""
        canned = self._canned
        if canned is None and self._cannable:
            canned = self._canned = Canned.build(
                self._type,
                self._status,
                self._reason,
                self._headers.items(),
                self._body,
                self._plain,
            )
            self._cannable = canned is not None
        return canned

    @property
    def body(self) -> bytes:
        """The encoded body every answer carries."""
        return self._body

    def answer(self, view: RequestView) -> Outcome:
        """Build the response from the prebuilt parts and sample the delay."""
        return self._respond(
            self._body, self._headers, self._dribble, self._interval, self._delay()
        )

    def _plain(self) -> web.StreamResponse:
        """The answer as a `web.Response` (what `one_write` sends when its bytes do not fit)."""
        return self._respond(self._body, self._headers, None, 0.0, 0.0).response

    def _respond(
        self,
        body: bytes,
        headers: CIMultiDict[str],
        dribble: tuple[bytes, ...] | None,
        interval: float,
        delay_ms: float,
    ) -> Outcome:
        response: web.StreamResponse
        if dribble is not None:
            response = DribbledResponse(
                status=self._status,
                reason=self._reason,
                headers=headers,
                pieces=dribble,
                interval=interval,
            )
        else:
            response = web.Response(
                body=body, status=self._status, reason=self._reason, headers=headers
            )
        if self._close:
            response.force_close()
        return Outcome(response, self._status, self._type, delay_ms)


class TemplatedResponder(BodyResponder):
    """A body response with `template: true`: body and header values rendered per request.

    The answer needs the route's path parameters, which the mock handler passes to
    `Outcome.render` (after the route's side effects); `answer` returns the placeholder.
    A render that fails or exceeds a bound answers 500 with the admin API's error shape
    (`template_error`, `template_limit`), journaled under that code.
    """

    __slots__ = (
        "_body_template",
        "_dribble_spec",
        "_encode",
        "_header_templates",
        "_placeholder",
    )

    def __init__(
        self,
        spec: BodySpec,
        body: bytes,
        headers: CIMultiDict[str],
        body_template: Any,
        encode: Callable[[Any], bytes] | None,
        header_templates: tuple[tuple[str, Any], ...],
    ) -> None:
        super().__init__(spec, body, headers)
        #: A compiled body (`compile_value`) to render and `encode`, or None: static body.
        self._body_template = body_template
        self._encode = encode
        #: Every header as (name, text or `Template`); empty when none is templated.
        self._header_templates = header_templates
        self._dribble_spec = (
            spec.chunked_dribble if isinstance(spec.chunked_dribble, wire.ChunkedDribble) else None
        )
        self._placeholder = web.Response(status=500)

    def answer(self, view: RequestView) -> Outcome:
        placeholder = Outcome(self._placeholder, 500, self._type, self._delay())

        async def render(request: web.BaseRequest, params: Mapping[str, str]) -> Outcome:
            # Unlinked first: the placeholder and this closure would otherwise be a cycle
            # only the garbage collector frees (a collection every few hundred requests).
            placeholder.render = None
            # `delay_ms` read now: an enclosing sequence adds its own after `answer`.
            return self._render(view, params, placeholder.delay_ms)

        placeholder.render = render
        return placeholder

    def _render(self, view: RequestView, params: Mapping[str, str], delay_ms: float) -> Outcome:
        rendering = Rendering(view, params)
        try:
            body = self._body
            if self._body_template is not None:
                rendered = render_value(self._body_template, rendering)
                body = (
                    rendered.encode("utf-8")
                    if self._encode is None
                    else _encode_rendered(self._encode, rendered)
                )
            headers = self._headers
            if self._header_templates:
                headers = render_headers(self._header_templates, rendering)
        except TemplateFailure as exc:
            return template_failed(exc, self._type, delay_ms)
        dribble, interval = _dribbled(body, self._dribble_spec)
        return self._respond(body, headers, dribble, interval, delay_ms)


def _encode_rendered(encode: Callable[[Any], bytes], value: Any) -> bytes:
    try:
        return encode(value)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        raise TemplateFailure(f"the rendered body cannot be encoded: {exc}") from exc


def _toml_problem(value: Any, location: str) -> str | None:
    """Where `value` holds something TOML cannot represent, said for a person; else None."""
    if value is None:
        return f"`{location}` is null, and TOML has no null: drop the key or use a string"
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not _TOML_INT_MIN <= value <= _TOML_INT_MAX:
        return f"`{location}` = {value} does not fit TOML's 64-bit integers: use a string"
    if isinstance(value, dict):
        for key, item in value.items():
            if (problem := _toml_problem(item, f"{location}.{key}")) is not None:
                return problem
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (problem := _toml_problem(item, f"{location}[{index}]")) is not None:
                return problem
    return None


def encode_body(spec: BodySpec, files: BodyFiles | None = None) -> tuple[bytes, str]:
    """Encode the body of `spec` once; return the bytes and the default Content-Type.

    Raises `ValueError` naming the problem when the body cannot be encoded in the
    format asked for, or its body file cannot be read (the admin API answers 422).
    """
    if isinstance(spec, wire.RawResponse):
        if isinstance(spec.body_file, str):
            data = files.read(spec.body_file) if files is not None else no_files(spec.body_file)
            guessed, _ = mimetypes.guess_type(spec.body_file)
            return data, guessed or "application/octet-stream"
        if spec.body_base64 is not None:
            return base64.b64decode(spec.body_base64), "application/octet-stream"
        return (spec.body or "").encode("utf-8"), "text/plain; charset=utf-8"
    kind: str = spec.__struct_config__.tag  # type: ignore[assignment]
    if kind == "toml":
        if not isinstance(spec.body, dict):
            raise ResponseSpecError(
                "a toml `body` must be an object: TOML documents are tables", ".body"
            )
        if (problem := _toml_problem(spec.body, "body")) is not None:
            raise ResponseSpecError(f"the toml body cannot be encoded: {problem}", ".body")
    try:
        data = _ENCODERS[kind](spec.body)
    except (TypeError, ValueError, OverflowError, AttributeError, msgspec.EncodeError) as exc:
        raise ResponseSpecError(
            f"the {kind} body cannot be encoded as {kind}: {exc}", ".body"
        ) from exc
    return data, _CONTENT_TYPES[kind]


def compile_body(spec: BodySpec, files: BodyFiles | None = None) -> BodyResponder:
    """Encode the body and build the headers of a response, once (templates compiled)."""
    body, default_type = encode_body(spec, files)
    if isinstance(spec, wire.RawResponse) and spec.content_type is not None:
        default_type = spec.content_type
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in spec.headers.items():
        for item in [value] if isinstance(value, str) else value:
            headers.add(name, item)
    # An explicit Content-Type in `headers` (any case) wins over every default.
    if "Content-Type" not in headers:
        headers["Content-Type"] = default_type
    if spec.template is not True:
        return BodyResponder(spec, body, headers)
    return _compile_templated(spec, body, headers)


def _compile_templated(
    spec: BodySpec, body: bytes, headers: CIMultiDict[str]
) -> TemplatedResponder:
    """A `template: true` response: templates compiled now, so a bad one is a 422."""
    template: Any = None
    encode: Callable[[Any], bytes] | None = None
    where = ".body"
    try:
        if isinstance(spec, wire.RawResponse):
            # Text only: a base64 body, or a body file that is not UTF-8, is sent as is.
            if spec.body_base64 is None:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    text = ""
                if has_mustache(text):
                    template = compile_value(text)
                    where = ".body_file" if isinstance(spec.body_file, str) else ".body"
        else:
            compiled = compile_value(spec.body)
            if compiled is not spec.body:
                template, encode = compiled, _ENCODERS[spec.__struct_config__.tag]  # type: ignore[index]
        header_templates: list[tuple[str, Any]] = []
        for name, value in headers.items():
            where = f".headers[{msgspec.json.encode(str(name)).decode()}]"
            header_templates.append((str(name), compile_value(value)))
        if all(isinstance(value, str) for _, value in header_templates):
            header_templates = []
        return TemplatedResponder(spec, body, headers, template, encode, tuple(header_templates))
    except TemplateSyntaxError as exc:
        raise ResponseSpecError(exc.message, where + exc.at) from None
