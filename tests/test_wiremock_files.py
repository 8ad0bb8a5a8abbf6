"""A WireMock root (`mappings/`, `__files/`) written as WireMock's docs write it, served by
`--mappings`, observed by ordinary HTTP clients."""

from __future__ import annotations

import asyncio
import base64
import http.client
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
import requests

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer

ROOT = Path(__file__).parent / "wiremock_mappings"


@pytest.fixture(scope="module")
def wm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wiremock") / "root"
    shutil.copytree(ROOT, root)
    return root


@pytest.fixture(scope="module")
def served(wm_root: Path) -> Iterator[ThreadedServer]:
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=wm_root)) as server:
        yield server


@pytest.fixture
def mock(served: ThreadedServer) -> Iterator[str]:
    yield served.mock_url
    # Scenario state and the journal are per test; the mappings stay loaded.
    requests.post(f"{served.admin_url}/__admin/scenarios/reset", timeout=5)
    requests.delete(f"{served.admin_url}/__admin/requests", timeout=5)


def test_every_mapping_file_is_loaded(served: ThreadedServer) -> None:
    listed = requests.get(f"{served.admin_url}/__admin/mappings", timeout=5).json()
    assert listed["meta"]["total"] == 24
    assert all(m["id"] == m["uuid"] for m in listed["mappings"])


def test_plain_url_mapping_serves_body_and_matched_stub_id(served: ThreadedServer) -> None:
    answer = requests.get(f"{served.mock_url}/some/thing", timeout=5)
    assert (answer.status_code, answer.text) == (200, "Hello world!")
    assert answer.headers["Content-Type"] == "text/plain"
    stub_id = answer.headers["Matched-Stub-Id"]
    mapping = requests.get(f"{served.admin_url}/__admin/mappings/{stub_id}", timeout=5).json()
    assert mapping["request"]["url"] == "/some/thing"
    # `url` is the whole URL: a query string makes it another URL.
    assert requests.get(f"{served.mock_url}/some/thing?x=1", timeout=5).status_code == 404


def test_lower_priority_number_wins(mock: str) -> None:
    assert requests.get(f"{mock}/api/specific-resource", timeout=5).status_code == 401
    answer = requests.post(f"{mock}/api/specific-resource", timeout=5)
    assert (answer.status_code, answer.text) == (200, "Resource state")


def test_newest_mapping_wins_within_a_priority(mock: str) -> None:
    answer = requests.get(f"{mock}/newest", timeout=5)
    assert answer.text == "newer"
    assert answer.headers["Matched-Stub-Id"] == "00000000-0000-0000-0000-0000000000b2"


def test_equal_to_json_ignoring_array_order_and_extra_elements(mock: str) -> None:
    body = {"items": [3, 1, 2, 4], "total_results": 4, "extra": True}
    assert requests.post(f"{mock}/json", json=body, timeout=5).text == "json matched"
    body["total_results"] = 5
    assert requests.post(f"{mock}/json", json=body, timeout=5).status_code == 404


def test_matches_json_path_plain_and_with_a_matcher(mock: str) -> None:
    body = {"things": [{"name": "RequiredThing"}], "count": 12}
    assert requests.post(f"{mock}/jsonpath", json=body, timeout=5).text == "jsonpath matched"
    body["count"] = "twelve"
    assert requests.post(f"{mock}/jsonpath", json=body, timeout=5).status_code == 404


def test_url_path_template_with_path_parameters(mock: str) -> None:
    assert httpx.get(f"{mock}/contacts/12345/addresses/11111").text == "address"
    assert httpx.get(f"{mock}/contacts/12345/addresses/22222").status_code == 404


