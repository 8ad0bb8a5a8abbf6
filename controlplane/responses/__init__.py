"""Responses: wire response specs compiled once into responders the mock hot path calls.

    compile_response(spec) -> Responder     at registration; raises ValueError on bodies
                                            that cannot be encoded (the admin API: 422)
    Responder.answer(view) -> Outcome       per request, synchronous; the caller sleeps
                                            `delay_ms`, journals, returns `response`
    no_response_outcome(handler) -> Outcome the 500 for a handler without a response

Modules: `bodies` (json/raw/msgpack/yaml/toml; `BodyResponder.one_write` is the
answer encoded whole, `one_write`), `sequence`, `faults`, `delays`,
`outcome` (the result type and error answers), `files` (body files), `compile`
(dispatch), `sse` and `websocket` (long-lived connections, registered per session and
handler in `streams`), `in_process` (answers built by Python code in the server's process, which
the mock handler awaits through `Outcome.render`; `srvmocker` installs them).
"""

from __future__ import annotations

from controlplane.responses.bodies import BodyResponder
from controlplane.responses.compile import compile_response
from controlplane.responses.files import BodyFiles, check_body_file
from controlplane.responses.outcome import (
    Outcome,
    Responder,
    ResponseSpecError,
    no_response_outcome,
)
from controlplane.responses.proxy import Upstreams
from controlplane.responses.streams import Streams

__all__ = [
    "BodyFiles",
    "BodyResponder",
    "Outcome",
    "Responder",
    "ResponseSpecError",
    "Streams",
    "Upstreams",
    "check_body_file",
    "compile_response",
    "no_response_outcome",
]
