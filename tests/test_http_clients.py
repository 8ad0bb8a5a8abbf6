"""The same mock driven by five HTTP clients: each sees the same answers, the journal each call.

Clients: `requests`, `httpx` (sync and async), `aiohttp`, and the standard library's
`http.client`. None is mocked; all talk to the real server over loopback.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
import requests

from tests.conftest import SessionHandle

#: (status, headers with lower-case names, body)
Answer = tuple[int, dict[str, str], bytes]
SyncCall = Callable[[str, str, dict[str, str], bytes | None], Answer]
AsyncCall = Callable[[str, str, dict[str, str], bytes | None], Awaitable[Answer]]


def _lower(headers: Any) -> dict[str, str]:
    return {str(name).lower(): value for name, value in headers.items()}


def with_requests(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Answer:
    answer = requests.request(method, url, headers=headers, data=body, timeout=10)
    return answer.status_code, _lower(answer.headers), answer.content


def with_httpx(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Answer:
    with httpx.Client(timeout=10) as client:
        answer = client.request(method, url, headers=headers, content=body)
    return answer.status_code, _lower(answer.headers), answer.content


def with_http_client(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Answer:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, _lower(dict(answer.getheaders())), answer.read()
    finally:
        connection.close()


async def with_httpx_async(
    method: str, url: str, headers: dict[str, str], body: bytes | None
) -> Answer:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.request(method, url, headers=headers, content=body)
    return answer.status_code, _lower(answer.headers), answer.content


async def with_aiohttp(
    method: str, url: str, headers: dict[str, str], body: bytes | None
) -> Answer:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client,
        client.request(method, url, headers=headers, data=body) as answer,
    ):
        return answer.status, _lower(answer.headers), await answer.read()


@pytest.fixture
def shop(cp: SessionHandle) -> SessionHandle:
    """A JSON route, a raw route and a POST matched on its JSON body."""
    cp.add_route(
        method="GET",
        path="/items/{id}",
        handler="get_item",
        response={
            "type": "json",
            "headers": {"X-Served-By": "controlplane"},
            "body": {"id": 7, "name": "lamp", "tags": ["a", "b"]},
        },
    )
    cp.add_route(
        method="GET",
        path="/logo",
        handler="logo",
        response={
            "type": "raw",
            "status": 203,
            "body_base64": "iVBORw0KGgo=",
            "content_type": "image/png",
        },
    )
    cp.add_route(
        method="POST",
        path="/orders",
        handler="create_order",
        match={"json": {"item": 7, "qty": 2}},
        response={"type": "json", "status": 201, "body": {"order": 1}},
    )
    return cp


def check_json_route(answer: Answer) -> None:
    status, headers, body = answer
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert headers["x-served-by"] == "controlplane"
    assert json.loads(body) == {"id": 7, "name": "lamp", "tags": ["a", "b"]}


def check_raw_route(answer: Answer) -> None:
    status, headers, body = answer
    assert status == 203
    assert headers["content-type"] == "image/png"
    assert body == b"\x89PNG\r\n\x1a\n"
    assert headers["content-length"] == "8"


def check_post_route(answer: Answer) -> None:
    status, headers, body = answer
    assert status == 201
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"order": 1}


def check_journal(cp: SessionHandle, client_marker: str) -> None:
    entries = requests.get(f"{cp.api}/requests", timeout=10).json()["requests"]
    assert [(e["method"], e["path"], e["handler"]) for e in entries] == [
        ("GET", "/items/7", "get_item"),
        ("GET", "/logo", "logo"),
        ("POST", "/orders", "create_order"),
        ("POST", "/orders", None),
    ]
    assert all(
        dict((k.lower(), v) for k, v in e["headers"])["x-client"] == client_marker for e in entries
    )
    assert entries[0]["query"] == {"full": ["1"]}
    assert entries[2]["json"] == {"item": 7, "qty": 2}
    assert entries[3]["matched"] is False and entries[3]["json"] == {"item": 8, "qty": 2}


ORDER = json.dumps({"item": 7, "qty": 2}).encode()
WRONG_ORDER = json.dumps({"item": 8, "qty": 2}).encode()


@pytest.mark.parametrize(
    "call", [with_requests, with_httpx, with_http_client], ids=["requests", "httpx", "http.client"]
)
def test_sync_client_sees_the_mock_and_the_journal_sees_the_client(
    shop: SessionHandle, call: SyncCall
) -> None:
    marker = {"X-Client": call.__name__}
    json_headers = {**marker, "Content-Type": "application/json"}
    check_json_route(call("GET", f"{shop.mock_url}/items/7?full=1", marker, None))
    check_raw_route(call("GET", f"{shop.mock_url}/logo", marker, None))
    check_post_route(call("POST", f"{shop.mock_url}/orders", json_headers, ORDER))
    status, _, body = call("POST", f"{shop.mock_url}/orders", json_headers, WRONG_ORDER)
    assert status == 404 and json.loads(body)["near_misses"][0]["handler"] == "create_order"
    check_journal(shop, call.__name__)


@pytest.mark.parametrize("call", [with_httpx_async, with_aiohttp], ids=["httpx-async", "aiohttp"])
async def test_async_client_sees_the_mock_and_the_journal_sees_the_client(
    shop: SessionHandle, call: AsyncCall
) -> None:
    marker = {"X-Client": call.__name__}
    json_headers = {**marker, "Content-Type": "application/json"}
    check_json_route(await call("GET", f"{shop.mock_url}/items/7?full=1", marker, None))
    check_raw_route(await call("GET", f"{shop.mock_url}/logo", marker, None))
    check_post_route(await call("POST", f"{shop.mock_url}/orders", json_headers, ORDER))
    status, _, body = await call("POST", f"{shop.mock_url}/orders", json_headers, WRONG_ORDER)
    assert status == 404 and json.loads(body)["near_misses"][0]["handler"] == "create_order"
    check_journal(shop, call.__name__)


def test_session_header_reaches_the_session_from_any_client(
    shop: SessionHandle, cp_server: Any
) -> None:
    header = {"X-Controlplane-Session": shop.id}
    for call in (with_requests, with_httpx, with_http_client):
        check_json_route(call("GET", f"{cp_server.mock_url}/items/7", header, None))
    assert len(shop.calls("get_item")) == 3
