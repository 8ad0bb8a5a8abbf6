"""Real origin servers for proxy tests: an aiohttp app on 127.0.0.1:0 in its own thread.

`Origin` answers what proxy tests need to observe: `/echo/...` describes the request
it got (method, raw path and query, aiohttp's decoded path, headers in order, body),
`/gzip` sends a gzip body as it is, `/redirect` a 302, `/events` an SSE stream whose
second event waits for the test (`release()`), `/stall` never answers, `/broken`
declares more body than it sends (`?declare=N` bytes, 1000 by default) and closes,
`/hop` sends hop-by-hop headers.
For recording: `/json/{name}` answers JSON naming the request (its query and body;
its `Date` is the request's `X-Answer-Date` when given),
`/count` counts its calls, `/bytes` sends bytes that are not UTF-8, `/brotli` a body
labelled with an encoding nobody decodes, `/odd` a status beyond 599.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

from aiohttp import web

__all__ = ["GZIPPED", "Origin"]

GZIPPED = gzip.compress(b'{"compressed": true}' * 50, mtime=0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Origin:
    """An aiohttp origin server running in a background thread until `close()`."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._gate: asyncio.Event | None = None
        self._count = 0
        self.url = ""

    def __enter__(self) -> Origin:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _stop(self) -> None:
        assert self._runner is not None and self._runner.server is not None
        open_ = [c.transport for c in self._runner.server.connections]
        await self._runner.cleanup()
        self._runner = None
        # A TLS connection waits for the peer's close_notify: with the loop about to
        # stop, close the sockets now rather than leave them to the garbage collector.
        for transport in open_:
            if transport is not None:
                transport.abort()
        # Handlers still waiting (`/stall`) end with the loop, not after it.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for _ in range(3):  # closed transports finish closing on the next iterations
            await asyncio.sleep(0)

    def release(self) -> None:
        """Let `/events` send its second event."""
        self._loop.call_soon_threadsafe(self._gate_event().set)

    def _gate_event(self) -> asyncio.Event:
        if self._gate is None:
            self._gate = asyncio.Event()
        return self._gate

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/echo/{tail:.*}", self._echo)
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/events", self._events)
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/broken", self._broken)
        app.router.add_get("/hop", self._hop)
        app.router.add_route("*", "/json/{name}", self._json)
        app.router.add_get("/count", self._counter)
        app.router.add_get("/bytes", self._bytes)
        app.router.add_get("/brotli", self._brotli)
        app.router.add_get("/odd", self._odd)
        self._gate_event()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if self._ssl else 'http'}://127.0.0.1:{port}"

    async def _echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        peer = request.transport.get_extra_info("ssl_object") if request.transport else None
        cert = peer.getpeercert() if peer is not None else None
        return web.json_response(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "path": request.path,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body_base64": base64.b64encode(body).decode(),
                "client_cert": bool(cert),
                "peer_port": request.transport.get_extra_info("peername")[1]
                if request.transport
                else None,
            },
            headers={"Set-Cookie": "a=1", "X-Origin": "yes"},
        )

    async def _gzip(self, request: web.Request) -> web.Response:
        response = web.Response(body=GZIPPED, content_type="application/json")
        response.headers["Content-Encoding"] = "gzip"
        return response

    async def _redirect(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/echo/elsewhere"})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: first\n\n")
        await self._gate_event().wait()
        await response.write(b"data: second\n\n")
        await response.write_eof()
        return response

    async def _stall(self, request: web.Request) -> web.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def _broken(self, request: web.Request) -> web.StreamResponse:
        declared = int(request.query.get("declare", "1000"))
        response = web.StreamResponse(headers={"Content-Length": str(declared)})
        await response.prepare(request)
        await response.write(b"x" * 10)
        assert request.transport is not None
        request.transport.close()
        return response

    async def _hop(self, request: web.Request) -> web.Response:
        return web.Response(
            text="hop",
            headers={
                "Connection": "X-Private, keep-alive",
                "X-Private": "drop me",
                "Keep-Alive": "timeout=5",
                "Proxy-Authenticate": "Basic",
                "X-Public": "keep me",
            },
        )

    async def _json(self, request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "name": request.match_info["name"],
                "method": request.method,
                "query": [[k, v] for k, v in request.query.items()],
                "accept": request.headers.get("Accept"),
                "body": body.decode("utf-8", "replace"),
            },
            headers={"X-Origin": "yes", **_answer_date(request)},
        )

    async def _counter(self, request: web.Request) -> web.Response:
        self._count += 1
        return web.Response(text=f"call {self._count}")

    async def _bytes(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xfe\x00bytes", content_type="application/octet-stream")

    async def _brotli(self, request: web.Request) -> web.Response:
        response = web.Response(body=b"not really brotli", content_type="text/plain")
        response.headers["Content-Encoding"] = "br"
        return response

    async def _odd(self, request: web.Request) -> web.Response:
        return web.Response(status=600, text="odd")


def _answer_date(request: web.Request) -> dict[str, str]:
    """The `Date` a test asked the origin to answer with (`X-Answer-Date`), if any."""
    asked = request.headers.get("X-Answer-Date")
    return {} if asked is None else {"Date": asked}
