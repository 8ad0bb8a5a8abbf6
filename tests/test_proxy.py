"""The `proxy` response: real origins (aiohttp, one over TLS), real clients, real sockets."""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import trustme
from controlplane_client import Client, ProxyResponse, Route

from tests.conftest import SessionHandle
from tests.origins import GZIPPED, Origin


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


def proxy(cp: SessionHandle, url: str, **fields: Any) -> None:
    """Route everything under /api/ of the session to `url`, less the /api prefix."""
    response = {"type": "proxy", "url": url, "strip_prefix": "/api", **fields}
    cp.add_route(method="*", path="/api/{rest:.*}", handler="upstream", response=response)


def echoed(answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def header_names(echo: dict[str, Any]) -> list[str]:
    return [name.lower() for name, _ in echo["headers"]]


def test_forwards_method_raw_path_query_and_body(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, f"{origin.url}/echo/")
    answer = requests.post(
        f"{cp.mock_url}/api/a%2Fb/c%20d?x=1&x=2&y=%20z", data=b"\x00payload", timeout=10
    )
    echo = echoed(answer)
    assert echo["method"] == "POST"
    assert echo["raw_path"] == "/echo/a%2Fb/c%20d?x=1&x=2&y=%20z"
    assert base64.b64decode(echo["body_base64"]) == b"\x00payload"
    assert dict(echo["headers"])["Host"] == urlsplit(origin.url).netloc
    assert dict(echo["headers"])["Content-Length"] == "8"


def test_the_python_client_registers_a_proxy(controlplane: Client, origin: Origin) -> None:
    response = ProxyResponse(url=f"{origin.url}/echo", strip_prefix="/via", headers={"X-By": "c"})
    controlplane.add_route(
        Route(method="GET", path="/via/{rest:.*}", handler="via", response=response)
    )
    echo = echoed(requests.get(f"{controlplane.mock_url}/via/x?y=1", timeout=10))
    assert echo["raw_path"] == "/echo/x?y=1"
    assert dict(echo["headers"])["X-By"] == "c"
    [call] = controlplane.get_calls("via")
    assert (call.response.type, call.response.status) == ("proxy", 200)


def test_strip_prefix_only_strips_a_whole_segment(cp: SessionHandle, origin: Origin) -> None:
    cp.add_route(
        method="GET",
        path="/{rest:.*}",
        handler="all",
        priority=9,
        response={"type": "proxy", "url": f"{origin.url}/echo", "strip_prefix": "/api"},
    )
    assert echoed(requests.get(f"{cp.mock_url}/api", timeout=10))["raw_path"] == "/echo"
    assert echoed(requests.get(f"{cp.mock_url}/api/", timeout=10))["raw_path"] == "/echo/"
    assert echoed(requests.get(f"{cp.mock_url}/apiary", timeout=10))["raw_path"] == "/echo/apiary"


def test_adds_nothing_of_its_own(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, f"{origin.url}/echo")
    target = urlsplit(cp.mock_url)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
    connection.putrequest(
        "GET", f"{target.path}/api/bare", skip_host=True, skip_accept_encoding=True
    )
    connection.putheader("Host", "mock.example")
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 200
    echo = requests.models.complexjson.loads(answer.read())
    connection.close()
    assert echo["headers"] == [["Host", urlsplit(origin.url).netloc]]


def test_hop_by_hop_request_headers_stay_behind(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, f"{origin.url}/echo")
    headers = {
        "Connection": "keep-alive, X-Secret",
        "X-Secret": "for the proxy only",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic eDp5",
        "Upgrade": "h2c",
        "X-Normal": "kept",
    }
    echo = echoed(requests.get(f"{cp.mock_url}/api/x", headers=headers, timeout=10))
    names = header_names(echo)
    for gone in ("connection", "x-secret", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert gone not in names
    assert dict(echo["headers"])["X-Normal"] == "kept"


def test_headers_set_remove_headers_remove_and_preserve_host(
    cp: SessionHandle, origin: Origin
) -> None:
    proxy(
        cp,
        f"{origin.url}/echo",
        headers={"X-Added": "1", "X-Replaced": "new"},
        remove_headers=["x-removed"],
        preserve_host=True,
    )
    sent = {"X-Replaced": "old", "X-Removed": "gone", "X-Other": "kept"}
    echo = echoed(requests.get(f"{cp.mock_url}/api/h", headers=sent, timeout=10))
    headers = dict(echo["headers"])
    assert headers["X-Added"] == "1"
    assert [v for k, v in echo["headers"] if k == "X-Replaced"] == ["new"]
    assert "x-removed" not in header_names(echo)
    assert headers["X-Other"] == "kept"
    assert headers["Host"] == urlsplit(cp.mock_url).netloc


def test_the_session_header_is_not_forwarded(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, f"{origin.url}/echo")
    base = cp.mock_url.split("/_s/")[0]
    answer = requests.get(f"{base}/api/x", headers={"X-Controlplane-Session": cp.id}, timeout=10)
    echo = echoed(answer)
    assert echo["raw_path"] == "/echo/x"
    assert "x-controlplane-session" not in header_names(echo)


def test_answers_with_the_origins_status_and_headers(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, origin.url)
    answer = requests.get(f"{cp.mock_url}/api/echo/x", timeout=10)
    assert answer.headers["Set-Cookie"] == "a=1"
    assert answer.headers["X-Origin"] == "yes"
    hop = requests.get(f"{cp.mock_url}/api/hop", timeout=10)
    assert (hop.status_code, hop.text) == (200, "hop")
    assert hop.headers["X-Public"] == "keep me"
    for gone in ("X-Private", "Keep-Alive", "Proxy-Authenticate"):
        assert gone not in hop.headers
    [call] = [c for c in cp.calls("upstream") if c["path"] == "/api/hop"]
    assert call["response"] == {"status": 200, "type": "proxy", "delay_ms": 0.0, "error": None}


def test_compressed_bodies_pass_through_untouched(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, origin.url)
    answer = requests.get(
        f"{cp.mock_url}/api/gzip", headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10
    )
    raw = answer.raw.read(decode_content=False)
    assert raw == GZIPPED
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Content-Length"] == str(len(GZIPPED))


def test_redirects_are_returned_not_followed(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, origin.url)
    answer = requests.get(f"{cp.mock_url}/api/redirect", allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/echo/elsewhere"


def test_an_event_stream_arrives_event_by_event(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, origin.url)
    with requests.get(f"{cp.mock_url}/api/events", stream=True, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "text/event-stream"
        chunks = answer.iter_content(chunk_size=None)
        received = b""
        while b"\n\n" not in received:  # the origin holds its second event until released
            received += next(chunks)
        assert received == b"data: first\n\n"
        origin.release()
        assert received + b"".join(chunks) == b"data: first\n\ndata: second\n\n"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_an_unreachable_origin_is_a_502(cp: SessionHandle) -> None:
    port = _closed_port()
    proxy(cp, f"http://127.0.0.1:{port}")
    answer = requests.get(f"{cp.mock_url}/api/x?q=1", timeout=10)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "proxy_unreachable"
    assert error["message"].startswith(f"cannot reach http://127.0.0.1:{port}/x?q=1: ")
    [call] = cp.calls("upstream")
    assert call["response"] == {
        "status": 502,
        "type": "proxy",
        "delay_ms": 0.0,
        "error": "proxy_unreachable",
    }


def test_an_origin_that_does_not_answer_in_time_is_a_504(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, origin.url, timeout_ms=300)
    answer = requests.get(f"{cp.mock_url}/api/stall", timeout=10)
    assert answer.status_code == 504
    assert answer.json()["error"] == {
        "code": "proxy_timeout",
        "message": f"no answer from {origin.url}/stall within 300 ms (`timeout_ms`)",
        "location": None,
    }
    assert cp.calls("upstream")[0]["response"]["error"] == "proxy_timeout"


def test_an_origin_breaking_off_a_small_body_is_a_502(cp: SessionHandle, origin: Origin) -> None:
    # Up to 64 KiB of declared length is read whole before anything is sent.
    proxy(cp, origin.url)
    answer = requests.get(f"{cp.mock_url}/api/broken?declare=65536", timeout=10)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "proxy_broken"
    assert error["message"].startswith(f"{origin.url}/broken?declare=65536 broke off its answer: ")
    assert cp.calls("upstream")[0]["response"]["error"] == "proxy_broken"


def test_an_origin_breaking_off_a_streamed_body_breaks_the_clients_answer(
    cp: SessionHandle, origin: Origin
) -> None:
    proxy(cp, origin.url)
    target = urlsplit(cp.mock_url)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
    connection.request("GET", f"{target.path}/api/broken?declare=65537")
    answer = connection.getresponse()
    assert answer.status == 200
    with pytest.raises(http.client.IncompleteRead):
        answer.read()
    connection.close()


@pytest.mark.single_process("each worker keeps its own connection pool to the origin")
def test_one_connection_pool_serves_every_request(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, f"{origin.url}/echo")
    ports = {
        echoed(requests.get(f"{cp.mock_url}/api/{i}", timeout=10))["peer_port"] for i in range(5)
    }
    assert len(ports) == 1


def test_a_sequence_adds_its_delay_to_a_proxy_inside_it(cp: SessionHandle, origin: Origin) -> None:
    inner = {"type": "proxy", "url": f"{origin.url}/echo", "delay": {"fixed_ms": 20}}
    response = {"type": "sequence", "responses": [inner], "delay": {"fixed_ms": 30}}
    cp.add_route(method="GET", path="/seq", handler="seq", response=response)
    echoed(requests.get(f"{cp.mock_url}/seq", timeout=10))
    assert cp.calls("seq")[0]["response"]["delay_ms"] == 50.0


def test_a_delay_holds_the_answer_not_the_forwarding(cp: SessionHandle, origin: Origin) -> None:
    proxy(cp, f"{origin.url}/echo", delay={"fixed_ms": 50})
    echoed(requests.get(f"{cp.mock_url}/api/d", timeout=10))
    assert cp.calls("upstream")[0]["response"]["delay_ms"] == 50.0


# ------------------------------------------------------------------ registration

NOT_ABSOLUTE = "`url` must be an absolute http:// or https:// URL, got "


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "ftp://x"}, f"{NOT_ABSOLUTE}'ftp://x'"),
        ({"url": "/relative"}, f"{NOT_ABSOLUTE}'/relative'"),
        ({"url": "http:///x"}, f"{NOT_ABSOLUTE}'http:///x'"),
        ({"url": "http://[::1"}, "`url` is not a valid URL (Invalid IPv6 URL): 'http://[::1'"),
        (
            {"url": "http://h:port"},
            "`url` is not a valid URL (Port could not be cast to integer value as 'port'): "
            "'http://h:port'",
        ),
        ({"url": "http://:80"}, "`url` names no host: 'http://:80'"),
        (
            {"url": "http://h/x?q=1"},
            "`url` takes no query or fragment: the request's own query is forwarded",
        ),
        ({"url": "http://h", "strip_prefix": "a"}, "`strip_prefix` must start with '/', got 'a'"),
        (
            {"url": "http://h", "timeout_ms": 0},
            "`timeout_ms` must be > 0 and at most 600000, got 0",
        ),
        (
            {"url": "http://h", "timeout_ms": 600_001},
            "`timeout_ms` must be > 0 and at most 600000, got 600001",
        ),
        (
            {"url": "http://h", "insecure": True, "ca_file": "ca.pem"},
            "`insecure` trusts any certificate: give it or `ca_file`, not both",
        ),
        (
            {"url": "http://h", "client_cert": "c.pem"},
            "`client_cert` and `client_key` go together: give both or neither",
        ),
        (
            {"url": "http://h", "headers": {"X": "a\r\nb"}},
            '`headers["X"]`: the value contains a control character (CR, LF, NUL or another)',
        ),
    ],
)
def test_bad_proxy_settings_are_refused(
    cp: SessionHandle, fields: dict[str, Any], message: str
) -> None:
    route = {"method": "GET", "path": "/p", "handler": "h", "response": {"type": "proxy", **fields}}
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=10)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["message"] == message
    field = message.split("`")[1].replace('["X"]', ".X")
    assert error["location"] == f"$.response.{field}"


