"""asyncly's `start_proxy`: a forwarding proxy for tests, served by a controlplane server.

    async with start_proxy() as proxy:
        async with ClientSession() as s:
            await s.get(target.url / "x", proxy=proxy.url)
        proxy.assert_called(times=1, method="GET", target=str(target.url / "x"))

The server (its own thread, as `start_service`'s) has no routes; its `default` session
has `passthrough_unmatched` on, so every proxy request goes on to its destination,
and with `auth` its `proxy_auth` setting, so a request without those Basic credentials
is a 407 and goes no further. `history` is that session's journal: every request the
proxy received, refused ones included, with its `Proxy-Authorization` header as sent
(it is never forwarded). Beyond asyncly: `CONNECT` tunnels (HTTPS targets) pass
through too, and appear in `history` with `method == "CONNECT"`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import controlplane_client as native
from multidict import CIMultiDict, MultiDict
from yarl import URL

from controlplane.server import ServerConfig
from controlplane.srvmocker.models import RecordedRequest
from controlplane.testing import ThreadedServer

if TYPE_CHECKING:
    from aiohttp import BasicAuth

__all__ = ["MockProxyService", "running_proxy", "start_proxy"]

_NAME = "proxy"


def _recorded(call: native.RecordedRequest) -> RecordedRequest:
    """A journal entry as asyncly's proxy records it: `url` is the absolute target."""
    headers: CIMultiDict[str] = CIMultiDict(call.headers)
    query: MultiDict[str] = MultiDict()
    for name, values in call.query.items():
        for value in values:
            query.add(name, value)
    if call.method == "CONNECT":
        url = URL.build(authority=call.path)
    else:
        url = URL.build(scheme="http", authority=headers.get("Host", ""), encoded=True)
        url = url.with_path(call.path).with_query(query)
    return RecordedRequest(
        method=call.method,
        url=url,
        path=call.path,
        headers=headers,
        query=query,
        path_params={},
        body=call.content,
        handler_name=_NAME,
    )


class MockProxyService:
    """A running mock proxy: its `url`, its `history` and asyncly's assertions.

    Every call reads the server's journal (one request to the server's thread), so it
    is safe from inside an async test.
    """

    def __init__(self, server: ThreadedServer) -> None:
        self.server = server
        self.url = URL(server.mock_url)
        #: The native client of this proxy's server (session `default`).
        self.client = native.Client(server.admin_url)
        #: The journal as it was when the server stopped (`freeze`), None while it runs.
        self._final: list[native.RecordedRequest] | None = None

    def __repr__(self) -> str:
        return f"MockProxyService(url={str(self.url)!r})"

    @property
    def history(self) -> list[RecordedRequest]:
        """Every request the proxy received, oldest first."""
        return [_recorded(call) for call in self._native_calls()]

    def _native_calls(self) -> list[native.RecordedRequest]:
        if self._final is not None:
            return self._final
        return self.client.requests().requests

    def freeze(self) -> None:
        """Keep the journal for assertions after the server stops, as asyncly allows."""
        self._final = self.client.requests().requests

    def set_url(self, url: URL) -> None:
        """Kept from asyncly, where the proxy learnt its URL after starting."""
        self.url = url

    def get_calls(self) -> list[RecordedRequest]:
        return self.history

    def last_call(self) -> RecordedRequest:
        """The latest request; AssertionError when there is none."""
        calls = self.history
        if not calls:
            raise AssertionError("no requests recorded by proxy")
        return calls[-1]

    def assert_called(
        self,
        *,
        times: int | None = None,
        target: URL | str | None = None,
        method: str | None = None,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> None:
        """asyncly's: `times` exact over all requests; the other predicates, one request.

        `target` is the absolute URL the client asked for; `headers` may name
        `Proxy-Authorization`, which the proxy saw (and did not forward).
        """
        natives = self._native_calls()
        if times is not None and len(natives) != times:
            raise AssertionError(f"proxy: expected {times} call(s), got {len(natives)}")
        criteria = (target, method, json, body, headers, query)
        if times is not None and all(value is None for value in criteria):
            return
        if not natives:
            raise AssertionError("proxy: expected at least one call, got 0")
        wanted = None if target is None else str(URL(target))
        candidates = [
            call
            for call in natives
            if (wanted is None or str(_recorded(call).url) == wanted)
            and (method is None or call.method == method)
        ]
        first = f"proxy: none of {len(natives)} call(s) matched the given criteria"
        if not candidates:
            seen = "\n".join(f"  {call.method} {_recorded(call).url}" for call in natives[-5:])
            where = " and ".join(
                part
                for part in (
                    f"target {wanted}" if wanted is not None else "",
                    f"method {method}" if method is not None else "",
                )
                if part
            )
            raise AssertionError(f"{first}\nno call had {where}; the latest:\n{seen}")
        details = native.check_called(
            _NAME, candidates, json=json, body=body, headers=headers, query=query
        )
        if details is not None:
            raise AssertionError(f"{first}\n{details}")

    def assert_not_called(self) -> None:
        natives = self._native_calls()
        if natives:
            details = native.check_not_called(_NAME, natives)
            raise AssertionError(f"proxy: expected no calls, got {len(natives)}\n{details}")


@contextmanager
def running_proxy(*, auth: BasicAuth | None = None) -> Iterator[MockProxyService]:
    """`start_proxy` for synchronous code (the `mock_proxy` fixture uses it)."""
    server = ThreadedServer(ServerConfig(port=0, admin_port=0))
    server.start()
    proxy = None
    try:
        proxy = MockProxyService(server)
        proxy_auth = None if auth is None else f"{auth.login}:{auth.password}"
        proxy.client.update_settings(
            native.Settings(passthrough_unmatched=True, proxy_auth=proxy_auth)
        )
        yield proxy
    finally:
        if proxy is not None:
            proxy.freeze()  # asyncly's tests assert after the `async with` too
        server.stop()


@asynccontextmanager
async def start_proxy(*, auth: BasicAuth | None = None) -> AsyncIterator[MockProxyService]:
    """A forwarding proxy for tests; with `auth`, requests need those Basic credentials.

    Requests without them (or with others) get `407 Proxy Authentication Required` and
    are not forwarded. The server runs in its own thread; starting and stopping it
    waits on that thread, off the test's loop.
    """
    manager = running_proxy(auth=auth)
    proxy = await asyncio.to_thread(manager.__enter__)
    try:
        yield proxy
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
