"""The WireMock face of proxying and recording: `proxyBaseUrl` stubs (through WireMock's
own Python client, which has them) and `/__admin/recordings/*` (which that client lacks:
plain HTTP, in WireMock's shapes), against a real origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from wiremock.constants import Config
from wiremock.exceptions import InvalidInputException
from wiremock.resources.mappings import Mapping, MappingRequest, MappingResponse
from wiremock.resources.mappings.resource import Mappings

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle
from tests.origins import Origin


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


@pytest.fixture
def admin(cp: SessionHandle) -> Iterator[str]:
    url = cp.api + "/__admin"
    previous = Config.base_url
    Config.base_url = url
    try:
        yield url
    finally:
        Config.base_url = previous


def post(url: str, body: Any = None) -> requests.Response:
    return requests.post(url, json=body, timeout=10)


def recorder_status(admin: str) -> str:
    status: str = requests.get(f"{admin}/recordings/status", timeout=10).json()["status"]
    return status


def test_a_proxy_base_url_stub_forwards_with_prefix_and_headers(
    admin: str, cp: SessionHandle, origin: Origin
) -> None:
    stub = Mapping(
        priority=1,
        request=MappingRequest(method="ANY", url_pattern="/api/.*"),
        response=MappingResponse(
            proxy_base_url=f"{origin.url}/echo",
            additional_proxy_request_headers={"X-Added": "yes"},
        ),
    )
    data = stub.get_json_data()
    data["response"]["proxyUrlPrefixToRemove"] = "/api"
    data["response"]["removeProxyRequestHeaders"] = ["X-Secret"]
    created = post(f"{admin}/mappings", data)
    assert created.status_code == 201, created.text
    answer = requests.get(
        f"{cp.mock_url}/api/x?y=1", headers={"X-Secret": "s", "X-Kept": "k"}, timeout=10
    )
    echo = answer.json()
    assert echo["raw_path"] == "/echo/x?y=1"
    headers = dict(echo["headers"])
    assert (headers["X-Added"], headers["X-Kept"]) == ("yes", "k")
    assert "X-Secret" not in headers
    assert answer.headers["Matched-Stub-Id"] == created.json()["id"]
    [served] = requests.get(f"{admin}/requests", timeout=10).json()["requests"]
    assert served["response"]["status"] == 200


def test_the_wiremock_client_creates_a_proxy_stub(
    admin: str, cp: SessionHandle, origin: Origin
) -> None:
    Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method="GET", url="/json/client"),
            response=MappingResponse(proxy_base_url=origin.url),
        )
    )
    assert requests.get(f"{cp.mock_url}/json/client", timeout=10).json()["name"] == "client"


def test_proxy_fields_are_checked_at_their_location(admin: str) -> None:
    bad = Mapping(
        request=MappingRequest(method="GET", url="/x"),
        response=MappingResponse(proxy_base_url="ftp://nowhere"),
    )
    with pytest.raises(InvalidInputException):
        Mappings.create_mapping(bad)
    error = post(f"{admin}/mappings", bad.get_json_data()).json()["errors"][0]
    assert error["source"]["pointer"] == "/response/proxyBaseUrl"
    assert "absolute http:// or https:// URL" in error["detail"]
    lone = {"request": {"url": "/x"}, "response": {"proxyUrlPrefixToRemove": "/a"}}
    error = post(f"{admin}/mappings", lone).json()["errors"][0]
    assert error["source"]["pointer"] == "/response/proxyUrlPrefixToRemove"
    assert error["detail"] == (
        "`proxyUrlPrefixToRemove` goes with `proxyBaseUrl`, which this response does not have"
    )


def test_record_stop_returns_mappings_and_they_answer(
    admin: str, cp: SessionHandle, origin: Origin
) -> None:
    assert recorder_status(admin) == "NeverStarted"
    spec = {
        "targetBaseUrl": origin.url,
        "captureHeaders": {"X-Tenant": {"caseInsensitive": True}},
        "requestBodyPattern": {"matcher": "auto"},
        "persist": False,
    }
    assert post(f"{admin}/recordings/start", spec).status_code == 200
    assert recorder_status(admin) == "Recording"
    got = requests.get(f"{cp.mock_url}/json/cat?a=1", headers={"X-Tenant": "t"}, timeout=10)
    posted = requests.post(f"{cp.mock_url}/json/p", json={"k": [1, 2]}, timeout=10)
    binary = requests.get(f"{cp.mock_url}/bytes", timeout=10)
    stopped = post(f"{admin}/recordings/stop")
    assert stopped.status_code == 200, stopped.text
    assert recorder_status(admin) == "Stopped"
    mappings = {m["request"]["url"]: m for m in stopped.json()["mappings"]}
    cat = mappings["/json/cat?a=1"]
    assert cat["request"] == {
        "method": "GET",
        "url": "/json/cat?a=1",
        "headers": {"X-Tenant": {"equalTo": "t", "caseInsensitive": True}},
    }
    assert cat["response"]["status"] == 200
    assert cat["response"]["jsonBody"] == got.json()
    assert cat["name"] == "json_cat" and cat["id"] == cat["uuid"]
    assert "persistent" not in cat
    assert mappings["/json/p"]["request"]["bodyPatterns"] == [
        {"equalToJson": '{"k": [1, 2]}', "ignoreArrayOrder": True, "ignoreExtraElements": True}
    ]
    assert "base64Body" in mappings["/bytes"]["response"]
    # Added as stubs: listed, and answering without the origin.
    listed = requests.get(f"{admin}/mappings", timeout=10).json()
    assert listed["meta"]["total"] == 3
    again = requests.get(f"{cp.mock_url}/json/cat?a=1", headers={"X-Tenant": "T"}, timeout=10)
    assert again.json() == got.json()
    assert again.headers["Matched-Stub-Id"] == cat["id"]
    assert requests.post(f"{cp.mock_url}/json/p", json={"k": [2, 1]}, timeout=10).json() == (
        posted.json()
    )
    assert requests.get(f"{cp.mock_url}/bytes", timeout=10).content == binary.content


def test_repeats_become_a_scenario_or_only_the_first_answer(
    admin: str, cp: SessionHandle, origin: Origin
) -> None:
    post(f"{admin}/recordings/start", {"targetBaseUrl": origin.url, "persist": False})
    live = [requests.get(f"{cp.mock_url}/count", timeout=10).text for _ in range(3)]
    mappings = post(f"{admin}/recordings/stop").json()["mappings"]
    assert [m["response"]["body"] for m in mappings] == live
    scenario = mappings[0]["scenarioName"]
    assert scenario == "scenario-1-count"
    assert [(m.get("requiredScenarioState"), m.get("newScenarioState")) for m in mappings] == [
        ("Started", f"{scenario}-2"),
        (f"{scenario}-2", f"{scenario}-3"),
        (f"{scenario}-3", None),
    ]
    assert [requests.get(f"{cp.mock_url}/count", timeout=10).text for _ in range(3)] == live

    # A second recording of the same request names a scenario of its own.
    post(f"{admin}/recordings/start", {"targetBaseUrl": origin.url, "persist": False})
    post(f"{admin}/scenarios/reset")
    requests.get(f"{cp.mock_url}/count", timeout=10)  # answered by the first scenario
    requests.get(f"{cp.mock_url}/count?fresh=1", timeout=10)
    requests.get(f"{cp.mock_url}/count?fresh=1", timeout=10)
    second = post(f"{admin}/recordings/stop").json()["mappings"]
    assert {m["scenarioName"] for m in second} == {"scenario-2-count"}

    post(f"{admin}/mappings/reset")
    body = {"targetBaseUrl": origin.url, "persist": False, "repeatsAsScenarios": False}
    post(f"{admin}/recordings/start", body)
    first, _ = [requests.get(f"{cp.mock_url}/count", timeout=10).text for _ in range(2)]
    [only] = post(f"{admin}/recordings/stop").json()["mappings"]
    assert only["response"]["body"] == first and "scenarioName" not in only


def test_filters_limit_what_is_recorded(admin: str, cp: SessionHandle, origin: Origin) -> None:
    spec = {"targetBaseUrl": origin.url, "filters": {"urlPathPattern": "/json/.*", "method": "GET"}}
    post(f"{admin}/recordings/start", spec)
    assert requests.get(f"{cp.mock_url}/json/in", timeout=10).status_code == 200
    assert requests.get(f"{cp.mock_url}/count", timeout=10).status_code == 404
    assert requests.post(f"{cp.mock_url}/json/in", timeout=10).status_code == 404
    mappings = post(f"{admin}/recordings/stop").json()["mappings"]
    assert [(m["request"]["method"], m["request"]["url"]) for m in mappings] == [
        ("GET", "/json/in")
    ]


def test_snapshot_from_proxied_requests_with_ids_and_output_format(
    admin: str, cp: SessionHandle, origin: Origin
) -> None:
    proxy_all = {
        "priority": 10,
        "request": {"method": "ANY", "urlPattern": "/.*"},
        "response": {"proxyBaseUrl": origin.url},
    }
    assert post(f"{admin}/mappings", proxy_all).status_code == 201
    requests.get(f"{cp.mock_url}/json/one", timeout=10)
    requests.get(f"{cp.mock_url}/json/two", timeout=10)
    events = requests.get(f"{admin}/requests", timeout=10).json()["requests"]
    two = next(e["id"] for e in events if e["request"]["url"] == "/json/two")
    answer = post(
        f"{admin}/recordings/snapshot", {"filters": {"ids": [two]}, "outputFormat": "IDS"}
    )
    assert answer.status_code == 200, answer.text
    [new_id] = answer.json()["ids"]
    assert requests.get(f"{admin}/mappings/{new_id}", timeout=10).json()["request"]["url"] == (
        "/json/two"
    )
    rest = post(f"{admin}/recordings/snapshot", {"persist": False}).json()["mappings"]
    assert [m["request"]["url"] for m in rest] == ["/json/one"]  # two is a stub now


def test_recorder_errors_in_wiremock_shape(admin: str, origin: Origin) -> None:
    missing = post(f"{admin}/recordings/start", {})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["source"]["pointer"] == "/targetBaseUrl"
    bad = post(f"{admin}/recordings/start", {"targetBaseUrl": "localhost:1"})
    assert bad.json()["errors"][0]["source"]["pointer"] == "/targetBaseUrl"
    transformers = post(
        f"{admin}/recordings/start", {"targetBaseUrl": origin.url, "transformers": ["x"]}
    )
    assert transformers.status_code == 422
    assert transformers.json()["errors"][0]["source"]["pointer"] == "/transformers"
    assert transformers.json()["errors"][0]["detail"] == (
        "`transformers` is not served: recording transformers are WireMock extensions, "
        "Java code running inside WireMock, and controlplane runs no Java"
    )
    not_recording = post(f"{admin}/recordings/stop")
    assert not_recording.status_code == 409
    assert "is not recording" in not_recording.json()["errors"][0]["detail"]


def test_persist_saves_recorded_mappings_to_the_root(tmp_path: Path, origin: Origin) -> None:
    (tmp_path / "mappings").mkdir()
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path)).start()
    try:
        admin = f"{server.admin_url}/__admin"
        post(f"{admin}/recordings/start", {"targetBaseUrl": origin.url})
        requests.get(f"{server.mock_url}/json/saved", timeout=10)
        [mapping] = post(f"{admin}/recordings/stop").json()["mappings"]
    finally:
        server.stop()
    saved = json.loads((tmp_path / "mappings" / f"{mapping['id']}.json").read_text())
    assert saved["request"]["url"] == "/json/saved"
    assert saved["persistent"] is True


def test_a_native_recording_stops_in_wiremock_shape(
    admin: str, cp: SessionHandle, origin: Origin
) -> None:
    # A dialect recording stopped natively leaves nothing behind for the next one.
    post(f"{admin}/recordings/start", {"targetBaseUrl": origin.url, "captureHeaders": {"X-O": {}}})
    assert requests.post(f"{cp.api}/recordings/stop", timeout=10).status_code == 200
    body = {"target": origin.url, "capture_headers": ["X-T"]}
    assert requests.post(f"{cp.api}/recordings", json=body, timeout=10).status_code == 201
    assert recorder_status(admin) == "Recording"
    requests.get(f"{cp.mock_url}/json/native", headers={"X-T": "1"}, timeout=10)
    [mapping] = post(f"{admin}/recordings/stop").json()["mappings"]
    assert mapping["request"]["headers"] == {"X-T": {"equalTo": "1"}}
    assert recorder_status(admin) == "Stopped"
