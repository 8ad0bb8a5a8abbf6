"""`--mappings DIR`: native route files (JSON and YAML) loaded at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from controlplane.errors import RouteFileError
from controlplane.route_files import route_files
from controlplane.server import ControlplaneServer, ServerConfig
from tests.process import run_cli, serve_process


def route(path: str, handler: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"method": "GET", "path": path, "handler": handler, **extra}
    if body is not None:
        spec["response"] = {"type": "json", "body": body}
    return spec


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def server_for(directory: Path) -> ControlplaneServer:
    return ControlplaneServer(ServerConfig(port=0, admin_port=0, mappings=directory))


async def get(server: ControlplaneServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(f"{server.mock_url}{path}")


async def test_loads_every_file_shape_in_json_and_yaml(tmp_path: Path) -> None:
    write(tmp_path / "one.json", json.dumps(route("/json-one", "json_one", "j1")))
    write(
        tmp_path / "list.json",
        json.dumps([route("/json-list-a", "jla", "a"), route("/json-list-b", "jlb", "b")]),
    )
    write(
        tmp_path / "wrapped.json",
        json.dumps({"routes": [route("/json-wrapped", "jw", "w")]}),
    )
    write(
        tmp_path / "one.yaml",
        "method: GET\npath: /yaml-one\nhandler: yaml_one\nresponse: {type: json, body: y1}\n",
    )
    write(
        tmp_path / "list.yml",
        "- {method: GET, path: /yaml-list, handler: yl, response: {type: json, body: yl}}\n",
    )
    write(
        tmp_path / "wrapped.yaml",
        "routes:\n"
        "  - method: GET\n"
        "    path: /yaml-wrapped\n"
        "    handler: yw\n"
        "    response:\n"
        "      type: raw\n"
        "      body: plain text\n",
    )
    write(tmp_path / "nested" / "deeper" / "sub.yaml", "- " + json.dumps(route("/sub", "s", 1)))
    write(tmp_path / "README.md", "not a route file")
    write(tmp_path / "empty.yaml", "")

    async with server_for(tmp_path) as server:
        assert len(server.store.default.routes) == 8
        expected = {
            "/json-one": "j1",
            "/json-list-a": "a",
            "/json-list-b": "b",
            "/json-wrapped": "w",
            "/yaml-one": "y1",
            "/yaml-list": "yl",
            "/sub": 1,
        }
        for path, body in expected.items():
            answer = await get(server, path)
            assert answer.status_code == 200, path
            assert answer.json() == body
        raw = await get(server, "/yaml-wrapped")
        assert raw.text == "plain text"


@pytest.mark.parametrize(
    ("first_file", "second_file"),
    [("a.yaml", "b.json"), ("b.json", "c.yaml"), ("a.json", "sub/a.json")],
)
async def test_file_name_order_is_declaration_order(
    tmp_path: Path, first_file: str, second_file: str
) -> None:
    # Same path, same priority: the route declared first wins, and files declare in
    # name order whatever their format or depth.
    first, second = route("/same", "first", "first"), route("/same", "second", "second")
    for name, spec in ((second_file, second), (first_file, first)):
        text = json.dumps([spec])  # JSON is YAML too
        write(tmp_path / name, text)
    async with server_for(tmp_path) as server:
        assert (await get(server, "/same")).json() == "first"


async def test_order_within_a_file_is_declaration_order(tmp_path: Path) -> None:
    write(
        tmp_path / "routes.yaml",
        json.dumps([route("/same", "first", "first"), route("/same", "second", "second")]),
    )
    async with server_for(tmp_path) as server:
        assert (await get(server, "/same")).json() == "first"


def test_route_files_sorts_part_by_part_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.yml", "a/z.json", "a.json", ".hidden.json", ".git/x.json", "c.txt"):
        write(tmp_path / name, "[]")
    found = [p.relative_to(tmp_path).as_posix() for p in route_files(tmp_path)]
    assert found == ["a/z.json", "a.json", "b.yml"]


async def test_route_without_inline_response_answers_500_until_registered(
    tmp_path: Path,
) -> None:
    write(tmp_path / "r.json", json.dumps(route("/later", "later")))
    async with server_for(tmp_path) as server:
        answer = await get(server, "/later")
        assert answer.status_code == 500
        assert "later" in answer.text


@pytest.mark.parametrize(
    ("name", "text", "location", "problem"),
    [
        ("bad.yaml", "method: GET\npath: [\n", None, "not valid YAML"),
        ("bad.json", '{"method": "GET",', None, "not valid JSON"),
        ("one.json", json.dumps(route("/x", "h", priority="high")), "$.priority", "int"),
        ("list.yaml", json.dumps([route("/ok", "ok"), {"path": "/x"}]), "$[1].method", "method"),
        (
            "wrapped.json",
            json.dumps({"routes": [route("/ok", "ok"), route("/x", "h", times=0)]}),
            "$.routes[1].times",
            "times",
        ),
        ("scalar.yaml", "just a string\n", "$", "object"),
        ("deep.json", "[" * 1000 + "]" * 1000, None, "more than 100 levels deep"),
        ("deep.yaml", "x: " + "[" * 101 + "]" * 101 + "\n", None, "more than 100 levels deep"),
    ],
)
async def test_bad_file_stops_the_start_naming_file_and_location(
    tmp_path: Path, name: str, text: str, location: str | None, problem: str
) -> None:
    write(tmp_path / "good.json", json.dumps(route("/good", "good", "g")))
    bad = write(tmp_path / name, text)
    server = server_for(tmp_path)
    with pytest.raises(RouteFileError) as raised:
        await server.start()
    error = raised.value
    assert error.path == bad
    assert error.location == location
    assert problem in error.message
    assert error.message.startswith(f"{bad}: ")
    if location is not None:
        assert error.message.endswith(f" at {location}")


async def test_mappings_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    a_file = write(tmp_path / "routes.json", "[]")
    for target, problem in ((a_file, "is not a directory"), (tmp_path / "no", "does not exist")):
        with pytest.raises(RouteFileError, match=problem):
            await server_for(target).start()


def test_cli_loads_mappings_and_serves_them(tmp_path: Path) -> None:
    mocks = tmp_path / "mocks"
    write(mocks / "hello.yaml", json.dumps(route("/hello", "hello", {"from": "file"})))
    with serve_process(tmp_path, "--mappings", str(mocks), "--log-format", "json") as server:
        answer = requests.get(f"{server.mock_url}/hello", timeout=5)
        assert answer.json() == {"from": "file"}
        listed = requests.get(f"{server.admin_url}/api/routes", timeout=5).json()
        assert [r["handler"] for r in listed["routes"]] == ["hello"]
    loaded = [e for e in server.events() if e["event"] == "mappings_loaded"]
    assert loaded == [
        {
            "event": "mappings_loaded",
            "directory": str(mocks),
            "routes": 1,
            "subsystem": "server",
            "level": "info",
            "timestamp": loaded[0]["timestamp"],
        }
    ]


def test_cli_bad_mapping_file_exits_2_naming_file_and_location(tmp_path: Path) -> None:
    bad = write(tmp_path / "mocks" / "bad.json", json.dumps([route("/x", "h", priority="x")]))
    done = run_cli(
        "serve", "--port", "0", "--admin-port", "0",
        "--mappings", str(bad.parent), "--log-format", "json",
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert [e["event"] for e in events] == ["cannot_start"]
    assert events[0]["file"] == str(bad)
    assert events[0]["location"] == "$[0].priority"
    assert events[0]["code"] == "invalid_mapping_file"
    assert str(bad) in events[0]["message"]


def test_cli_invalid_yaml_exits_2(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "routes: [\n")
    done = run_cli("serve", "--port", "0", "--admin-port", "0", "--mappings", str(tmp_path))
    assert done.returncode == 2
    assert "cannot_start" in done.stderr
    assert f"{bad}: not valid YAML" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_mappings_not_a_directory_exits_2(tmp_path: Path) -> None:
    a_file = write(tmp_path / "routes.json", "[]")
    done = run_cli("serve", "--port", "0", "--admin-port", "0", "--mappings", str(a_file))
    assert done.returncode == 2
    assert f"{a_file}: is not a directory; --mappings takes a directory" in done.stderr
