"""WireMock webhooks (`serveEventListeners`, `postServeActions`) and global response
templating, driven by WireMock's own Python client (`wiremock` on PyPI) where it can
say them and by WireMock's JSON where it cannot (the client has no
`serveEventListeners`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from wiremock.constants import Config
from wiremock.resources.mappings import HttpMethods, Mapping, MappingRequest, MappingResponse
from wiremock.resources.mappings.resource import Mappings

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle
from tests.webhook_support import ThreadedReceiver, finished_webhooks_sync


@pytest.fixture
def receiver() -> Iterator[ThreadedReceiver]:
    with ThreadedReceiver() as running:
        yield running


def listener(receiver: ThreadedReceiver, **parameters: Any) -> dict[str, Any]:
    return {
        "name": "webhook",
        "parameters": {"method": "POST", "url": receiver.url + "/callback", **parameters},
    }


def order_mapping(**extra: Any) -> dict[str, Any]:
    return {
        "request": {"method": "POST", "urlPath": "/orders"},
        "response": {"status": 201, "jsonBody": {"ok": True}},
        **extra,
    }


def test_a_serve_event_listener_webhook_is_called_with_the_original_request(
    wm: SessionHandle, receiver: ThreadedReceiver
) -> None:
    hook = listener(
        receiver,
        url=receiver.url + "/orders/{{jsonPath originalRequest.body '$.id'}}",
        headers={
            "Content-Type": "application/json",
            "X-Trace": "{{originalRequest.headers.X-Trace}}",
        },
        body='{"order": "{{jsonPath originalRequest.body \'$.id\'}}", '
        '"from": "{{originalRequest.url}}"}',
        delay={"type": "fixed", "milliseconds": 10},
    )
    created = requests.post(
        f"{wm.api}/__admin/mappings",
        json=order_mapping(serveEventListeners=[hook]),
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.json()["serveEventListeners"] == [hook]  # echoed as sent

    answer = requests.post(
        f"{wm.mock_url}/orders?src=web", json={"id": "A7"}, headers={"X-Trace": "t-1"}, timeout=10
    )
    assert answer.status_code == 201 and answer.json() == {"ok": True}
    got = receiver.arrival()
    assert (got.method, got.path_qs) == ("POST", "/orders/A7")
    assert got.headers["X-Trace"] == "t-1"
    assert got.headers["Content-Type"] == "application/json"
    assert json.loads(got.body) == {"order": "A7", "from": "/orders?src=web"}
    [call] = finished_webhooks_sync(wm.api, 1)["webhooks"]
    assert call["route_id"] == created.json()["id"]
    assert (call["status"], call["error"]) == (204, None)


@pytest.mark.parametrize(
    "actions",
    [
        pytest.param("list", id="list (WireMock 2.x)"),
        pytest.param("map", id="map (the webhooks extension's first form)"),
    ],
)
def test_post_serve_actions_from_wiremocks_client_call_the_webhook(
    wm: SessionHandle, receiver: ThreadedReceiver, actions: str
) -> None:
    parameters = {
        "method": "PUT",
        "url": receiver.url + "/seen",
        "body": "{{originalRequest.method}} {{originalRequest.body}}",
        "delay": {"type": "uniform", "lower": 1, "upper": 5},
    }
    post_serve_actions: Any = (
        [{"name": "webhook", "parameters": parameters}]
        if actions == "list"
        else {"webhook": parameters}
    )
    created = Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method=HttpMethods.POST, url_path="/orders"),
            response=MappingResponse(status=202, body="accepted"),
            post_serve_actions=post_serve_actions,
        )
    )
    assert Mappings.retrieve_mapping(created.id).post_serve_actions == post_serve_actions
    answer = requests.post(f"{wm.mock_url}/orders", data="hello", timeout=10)
    assert (answer.status_code, answer.text) == (202, "accepted")
    got = receiver.arrival()
    assert (got.method, got.path_qs, got.body) == ("PUT", "/seen", b"POST hello")


@pytest.mark.parametrize(
    ("mapping", "pointer", "detail"),
    [
        (
            {"serveEventListeners": [{"name": "slack", "parameters": {}}]},
            "/serveEventListeners/0/name",
            "unknown serve event listener 'slack': controlplane serves 'webhook' only",
        ),
        (
            {"serveEventListeners": [{"name": "webhook", "parameters": {"url": "http://x"}}]},
            "/serveEventListeners/0/parameters/method",
            "a webhook needs a `method`",
        ),
        (
            {
                "serveEventListeners": [
                    {"name": "webhook", "parameters": {"method": "POST", "url": "http://x"}},
                    {
                        "name": "webhook",
                        "parameters": {"method": "POST", "url": "http://x", "body": "{{#if}}"},
                    },
                ]
            },
            "/serveEventListeners/1/parameters/body",
            "template syntax error",
        ),
        (
            {"postServeActions": {"webhook": {"method": "POST", "url": "not a url"}}},
            "/postServeActions/webhook/url",
            "`url` must be an absolute http:// or https:// URL",
        ),
        (
            {
                "postServeActions": [
                    {
                        "name": "webhook",
                        "parameters": {
                            "method": "POST",
                            "url": "http://x",
                            "delay": {"type": "uniform", "lower": 5},
                        },
                    }
                ]
            },
            "/postServeActions/0/parameters/delay",
            "a uniform delay needs `lower` and `upper`",
        ),
    ],
)
def test_a_bad_webhook_is_a_422_at_its_place_in_the_mapping(
    wm: SessionHandle, mapping: dict[str, Any], pointer: str, detail: str
) -> None:
    answer = requests.post(f"{wm.api}/__admin/mappings", json=order_mapping(**mapping), timeout=10)
    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    assert error["source"]["pointer"] == pointer
    assert detail in error["detail"]


@pytest.fixture
def global_templating() -> Iterator[ThreadedServer]:
    config = ServerConfig(port=0, admin_port=0, wiremock_global_templating=True)
    with ThreadedServer(config) as server:
        previous, Config.base_url = Config.base_url, f"{server.admin_url}/__admin"
        try:
            yield server
        finally:
            Config.base_url = previous


def test_global_templating_renders_stubs_without_the_transformer(
    global_templating: ThreadedServer,
) -> None:
    Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method=HttpMethods.GET, url_path_pattern="/orders/[0-9]+"),
            response=MappingResponse(
                status=200,
                headers={"X-Order": "{{request.pathSegments.[1]}}"},
                json_body={"id": "{{request.path.[1]}}", "user": "{{request.query.user}}"},
            ),
        )
    )
    answer = requests.get(f"{global_templating.mock_url}/orders/12?user=ann", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"id": "12", "user": "ann"}
    assert answer.headers["X-Order"] == "12"
    # Native routes are not the dialect's: their bodies stay as written.
    native = {
        "method": "GET",
        "path": "/native",
        "handler": "native",
        "response": {"type": "raw", "body": "{{request.path}}"},
    }
    added = requests.post(f"{global_templating.admin_url}/api/routes", json=native, timeout=10)
    assert added.status_code == 201, added.text
    assert requests.get(f"{global_templating.mock_url}/native", timeout=10).text == (
        "{{request.path}}"
    )


def test_global_templating_refuses_a_stub_whose_body_is_no_template(
    global_templating: ThreadedServer,
) -> None:
    answer = requests.post(
        f"{global_templating.admin_url}/__admin/mappings",
        json={"request": {"urlPath": "/x"}, "response": {"body": "{{#if}}"}},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["source"]["pointer"] == "/response/body"


def test_a_mapping_file_with_a_webhook_loads_and_calls_it_under_global_templating(
    tmp_path: Path, receiver: ThreadedReceiver
) -> None:
    (tmp_path / "mappings").mkdir()
    mapping = {
        "request": {"method": "POST", "urlPath": "/orders"},
        "response": {"status": 201, "body": "created {{jsonPath request.body '$.id'}}"},
        "serveEventListeners": [
            listener(receiver, body="{{jsonPath originalRequest.body '$.id'}} was created")
        ],
    }
    (tmp_path / "mappings" / "order.json").write_text(json.dumps(mapping))
    config = ServerConfig(port=0, admin_port=0, mappings=tmp_path, wiremock_global_templating=True)
    with ThreadedServer(config) as server:
        answer = requests.post(f"{server.mock_url}/orders", json={"id": "B2"}, timeout=10)
        assert (answer.status_code, answer.text) == (201, "created B2")
        got = receiver.arrival()
        assert (got.path_qs, got.body) == ("/callback", b"B2 was created")
