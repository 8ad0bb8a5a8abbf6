"""WireMock's answer to a request no stub matched: a 404 with a plain-text diff report.

The report has WireMock's layout (`PlainTextDiffRenderer`): a title, a two-column table
(the closest stub on the left, the request on the right, 119 characters wide unless the
request sends `X-WireMock-Console-Width`), the stub's name, its method and URL, and one
line for each thing that differed, marked `<<<<< {what} does not match`. The closest
stub and what differed are the core's near misses (the same as the native 404's), so
the two dialects never disagree about why a request missed.

`mark_dialect_session` installs `unmatched_answer` as a session's answer to unmatched
requests (`SessionState.unmatched_answer`); sessions never marked keep the native JSON
404.
"""

from __future__ import annotations

import textwrap

from aiohttp import web

from controlplane import wire
from controlplane.matching import CompiledRoute
from controlplane.request_view import RequestView
from controlplane.sessions import SessionState
from controlplane.wiremock import shapes, state

__all__ = [
    "CONSOLE_WIDTH_HEADER",
    "NO_STUBS",
    "mark_dialect_session",
    "render_report",
    "unmatched_answer",
]

CONSOLE_WIDTH_HEADER = "X-WireMock-Console-Width"
NO_STUBS = "No response could be served as there are no stub mappings in this WireMock instance."
_WIDTH = 119
_MIN_WIDTH, _MAX_WIDTH = 40, 1000
_TITLE = "Request was not matched"
#: A native diff's field (its first word) as WireMock names the request attribute.
_ATTRIBUTES = {
    "method": "HTTP method",
    "path": "URL",
    "url": "URL",
    "header": "Header",
    "query": "Query",
    "cookie": "Cookie",
    "form": "Form data",
    "path_param": "Path parameter",
    "host": "Host",
    "client_ip": "Client IP",
    "scenario": "Scenario",
    "times": "Times",
}


class _Table:
    """WireMock's two-column layout for one console width."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.middle = width // 2 - 1
        self.column = width // 2 - 2
        self.lines: list[str] = []

    def header(self) -> None:
        pad = " " * (self.middle - len(_TITLE) // 2)
        rule = "-" * self.width
        self.lines += ["", pad + _TITLE, pad + "=" * len(_TITLE), "", rule]
        self.lines.append(f"|{' Closest stub':<{self.middle}}|{' Request':<{self.middle}}|")
        self.lines.append(rule)
        self.blank()

    def blank(self) -> None:
        self.single("", "", None)

    def row(self, left: str, right: str, message: str | None = None) -> None:
        lefts, rights = self._wrap(left), self._wrap(right)
        for index in range(max(len(lefts), len(rights))):
            self.single(
                lefts[index] if index < len(lefts) else "",
                rights[index] if index < len(rights) else "",
                message if index == 0 else None,
            )

    def single(self, left: str, right: str, message: str | None) -> None:
        line = f"{left:<{self.middle + 1}}|"
        if right:
            line += " " + (f"{right:<{self.middle - 6}}<<<<< {message}" if message else right)
        elif message:
            line += f"{'':<{self.middle - 5}}<<<<< {message}"
        self.lines.append(line)

    def _wrap(self, text: str) -> list[str]:
        out: list[str] = []
        for line in text.replace("\r\n", "\n").split("\n"):
            out += textwrap.wrap(line, self.column, drop_whitespace=False) or [""]
        return out

    def text(self) -> str:
        self.blank()
        self.lines.append("-" * self.width)
        return "\n".join(self.lines) + "\n"


def _console_width(view: RequestView) -> int:
    raw = view.headers.get(CONSOLE_WIDTH_HEADER)
    if raw is None or not raw.strip().isdigit():
        return _WIDTH
    return min(max(int(raw), _MIN_WIDTH), _MAX_WIDTH)


def _label(field: str) -> str:
    head = field.split(" ", 1)[0]
    return _ATTRIBUTES.get(head, "Body" if head.startswith(("body", "json")) else head)


def _url(view: RequestView) -> str:
    return f"{view.path}?{view.query_string}" if view.query_string else view.path


def render_report(session: SessionState, view: RequestView, miss: wire.NearMiss) -> str:
    """The diff report of `view` against its closest route `miss`."""
    table = _Table(_console_width(view))
    table.header()
    route = session.routes.get(miss.route_id)
    stub = state.dialect(session).mappings.get(miss.route_id)
    if stub is not None and stub.name:
        table.row(stub.name, "")
        table.blank()
    diffs = {diff.field: diff for diff in miss.diffs}
    method = route.method if route is not None and route.method is not None else "ANY"
    differs = diffs.pop("method", None)
    table.row(method, view.method, "HTTP method does not match" if differs else None)
    located = diffs.pop("url", None) or diffs.pop("path", None)
    diffs.pop("path", None)
    if located is not None:
        table.row(located.expected, _url(view), "URL does not match")
    else:
        table.row(_expected_url(route, stub), _url(view))
    table.blank()
    for field, diff in diffs.items():
        label = _label(field)
        table.row(f"{field}: {diff.expected}", diff.actual, f"{label} does not match")
    return table.text()


def _expected_url(route: CompiledRoute | None, stub: shapes.StubMapping | None) -> str:
    """What the closest stub expects of the URL, when the URL matched."""
    if stub is not None:
        request = stub.request
        for value in (
            request.url,
            request.urlPath,
            request.urlPattern,
            request.urlPathPattern,
            request.urlPathTemplate,
        ):
            if value is not None:
                return value
        return "(any URL)"
    return "" if route is None else route.pattern.source


def unmatched_answer(
    session: SessionState, view: RequestView, near_misses: list[wire.NearMiss]
) -> web.Response:
    """The 404 WireMock sends for an unmatched request (text/plain)."""
    body = render_report(session, view, near_misses[0]) if near_misses else NO_STUBS
    return web.Response(status=404, text=body, content_type="text/plain")


def mark_dialect_session(session: SessionState) -> bool:
    """From now on (until a reset), `session` answers unmatched requests as WireMock;
    whether it did not already."""
    dialect = state.dialect(session)
    if dialect.marked:
        return False
    dialect.marked = True
    session.unmatched_answer = unmatched_answer
    return True
