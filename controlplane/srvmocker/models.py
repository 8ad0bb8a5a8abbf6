"""`MockRoute`, `RecordedRequest` and `MockService`, the handle a test holds."""

from __future__ import annotations

import json as jsonlib
import logging
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import controlplane_client as native
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

from controlplane.responses.in_process import InProcessRequest, InProcessResponder
from controlplane.srvmocker.exceptions import MissingResponseError, UnknownHandlerError
from controlplane.srvmocker.matching import Match
from controlplane.srvmocker.responses.base import BaseMockResponse, native_form
from controlplane.srvmocker.responses.function import FunctionResponse, ResponseFunction

if TYPE_CHECKING:
    from aiohttp import web

    from controlplane.testing import ThreadedServer

__all__ = ["MockRoute", "MockService", "RecordedRequest", "RequestHistory", "Response"]

_log = logging.getLogger("controlplane.srvmocker")
_NATIVE_TYPES = typing.get_args(native.AnyResponse)

#: What `register` takes: a srvmocker response, a native client response, or a function
#: of the request (sync or async) returning an aiohttp or srvmocker response.
Response = BaseMockResponse | native.AnyResponse | ResponseFunction


@dataclass(frozen=True)
class MockRoute:
    """`method` + `path` (aiohttp syntax: `/users/{id}`, `/n/{n:\\d+}`) -> `handler_name`.

    Routes are tried in declaration order, and the first whose `match` holds wins; a
    route without `match` always holds. So a route without `match` declared before
    specific ones on the same method and path shadows them (asyncly's rule): declare
    the fallback last.
    """

    method: str
    path: str
    handler_name: str
    match: Match | None = None

    def to_native(self) -> native.Route:
        """This route as the server's route (the server keeps declaration order)."""
        return native.Route(
            method=self.method,
            path=self.path,
            handler=self.handler_name,
            match=self.match.to_native() if self.match is not None else None,
        )


@dataclass(frozen=True)
class RecordedRequest:
    """One call, as asyncly records it: immutable, headers and query as multidicts."""

    method: str
    url: URL
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    path_params: Mapping[str, str]
    body: bytes
    handler_name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", CIMultiDictProxy(CIMultiDict(self.headers)))
        object.__setattr__(self, "query", MultiDictProxy(MultiDict(self.query)))
        object.__setattr__(self, "path_params", MappingProxyType(dict(self.path_params)))
        object.__setattr__(self, "body", bytes(self.body))

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)

    @classmethod
    def from_native(cls, call: native.RecordedRequest, base: URL) -> RecordedRequest:
        """A journal entry of the server, as asyncly's record of it."""
        query: MultiDict[str] = MultiDict()
        for name, values in call.query.items():
            for value in values:
                query.add(name, value)
        return cls(
            method=call.method,
            url=base.with_path(call.path).with_query(query),
            path=call.path,
            headers=CIMultiDict(call.headers),
            query=query,
            path_params=call.path_params,
            body=call.content,
            handler_name=call.handler or "",
        )


#: asyncly 0.9's name for `RecordedRequest`, kept as asyncly keeps it.
RequestHistory = RecordedRequest


class HistoryMap(Mapping[str, list[RecordedRequest]]):
    """Handler name -> its calls, oldest first, read from the server on each access.

    Like asyncly's `defaultdict(list)`: any name gives a list, empty when the handler
    has no calls; iterating gives the handlers that have calls.
    """

    def __init__(self, service: MockService) -> None:
        self._service = service

    def __getitem__(self, name: str) -> list[RecordedRequest]:
        return self._service.get_calls(name)

    def _names(self) -> list[str]:
        return list(dict.fromkeys(call.handler_name for call in self._service.history))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


