"""`compile_response`: a wire response turned, once, into the responder that answers it."""

from __future__ import annotations

from controlplane import wire
from controlplane.responses.bodies import compile_body
from controlplane.responses.faults import FaultResponder
from controlplane.responses.files import BodyFiles
from controlplane.responses.outcome import Responder, ResponseSpecError
from controlplane.responses.proxy import ProxyResponder, Upstreams
from controlplane.responses.sequence import SequenceResponder
from controlplane.responses.sse import SseResponder
from controlplane.responses.streams import Channel
from controlplane.responses.websocket import WebSocketResponder

__all__ = ["compile_response"]


def compile_response(
    spec: wire.AnyResponse,
    files: BodyFiles | None = None,
    upstreams: Upstreams | None = None,
    channel: Channel | None = None,
) -> Responder:
    """Build the responder for `spec`: bodies encoded, headers built, delays compiled.

    Raises `ResponseSpecError` (a `ValueError`) naming the problem when a body cannot
    be encoded; its `at` says where (`.responses[2].body`). `files` is where a raw
    response's `body_file` is read from (None: the server has no files directory);
    `upstreams` holds the client sessions `proxy` responses forward through;
    `channel` is where the handler's `sse` and `websocket` connections register.
    """
    if isinstance(spec, wire.SequenceResponse):
        items: list[Responder] = []
        for index, item in enumerate(spec.responses):
            try:
                items.append(compile_response(item, files, upstreams, channel))
            except ResponseSpecError as exc:
                raise exc.within(f".responses[{index}]") from exc
        return SequenceResponder(spec, items)
    if isinstance(spec, wire.FaultResponse):
        return FaultResponder(spec)
    if isinstance(spec, wire.ProxyResponse):
        if upstreams is None:
            raise ResponseSpecError("a `proxy` response needs a running server to forward from")
        return ProxyResponder(spec, upstreams)
    if isinstance(spec, wire.SseResponse | wire.WebSocketResponse):
        if channel is None:
            raise ResponseSpecError(f"a `{wire.response_type(spec)}` response needs a session")
        if isinstance(spec, wire.SseResponse):
            return SseResponder(spec, channel)
        return WebSocketResponder(spec, channel)
    return compile_body(spec, files)
