"""asyncly's `srvmocker` API, served by a real controlplane server.

Existing asyncly tests change their import lines and run as written:

    from controlplane.srvmocker import JsonResponse, MockRoute, start_service

    async def test_fetch_fact() -> None:
        routes = [MockRoute("GET", "/fact", "fact")]
        async with start_service(routes) as service:
            service.register("fact", JsonResponse({"fact": "Meow.", "length": 5}))
            ...  # point the code under test at service.url
            service.assert_called("fact", times=1)

asyncly's module paths exist here too (`controlplane.srvmocker.models`, `.service`,
`.exceptions`, `.matching`, `.responses.timeout`, `.responses.json`, `.serialization.json`
...), each exporting the same names. The pytest fixtures `mock_routes` and
`mock_service` come with the package (plugin `controlplane_srvmocker`).

Where the server lives: `start_service` starts a controlplane server in its own thread
with its own event loop (`controlplane.testing.ThreadedServer`), one per
`start_service`, serving the `default` session at the root of `service.url`. So
`register`, `get_calls`, `history` and the assertions are plain synchronous calls from
inside an async test, as in asyncly, and nothing deadlocks.

Semantics are asyncly's:

- Routes are tried in declaration order and the first whose `match` holds wins; a
  route without `match` always holds, so declared first it shadows the others.
- `Match`: `json` exact (after parsing), `body` exact bytes, `headers` a subset (names
  case-insensitive, values exact), `query` a subset. One difference: a repeated query
  parameter matches when ANY of its values equals (asyncly looked at the first only).
- `assert_called(name, times=n)` counts ALL calls of the handler, and `json`, `body`,
  `headers`, `query` pass when ONE call matches them all; failures start with asyncly's
  sentence and go on with the calls and their differences. The native
  `POST .../handlers/{name}/verify` (and `Client.verify`) counts the calls that match
  its predicates, as WireMock and MockServer do.
- Responses whose answer is fixed are sent to the server as native responses; custom
  `BaseMockResponse` subclasses (and `TruncatedResponse`) are answered in-process: the
  server awaits their `response(request)`, with `request.match_info` holding the path
  parameters. Msgpack, YAML and TOML bodies are encoded by their serializer, so a
  `datetime` comes out as the format writes one.
- A handler without a registered response answers 500 and logs `MissingResponseError`
  through `logging` (logger `controlplane.srvmocker`).

Beyond asyncly: unmatched requests are journaled with their near misses
(`service.client.unmatched()`), any native client response (`Fault("...")`, a
response with a `delay`) may be registered too, and so may a plain function or an
`async def` of the request returning an aiohttp or srvmocker response
(`service.register("quote", lambda request: JsonResponse({...}))`): plain functions
run in a worker thread, `async def` ones on the server's loop.

`start_proxy(auth=None)` is asyncly's forwarding proxy (`MockProxyService`: `url`,
`history`, `get_calls`, `last_call`, `assert_called(times, target, method, json, body,
headers, query)`, `assert_not_called`; 407 without `auth`'s credentials), served by
the forward proxy of a controlplane server; it also tunnels `CONNECT` (HTTPS targets),
which asyncly's does not. The `mock_proxy` fixture starts one per test.
"""

from controlplane.srvmocker.exceptions import (
    MissingResponseError,
    SequenceExhausted,
    SrvMockerError,
    UnknownHandlerError,
)
from controlplane.srvmocker.matching import Match
from controlplane.srvmocker.models import MockRoute, MockService, RecordedRequest, RequestHistory
from controlplane.srvmocker.proxy import MockProxyService, start_proxy
from controlplane.srvmocker.responses.base import BaseMockResponse
from controlplane.srvmocker.responses.content import ContentResponse
from controlplane.srvmocker.responses.faults import DisconnectResponse, TruncatedResponse
from controlplane.srvmocker.responses.json import JsonResponse
from controlplane.srvmocker.responses.msgpack import MsgpackResponse
from controlplane.srvmocker.responses.raw import RawResponse
from controlplane.srvmocker.responses.sequence import SequenceResponse
from controlplane.srvmocker.responses.timeout import LatencyResponse
from controlplane.srvmocker.responses.toml import TomlResponse
from controlplane.srvmocker.responses.yaml import YamlResponse
from controlplane.srvmocker.service import start_service

__all__ = (
    "BaseMockResponse",
    "ContentResponse",
    "DisconnectResponse",
    "JsonResponse",
    "LatencyResponse",
    "Match",
    "MissingResponseError",
    "MockProxyService",
    "MockRoute",
    "MockService",
    "MsgpackResponse",
    "RawResponse",
    "RecordedRequest",
    "RequestHistory",
    "SequenceExhausted",
    "SequenceResponse",
    "SrvMockerError",
    "TomlResponse",
    "TruncatedResponse",
    "UnknownHandlerError",
    "YamlResponse",
    "start_proxy",
    "start_service",
)
