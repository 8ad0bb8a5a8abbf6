"""The WireMock dialect driven by WireMock's own Python client (`wiremock` 2.7 on PyPI).

The client keeps its base URL in a global (`Config.base_url`); the `wm` fixture points
it at a fresh session's dialect (`/api/sessions/{sid}/__admin`) for each test, so tests
stay isolated from each other and from the rest of the suite.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from wiremock.constants import Config
from wiremock.exceptions import InvalidInputException, NotFoundException
from wiremock.resources.mappings import (
    HttpMethods,
    Mapping,
    MappingRequest,
    MappingResponse,
)
from wiremock.resources.mappings.resource import Mappings
from wiremock.resources.near_misses import NearMissMatchPatternRequest, NearMissMatchRequest
from wiremock.resources.near_misses.resource import NearMisses
from wiremock.resources.requests.resource import Requests
from wiremock.resources.scenarios.resource import Scenarios
from wiremock.resources.settings import GlobalSetting
from wiremock.resources.settings.resource import GlobalSettings

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle


@dataclass
class WireMockSession:
    admin: str  # the session's dialect base, .../api/sessions/{sid}/__admin
    mock: str


@pytest.fixture
def wm(cp: SessionHandle) -> Iterator[WireMockSession]:
    admin = cp.api + "/__admin"
    previous = Config.base_url
    Config.base_url = admin
    try:
        yield WireMockSession(admin=admin, mock=cp.mock_url)
    finally:
        Config.base_url = previous


def probe_mapping(**extra: object) -> Mapping:
    return Mapping(
        priority=100,
        request=MappingRequest(
            method=HttpMethods.GET, url_path="/probe", query_parameters={"q": {"equalTo": "1"}}
        ),
        response=MappingResponse(status=200, json_body={"ok": True}, headers={"X-A": "b"}),
        persistent=False,
        metadata={"suite": "client"},
        **extra,
    )


def test_create_list_retrieve_update_delete(wm: WireMockSession) -> None:
    created = Mappings.create_mapping(probe_mapping())
    assert created.id
    answer = requests.get(f"{wm.mock}/probe?q=1", timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"ok": True})
    assert answer.headers["Matched-Stub-Id"] == created.id

    listed = Mappings.retrieve_all_mappings()
    assert listed.meta.total == 1 and listed.mappings[0].id == created.id
    assert Mappings.retrieve_mapping(created.id).request.url_path == "/probe"

    created.response.status = 201
    assert Mappings.update_mapping(created).response.status == 201
    assert requests.get(f"{wm.mock}/probe?q=1", timeout=5).status_code == 201

    Mappings.delete_mapping(created.id)
    assert Mappings.retrieve_all_mappings().meta.total == 0
    with pytest.raises(NotFoundException):
        Mappings.delete_mapping(created.id)


def test_delete_all_and_delete_by_metadata(wm: WireMockSession) -> None:
    Mappings.create_mapping(probe_mapping())
    other = Mapping(
        request=MappingRequest(method="GET", url="/other"),
        response=MappingResponse(body="x"),
        metadata={"suite": "kept"},
    )
    Mappings.create_mapping(other)
    Mappings.delete_mapping_by_metadata(
        {"matchesJsonPath": {"expression": "$.suite", "equalTo": "client"}}
    )
    assert [m.request.url for m in Mappings.retrieve_all_mappings().mappings] == ["/other"]
    Mappings.delete_all_mappings()
    assert Mappings.retrieve_all_mappings().meta.total == 0


def test_invalid_mapping_is_422_in_wiremock_shape(wm: WireMockSession) -> None:
    bad = Mapping(
        request=MappingRequest(method="GET", url_path="/x", body_patterns=[{"matches": "("}])
    )
    with pytest.raises(InvalidInputException):
        Mappings.create_mapping(bad)
    answer = requests.post(f"{wm.admin}/mappings", json=bad.get_json_data(), timeout=5)
    error = answer.json()["errors"][0]
    assert error["source"]["pointer"] == "/request/bodyPatterns/0/matches"
    assert error["code"] == 10 and "regular expression" in error["detail"]


def test_count_find_and_list_requests(wm: WireMockSession) -> None:
    Mappings.create_mapping(probe_mapping())
    for q in ("1", "1", "2"):
        requests.get(f"{wm.mock}/probe?q={q}", timeout=5)
    pattern = NearMissMatchPatternRequest(url_path="/probe", method="GET")
    assert Requests.get_matching_request_count(pattern).count == 3
    found = Requests.get_matching_requests(
        NearMissMatchPatternRequest(url="/probe?q=2", method="GET")
    )
    assert [r.url for r in found.requests] == ["/probe?q=2"]

    everything = Requests.get_all_received_requests()
    assert everything.meta.total == 3
    assert [e.request.url for e in everything.requests] == [
        "/probe?q=2",
        "/probe?q=1",
        "/probe?q=1",
    ]
    newest = everything.requests[0]
    assert Requests.get_request(newest.id).request.url == "/probe?q=2"
    assert len(Requests.get_all_received_requests(limit=1).requests) == 1

    Requests.reset_request_journal()  # POST /requests/reset: what this client calls
    assert Requests.get_all_received_requests(limit=10).meta.total == 0


def test_unmatched_requests_and_near_misses(wm: WireMockSession) -> None:
    Mappings.create_mapping(probe_mapping())
    requests.get(f"{wm.mock}/probe?q=2", timeout=5)
    assert [r.url for r in Requests.get_unmatched_requests().requests] == ["/probe?q=2"]
    near = Requests.get_unmatched_requests_near_misses().near_misses
    assert len(near) == 1 and near[0].request.url == "/probe?q=2"
    assert 0 < near[0].match_result.distance < 1

    by_request = NearMisses.find_nearest_misses_by_request(
        NearMissMatchRequest(url="/probe?q=3", method="GET")
    ).near_misses
    assert len(by_request) == 1 and by_request[0].request_pattern.url is None
    by_pattern = NearMisses.find_nearest_misses_by_request_pattern(
        NearMissMatchPatternRequest(url="/probe?q=3", method="GET")
    ).near_misses
    assert [n.request.url for n in by_pattern] == ["/probe?q=2"]


def test_global_settings_fixed_delay(wm: WireMockSession) -> None:
    answered = GlobalSettings.update_global_settings(GlobalSetting(fixed_delay=50))
    assert answered.fixed_delay == 50
    assert requests.get(f"{wm.admin}/settings", timeout=5).json() == {
        "settings": {"fixedDelay": 50}
    }
    Mappings.create_mapping(probe_mapping())
    answer = requests.get(f"{wm.mock}/probe?q=1", timeout=5)
    assert answer.elapsed.total_seconds() >= 0.05
    recorded = requests.get(f"{wm.admin.removesuffix('/__admin')}/requests", timeout=5).json()
    assert recorded["requests"][0]["response"]["delay_ms"] == 50


def test_scenario_reset(wm: WireMockSession) -> None:
    Mappings.create_mapping(
        Mapping(
            scenario_name="flow",
            required_scenario_state="Started",
            new_scenario_state="second",
            request=MappingRequest(method="GET", url="/flow"),
            response=MappingResponse(body="first"),
        )
    )
    Mappings.create_mapping(
        Mapping(
            scenario_name="flow",
            required_scenario_state="second",
            request=MappingRequest(method="GET", url="/flow"),
            response=MappingResponse(body="second"),
        )
    )
    bodies = [requests.get(f"{wm.mock}/flow", timeout=5).text for _ in range(3)]
    assert bodies == ["first", "second", "second"]
    Scenarios.reset_all_scenarios()
    assert requests.get(f"{wm.mock}/flow", timeout=5).text == "first"


def test_header_picks_the_session_on_bare_admin(wm: WireMockSession, cp: SessionHandle) -> None:
    Mappings.create_mapping(probe_mapping())
    base = wm.admin.split("/api/")[0]
    chosen = requests.get(
        f"{base}/__admin/mappings", headers={"X-Controlplane-Session": cp.id}, timeout=5
    ).json()
    assert chosen["meta"]["total"] == 1
    default = requests.get(f"{base}/__admin/mappings", timeout=5).json()
    assert all(m["id"] != chosen["mappings"][0]["id"] for m in default["mappings"])


def test_save_and_reset_mappings(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "mappings").mkdir(parents=True)
    shutil.copy(
        Path(__file__).parent / "wiremock_mappings" / "mappings" / "basic.json", root / "mappings"
    )
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=root)) as server:
        previous, Config.base_url = Config.base_url, f"{server.admin_url}/__admin"
        try:
            assert Mappings.retrieve_all_mappings().meta.total == 1
            created = Mappings.create_mapping(probe_mapping())
            Mappings.reset_mappings()  # drops what was not saved
            assert Mappings.retrieve_all_mappings().meta.total == 1
            created = Mappings.create_mapping(probe_mapping())
            Mappings.persist_mappings()
            saved = root / "mappings" / f"{created.id}.json"
            assert saved.is_file() and '"persistent": true' in saved.read_text()
            Mappings.reset_mappings()
            assert Mappings.retrieve_all_mappings().meta.total == 2
        finally:
            Config.base_url = previous


def test_save_without_a_mappings_directory_is_409(wm: WireMockSession) -> None:
    answer = requests.post(f"{wm.admin}/mappings/save", timeout=5)
    assert answer.status_code == 409
    assert "--mappings" in answer.json()["errors"][0]["detail"]
