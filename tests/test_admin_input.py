"""Bad admin input says what to fix and where: templates, JSON syntax, logs, newlines, files."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
from structlog.testing import capture_logs

from controlplane.errors import RouteFileError
from controlplane.logs import configure_logging
from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle
from tests.process import run_cli, serve_process

FORMS = (
    "a parameter is {name} or {name:regex}, its name a letter or _ then letters, digits "
    "or _; for a literal brace use `path_regex`"
)
Events = list[MutableMapping[str, Any]]


def route(path: str, handler: str = "h") -> dict[str, Any]:
    return {"method": "GET", "path": path, "handler": handler}


# ------------------------------------------------------------------ path templates


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/x/{id", "has an unclosed '{' at character 4 of '/x/{id'"),
        ("/x/id}", "has a '}' that closes no parameter at character 6 of '/x/id}'"),
        ("/x/{a}}", "has a '}' that closes no parameter at character 7 of '/x/{a}}'"),
        ("/x/{}", "has '{}' at character 4 of '/x/{}', which is not a parameter"),
        ("/{1bad}/y", "has '{1bad}' at character 2 of '/{1bad}/y', which is not a parameter"),
        ("/a/{b c}", "has '{b c}' at character 4 of '/a/{b c}', which is not a parameter"),
    ],
)
def test_a_malformed_path_template_is_a_422_at_its_path(
    cp: SessionHandle, path: str, problem: str
) -> None:
    answer = requests.post(
        f"{cp.api}/routes", json=[route("/fine"), route(path, "bad")], timeout=10
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "error": {
            "code": "invalid_input",
            "message": f"`path` {problem}: {FORMS}",
            "location": "$[1].path",
        }
    }
    # All or nothing: the good route of the list is not added either.
    assert requests.get(f"{cp.api}/routes", timeout=10).json() == {"routes": []}


@pytest.mark.parametrize("path", ["/x/{id}", "/x/{a}{b}", "/n/{n:[0-9]{2}}", "/v{version}/x"])
def test_well_formed_templates_are_accepted(cp: SessionHandle, path: str) -> None:
    assert requests.post(f"{cp.api}/routes", json=route(path), timeout=10).status_code == 201


def test_a_wiremock_url_path_template_is_checked_the_same_way(cp: SessionHandle) -> None:
    stub = {"request": {"method": "GET", "urlPathTemplate": "/x/{id"}, "response": {}}
    answer = requests.post(f"{cp.api}/__admin/mappings", json=stub, timeout=10)
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert error["source"] == {"pointer": "/request/urlPathTemplate"}
    assert error["detail"] == f"`path` has an unclosed '{{' at character 4 of '/x/{{id': {FORMS}"


# ------------------------------------------------------------------ JSON syntax


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            b'{"method": "GET",\n "path": "/x",, }',
            "object keys must be strings (line 2, column 15)",
        ),
        (b'[\n  {"method": "GET"}\n  {}\n]', "expected ',' or ']' (line 3, column 3)"),
        (b'{"handler": "\xc3\xa9t\xc3\xa9",}', "trailing comma in object (line 1, column 19)"),
        (b"{", None),
    ],
)
def test_malformed_json_says_line_and_column(
    cp: SessionHandle, body: bytes, problem: str | None
) -> None:
    answer = requests.post(
        f"{cp.api}/routes", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert answer.status_code == 400
    if problem is None:  # msgspec's words for a document cut short, and no offset
        message = "Input data was truncated (line 1, column 2: the end of the input)"
    else:
        message = f"JSON is malformed: {problem}"
    assert answer.json() == {
        "error": {
            "code": "invalid_json",
            "message": f"the request body is not valid JSON: {message}",
            "location": None,
        }
    }


def test_the_wiremock_dialect_says_line_and_column_too(cp: SessionHandle) -> None:
    answer = requests.post(f"{cp.api}/__admin/mappings", data=b'{\n  "request": {,}\n}', timeout=10)
    assert answer.status_code == 422  # as WireMock answers a body that is not JSON
    assert answer.json()["errors"][0] == {
        "code": 10,
        "source": {"pointer": ""},
        "title": "Error parsing JSON",
        "detail": (
            "the request body is not valid JSON: JSON is malformed: "
            "object keys must be strings (line 2, column 15)"
        ),
    }


# ------------------------------------------------------------------ newlines


def test_every_json_answer_ends_with_a_newline(
    cp: SessionHandle, cp_server: ThreadedServer
) -> None:
    answers = [
        requests.get(f"{cp_server.admin_url}/health", timeout=10),
        requests.post(f"{cp.api}/routes", json=route("/nl"), timeout=10),
        requests.get(f"{cp.api}/routes", timeout=10),
        requests.post(f"{cp.api}/routes", json={"method": "GET"}, timeout=10),  # 422
        requests.get(f"{cp_server.admin_url}/api/nothing-here", timeout=10),  # 404
        requests.get(f"{cp_server.admin_url}/api/openapi.json", timeout=10),
        requests.get(f"{cp.api}/__admin/mappings", timeout=10),
        requests.post(f"{cp.api}/__admin/mappings", json={"request": 1}, timeout=10),  # 422
    ]
    for answer in answers:
        assert answer.headers["Content-Type"].startswith("application/json"), answer.url
        assert answer.content.endswith(b"}\n"), (answer.url, answer.content[-20:])
        assert not answer.content.endswith(b"\n\n"), answer.url


# ------------------------------------------------------------------ logs


@pytest.fixture
def info_logs() -> Iterator[Events]:
    saved = structlog.get_config()
    configure_logging("json", "info")
    try:
        with capture_logs() as events:
            yield events
    finally:
        structlog.configure(**saved)


def test_every_admin_4xx_is_logged_once_at_info_with_code_and_location(
    info_logs: Events,
) -> None:
    with ThreadedServer(ServerConfig(port=0, admin_port=0)) as server:
        admin = server.admin_url
        requests.post(f"{admin}/api/routes", json=route("/x/{id"), timeout=10)
        requests.post(f"{admin}/api/routes", data=b"{", timeout=10)
        requests.get(f"{admin}/api/sessions/nope", timeout=10)
        requests.post(f"{admin}/__admin/mappings", json={"request": 1}, timeout=10)
        requests.get(f"{admin}/health", timeout=10)  # a 200: not logged
    refused = [event for event in info_logs if event["event"] == "admin_refused"]
    assert [(e["status"], e["code"], e["method"], e["path"], e["location"]) for e in refused] == [
        (422, "invalid_input", "POST", "/api/routes", "$.path"),
        (400, "invalid_json", "POST", "/api/routes", None),
        (404, "not_found", "GET", "/api/sessions/nope", None),
        (422, "invalid_input", "POST", "/__admin/mappings", "$.request"),
    ]
    assert all(e["log_level"] == "info" for e in refused)
    assert (
        refused[0]["message"] == f"`path` has an unclosed '{{' at character 4 of '/x/{{id': {FORMS}"
    )
    assert refused[1]["message"] == (
        "the request body is not valid JSON: Input data was truncated "
        "(line 1, column 2: the end of the input)"
    )


# ------------------------------------------------------------------ mapping files


def start_with(mappings: Path) -> RouteFileError:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=mappings))
    with pytest.raises(RouteFileError) as caught:
        server.start()
    return caught.value


def test_a_route_file_with_a_malformed_template_stops_the_start_naming_file_and_place(
    tmp_path: Path,
) -> None:
    (tmp_path / "routes.json").write_text(json.dumps({"routes": [route("/ok"), route("/x/{id")]}))
    error = start_with(tmp_path)
    assert error.location == "$.routes[1].path"
    assert str(error) == (
        f"{tmp_path / 'routes.json'}: `path` has an unclosed '{{' at character 4 of '/x/{{id': "
        f"{FORMS} at $.routes[1].path"
    )


def test_a_malformed_json_route_file_says_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"method": "GET",\n  "path": "/x",,\n}')
    assert str(start_with(tmp_path)) == (
        f"{tmp_path / 'a.json'}: not valid JSON: JSON is malformed: "
        "object keys must be strings (line 2, column 16)"
    )


def test_a_malformed_wiremock_mapping_file_says_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "stub.json").write_text('{\n"request": {\n}\n,}')
    assert str(start_with(tmp_path)) == (
        f"{tmp_path / 'mappings' / 'stub.json'}: not valid JSON: JSON is malformed: "
        "trailing comma in object (line 4, column 2)"
    )


def wiremock_stub(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    stub = {"request": {"method": "GET", "url": "/s"}, "response": {"status": 200}}
    (directory / "stub.json").write_text(json.dumps(stub))


def test_mappings_pointed_at_wiremock_mappings_folder_names_the_folder_to_pass(
    tmp_path: Path,
) -> None:
    wiremock_stub(tmp_path / "mappings")
    folder = tmp_path / "mappings"
    done = run_cli("serve", "--port", "0", "--admin-port", "0", "--mappings", str(folder))
    assert done.returncode == 2
    assert (
        f"{folder / 'stub.json'}: a WireMock stub mapping: --mappings {folder} is WireMock's "
        f"mappings/ folder, not its root; pass the folder that holds it: --mappings {tmp_path} "
        "(WireMock's --root-dir)"
    ) in done.stderr


def test_a_wiremock_stub_outside_mappings_says_where_stubs_go(tmp_path: Path) -> None:
    wiremock_stub(tmp_path)
    assert str(start_with(tmp_path)) == (
        f"{tmp_path / 'stub.json'}: a WireMock stub mapping, not a controlplane route: "
        f"WireMock stubs load from {tmp_path / 'mappings'}/ (a WireMock root holds mappings/ "
        "and __files/)"
    )


def test_a_folder_named_mappings_of_native_routes_still_loads(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "r.json").write_text(json.dumps(route("/native")))
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=folder)) as server:
        assert (
            requests.get(f"{server.admin_url}/api/routes", timeout=10).json()["routes"][0]["path"]
            == "/native"
        )


def test_root_dir_is_wiremocks_name_for_mappings(tmp_path: Path) -> None:
    wiremock_stub(tmp_path / "mappings")
    ready = tmp_path / "ready.json"
    done = run_cli("serve", "--help")
    assert "--mappings MAPPINGS, --root-dir MAPPINGS" in done.stdout
    with serve_process(tmp_path, "--root-dir", str(tmp_path), ready_file=ready) as server:
        answer = requests.get(f"{server.mock_url}/s", timeout=10)
    assert answer.status_code == 200