def test_has_exactly_absent_headers_and_cookies(mock: str) -> None:
    headers = {"Accept": "application/json", "X-Trace": "good", "Cookie": "session=ab12345cd"}
    answer = httpx.get(f"{mock}/things", params=[("id", "2"), ("id", "1")], headers=headers)
    assert answer.json() == {"things": [1, 2]}
    assert answer.headers["Content-Type"] == "application/json"
    for params in ([("id", "1")], [("id", "1"), ("id", "2"), ("id", "3")]):
        assert httpx.get(f"{mock}/things", params=params, headers=headers).status_code == 404
    extra = [("id", "1"), ("id", "2"), ("search_term", "x")]
    assert httpx.get(f"{mock}/things", params=extra, headers=headers).status_code == 404


def test_basic_auth_credentials(mock: str) -> None:
    assert requests.get(f"{mock}/secure", auth=("jeff", "jeffteenjefftyjeff"), timeout=5).ok
    assert requests.get(f"{mock}/secure", auth=("jeff", "nope"), timeout=5).status_code == 404


def test_form_parameters_includes_and_case_insensitive(mock: str) -> None:
    data = [("tags", "b"), ("tags", "a"), ("name", "tom")]
    assert requests.post(f"{mock}/form", data=data, timeout=5).text == "form ok"
    assert requests.post(f"{mock}/form", data=[("tags", "b")], timeout=5).status_code == 404


def test_binary_equal_to(mock: str) -> None:
    assert requests.put(f"{mock}/binary", data=b"\x01\x02\x03", timeout=5).status_code == 204
    assert requests.put(f"{mock}/binary", data=b"\x01\x02", timeout=5).status_code == 404


def test_body_file_name_is_read_from_files_dir(mock: str) -> None:
    answer = requests.get(f"{mock}/file", timeout=5)
    assert answer.text == "<html><body>Hello from a file</body></html>\n"
    assert answer.headers["Content-Type"] == "text/html"


def test_body_file_name_cannot_escape_the_root(served: ThreadedServer) -> None:
    mapping = {
        "request": {"url": "/escape"},
        "response": {"bodyFileName": "../mappings/basic.json"},
    }
    answer = requests.post(f"{served.admin_url}/__admin/mappings", json=mapping, timeout=5)
    assert answer.status_code == 422
    error = answer.json()["errors"][0]
    assert error["source"]["pointer"] == "/response/bodyFileName"
    assert "outside the files directory" in error["detail"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("missing.txt", "cannot read body file 'missing.txt' in "),
        (".", "cannot read body file '.' in "),
    ],
)
def test_unreadable_body_file_name_is_refused_at_its_field(
    served: ThreadedServer, name: str, problem: str
) -> None:
    mapping = {"request": {"url": "/nofile"}, "response": {"bodyFileName": name}}
    answer = requests.post(f"{served.admin_url}/__admin/mappings", json=mapping, timeout=5)
    assert answer.status_code == 422
    error = answer.json()["errors"][0]
    assert error["source"]["pointer"] == "/response/bodyFileName"
    assert error["detail"].startswith(problem)


def test_import_locates_a_bad_mapping_by_its_index(served: ThreadedServer) -> None:
    good = {"request": {"url": "/fine"}, "response": {"status": 204}}
    cases = [
        ({"request": {"url": "/x"}, "response": {"bodyFileName": "no"}}, "/response/bodyFileName"),
        ({"request": {"urlPathPattern": "/(unclosed"}, "response": {}}, "/request/urlPathPattern"),
        ({"request": {"url": "/s"}, "response": {}, "newScenarioState": "b"}, "/scenarioName"),
    ]
    for bad, field in cases:
        answer = requests.post(
            f"{served.admin_url}/__admin/mappings/import",
            json={"mappings": [good, bad]},
            timeout=5,
        )
        assert answer.status_code == 422, bad
        assert answer.json()["errors"][0]["source"]["pointer"] == "/mappings/1" + field


def test_status_message_multi_valued_headers_and_base64_body(mock: str) -> None:
    parts = urlsplit(mock)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    connection.request("GET", "/teapot")
    answer = connection.getresponse()
    assert (answer.status, answer.reason) == (418, "I am a teapot indeed")
    assert answer.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert answer.read() == base64.b64decode("AAEC")
    connection.close()


