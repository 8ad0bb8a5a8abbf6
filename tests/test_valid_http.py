"""Every response a route can be given is valid HTTP on a kept-alive connection.

Framing (`Content-Length`, `Transfer-Encoding`), keep-alive and interim statuses are the
server's job, and control characters have no place in a header: a response that
would break them is refused at registration (422, at the field), natively and through
the WireMock dialect. What is accepted is checked on the wire: two requests on one
socket, read as raw bytes, and the second answer parses cleanly after the first.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import SessionHandle

FRAMING = (
    "{} frames the message, so the server sets it from the body it sends; remove it "
    "(for a short body use a `truncated` fault)"
)
CONTROL = "the value contains a control character (CR, LF, NUL or another)"


def post_route(cp: SessionHandle, response: dict[str, Any]) -> requests.Response:
    route = {"method": "GET", "path": "/r", "handler": "h", "response": response}
    return requests.post(f"{cp.api}/routes", json=route, timeout=10)


def refusal(cp: SessionHandle, response: dict[str, Any]) -> dict[str, Any]:
    answer = post_route(cp, response)
    assert answer.status_code == 422, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == "invalid_input"
    return error


# ----------------------------------------------------------------- raw exchanges


def read_answer(sock: socket.socket, buffer: bytes, *, head: bool) -> tuple[bytes, bytes, bytes]:
    """(status line and headers, body, what follows) of the next answer on `sock`."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        assert data, f"the connection closed inside a head: {buffer!r}"
        buffer += data
    top, _, rest = buffer.partition(b"\r\n\r\n")
    assert top.startswith(b"HTTP/1.1 "), top
    lines = top.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    fields = [line.split(b":", 1) for line in lines[1:]]
    assert all(len(f) == 2 for f in fields), top
    names = [name.strip().lower() for name, _ in fields]
    assert b"transfer-encoding" not in names, top
    lengths = [value.strip() for name, value in fields if name.strip().lower() == b"content-length"]
    if head or status in (204, 304):
        length = 0
    else:
        assert len(lengths) == 1, top  # exactly one, and numeric
        length = int(lengths[0])
    while len(rest) < length:
        data = sock.recv(65536)
        assert data, "the connection closed inside a body"
        rest += data
    return top, rest[:length], rest[length:]


def two_answers(url: str, path: str, method: str = "GET") -> tuple[bytes, bytes, bytes]:
    """The answer to `method path`, then to `GET /ok` sent on the same connection.

    Returns (first head, first body, second answer's head and body).
    """
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    prefix = parts.path
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"{method} {prefix}{path} HTTP/1.1\r\nHost: x\r\n\r\n"
            f"GET {prefix}/ok HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        head, body, rest = read_answer(sock, b"", head=method == "HEAD")
        second_head, second_body, extra = read_answer(sock, rest, head=False)
        assert extra == b""
        return head, body, second_head + b"\r\n\r\n" + second_body


@pytest.fixture
def wired(cp: SessionHandle) -> SessionHandle:
    cp.add_route(method="GET", path="/ok", handler="ok", response={"type": "raw", "body": "ok"})
    return cp


@pytest.mark.parametrize(
    ("response", "body"),
    [
        (
            {"type": "raw", "body": "abc", "headers": {"X-Tab": "a\tb", "X-Many": ["1", "2"]}},
            b"abc",
        ),
        ({"type": "raw", "status": 204, "body": "dropped"}, b""),
        ({"type": "raw", "status": 304, "body": "dropped"}, b""),
        ({"type": "raw", "status": 205, "body": "abc"}, b"abc"),
        ({"type": "json", "status": 599, "body": {"a": 1}}, b'{"a":1}'),
        ({"type": "raw", "status": 200, "reason": "Fine\tThanks", "body": "r"}, b"r"),
        (
            {"type": "sequence", "responses": [{"type": "raw", "status": 200, "body": "seq"}]},
            b"seq",
        ),
    ],
)
def test_accepted_responses_leave_the_connection_reusable(
    wired: SessionHandle, response: dict[str, Any], body: bytes
) -> None:
    assert post_route(wired, response).status_code == 201
    for method in ("GET", "HEAD"):
        head, first, second = two_answers(wired.mock_url, "/r", method)
        assert first == (b"" if method == "HEAD" else body), head
        assert second.startswith(b"HTTP/1.1 200 OK\r\n") and second.endswith(b"\r\n\r\nok")


