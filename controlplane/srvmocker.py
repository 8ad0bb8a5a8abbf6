"""asyncly's `srvmocker` API, served by a real controlplane server.

Existing asyncly tests change one import line and run as written:

    from controlplane.srvmocker import JsonResponse, MockRoute, start_service

    async def test_fetch_fact() -> None:
        routes = [MockRoute("GET", "/fact", "fact")]
        async with start_service(routes) as service:
            service.register("fact", JsonResponse({"fact": "Meow.", "length": 5}))
            ...  # point the code under test at service.url
            service.assert_called("fact", times=1)

Where the server lives: `start_service` starts a controlplane server in its own thread
with its own event loop (`controlplane.testing.ThreadedServer`), one per
`start_service`, serving the `default` session at the root of `service.url`. So
`register`, `get_calls`, `last_call` and the assertions can be plain synchronous calls
from inside an async test, as in asyncly: each is one admin request to the server's
thread, and the test's loop is never needed to answer it, so nothing deadlocks.

Semantics are asyncly's:

- `MockRoute`s sharing method and path are tried in declaration order, and a route
  without `match` is the fallback, tried after those with one (it gets priority 6,
  the others 5).
- `Match`: `json` exact (after parsing), `body` exact bytes, `headers` a subset (names
  case-insensitive, values exact), `query` a subset. One difference: a repeated query
  parameter matches when ANY of its values equals (asyncly looked at the first only).
- `assert_called(name, times=n)` counts ALL calls of the handler, and `json`, `body`,
  `headers`, `query` pass when ONE call matches them all. The native
  `POST .../handlers/{name}/verify` (and `Client.verify`) differs on purpose: it counts
  the calls that match its predicates, then checks that count, as WireMock and
  MockServer do.
- `TruncatedResponse` becomes the server's `truncated` fault (headers declaring 1024
  bytes, then 32 bytes and a close); its `body`, `declared_length`, `status` and
  `headers` are not used. `ContentResponse` is not provided: use `MsgpackResponse`,
  `YamlResponse` or `TomlResponse`, which the server encodes.
- Unlike asyncly, unmatched requests are journaled with their near misses: see
  `service.client.unmatched()`. Any response of the native client (`Fault("...")`,
  a `JsonResponse` with a `delay`) may be registered too.

This module needs the client package (`pip install -e clients/python`).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json as jsonlib
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer

try:
    import controlplane_client as native
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "controlplane.srvmocker needs the Python client: pip install -e clients/python"
    ) from exc

__all__ = [
    "DisconnectResponse",
    "JsonResponse",
    "LatencyResponse",
    "Match",
    "MockRoute",
    "MockService",
    "MsgpackResponse",
    "RawResponse",
    "RecordedRequest",
    "SequenceResponse",
    "TomlResponse",
    "TruncatedResponse",
    "UnknownHandlerError",
    "YamlResponse",
    "start_service",
]

_MATCHED_PRIORITY = 5
_FALLBACK_PRIORITY = 6


class UnknownHandlerError(KeyError):
    """`register` or `get_calls` named a handler no `MockRoute` declares."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = list(known)

    def __str__(self) -> str:
        known = ", ".join(repr(k) for k in self.known) or "none"
        return f"no MockRoute declares handler {self.name!r} (declared: {known})"


# ------------------------------------------------------------------ routes


@dataclasses.dataclass(frozen=True)
class Match:
    """Conditions a request must meet for its route to win; all set fields must hold."""

    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] | None = None
    query: Mapping[str, str] | None = None

    def to_native(self) -> native.Match:
        return native.Match(
            json=self.json if self.json is not None else native.UNSET,
            body_base64=base64.b64encode(self.body).decode() if self.body is not None else None,
            headers=dict(self.headers) if self.headers else None,
            query=dict(self.query) if self.query else None,
        )


@dataclasses.dataclass(frozen=True)
class MockRoute:
    """`method` + `path` (aiohttp syntax: `/users/{id}`, `/n/{n:\\d+}`) -> `handler_name`."""

    method: str
    path: str
    handler_name: str
    match: Match | None = None

    def to_native(self) -> native.Route:
        return native.Route(
            method=self.method,
            path=self.path,
            handler=self.handler_name,
            match=self.match.to_native() if self.match is not None else None,
            priority=_MATCHED_PRIORITY if self.match is not None else _FALLBACK_PRIORITY,
        )


# ------------------------------------------------------------------ responses


class _Response:
    """An asyncly-shaped response; `to_native` is what the server is sent."""

    def to_native(self) -> native.AnyResponse:
        raise NotImplementedError


def _headers(headers: Mapping[str, str] | None) -> dict[str, str | list[str]]:
    return dict(headers or {})


@dataclasses.dataclass(frozen=True)
class JsonResponse(_Response):
    """`body` as JSON, `application/json`."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] | None = None

    def to_native(self) -> native.AnyResponse:
        return native.JsonResponse(self.body, status=self.status, headers=_headers(self.headers))


@dataclasses.dataclass(frozen=True)
class RawResponse(_Response):
    """`body` bytes exactly as given."""

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] | None = None

    def to_native(self) -> native.AnyResponse:
        return native.RawResponse(
            body_base64=base64.b64encode(self.body).decode(),
            status=self.status,
            headers=_headers(self.headers),
        )


@dataclasses.dataclass(frozen=True)
class MsgpackResponse(_Response):
    """`body` as MessagePack, `application/msgpack`."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] | None = None

    def to_native(self) -> native.AnyResponse:
        return native.MsgpackResponse(self.body, status=self.status, headers=_headers(self.headers))


