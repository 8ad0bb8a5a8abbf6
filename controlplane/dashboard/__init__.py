"""The dashboard: static pages on the admin port that use only the public admin API.

`GET /` and `GET /ui` answer `index.html`; `GET /ui/static/{name}` its script and
style sheet, shipped in the package (no build step, no CDN). The pages are not admin
operations: they are not in `OPERATIONS` nor in the OpenAPI document, and they load
without `--admin-token` (they hold no data; the API calls they make carry the token,
which the page asks for when the API answers 401). See docs/dashboard.md.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

__all__ = ["PAGE_PATHS", "STATIC_PREFIX", "is_page", "mount"]

#: The paths that answer the page itself.
PAGE_PATHS = ("/", "/ui")
#: Where the page's script and style sheet are served.
STATIC_PREFIX = "/ui/static/"

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
}


def _load() -> dict[str, tuple[bytes, str]]:
    """Every shipped file, read once: name -> (bytes, content type)."""
    files: dict[str, tuple[bytes, str]] = {}
    for item in resources.files(__name__).joinpath("static").iterdir():
        suffix = item.name[item.name.rfind(".") :]
        if item.is_file() and suffix in _TYPES:
            files[item.name] = (item.read_bytes(), _TYPES[suffix])
    return files


def is_page(path: str) -> bool:
    """Whether an admin request path is one of the dashboard's (served without a token)."""
    return path in PAGE_PATHS or path.startswith(STATIC_PREFIX)


def mount(app: web.Application) -> None:
    """Add the dashboard's pages to the admin application `app`."""
    files = _load()

    def answer(name: str) -> web.Response:
        body, content_type = files[name]
        # Not cached: an upgraded server serves its own page, never a stale script.
        return web.Response(
            body=body,
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    async def page(request: web.Request) -> web.Response:
        return answer("index.html")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in files:
            raise web.HTTPNotFound()
        return answer(name)

    for path in PAGE_PATHS:
        app.router.add_get(path, page)
    app.router.add_get(STATIC_PREFIX + "{name}", static)
