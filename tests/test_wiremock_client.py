"""The WireMock dialect driven by WireMock's own Python client (`wiremock` 2.7 on PyPI).

The client keeps its base URL in a global (`Config.base_url`); the `wm` fixture points
it at a fresh session's dialect (`/api/sessions/{sid}/__admin`) for each test, so tests
stay isolated from each other and from the rest of the suite.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
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
from controlplane.wiremock.diff_report import NO_STUBS
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


# ------------------------------------------------------------------ admin endpoints


@dataclass
class RootedServer:
    root: Path
    admin: str  # .../__admin of session default
    mock: str


@pytest.fixture
def rooted(tmp_path: Path) -> Iterator[RootedServer]:
    """A server of its own over a WireMock root (`mappings/`, `__files/`), the client on it."""
    root = tmp_path / "root"
    (root / "mappings").mkdir(parents=True)
    (root / "__files").mkdir()
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=root)) as server:
        previous, Config.base_url = Config.base_url, f"{server.admin_url}/__admin"
        try:
            yield RootedServer(root=root, admin=Config.base_url, mock=server.mock_url)
        finally:
            Config.base_url = previous


def test_remove_by_metadata_answers_an_empty_json_object(wm: WireMockSession) -> None:
    Mappings.create_mapping(probe_mapping())
    answer = Mappings.delete_mapping_by_metadata({"matchesJsonPath": "$.suite"})
    assert (answer.status_code, answer.headers["Content-Type"]) == (200, "application/json")
    assert answer.json() == {}  # was an empty body, which wiremock-captain cannot parse
    assert Mappings.retrieve_all_mappings().meta.total == 0


def test_remove_falls_back_to_an_equal_request_pattern(wm: WireMockSession) -> None:
    first = Mappings.create_mapping(probe_mapping())
    other = Mappings.create_mapping(
        Mapping(request=MappingRequest(method="GET", url="/other"), response=MappingResponse())
    )
    remove = f"{wm.admin}/mappings/remove"
    # An unknown id and a pattern no stub has: nothing is removed (WireMock's answer: 200).
    unknown = {"id": str(uuid.uuid4()), "request": {"method": "GET", "url": "/nowhere"}}
    assert requests.post(remove, json=unknown, timeout=5).status_code == 200
    assert Mappings.retrieve_all_mappings().meta.total == 2
    # The Java client sends a random id: the stub whose request pattern is equal goes.
    by_pattern = {"id": str(uuid.uuid4()), "request": first.get_json_data()["request"]}
    assert requests.post(remove, json=by_pattern, timeout=5).status_code == 200
    assert [m.id for m in Mappings.retrieve_all_mappings().mappings] == [other.id]
    # A known id wins over the pattern.
    by_id = {"id": other.id, "request": {"method": "GET", "url": "/nowhere"}}
    assert requests.post(remove, json=by_id, timeout=5).status_code == 200
    assert Mappings.retrieve_all_mappings().meta.total == 0


def test_list_requests_by_matching_stub_or_unmatched(wm: WireMockSession) -> None:
    probe = Mappings.create_mapping(probe_mapping())
    other = Mappings.create_mapping(
        Mapping(request=MappingRequest(method="GET", url="/other"), response=MappingResponse())
    )
    for path in ("/probe?q=1", "/other", "/probe?q=1", "/missing", "/probe?q=1"):
        requests.get(f"{wm.mock}{path}", timeout=5)

    def urls(**query: str) -> tuple[int, list[str]]:
        listed = Requests.get_all_received_requests(parameters=dict(query))
        return listed.meta.total, [event.request.url for event in listed.requests]

    assert urls(matchingStub=probe.id) == (3, ["/probe?q=1"] * 3)
    assert urls(matchingStub=other.id) == (1, ["/other"])
    assert urls(matchingStub=str(uuid.uuid4())) == (0, [])
    assert urls(unmatched="true") == (1, ["/missing"])
    assert urls(unmatched="false") == (5, urls()[1])
    assert urls(matchingStub=probe.id, limit="2") == (3, ["/probe?q=1"] * 2)
    assert urls(unmatched="true", matchingStub=probe.id) == (0, [])


def test_remove_requests_by_stub_metadata(wm: WireMockSession) -> None:
    Mappings.create_mapping(probe_mapping())
    Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method="GET", url="/other"),
            response=MappingResponse(),
            metadata={"suite": "kept"},
        )
    )
    for path in ("/probe?q=1", "/other", "/probe?q=1", "/missing"):
        requests.get(f"{wm.mock}{path}", timeout=5)
    pattern = {"matchesJsonPath": {"expression": "$.suite", "equalTo": "client"}}
    answer = requests.post(f"{wm.admin}/requests/remove-by-metadata", json=pattern, timeout=5)
    assert answer.status_code == 200
    assert [e["request"]["url"] for e in answer.json()["serveEvents"]] == ["/probe?q=1"] * 2
    left = Requests.get_all_received_requests(parameters={})
    assert [event.request.url for event in left.requests] == ["/missing", "/other"]


def test_malformed_json_is_422_with_wiremock_errors(wm: WireMockSession) -> None:
    for path in ("/mappings", "/requests/count", "/settings", "/mappings/remove-by-metadata"):
        answer = requests.post(f"{wm.admin}{path}", data=b'{"request": ', timeout=5)
        assert answer.status_code == 422, path
        [error] = answer.json()["errors"]
        assert (error["code"], error["title"]) == (10, "Error parsing JSON")
        assert error["detail"].startswith("the request body is not valid JSON: ")
    with pytest.raises(InvalidInputException):  # the client's own reading of a 422
        Requests.get_matching_request_count(NearMissMatchPatternRequest(method="NOPE!"))


def test_extended_settings_patch_merges_and_post_replaces(wm: WireMockSession) -> None:
    # The Python client's GlobalSetting knows only fixedDelay: plain requests for the rest.
    settings = {"fixedDelay": 5, "extended": {"a": 1, "nested": {"x": 1}}}
    assert requests.post(f"{wm.admin}/settings", json=settings, timeout=5).status_code == 200
    patched = requests.patch(
        f"{wm.admin}/settings/extended", json={"extended": {"b": 2, "nested": {"y": 2}}}, timeout=5
    )
    assert (patched.status_code, patched.json()) == (200, {})
    assert requests.get(f"{wm.admin}/settings", timeout=5).json() == {
        "settings": {"fixedDelay": 5, "extended": {"a": 1, "nested": {"y": 2}, "b": 2}}
    }
    # POST replaces the whole settings, `extended` too, as WireMock does.
    GlobalSettings.update_global_settings(GlobalSetting(fixed_delay=7))
    assert requests.get(f"{wm.admin}/settings", timeout=5).json() == {"settings": {"fixedDelay": 7}}
    refused = requests.patch(f"{wm.admin}/settings/extended", json={"extended": 1}, timeout=5)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["source"]["pointer"] == "/extended"


def test_files_read_write_list_delete_inside_the_root(rooted: RootedServer) -> None:
    files = f"{rooted.admin}/files"
    written = requests.put(f"{files}/deep/er/a.json", data=b'{"a": 1}', timeout=5)
    assert (written.status_code, written.json()) == (200, "eyJhIjogMX0=")  # bytes: base64
    assert (rooted.root / "__files" / "deep" / "er" / "a.json").read_bytes() == b'{"a": 1}'
    requests.put(f"{files}/b.txt", data=b"bee", timeout=5)
    assert requests.get(files, timeout=5).json() == ["b.txt", "deep/er/a.json"]
    read = requests.get(f"{files}/deep/er/a.json", timeout=5)
    assert (read.status_code, read.content) == (200, b'{"a": 1}')
    # A stub added after the write serves it.
    Mappings.create_mapping(
        Mapping(
            request=MappingRequest(method="GET", url="/file"),
            response=MappingResponse(body_file_name="b.txt"),
        )
    )
    assert requests.get(f"{rooted.mock}/file", timeout=5).text == "bee"
    assert requests.delete(f"{files}/b.txt", timeout=5).status_code == 200
    assert requests.delete(f"{files}/b.txt", timeout=5).status_code == 200  # gone already
    assert requests.get(f"{files}/b.txt", timeout=5).status_code == 404
    assert requests.get(files, timeout=5).json() == ["deep/er/a.json"]

    outside = rooted.root / "secret.txt"
    outside.write_text("keep")
    for name in ("..%2Fsecret.txt", "deep/..%2F..%2Fsecret.txt", "%2Fetc%2Fpasswd"):
        for method in ("GET", "PUT", "DELETE"):
            answer = requests.request(method, f"{files}/{name}", data=b"x", timeout=5)
            assert answer.status_code == 422, (method, name, answer.text)
            assert "outside the files directory" in answer.json()["errors"][0]["detail"]
    assert outside.read_text() == "keep"


def test_files_need_a_root(wm: WireMockSession) -> None:
    answer = requests.get(f"{wm.admin}/files", timeout=5)
    assert answer.status_code == 409
    assert "--mappings" in answer.json()["errors"][0]["detail"]


def test_persistent_stubs_are_written_at_once_and_removed_with_their_file(
    rooted: RootedServer,
) -> None:
    mappings = rooted.root / "mappings"
    persistent = probe_mapping()
    persistent.persistent = True
    kept = Mappings.create_mapping(persistent)
    saved = mappings / f"{kept.id}.json"
    assert msgspec.json.decode(saved.read_bytes())["persistent"] is True
    memory_only = Mappings.create_mapping(
        Mapping(request=MappingRequest(method="GET", url="/m"), response=MappingResponse())
    )
    assert not (mappings / f"{memory_only.id}.json").exists()

    kept.response.status = 202
    Mappings.update_mapping(kept)  # an edit rewrites the file
    assert msgspec.json.decode(saved.read_bytes())["response"]["status"] == 202
    assert sorted(p.name for p in mappings.iterdir()) == [saved.name]  # no temporaries

    Mappings.persist_mappings()  # the rest
    assert (mappings / f"{memory_only.id}.json").is_file()
    Mappings.delete_mapping(kept.id)
    assert not saved.exists()
    requests.post(
        f"{rooted.admin}/mappings/remove", json={"request": {"method": "GET", "url": "/m"}}
    )
    assert list(mappings.iterdir()) == []


def test_removing_a_persisted_stub_rewrites_a_shared_file(rooted: RootedServer) -> None:
    shared = rooted.root / "mappings" / "two.json"
    stubs = [
        {"id": f"stub-{n}", "persistent": True, "request": {"url": f"/{n}"}, "response": {}}
        for n in ("a", "b")
    ]
    shared.write_text(json.dumps({"mappings": stubs}))
    Mappings.reset_mappings()  # reloads the root's files
    Mappings.delete_mapping("stub-a")
    assert json.loads(shared.read_text())["id"] == "stub-b"  # one left: itself
    Mappings.delete_mapping("stub-b")
    assert not shared.exists()


def test_unmatched_requests_get_wiremocks_plain_text_diff(wm: WireMockSession) -> None:
    assert Mappings.retrieve_all_mappings().meta.total == 0  # the dialect names the session
    nothing = requests.get(f"{wm.mock}/x", timeout=5)
    assert (nothing.status_code, nothing.text) == (404, NO_STUBS)
    named = {**probe_mapping().get_json_data(), "name": "Probe stub"}  # no `name` in the client
    assert requests.post(f"{wm.admin}/mappings", json=named, timeout=5).status_code == 201
    answer = requests.post(f"{wm.mock}/probe?q=2", headers={"X-A": "b"}, timeout=5)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("text/plain")
    bar = "-" * 119
    assert answer.text == "\n".join(
        [
            "",
            " " * 47 + "Request was not matched",
            " " * 47 + "=" * 23,
            "",
            bar,
            "| Closest stub" + " " * 45 + "| Request" + " " * 50 + "|",
            bar,
            " " * 59 + "|",
            "Probe stub" + " " * 49 + "|",
            " " * 59 + "|",
            "GET" + " " * 56 + "| POST" + " " * 48 + "<<<<< HTTP method does not match",
            "/probe" + " " * 53 + "| /probe?q=2",
            " " * 59 + "|",
            'query q: equals "1"' + " " * 40 + "| 2" + " " * 51 + "<<<<< Query does not match",
            " " * 59 + "|",
            bar,
            "",
        ]
    )
    narrow = requests.get(
        f"{wm.mock}/probe", headers={"X-WireMock-Console-Width": "60"}, timeout=5
    ).text
    assert narrow.splitlines()[4] == "-" * 60
    # The journal keeps the near misses, as for any unmatched request.
    assert len(Requests.get_unmatched_requests().requests) == 3


def test_native_sessions_keep_the_json_404(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/n", handler="n")
    answer = requests.get(f"{cp.mock_url}/m", timeout=5)
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["near_misses"][0]["handler"] == "n"
    requests.post(f"{cp.api}/__admin/reset", timeout=5)  # now used through the dialect
    assert requests.get(f"{cp.mock_url}/m", timeout=5).text == NO_STUBS
    requests.post(f"{cp.api}/reset", timeout=5)  # a native reset: native again
    assert requests.get(f"{cp.mock_url}/m", timeout=5).json()["near_misses"] == []


def test_admin_on_the_mock_port_serves_both_dialects() -> None:
    config = ServerConfig(port=0, admin_port=0, admin_on_mock_port=True)
    with ThreadedServer(config) as server:
        previous, Config.base_url = Config.base_url, f"{server.mock_url}/__admin"
        try:
            created = Mappings.create_mapping(probe_mapping())
            assert requests.get(f"{server.mock_url}/probe?q=1", timeout=5).json() == {"ok": True}
            assert Mappings.retrieve_all_mappings().mappings[0].id == created.id
            events = Requests.get_all_received_requests(parameters={}).requests
            assert [e.request.url for e in events] == ["/probe?q=1"]  # admin calls not journaled
        finally:
            Config.base_url = previous
        native = requests.post(f"{server.mock_url}/__admin/api/sessions", json={}, timeout=5)
        assert native.status_code == 201
        sid = native.json()["id"]
        per_session = f"{server.mock_url}/__admin/api/sessions/{sid}/__admin/mappings"
        assert requests.get(per_session, timeout=5).json()["meta"]["total"] == 0
        assert requests.get(f"{server.mock_url}/__admin/health", timeout=5).json()["status"] == (
            "healthy"
        )


def test_admin_paths_on_the_mock_port_name_the_admin_port(cp_server: ThreadedServer) -> None:
    answer = requests.get(f"{cp_server.mock_url}/__admin/mappings", timeout=5)
    assert answer.status_code == 404
    assert answer.json()["message"] == (
        "no route matched GET /__admin/mappings: the admin API (WireMock's /__admin too) "
        f"is on the admin port, {cp_server.admin_url}/__admin/mappings; start the server "
        "with --admin-on-mock-port to serve it on this port as well"
    )


def test_a_failed_persist_write_changes_nothing(rooted: RootedServer) -> None:
    blocked = rooted.root / "mappings" / "blocked.json"
    blocked.mkdir()  # the rename onto it fails
    mapping = {"id": "blocked", "persistent": True, "request": {"url": "/b"}, "response": {}}
    answer = requests.post(f"{rooted.admin}/mappings", json=mapping, timeout=5)
    assert answer.status_code == 500
    assert answer.json()["errors"][0]["detail"].startswith(
        f"cannot write the mapping file {blocked.resolve()}: "
    )
    assert Mappings.retrieve_all_mappings().meta.total == 0  # the stub was not added
    assert blocked.is_dir() and [p.name for p in (rooted.root / "mappings").iterdir()] == [
        "blocked.json"  # and no temporary is left behind
    ]


def test_a_write_cut_short_by_a_crash_leaves_the_old_file(tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir(parents=True)
    old = {"id": "kept", "persistent": True, "request": {"url": "/k"}, "response": {"body": "old"}}
    (mappings / "kept.json").write_text(json.dumps(old))
    # What a crash between writing the temporary and renaming it leaves behind.
    stale = mappings / ".kept.json.0123456789abcdef.controlplane-tmp"
    stale.write_text('{"id": "kept", "request": {"url": "/k"}, "resp')
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path)) as server:
        assert requests.get(f"{server.mock_url}/k", timeout=5).text == "old"
    assert not stale.exists()


def test_an_import_writes_persistent_stubs_all_or_nothing(rooted: RootedServer) -> None:
    mappings = rooted.root / "mappings"
    shared = mappings / "shared.json"
    loaded = [
        {"id": f"s-{n}", "persistent": True, "request": {"url": f"/{n}"}, "response": {}}
        for n in ("a", "b")
    ]
    shared.write_text(json.dumps({"mappings": loaded}))
    Mappings.reset_mappings()
    original = shared.read_bytes()

    def stub(stub_id: str, body: str, persistent: bool = True) -> dict[str, object]:
        return {
            "id": stub_id,
            "persistent": persistent,
            "request": {"url": f"/{stub_id}"},
            "response": {"body": body},
        }

    # Refused after the files were written (an id twice): every file is put back.
    refused = requests.post(
        f"{rooted.admin}/mappings/import",
        json={"mappings": [stub("s-a", "edited"), stub("new", "1"), stub("new", "2")]},
        timeout=5,
    )
    assert refused.status_code == 409, refused.text
    assert shared.read_bytes() == original
    assert sorted(p.name for p in mappings.iterdir()) == ["shared.json"]

    imported = requests.post(
        f"{rooted.admin}/mappings/import",
        json={"mappings": [stub("s-a", "edited"), stub("new", "1"), stub("mem", "m", False)]},
        timeout=5,
    )
    assert imported.status_code == 200, imported.text
    written = json.loads(shared.read_text())["mappings"]
    assert [(m["id"], m["response"]) for m in written] == [
        ("s-a", {"body": "edited"}),
        ("s-b", {}),
    ]
    assert json.loads((mappings / "new.json").read_text())["response"] == {"body": "1"}
    assert not (mappings / "mem.json").exists()