def test_an_unreadable_ca_file_is_refused_at_its_field(cp: SessionHandle, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    route = {
        "method": "GET",
        "path": "/p",
        "handler": "h",
        "response": {"type": "proxy", "url": "https://h", "ca_file": str(missing)},
    }
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=10)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["location"] == "$.response.ca_file"
    assert error["message"] == "cannot load ca_file: No such file or directory"


# ------------------------------------------------------------------ TLS to the origin


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def tls_origin(ca: trustme.CA) -> Iterator[Origin]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with Origin(context) as running:
        yield running


def test_tls_origins_are_verified_by_default(cp: SessionHandle, tls_origin: Origin) -> None:
    proxy(cp, f"{tls_origin.url}/echo")
    answer = requests.get(f"{cp.mock_url}/api/x", timeout=10)
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "proxy_unreachable"
    assert "certificate verify failed" in answer.json()["error"]["message"]


def test_a_ca_file_makes_the_origin_trusted(
    cp: SessionHandle, tls_origin: Origin, ca_file: str
) -> None:
    proxy(cp, f"{tls_origin.url}/echo", ca_file=ca_file)
    assert echoed(requests.get(f"{cp.mock_url}/api/x", timeout=10))["raw_path"] == "/echo/x"


def test_insecure_skips_verification(cp: SessionHandle, tls_origin: Origin) -> None:
    proxy(cp, f"{tls_origin.url}/echo", insecure=True)
    assert echoed(requests.get(f"{cp.mock_url}/api/y", timeout=10))["raw_path"] == "/echo/y"


