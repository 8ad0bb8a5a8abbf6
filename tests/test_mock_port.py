"""The mock port end to end: routing rules, every response type, faults and delays,
observed by real clients through the full server."""

from __future__ import annotations

import asyncio
import base64
import time
import tomllib

import aiohttp
import httpx
import msgpack
import pytest
import requests
import yaml

from tests.conftest import SessionHandle


def test_times_limits_a_route_then_the_next_candidate_answers(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/token",
        handler="once",
        times=2,
        priority=1,
        response={"type": "raw", "body": "limited"},
    )
    cp.add_route(
        method="GET",
        path="/token",
        handler="fallback",
        response={"type": "raw", "body": "fallback"},
    )
    answers = [requests.get(f"{cp.mock_url}/token", timeout=10).text for _ in range(3)]
    assert answers == ["limited", "limited", "fallback"]


def test_priority_wins_over_declaration_order_and_order_breaks_ties(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/p", handler="first", response={"type": "raw", "body": "1"})
    cp.add_route(method="GET", path="/p", handler="second", response={"type": "raw", "body": "2"})
    assert requests.get(f"{cp.mock_url}/p", timeout=10).text == "1"
    cp.add_route(
        method="GET",
        path="/p",
        handler="urgent",
        priority=1,
        response={"type": "raw", "body": "urgent"},
    )
    assert requests.get(f"{cp.mock_url}/p", timeout=10).text == "urgent"


def test_any_method_template_and_regex_paths_through_a_session_prefix(cp: SessionHandle) -> None:
    cp.add_route(
        method="*",
        path="/files/{path:.*}",
        handler="files",
        response={"type": "raw", "body": "file"},
    )
    cp.add_route(
        method="GET",
        path_regex=r"/n/(?P<n>[0-9]+)",
        handler="numbers",
        response={"type": "raw", "body": "number"},
    )
    assert requests.delete(f"{cp.mock_url}/files/a/b%20c.txt", timeout=10).text == "file"
    assert requests.get(f"{cp.mock_url}/n/42", timeout=10).text == "number"
    assert requests.get(f"{cp.mock_url}/n/x", timeout=10).status_code == 404
    [files_call] = cp.calls("files")
    assert files_call["path"] == "/files/a/b c.txt"  # percent-decoded, prefix removed
    assert files_call["path_params"] == {"path": "a/b c.txt"}
    assert cp.calls("numbers")[0]["path_params"] == {"n": "42"}


def test_route_without_response_answers_500_naming_the_handler(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/later", handler="not_yet")
    answer = requests.get(f"{cp.mock_url}/later", timeout=10)
    assert answer.status_code == 500
    assert "not_yet" in answer.text
    assert cp.calls("not_yet")[0]["response"]["error"] == "no_response"


def test_every_body_type_reaches_the_client_as_declared(cp: SessionHandle) -> None:
    value = {"name": "Whiskers", "lives": 9}
    cases = {
        "json": ("application/json", lambda b: __import__("json").loads(b)),
        "msgpack": ("application/msgpack", lambda b: msgpack.unpackb(b)),
        "yaml": ("application/yaml", yaml.safe_load),
        "toml": ("application/toml", lambda b: tomllib.loads(b.decode())),
    }
    for kind in cases:
        cp.add_route(
            method="GET",
            path=f"/{kind}",
            handler=kind,
            response={"type": kind, "status": 203, "headers": {"X-Kind": kind}, "body": value},
        )
    for kind, (content_type, parse) in cases.items():
        answer = httpx.get(f"{cp.mock_url}/{kind}")
        assert answer.status_code == 203
        assert answer.headers["content-type"].startswith(content_type)
        assert answer.headers["x-kind"] == kind
        assert parse(answer.content) == value


def test_raw_bytes_are_exact_and_header_content_type_wins(cp: SessionHandle) -> None:
    payload = bytes(range(256))
    cp.add_route(
        method="GET",
        path="/bin",
        handler="bin",
        response={"type": "raw", "body_base64": base64.b64encode(payload).decode()},
    )
    cp.add_route(
        method="GET",
        path="/csv",
        handler="csv",
        response={
            "type": "raw",
            "body": "a,b\n",
            "content_type": "text/plain",
            "headers": {"content-type": "text/csv"},
        },
    )
    binary = httpx.get(f"{cp.mock_url}/bin")
    assert binary.content == payload
    assert binary.headers["content-type"] == "application/octet-stream"
    csv = httpx.get(f"{cp.mock_url}/csv")
    assert csv.text == "a,b\n"
    assert csv.headers["content-type"] == "text/csv"


def test_sequence_then_exhausted_answers_500_and_journals_the_error(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/retry",
        handler="retry",
        response={
            "type": "sequence",
            "responses": [
                {"type": "json", "status": 503, "body": {}},
                {"type": "json", "status": 200, "body": {"ok": True}},
            ],
        },
    )
    statuses = [requests.get(f"{cp.mock_url}/retry", timeout=10).status_code for _ in range(3)]
    assert statuses == [503, 200, 500]
    last = cp.calls("retry")[-1]["response"]
    assert last["error"] == "sequence_exhausted"
    assert last["type"] == "sequence"


@pytest.mark.parametrize("fault", ["disconnect", "empty_response", "connection_reset"])
def test_connection_faults_reach_httpx_as_transport_errors(cp: SessionHandle, fault: str) -> None:
    cp.add_route(
        method="GET", path="/fault", handler="fault", response={"type": "fault", "fault": fault}
    )
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(f"{cp.mock_url}/fault")
    assert cp.calls("fault")[0]["response"]["error"] == fault
    # The server shrugs it off.
    assert requests.get(f"{cp.mock_url}/nothing", timeout=10).status_code == 404


@pytest.mark.parametrize("fault", ["truncated", "malformed_chunk", "random_data_then_close"])
async def test_body_faults_reach_aiohttp_as_client_errors(cp: SessionHandle, fault: str) -> None:
    cp.add_route(
        method="GET", path="/broken", handler="broken", response={"type": "fault", "fault": fault}
    )
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.ClientError):
            async with client.get(f"{cp.mock_url}/broken") as answer:
                await answer.read()


async def test_a_delayed_route_does_not_slow_another(cp: SessionHandle) -> None:
    cp.add_route(
        method="GET",
        path="/slow",
        handler="slow",
        response={"type": "raw", "body": "slow", "delay": {"fixed_ms": 400}},
    )
    cp.add_route(method="GET", path="/fast", handler="fast", response={"type": "raw", "body": "f"})
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        slow = asyncio.create_task(client.get(f"{cp.mock_url}/slow"))
        fast_answers = [await client.get(f"{cp.mock_url}/fast") for _ in range(5)]
        assert not slow.done(), "five quick calls finished while the delayed one still waits"
        assert all(a.text == "f" for a in fast_answers)
        assert (await slow).text == "slow"
        assert time.monotonic() - started >= 0.39
    assert cp.calls("slow")[0]["response"]["delay_ms"] == 400
