"""The mock port as a client's HTTP proxy: absolute-form requests, CONNECT, proxy auth.

Real clients (requests with `proxies=`, httpx with `proxy=`, aiohttp with `proxy=`,
curl -x) talk to the shared server; real origins (tests/origins.py, one over TLS with
trustme certificates) stand behind it. Destinations that must never be reached use the
reserved `.test` names: a matched route answers before anything is resolved.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
import requests
import trustme

from tests.conftest import SessionHandle, ThreadedServer
from tests.origins import Origin

SESSION = "X-Controlplane-Session"


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_origin(ca: trustme.CA) -> Iterator[Origin]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with Origin(ssl_context=context) as running:
        yield running


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def proxy_url(cp: SessionHandle, user: str | None = None, password: str = "pw") -> str:
    """The mock port as a proxy URL; with `user`, Basic credentials in it."""
    netloc = urlsplit(cp.mock_url).netloc
    return f"http://{user}:{password}@{netloc}" if user is not None else f"http://{netloc}"


def settings(cp: SessionHandle, **fields: Any) -> requests.Response:
    return requests.put(f"{cp.api}/settings", json=fields, timeout=10)


def journal(cp: SessionHandle) -> list[dict[str, Any]]:
    answer = requests.get(f"{cp.api}/requests", timeout=10)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["requests"]
    return entries


def via(cp: SessionHandle, url: str, **kwargs: Any) -> requests.Response:
    """GET `url` through the mock port as the proxy, in `cp`'s session (by header)."""
    headers = {SESSION: cp.id, **kwargs.pop("headers", {})}
    proxies = {"http": proxy_url(cp), "https": proxy_url(cp)}
    return requests.get(url, proxies=proxies, headers=headers, timeout=10, **kwargs)