def test_fixed_and_uniform_delays(mock: str) -> None:
    started = time.monotonic()
    assert requests.get(f"{mock}/delayed", timeout=5).ok
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert requests.get(f"{mock}/random-delay", timeout=5).ok
    assert time.monotonic() - started >= 0.1


async def test_chunked_dribble_delay_spreads_the_body(mock: str) -> None:
    pieces: list[tuple[float, bytes]] = []
    async with aiohttp.ClientSession() as client, client.get(f"{mock}/dribble") as answer:
        assert answer.headers["Transfer-Encoding"] == "chunked"
        started = time.monotonic()
        async for piece, _ in answer.content.iter_chunks():
            pieces.append((time.monotonic() - started, piece))
    assert b"".join(p for _, p in pieces) == b"Hello world, slowly!"
    assert len(pieces) >= 2
    assert pieces[-1][0] >= 0.15  # the last piece came well after the first


@pytest.mark.parametrize("path", ["/fault/empty", "/fault/reset", "/fault/chunk", "/fault/random"])
def test_faults_break_the_connection(mock: str, path: str) -> None:
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{mock}{path}", timeout=5)


def test_scenario_state_machine(mock: str, served: ThreadedServer) -> None:
    assert "Cancel newspaper" not in requests.get(f"{mock}/todo/items", timeout=5).text
    added = requests.post(f"{mock}/todo/items", data="Cancel newspaper subscription", timeout=5)
    assert added.status_code == 201
    assert "Cancel newspaper" in requests.get(f"{mock}/todo/items", timeout=5).text
    # The transition is spent: the POST needs state Started.
    assert (
        requests.post(
            f"{mock}/todo/items", data="Cancel newspaper subscription", timeout=5
        ).status_code
        == 404
    )
    scenarios = requests.get(f"{served.admin_url}/__admin/scenarios", timeout=5).json()["scenarios"]
    todo = next(s for s in scenarios if s["name"] == "To do list")
    assert todo["state"] == "Cancel newspaper item added"
    assert set(todo["possibleStates"]) == {"Started", "Cancel newspaper item added"}
    assert len(todo["mappings"]) == 3
    requests.put(
        f"{served.admin_url}/__admin/scenarios/To do list/state",
        json={"state": "Started"},
        timeout=5,
    )
    assert "Cancel newspaper" not in requests.get(f"{mock}/todo/items", timeout=5).text


def test_unknown_mapping_file_field_names_file_and_pointer(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "bad.json").write_text('{"request": {"urlPth": "/x"}}')
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path))
    with pytest.raises(
        Exception, match=r"bad\.json: unknown field `urlPth`.*at \$\.request\.urlPth"
    ):
        server.start()


async def test_concurrent_requests_see_each_transition_exactly_once(
    cp_server: ThreadedServer,
) -> None:
    """Twenty states in a chain, forty concurrent requests: each state is served once."""
    session = requests.post(f"{cp_server.admin_url}/api/sessions", json={}, timeout=5).json()
    admin = f"{cp_server.admin_url}/api/sessions/{session['id']}/__admin"
    states = [f"s{i}" for i in range(20)]
    for index, name in enumerate(states):
        mapping = {
            "scenarioName": "chain",
            "requiredScenarioState": "Started" if index == 0 else name,
            "newScenarioState": states[index + 1] if index + 1 < len(states) else "done",
            "request": {"method": "GET", "url": "/step"},
            "response": {"body": name},
        }
        assert requests.post(f"{admin}/mappings", json=mapping, timeout=5).status_code == 201
    try:
        async with aiohttp.ClientSession() as client:

            async def one() -> str:
                async with client.get(f"{session['mock_url']}/step") as answer:
                    return await answer.text() if answer.status == 200 else "-"

            answers = await asyncio.gather(*(one() for _ in range(40)))
        served_states = [a for a in answers if a != "-"]
        assert sorted(served_states) == sorted(states)
        assert answers.count("-") == 20
    finally:
        requests.delete(f"{cp_server.admin_url}/api/sessions/{session['id']}", timeout=5)
