"""The journal in WireMock's shapes: serve events, logged requests, near misses.

Entries are the core journal's; this module only renders them (and builds a request
from a posted LoggedRequest, for `/near-misses/request`).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from multidict import CIMultiDict

from controlplane.journal import Journal, JournalEntry
from controlplane.request_view import KnownPeer, RequestView
from controlplane.wiremock import shapes

__all__ = ["logged_request", "serve_event", "view_of", "wiremock_date"]

_NO_MATCH_BODY = "No response could be served: no stub mapping matched this request."


def wiremock_date(timestamp: float) -> str:
    """`2024-05-01T12:00:00.123Z`, as WireMock writes `loggedDateString`."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _url(view: RequestView) -> str:
    return f"{view.path}?{view.query_string}" if view.query_string else view.path


def logged_request(entry: JournalEntry, mock_url: str) -> shapes.LoggedRequest:
    view = entry.view
    headers: dict[str, str | list[str]] = {}
    for name in view.headers:
        if name in headers:
            continue
        values = view.headers.getall(name)
        headers[name] = values[0] if len(values) == 1 else list(values)
    query: dict[str, shapes.QueryParameter] = {}
    for name, value in view.query.items():
        query.setdefault(name, shapes.QueryParameter(key=name, values=[])).values.append(value)
    url = _url(view)
    return shapes.LoggedRequest(
        url=url,
        absoluteUrl=mock_url + url,
        method=view.method,
        headers=headers,
        cookies=dict(view.cookies),
        loggedDate=int(entry.time * 1000),
        loggedDateString=wiremock_date(entry.time),
        bodyAsBase64=base64.b64encode(view.body).decode("ascii"),
        body=view.text if view.text is not None else "",
        queryParams=query,
    )


def serve_event(
    journal: Journal,
    entry: JournalEntry,
    mock_url: str,
    stub: shapes.StubMapping | None,
) -> shapes.ServeEvent:
    """One journal entry as a serve event; `stub` is the mapping that answered, if any."""
    if stub is not None:
        definition = stub.response
    elif entry.matched:
        definition = shapes.ResponseDefinition(status=entry.status, fromConfiguredStub=True)
    else:
        definition = shapes.ResponseDefinition(
            status=404, body=_NO_MATCH_BODY, fromConfiguredStub=False
        )
    return shapes.ServeEvent(
        id=journal.entry_id(entry),
        request=logged_request(entry, mock_url),
        responseDefinition=definition,
        response=shapes.ServedResponse(status=entry.status),
        wasMatched=entry.matched,
        stubMapping=stub,
    )


def view_of(request: shapes.LoggedRequest) -> RequestView:
    """The request a posted LoggedRequest describes, as matching sees requests."""
    path, _, query = request.url.partition("?")
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in request.headers.items():
        for item in [value] if isinstance(value, str) else value:
            headers.add(name, item)
    if request.cookies:
        headers.add("Cookie", "; ".join(f"{k}={v}" for k, v in request.cookies.items()))
    if request.bodyAsBase64:
        body = base64.b64decode(request.bodyAsBase64)
    else:
        body = (request.body or "").encode()
    peer = None if request.clientIp is None else KnownPeer(request.clientIp)
    return RequestView(request.method.upper(), path or "/", query, headers, body, peer=peer)
