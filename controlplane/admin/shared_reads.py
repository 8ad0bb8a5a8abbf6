"""The admin API over shared state (`--state`): read Redis first, write it after.

One middleware, so that every reader and writer of a session keeps working unchanged:

- before the handler, the session the path names (`/api/sessions/{sid}/...`; else
  `default`; every session for `GET /api/sessions`) is brought up to Redis: its journal
  from its stream (every process's entries, in one order), its routes' `times` left and
  its scenarios' states (`SharedSession.refresh`);
- after it, the Redis side of what it changed runs, once (`SharedState.flush`: a
  journal cleared, scenarios set or reset, counters of replaced routes dropped).

Redis not answering: the admin call answers 503 `state_unavailable`, saying so (a
read too: this process's copy lacks what the others served meanwhile). In memory
mode the middleware is one test.

Inside `controlplane.cluster.replica`'s middleware: an admin write runs here when
each process applies it from the op log; its Redis side is queued only where its
client sent it (`controlplane.cluster.shared.originates`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from controlplane import dashboard
from controlplane.sessions import SessionState, SessionStore

__all__ = ["mount"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _sessions(request: web.Request, store: SessionStore) -> list[SessionState]:
    sid = request.match_info.get("sid")
    if sid is not None:
        found = store.get(sid)
        return [] if found is None else [found]
    if request.path in ("/api/sessions", "/api/sessions/"):
        return store.all()
    return [store.default]


def mount(app: web.Application, store: SessionStore) -> None:
    """Add the middleware to `app` (inside the error middleware, which renders its 503)."""

    @web.middleware
    async def shared_state(request: web.Request, handler: Handler) -> web.StreamResponse:
        shared = store.shared
        if shared is None or request.path == "/health" or dashboard.is_page(request.path):
            return await handler(request)
        from redis.exceptions import RedisError  # loaded only by a server with `--state`

        try:
            for session in _sessions(request, store):
                if session.shared is not None:
                    await session.shared.refresh(session.routes, session.scenarios)
        except (RedisError, OSError) as exc:
            raise shared.cluster.unavailable(str(exc) or type(exc).__name__) from None
        try:
            return await handler(request)
        finally:
            try:
                await shared.flush()
            except (RedisError, OSError) as exc:
                raise shared.cluster.unavailable(str(exc) or type(exc).__name__) from None

    app.middlewares.append(shared_state)