@dataclasses.dataclass(frozen=True)
class YamlResponse(_Response):
    """`body` as YAML, `application/yaml`."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] | None = None

    def to_native(self) -> native.AnyResponse:
        return native.YamlResponse(self.body, status=self.status, headers=_headers(self.headers))


@dataclasses.dataclass(frozen=True)
class TomlResponse(_Response):
    """`body` (a dict) as TOML, `application/toml`."""

    body: dict[str, Any]
    status: int = 200
    headers: Mapping[str, str] | None = None

    def to_native(self) -> native.AnyResponse:
        return native.TomlResponse(self.body, status=self.status, headers=_headers(self.headers))


AnyResponse = _Response | native.AnyResponse


def _native(response: AnyResponse) -> native.AnyResponse:
    return response.to_native() if isinstance(response, _Response) else response


@dataclasses.dataclass(frozen=True)
class SequenceResponse(_Response):
    """Each response in turn; after the last: `raise` (500), `cycle` or `last`."""

    responses: Sequence[AnyResponse]
    on_exhausted: Literal["raise", "cycle", "last"] = "raise"

    def __post_init__(self) -> None:
        if not self.responses:
            raise ValueError("SequenceResponse needs at least one response")

    def to_native(self) -> native.AnyResponse:
        return native.SequenceResponse(
            [_native(r) for r in self.responses], on_exhausted=self.on_exhausted
        )


@dataclasses.dataclass(frozen=True)
class LatencyResponse(_Response):
    """`wrapped`, answered after `latency` seconds (other requests are not held up)."""

    wrapped: AnyResponse
    latency: float

    def to_native(self) -> native.AnyResponse:
        return native.LatencyResponse(_native(self.wrapped), self.latency)


@dataclasses.dataclass(frozen=True)
class DisconnectResponse(_Response):
    """Close the connection before sending a byte."""

    def to_native(self) -> native.AnyResponse:
        return native.FaultResponse("disconnect")


@dataclasses.dataclass(frozen=True)
class TruncatedResponse(_Response):
    """Declare a longer Content-Length than is sent, then close (the `truncated` fault)."""

    body: bytes = b""
    declared_length: int | None = None
    status: int = 200
    headers: Mapping[str, str] | None = None

    def to_native(self) -> native.AnyResponse:
        return native.FaultResponse("truncated")


# ------------------------------------------------------------------ recorded requests


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One call, as asyncly recorded it."""

    method: str
    url: URL
    path: str
    headers: CIMultiDictProxy[str]
    query: MultiDictProxy[str]
    path_params: dict[str, str]
    body: bytes
    handler_name: str

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)

    @classmethod
    def from_native(cls, call: native.RecordedRequest, base: URL) -> RecordedRequest:
        query: MultiDict[str] = MultiDict()
        for name, values in call.query.items():
            for value in values:
                query.add(name, value)
        return cls(
            method=call.method,
            url=base.with_path(call.path).with_query(query),
            path=call.path,
            headers=CIMultiDictProxy(CIMultiDict(call.headers)),
            query=MultiDictProxy(query),
            path_params=dict(call.path_params),
            body=call.content,
            handler_name=call.handler or "",
        )


# ------------------------------------------------------------------ the service


class MockService:
    """A running mock service: its `url`, and synchronous register/inspect/assert calls."""

    def __init__(self, server: ThreadedServer, routes: Sequence[MockRoute]) -> None:
        self.server = server
        self.url = URL(server.mock_url)
        #: The native client of this service's server (session `default`).
        self.client = native.Client(server.admin_url)
        self._handlers = list(dict.fromkeys(r.handler_name for r in routes))

    def _require(self, name: str) -> None:
        if name not in self._handlers:
            raise UnknownHandlerError(name, self._handlers)

    def register(self, name: str, response: AnyResponse) -> None:
        """Set (or replace, mid-test) what handler `name` answers."""
        self._require(name)
        self.client.register(name, _native(response))

    def _native_calls(self, name: str) -> list[native.RecordedRequest]:
        self._require(name)
        return self.client.get_calls(name)

    def get_calls(self, name: str) -> list[RecordedRequest]:
        """Every call of handler `name`, oldest first."""
        return [RecordedRequest.from_native(c, self.url) for c in self._native_calls(name)]

    def last_call(self, name: str) -> RecordedRequest:
        """The latest call of `name`; AssertionError when there is none."""
        calls = self.get_calls(name)
        if not calls:
            raise AssertionError(f"handler {name!r} was never called")
        return calls[-1]

    def assert_called(
        self,
        name: str,
        *,
        times: int | None = None,
        json: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """`times` over all calls; `json`/`body`/`headers`/`query` on one call."""
        message = native.check_called(
            name,
            self._native_calls(name),
            times=times,
            json=json,
            body=body,
            headers=headers,
            query=query,
        )
        if message is not None:
            raise AssertionError(message)

    def assert_not_called(self, name: str) -> None:
        message = native.check_not_called(name, self._native_calls(name))
        if message is not None:
            raise AssertionError(message)


@asynccontextmanager
async def start_service(
    routes: Sequence[MockRoute], *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[MockService]:
    """A controlplane server with `routes`, in its own thread; HTTPS with `ssl_context`."""
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, ssl_context=ssl_context))
    # Starting and stopping wait on the server's thread: do it off the test's loop.
    await asyncio.to_thread(server.start)
    try:
        service = MockService(server, routes)
        if routes:
            await asyncio.to_thread(
                service.client.add_routes, *(route.to_native() for route in routes)
            )
        yield service
    finally:
        await asyncio.to_thread(server.stop)