def test_a_client_certificate_is_presented(
    cp: SessionHandle, ca: trustme.CA, ca_file: str, tmp_path: Path
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(context)
    client = ca.issue_cert("client@example")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    with Origin(context) as mutual:
        proxy(cp, f"{mutual.url}/echo", ca_file=ca_file, client_cert=str(cert), client_key=str(key))
        assert echoed(requests.get(f"{cp.mock_url}/api/z", timeout=10))["client_cert"] is True
        insecure = {"insecure": True, "client_cert": str(cert), "client_key": str(key)}
        cp.register("upstream", {"type": "proxy", "url": f"{mutual.url}/echo", **insecure})
        assert echoed(requests.get(f"{cp.mock_url}/api/z", timeout=10))["client_cert"] is True
        cp.register("upstream", {"type": "proxy", "url": f"{mutual.url}/echo", "ca_file": ca_file})
        refused = requests.get(f"{cp.mock_url}/api/z", timeout=10)
        assert refused.status_code == 502


def test_an_unloadable_client_certificate_is_refused_at_its_field(
    cp: SessionHandle, ca_file: str
) -> None:
    route = {
        "method": "GET",
        "path": "/p",
        "handler": "h",
        "response": {
            "type": "proxy",
            "url": "https://h",
            "client_cert": ca_file,  # a certificate without its key
            "client_key": ca_file,
        },
    }
    answer = requests.post(f"{cp.api}/routes", json=route, timeout=10)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["location"] == "$.response.client_cert"
    assert error["message"].startswith("cannot load client_cert: ")