def raw_exchange(cp: SessionHandle, head: str) -> bytes:
    """Send `head` on a fresh connection to the mock port; everything answered until close."""
    netloc = urlsplit(cp.mock_url)
    assert netloc.hostname is not None and netloc.port is not None
    with socket.create_connection((netloc.hostname, netloc.port), timeout=10) as sock:
        sock.sendall(head.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def echoed_headers(answer: requests.Response | httpx.Response) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {name.lower(): value for name, value in answer.json()["headers"]}


# ------------------------------------------------------------- absolute-form requests


def test_a_proxy_request_matches_a_route_by_host(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/users/{id}",
        handler="api",
        match={"host": "api.test"},
        response={"type": "json", "body": {"from": "stub"}},
    )
    answer = via(cp, "http://api.test/users/7?x=1")
    assert (answer.status_code, answer.json()) == (200, {"from": "stub"})
    [call] = cp.calls("api")
    assert (call["path"], call["query"], call["path_params"]) == (
        "/users/7",
        {"x": ["1"]},
        {"id": "7"},
    )
    assert dict(call["headers"])["Host"] == "api.test"


def test_host_is_lower_case_without_the_port(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/x",
        handler="h",
        match={"host": "api.test"},
        response={"type": "json", "body": 1},
    )
    assert via(cp, "http://API.Test:8443/x").status_code == 200


def test_host_matches_the_host_header_of_an_ordinary_request(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/x",
        handler="h",
        match={"host": {"ends_with": ".example.test"}},
        response={"type": "json", "body": 1},
    )
    url = f"{cp.mock_url}/x"
    assert requests.get(url, headers={"Host": "a.example.test:81"}, timeout=10).status_code == 200
    assert requests.get(url, headers={"Host": "other.test"}, timeout=10).status_code == 404


def test_an_unmatched_proxy_request_is_a_404_with_the_host_diff(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/x",
        handler="h",
        match={"host": "api.test"},
        response={"type": "json", "body": 1},
    )
    answer = via(cp, "http://other.test/x")
    assert answer.status_code == 404
    [miss] = answer.json()["near_misses"]
    assert miss["diffs"] == [
        {"field": "host", "expected": 'equals "api.test"', "actual": "other.test"}
    ]
    [entry] = journal(cp)
    assert (entry["matched"], entry["response"]["error"]) == (False, "no_route")


def test_passthrough_unmatched_sends_the_request_to_its_destination(
    cp: SessionHandle, origin: Origin
) -> None:
    assert settings(cp, passthrough_unmatched=True).status_code == 200
    cp.add_route(
        method="GET",
        path="/echo/stubbed",
        handler="stubbed",
        response={"type": "json", "body": {"stub": True}},
    )
    assert via(cp, f"{origin.url}/echo/stubbed").json() == {"stub": True}
    answer = via(cp, f"{origin.url}/echo/real?q=%20x", headers={"X-Mine": "1"})
    echo = answer.json()
    assert echo["raw_path"] == "/echo/real?q=%20x"
    headers = echoed_headers(answer)
    assert headers["x-mine"] == "1"
    assert headers["host"] == urlsplit(origin.url).netloc
    assert SESSION.lower() not in headers
    assert answer.headers["X-Origin"] == "yes"
    entries = journal(cp)
    assert [(e["path"], e["response"]["type"], e["response"]["status"]) for e in entries] == [
        ("/echo/stubbed", "json", 200),
        ("/echo/real", "proxy", 200),
    ]
    assert entries[1]["matched"] is False


def test_passthrough_of_an_unreachable_destination_is_a_502(cp: SessionHandle) -> None:
    assert settings(cp, passthrough_unmatched=True).status_code == 200
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        answer = via(cp, f"http://127.0.0.1:{port}/x")
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "proxy_unreachable"
    [entry] = journal(cp)
    assert (entry["response"]["type"], entry["response"]["error"]) == ("proxy", "proxy_unreachable")


def test_ordinary_requests_never_pass_through(cp: SessionHandle) -> None:
    assert settings(cp, passthrough_unmatched=True).status_code == 200
    assert requests.get(f"{cp.mock_url}/nothing", timeout=10).status_code == 404


def test_a_proxy_route_forwards_a_proxy_requests_path(cp: SessionHandle, origin: Origin) -> None:
    cp.add_route(
        method="GET",
        path="/{rest:.*}",
        handler="up",
        match={"host": "api.test"},
        response={"type": "proxy", "url": f"{origin.url}/echo"},
    )
    assert via(cp, "http://api.test/a%2Fb?x=1").json()["raw_path"] == "/echo/a%2Fb?x=1"


def test_an_unknown_session_header_on_a_proxy_request_is_a_404(cp: SessionHandle) -> None:
    answer = via(cp, "http://api.test/x", headers={SESSION: "no-such-session"})
    assert answer.status_code == 404
    assert answer.json()["session"] == "no-such-session"


def test_the_proxy_user_name_picks_the_session(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/x", handler="h", response={"type": "json", "body": "mine"})
    proxies = {"http": proxy_url(cp, user=cp.id)}
    answer = requests.get("http://api.test/x", proxies=proxies, timeout=10)
    assert answer.json() == "mine"
    assert len(cp.calls("h")) == 1


# ------------------------------------------------------------------------ proxy_auth


def test_proxy_auth_is_user_colon_password(cp: SessionHandle) -> None:
    for bad in ("nocolon", ":pw", "a:b\n"):
        answer = settings(cp, proxy_auth=bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"]["location"] == "$.proxy_auth", bad
    assert settings(cp, proxy_auth="x").json()["error"]["message"] == (
        "`proxy_auth` is `user:password`: a user name, a colon, then the password"
    )
    assert "control characters" in settings(cp, proxy_auth="a:b\n").json()["error"]["message"]
    assert settings(cp, proxy_auth="u:p:with:colons").json()["proxy_auth"] == "u:p:with:colons"


def test_proxy_auth_answers_407_without_the_credentials(cp: SessionHandle, origin: Origin) -> None:
    assert settings(cp, proxy_auth="user:secret", passthrough_unmatched=True).status_code == 200
    missing = via(cp, f"{origin.url}/echo/x")
    assert missing.status_code == 407
    assert missing.headers["Proxy-Authenticate"] == 'Basic realm="controlplane"'
    assert missing.json()["error"]["code"] == "proxy_auth_required"
    assert "requires proxy authentication" in missing.json()["error"]["message"]
    wrong = via(
        cp, f"{origin.url}/echo/x", auth=None, headers={"Proxy-Authorization": _basic("user:nope")}
    )
    assert wrong.status_code == 407
    assert "wrong proxy credentials" in wrong.json()["error"]["message"]
    right = via(cp, f"{origin.url}/echo/x", headers={"Proxy-Authorization": _basic("user:secret")})
    headers = echoed_headers(right)
    assert "proxy-authorization" not in headers
    statuses = [(e["response"]["status"], e["response"]["error"]) for e in journal(cp)]
    assert statuses == [(407, "proxy_auth_required"), (407, "proxy_auth_required"), (200, None)]


def test_proxy_auth_leaves_ordinary_requests_alone(cp: SessionHandle) -> None:
    assert settings(cp, proxy_auth="user:secret").status_code == 200
    cp.add_route(method="GET", path="/x", handler="h", response={"type": "json", "body": 1})
    assert requests.get(f"{cp.mock_url}/x", timeout=10).status_code == 200


def test_credentials_in_the_proxy_url_pick_the_session_and_pass(cp: SessionHandle) -> None:
    assert settings(cp, proxy_auth=f"{cp.id}:secret").status_code == 200
    cp.add_route(method="GET", path="/x", handler="h", response={"type": "json", "body": "in"})
    answer = requests.get(
        "http://api.test/x", proxies={"http": proxy_url(cp, cp.id, "secret")}, timeout=10
    )
    assert answer.json() == "in"
    wrong = requests.get(
        "http://api.test/x", proxies={"http": proxy_url(cp, cp.id, "nope")}, timeout=10
    )
    assert wrong.status_code == 407


def _basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


# ---------------------------------------------------------------------------- CONNECT


def test_connect_tunnels_https_for_requests(
    cp: SessionHandle, tls_origin: Origin, ca_file: str
) -> None:
    proxies = {"https": proxy_url(cp, user=cp.id)}  # the user name picks the session
    answer = requests.get(
        f"{tls_origin.url}/echo/t?x=1", proxies=proxies, verify=ca_file, timeout=10
    )
    assert answer.json()["raw_path"] == "/echo/t?x=1"
    [entry] = journal(cp)
    netloc = urlsplit(tls_origin.url).netloc
    assert (entry["method"], entry["path"], entry["matched"]) == ("CONNECT", netloc, False)
    assert (entry["response"]["status"], entry["response"]["type"]) == (200, "tunnel")


def test_connect_tunnels_https_for_httpx(
    cp: SessionHandle, tls_origin: Origin, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with httpx.Client(proxy=proxy_url(cp, user=cp.id), verify=context, timeout=10) as client:
        first = client.post(f"{tls_origin.url}/echo/a", content=b"one")
        second = client.get(f"{tls_origin.url}/echo/b")  # the same tunnel, kept alive
    assert base64.b64decode(first.json()["body_base64"]) == b"one"
    assert second.json()["raw_path"] == "/echo/b"
    assert [e["method"] for e in journal(cp)] == ["CONNECT"]


def test_connect_needs_proxy_auth_too(cp: SessionHandle, tls_origin: Origin) -> None:
    assert settings(cp, proxy_auth="user:secret").status_code == 200
    netloc = urlsplit(tls_origin.url).netloc
    head = f"CONNECT {netloc} HTTP/1.1\r\nHost: {netloc}\r\n{SESSION}: {cp.id}\r\n\r\n"
    answer = raw_exchange(cp, head)
    assert answer.startswith(b"HTTP/1.1 407 Proxy Authentication Required\r\n")
    assert b'Proxy-Authenticate: Basic realm="controlplane"\r\n' in answer
    [entry] = journal(cp)
    assert (entry["method"], entry["response"]["status"]) == ("CONNECT", 407)


def test_connect_to_a_closed_port_is_a_502(cp: SessionHandle) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        head = f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n{SESSION}: {cp.id}\r\n\r\n"
        answer = raw_exchange(cp, head)
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b'"code":"proxy_unreachable"' in answer
    [entry] = journal(cp)
    assert (entry["response"]["type"], entry["response"]["error"]) == (
        "tunnel",
        "proxy_unreachable",
    )


def test_the_200_to_connect_has_no_body_framing(cp: SessionHandle, origin: Origin) -> None:
    netloc = urlsplit(origin.url).netloc
    head = (
        f"CONNECT {netloc} HTTP/1.1\r\nHost: {netloc}\r\n{SESSION}: {cp.id}\r\n\r\n"
        f"GET /echo/in HTTP/1.1\r\nHost: {netloc}\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(cp, head)
    status, _, rest = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200 Connection established\r\n")
    assert b"Transfer-Encoding" not in status and b"Content-Length" not in status
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")  # the origin's own answer, unframed
    assert b'"raw_path": "/echo/in"' in rest


# ------------------------------------------------------------- more real clients


def test_aiohttp_proxy_and_proxy_auth(cp: SessionHandle, origin: Origin) -> None:
    assert settings(cp, proxy_auth="user:secret", passthrough_unmatched=True).status_code == 200

    async def fetch(proxy: str) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{origin.url}/echo/aio", proxy=proxy, headers={SESSION: cp.id}) as answer,
        ):
            return answer.status, await answer.json()

    # aiohttp sends the proxy URL's credentials as Proxy-Authorization.
    status, echo = asyncio.run(fetch(proxy_url(cp, "user", "secret")))
    assert (status, echo["raw_path"]) == (200, "/echo/aio")
    assert "proxy-authorization" not in {name.lower() for name, _ in echo["headers"]}
    assert asyncio.run(fetch(proxy_url(cp)))[0] == 407


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed: no curl -x test")
def test_curl_x(cp: SessionHandle, origin: Origin, tls_origin: Origin, ca_file: str) -> None:
    assert settings(cp, passthrough_unmatched=True).status_code == 200
    proxy = proxy_url(cp, user=cp.id)
    plain = subprocess.run(
        ["curl", "-sS", "-x", proxy, f"{origin.url}/echo/curl"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert '"raw_path": "/echo/curl"' in plain.stdout
    tunnelled = subprocess.run(
        ["curl", "-sS", "-x", proxy, "--cacert", ca_file, f"{tls_origin.url}/echo/tls"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert '"raw_path": "/echo/tls"' in tunnelled.stdout
    assert [e["method"] for e in journal(cp)] == ["GET", "CONNECT"]


def test_a_tunnel_survives_the_server_stopping(tmp_path: Path, tls_origin: Origin) -> None:
    """A tunnel still open when the server stops is cut, and the stop completes."""
    from controlplane.server import ServerConfig

    server = ThreadedServer(ServerConfig(port=0, admin_port=0, shutdown_grace=0.5)).start()
    netloc = urlsplit(tls_origin.url).netloc
    mock = urlsplit(server.mock_url)
    assert mock.hostname is not None and mock.port is not None
    with socket.create_connection((mock.hostname, mock.port), timeout=10) as sock:
        sock.sendall(f"CONNECT {netloc} HTTP/1.1\r\nHost: {netloc}\r\n\r\n".encode())
        assert sock.recv(200).startswith(b"HTTP/1.1 200 Connection established")
        server.stop()
        assert sock.recv(100) == b""


def test_wiremock_settings_keep_the_proxy_settings(cp: SessionHandle) -> None:
    assert settings(cp, proxy_auth="user:secret", passthrough_unmatched=True).status_code == 200
    admin = cp.api.split("/api/")[0]
    answer = requests.post(
        f"{admin}/__admin/settings", json={"fixedDelay": 5}, headers={SESSION: cp.id}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    now = requests.get(f"{cp.api}/settings", timeout=10).json()
    assert now == {
        "delay": {"fixed_ms": 5.0},
        "passthrough_unmatched": True,
        "proxy_auth": "user:secret",
    }


def test_host_of_an_ipv6_host_header_is_the_bare_address(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/x",
        handler="h",
        match={"host": "::1"},
        response={"type": "json", "body": 1},
    )
    url = f"{cp.mock_url}/x"
    assert requests.get(url, headers={"Host": "[::1]:8080"}, timeout=10).status_code == 200


def test_a_tunnel_carries_a_large_body_both_ways(
    cp: SessionHandle, tls_origin: Origin, ca_file: str
) -> None:
    # 900 KiB up (the origin takes at most 1 MiB), 1.2 MB back (the echo's base64).
    payload = bytes(range(256)) * 3_600
    answer = requests.post(
        f"{tls_origin.url}/echo/big",
        data=payload,
        proxies={"https": proxy_url(cp, user=cp.id)},
        verify=ca_file,
        timeout=60,
    )
    assert base64.b64decode(answer.json()["body_base64"]) == payload
