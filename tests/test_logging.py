"""Log events, asserted by their fields (structlog's `capture_logs`), never by text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from controlplane.logs import configure_logging
from controlplane.server import ControlplaneServer, ServerConfig
from tests.process import serve_process

Events = list[MutableMapping[str, Any]]
HELLO: dict[str, Any] = {
    "method": "GET",
    "path": "/hello",
    "handler": "hello",
    "response": {"type": "json", "status": 201, "body": {"hi": 1}},
}


def capture_at(level: str) -> Iterator[Events]:
    """Capture events with `level` in force, then put structlog back as it was.

    The mock handler decides at start-up whether debug is on, so servers are started
    inside the capture.
    """
    saved = structlog.get_config()
    configure_logging("json", level)
    try:
        with capture_logs() as events:
            yield events
    finally:
        structlog.configure(**saved)


@pytest.fixture
def debug_logs() -> Iterator[Events]:
    yield from capture_at("debug")


@pytest.fixture
def info_logs() -> Iterator[Events]:
    yield from capture_at("info")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def named(events: Events, name: str) -> Events:
    return [event for event in events if event["event"] == name]


async def test_route_added_is_logged_at_info_with_its_ids(
    info_logs: Events, client: httpx.AsyncClient
) -> None:
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        answer = await client.post(f"{server.admin_url}/api/routes", json=HELLO)
        route_id = answer.json()["routes"][0]["id"]
    [added] = named(info_logs, "route_added")
    assert added["log_level"] == "info"
    assert added["session"] == "default"
    assert added["route_id"] == route_id
    assert added["handler"] == "hello"


async def test_ready_event_names_urls_and_loop(info_logs: Events) -> None:
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        pass
    [ready] = named(info_logs, "ready")
    assert ready["mock_url"] == server.mock_url
    assert ready["admin_url"] == server.admin_url
    assert ready["loop"] in {"asyncio", "uvloop"}


async def test_mock_request_is_logged_at_debug_with_outcome(
    debug_logs: Events, client: httpx.AsyncClient
) -> None:
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        answer = await client.post(f"{server.admin_url}/api/routes", json=HELLO)
        route_id = answer.json()["routes"][0]["id"]
        assert (await client.get(f"{server.mock_url}/hello")).status_code == 201
    [request] = named(debug_logs, "mock_request")
    assert request["log_level"] == "debug"
    assert request["session"] == "default"
    assert request["handler"] == "hello"
    assert request["route_id"] == route_id
    assert request["status"] == 201
    assert request["method"] == "GET"
    assert request["path"] == "/hello"
    assert isinstance(request["duration_ms"], float)
    assert request["duration_ms"] >= 0


async def test_mock_request_is_not_logged_at_info(
    info_logs: Events, client: httpx.AsyncClient
) -> None:
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        await client.post(f"{server.admin_url}/api/routes", json=HELLO)
        assert (await client.get(f"{server.mock_url}/hello")).status_code == 201
    assert named(info_logs, "mock_request") == []


async def test_unmatched_request_is_logged_with_its_near_miss(
    info_logs: Events, client: httpx.AsyncClient
) -> None:
    async with ControlplaneServer(ServerConfig(port=0, admin_port=0)) as server:
        answer = await client.post(f"{server.admin_url}/api/routes", json=HELLO)
        route_id = answer.json()["routes"][0]["id"]
        assert (await client.post(f"{server.mock_url}/hello")).status_code == 404
    [unmatched] = named(info_logs, "mock_unmatched")
    assert unmatched["log_level"] == "info"
    assert unmatched["session"] == "default"
    assert unmatched["method"] == "POST"
    assert unmatched["path"] == "/hello"
    assert unmatched["near_miss"] == route_id


def test_cli_json_log_lines_are_objects_with_event_level_timestamp(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--log-format", "json", "--log-level", "debug") as server:
        httpx.get(f"{server.mock_url}/nothing-here", timeout=5)
        assert server.stop() == 0
    lines = [line for line in server.lines if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(event, dict) for event in events)
    for event in events:
        assert {"event", "level", "timestamp"} <= event.keys(), event
        assert event["timestamp"].endswith("Z")
    names = [event["event"] for event in events]
    assert names == ["ready", "mock_unmatched", "stopping", "stopped"]