def test_connection_close_is_honoured(wired: SessionHandle) -> None:
    answer = post_route(wired, {"type": "raw", "body": "bye", "headers": {"Connection": "close"}})
    assert answer.status_code == 201, answer.text
    parts = urlsplit(wired.mock_url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"GET {parts.path}/r HTTP/1.1\r\nHost: x\r\n\r\n"
            f"GET {parts.path}/ok HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        head, body, rest = read_answer(sock, b"", head=False)
        assert b"\r\nConnection: close" in head and body == b"bye"
        while data := sock.recv(65536):  # the server hangs up: no second answer
            rest += data
        assert rest == b""


# ----------------------------------------------------------------- refused at registration


@pytest.mark.parametrize("name", ["Content-Length", "content-length", "Transfer-Encoding"])
@pytest.mark.parametrize("value", ["5", "abc", ["1", "2"], "chunked"])
def test_framing_headers_are_refused_at_the_header(
    cp: SessionHandle, name: str, value: str | list[str]
) -> None:
    error = refusal(cp, {"type": "raw", "body": "x", "headers": {name: value}})
    assert error["location"] == f'$.response.headers["{name}"]'
    assert error["message"] == f'`headers["{name}"]`: ' + FRAMING.format(name)


@pytest.mark.parametrize("value", ["keep-alive", "Upgrade", ["close", "close"], ""])
def test_connection_other_than_close_is_refused(cp: SessionHandle, value: str | list[str]) -> None:
    error = refusal(cp, {"type": "raw", "headers": {"Connection": value}})
    assert error == {
        "code": "invalid_input",
        "message": '`headers["Connection"]`: Connection may only be `close` (the server '
        "then closes the connection after the answer); keep-alive is the server's decision",
        "location": "$.response.headers.Connection",
    }


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b", "a\x01b", "a\x7fb"])
def test_control_characters_in_header_values_are_refused(cp: SessionHandle, value: str) -> None:
    error = refusal(cp, {"type": "json", "headers": {"X-A": ["ok", value]}})
    assert error["location"] == '$.response.headers["X-A"]'
    assert error["message"] == f'`headers["X-A"]`: {CONTROL}'


@pytest.mark.parametrize("value", ["text/plain\r\nX-Injected: 1", "a\nb", "a\x00b", "a\x1bb"])
def test_control_characters_in_content_type_are_refused(cp: SessionHandle, value: str) -> None:
    assert refusal(cp, {"type": "raw", "content_type": value}) == {
        "code": "invalid_input",
        "message": "`content_type` contains a control character (CR, LF, NUL or another)",
        "location": "$.response.content_type",
    }


def test_control_characters_in_reason_are_refused(cp: SessionHandle) -> None:
    assert refusal(cp, {"type": "raw", "reason": "OK\r\nX: 1"})["location"] == ("$.response.reason")


@pytest.mark.parametrize("status", [100, 101, 103, 199, 600, 0])
def test_statuses_that_cannot_be_a_whole_answer_are_refused(cp: SessionHandle, status: int) -> None:
    interim = " (a 1xx answer is interim: it cannot be a whole response)"
    assert refusal(cp, {"type": "raw", "status": status}) == {
        "code": "invalid_input",
        "message": f"`status` must be an HTTP status code 200-599, not {status}"
        + (interim if 100 <= status < 200 else ""),
        "location": "$.response.status",
    }


@pytest.mark.parametrize("kind", ["json", "raw", "msgpack", "yaml", "toml"])
def test_every_response_type_and_sequence_item_is_checked(cp: SessionHandle, kind: str) -> None:
    bad = {"type": kind, "headers": {"Content-Length": "1"}}
    assert refusal(cp, bad)["location"] == '$.response.headers["Content-Length"]'
    sequence = {"type": "sequence", "responses": [{"type": kind}, {**bad, "status": 200}]}
    assert refusal(cp, sequence)["location"] == (
        '$.response.responses[1].headers["Content-Length"]'
    )
    cp.add_route(method="GET", path="/k", handler="k")
    answer = requests.put(
        f"{cp.api}/handlers/k/response", json={"type": kind, "status": 101}, timeout=10
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["location"] == "$.status"


@pytest.mark.parametrize(
    ("response", "pointer", "detail"),
    [
        (
            {"headers": {"Content-Length": "3"}},
            "/response/headers/Content-Length",
            '`headers["Content-Length"]`: ' + FRAMING.format("Content-Length"),
        ),
        (
            {"headers": {"X-A": "a\r\nb"}},
            "/response/headers/X-A",
            f'`headers["X-A"]`: {CONTROL}',
        ),
        (
            {"status": 101},
            "/response/status",
            "`status` must be an HTTP status code 200-599, not 101 "
            "(a 1xx answer is interim: it cannot be a whole response)",
        ),
        (
            {"statusMessage": "OK\r\nX: 1"},
            "/response/statusMessage",
            "`reason` contains a control character (CR, LF, NUL or another)",
        ),
    ],
)
def test_wiremock_responses_are_held_to_the_same_rules(
    cp: SessionHandle, response: dict[str, Any], pointer: str, detail: str
) -> None:
    answer = requests.post(
        f"{cp.api}/__admin/mappings",
        json={"request": {"url": "/w"}, "response": {"body": "x", **response}},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert (error["source"]["pointer"], error["detail"]) == (pointer, detail)