class MockService:
    """A running mock service: its `url`, and synchronous register/inspect/assert calls.

    Every call is one request to the server's thread, so it is safe from inside an
    async test: the test's loop is never needed to answer it. `history` and
    `history_map` read the server's journal when accessed.
    """

    def __init__(self, server: ThreadedServer, routes: Sequence[MockRoute]) -> None:
        self.server = server
        self.url = URL(server.mock_url)
        #: The native client of this service's server (session `default`).
        self.client = native.Client(server.admin_url)
        #: Handler name -> the response last registered for it.
        self.handlers: dict[str, Response] = {}
        #: Handler name -> its calls (see `HistoryMap`).
        self.history_map = HistoryMap(self)
        self._handler_names = frozenset(route.handler_name for route in routes)
        #: The journal as it was when the server stopped (`freeze`), None while it runs.
        self._final: list[native.RecordedRequest] | None = None

    def __repr__(self) -> str:
        return f"MockService(url={str(self.url)!r}, handlers={sorted(self._handler_names)})"

    def freeze(self) -> None:
        """Keep the journal for assertions after the server stops, as asyncly allows."""
        self._final = self.client.requests().requests

    @property
    def history(self) -> list[RecordedRequest]:
        """Every call any route answered, oldest first (unmatched requests are not in it)."""
        if self._final is not None:
            requests = [call for call in self._final if call.matched]
        else:
            requests = self.client.requests(matched=True).requests
        return [RecordedRequest.from_native(call, self.url) for call in requests]

    def _declare(self, routes: Sequence[MockRoute]) -> None:
        if routes:
            self.client.add_routes(*(route.to_native() for route in routes))
        # Until `register`, each handler answers asyncly's MissingResponseError (a 500,
        # logged through `logging`), not the server's own no-response answer.
        missing = {name: _missing_response(name) for name in self._handler_names}
        if missing:
            self.server.call(lambda server: _install(server, missing))

    def register(self, name: str, resp: Response) -> None:
        """Set (or replace, mid-test) what handler `name` answers."""
        if name not in self._handler_names:
            raise UnknownHandlerError(name, self._handler_names)
        if isinstance(resp, (BaseMockResponse, *_NATIVE_TYPES)):
            answer = typing.cast("BaseMockResponse | native.AnyResponse", resp)
        elif callable(resp):
            answer = FunctionResponse(resp)
        else:
            raise TypeError(
                "register() takes a srvmocker response (JsonResponse(...), a "
                "BaseMockResponse subclass), a controlplane_client response or a "
                f"function of the request, not {type(resp).__name__}"
            )
        form = native_form(answer)
        if form is not None:
            self.client.register(name, form)
        else:
            assert isinstance(answer, BaseMockResponse)
            responder = _in_process(name, answer)
            self.server.call(lambda server: _install(server, {name: responder}))
        self.handlers[name] = resp

    def set_url(self, url: URL) -> None:
        """Kept from asyncly, where the service learnt its URL after starting."""
        self.url = url

    def get_calls(self, name: str) -> list[RecordedRequest]:
        """Every call of handler `name`, oldest first; empty for an undeclared name."""
        return [RecordedRequest.from_native(c, self.url) for c in self._native_calls(name)]

    def _native_calls(self, name: str) -> list[native.RecordedRequest]:
        if name not in self._handler_names:
            return []  # asyncly: no route, so no calls
        if self._final is not None:
            return [call for call in self._final if call.handler == name]
        return self.client.get_calls(name)

    def last_call(self, name: str) -> RecordedRequest:
        """The latest call of `name`; AssertionError when there is none."""
        calls = self.get_calls(name)
        if not calls:
            raise AssertionError(f"no calls recorded for handler {name!r}")
        return calls[-1]

    def assert_called(
        self,
        name: str,
        *,
        times: int | None = None,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> None:
        """`times`: the exact count of all calls; `json`/`body`/`headers`/`query`: one call.

        The first line of the failure is asyncly's; the lines after it list the calls
        and how the closest ones differ.
        """
        calls = self._native_calls(name)
        details = native.check_called(
            name, calls, times=times, json=json, body=body, headers=headers, query=query
        )
        if details is None:
            return
        if times is not None and len(calls) != times:
            first = f"handler {name!r}: expected {times} call(s), got {len(calls)}"
        elif not calls:
            first = f"handler {name!r}: expected at least one call, got 0"
        else:
            first = f"handler {name!r}: none of {len(calls)} call(s) matched the given criteria"
        raise AssertionError(f"{first}\n{details}")

    def assert_not_called(self, name: str) -> None:
        """No call of handler `name` was recorded."""
        calls = self._native_calls(name)
        details = native.check_not_called(name, calls)
        if details is not None:
            raise AssertionError(
                f"handler {name!r}: expected no calls, got {len(calls)}\n{details}"
            )


def _install(server: Any, responders: Mapping[str, InProcessResponder]) -> None:
    # Runs on the server's loop thread (`ThreadedServer.call`).
    for name, responder in responders.items():
        server.store.default.install_responder(name, responder)


def _in_process(handler: str, response: BaseMockResponse) -> InProcessResponder:
    kind = type(response)
    if isinstance(response, FunctionResponse):
        label = response.name
    else:
        label = f"{kind.__module__}.{kind.__qualname__}"

    async def answer(request: InProcessRequest) -> web.StreamResponse:
        try:
            return await response.response(request)  # type: ignore[arg-type]
        except Exception as exc:
            # asyncly's errors surface through aiohttp's logger; ours through this one.
            _log.exception("%s answering handler %r: %s", type(exc).__name__, handler, exc)
            raise

    return InProcessResponder(label, answer)


def _missing_response(handler: str) -> InProcessResponder:
    async def answer(request: InProcessRequest) -> web.StreamResponse:
        error = MissingResponseError(
            f"no response registered for handler {handler!r}; "
            f"call service.register({handler!r}, response)"
        )
        _log.error("MissingResponseError: %s", error)
        raise error

    return InProcessResponder("controlplane.srvmocker.MissingResponseError", answer)
