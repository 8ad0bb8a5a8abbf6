"""Bad admin input is refused at registration with a 4xx and its location, never a 5xx.

Each case here once answered 500, or was accepted and then broke something later:
JSON nested past the stack, a NUL in a body file name, WireMock ids that are paths,
delays that never end or overflow, session ids that clients normalise away. Every body
-taking admin operation is enumerated from the router's own tables (native `OPERATIONS`
and the WireMock dialect's endpoints), so a new one is covered without a new test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from controlplane import wire, wiremock
from controlplane.admin.app import OPERATIONS
from controlplane.admin.decoding import MAX_DEPTH
from controlplane.responses.delays import compile_delay
from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer
from tests.conftest import SessionHandle

TOO_DEEP = (
    f"nests arrays and objects more than {MAX_DEPTH} levels deep; "
    f"controlplane reads JSON nested at most {MAX_DEPTH} levels"
)


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def error_of(answer: requests.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def wiremock_error(answer: requests.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    [error] = answer.json()["errors"]
    assert isinstance(error, dict)
    return error


def post_route(cp: SessionHandle, route: dict[str, Any]) -> requests.Response:
    return requests.post(f"{cp.api}/routes", json=route, timeout=10)


def route_with(response: dict[str, Any]) -> dict[str, Any]:
    return {"method": "GET", "path": "/r", "handler": "h", "response": response}


# ----------------------------------------------------------------- nesting depth


@pytest.fixture
def targets(cp: SessionHandle, cp_server: ThreadedServer) -> dict[str, str]:
    """Path parameters that exist, so each operation gets as far as reading its body."""
    route = cp.add_route(
        method="GET",
        path="/deep",
        handler="h",
        scenario={"name": "h"},
        response={"type": "raw", "body": "x"},
    )
    return {"{sid}": cp.id, "{route_id}": route["id"], "{name}": "h"}


def native_body_paths(targets: dict[str, str]) -> list[tuple[str, str]]:
    found = []
    for operation in OPERATIONS:
        if operation.body is None:
            continue
        path = operation.routes()[-1][0]  # the session-scoped form, or the global path
        for name, value in targets.items():
            path = path.replace(name, value)
        found.append((operation.method, path))
    return found


def test_every_body_taking_admin_operation_is_enumerated(targets: dict[str, str]) -> None:
    # The table is the source; this pins that it still has the operations we know of.
    paths = {path.rsplit("/", 1)[-1] for _, path in native_body_paths(targets)}
    assert {"sessions", "routes", "response", "verify", "state", "settings"} <= paths


@pytest.mark.parametrize("document", [nested_arrays(2000), nested_objects(2000)])
def test_over_deep_json_is_400_naming_the_limit_on_every_native_operation(
    cp_server: ThreadedServer, targets: dict[str, str], document: bytes
) -> None:
    for method, path in native_body_paths(targets):
        answer = requests.request(method, cp_server.admin_url + path, data=document, timeout=10)
        error = error_of(answer, 400)
        assert error == {
            "code": "invalid_json",
            "message": f"the request body {TOO_DEEP}",
            "location": None,
        }, (method, path)


def wiremock_writes() -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in wiremock.endpoints()
        # shutdown would stop the shared server if it could; it takes no body anyway
        if method in ("POST", "PUT") and not path.endswith("/shutdown")
    ]


def test_over_deep_json_is_422_on_every_wiremock_operation_that_reads_a_body(
    cp: SessionHandle, targets: dict[str, str]
) -> None:
    stub = requests.post(
        f"{cp.api}/__admin/mappings",
        json={"request": {"url": "/stub"}, "response": {"body": "x"}},
        timeout=10,
    ).json()
    reading = []
    for method, path in wiremock_writes():
        url = f"{cp.api}/__admin" + path.replace("{id}", stub["id"]).replace("{name}", "h")
        malformed = requests.request(method, url, data=b"{", timeout=10)
        deep = requests.request(method, url, data=nested_objects(2000), timeout=10)
        assert deep.status_code < 500, (method, path, deep.text)
        if malformed.status_code == 422:  # it reads its body (WireMock: 422, not 400)
            reading.append(path)
            error = wiremock_error(deep, 422)
            assert error["detail"] == f"the request body {TOO_DEEP}", (method, path)
        else:  # it ignores its body: the deep one changes nothing
            assert deep.status_code == malformed.status_code, (method, path)
    assert {"/mappings", "/mappings/import", "/requests/count", "/settings"} <= set(reading)


def test_json_nested_exactly_to_the_limit_is_read(cp: SessionHandle) -> None:
    # route object (1) > response (2) > body nested 98 levels: 100 in all
    body: Any = 1
    for _ in range(MAX_DEPTH - 2):
        body = [body]
    answer = post_route(cp, route_with({"type": "json", "body": body}))
    assert answer.status_code == 201, answer.text
    error = error_of(post_route(cp, route_with({"type": "json", "body": [body]})), 400)
    assert error["message"] == f"the request body {TOO_DEEP}"


def test_brackets_inside_strings_do_not_count_as_nesting(cp: SessionHandle) -> None:
    text = '"[{' * 500 + "]}"
    answer = post_route(cp, route_with({"type": "raw", "body": text}))
    assert answer.status_code == 201, answer.text


@pytest.fixture
def wm_server(tmp_path: Path) -> Iterator[tuple[ThreadedServer, Path]]:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "__files").mkdir()
    with ThreadedServer(ServerConfig(port=0, admin_port=0, mappings=tmp_path)) as server:
        yield server, tmp_path


def test_over_deep_mapping_file_is_refused_on_reload(
    wm_server: tuple[ThreadedServer, Path],
) -> None:
    server, root = wm_server
    (root / "mappings" / "deep.json").write_bytes(
        b'{"request": {"url": "/d"}, "response": {"jsonBody": ' + nested_arrays(200) + b"}}"
    )
    answer = requests.post(f"{server.admin_url}/__admin/mappings/reset", timeout=10)
    error = wiremock_error(answer, 422)
    assert error["detail"] == f"{root / 'mappings' / 'deep.json'}: {TOO_DEEP}"


# ----------------------------------------------------------------- body files


def test_nul_in_body_file_is_422_at_registration(
    wm_server: tuple[ThreadedServer, Path],
) -> None:
    server, _ = wm_server
    answer = requests.post(
        f"{server.admin_url}/api/routes",
        json=route_with({"type": "raw", "body_file": "a\x00b.txt"}),
        timeout=10,
    )
    assert error_of(answer, 422) == {
        "code": "invalid_input",
        "message": "`body_file` contains a NUL character, which no file name can hold",
        "location": "$.response.body_file",
    }


def test_nul_in_wiremock_body_file_name_is_422_at_its_pointer(
    wm_server: tuple[ThreadedServer, Path],
) -> None:
    server, _ = wm_server
    answer = requests.post(
        f"{server.admin_url}/__admin/mappings",
        json={"request": {"url": "/f"}, "response": {"bodyFileName": "a\x00b.txt"}},
        timeout=10,
    )
    error = wiremock_error(answer, 422)
    assert error["source"] == {"pointer": "/response/bodyFileName"}
    assert error["detail"] == "`body_file` contains a NUL character, which no file name can hold"


# ----------------------------------------------------------------- WireMock ids

ID_RULE = (
    "a mapping id takes 1-64 of A-Z a-z 0-9 _ . -, not starting with '.' (WireMock's "
    "are UUIDs), not {!r}: it names the file the mapping is saved to"
)


@pytest.mark.parametrize("bad", ["a/b", "..", ".", ".hidden", "a b", "a\\b", "x" * 65])
@pytest.mark.parametrize("field", ["id", "uuid"])
def test_mapping_id_that_cannot_be_a_file_name_is_422(
    cp: SessionHandle, bad: str, field: str
) -> None:
    answer = requests.post(
        f"{cp.api}/__admin/mappings",
        json={field: bad, "request": {"url": "/i"}, "response": {"body": "x"}},
        timeout=10,
    )
    error = wiremock_error(answer, 422)
    assert error["source"] == {"pointer": f"/{field}"}
    assert error["detail"] == ID_RULE.format(bad)


def test_import_with_one_bad_id_imports_nothing(cp: SessionHandle) -> None:
    mappings = [
        {"id": "good-1", "request": {"url": "/a"}, "response": {"body": "a"}},
        {"id": "../escape", "request": {"url": "/b"}, "response": {"body": "b"}},
    ]
    answer = requests.post(
        f"{cp.api}/__admin/mappings/import", json={"mappings": mappings}, timeout=10
    )
    error = wiremock_error(answer, 422)
    assert error["source"] == {"pointer": "/mappings/1/id"}
    listed = requests.get(f"{cp.api}/__admin/mappings", timeout=10).json()
    assert listed["meta"]["total"] == 0


@pytest.mark.parametrize(
    "good", ["6f1b2c3d-0000-4000-8000-000000000001", "stub_1", "-x", "a.b", "x" * 64]
)
def test_safe_mapping_ids_are_accepted(cp: SessionHandle, good: str) -> None:
    answer = requests.post(
        f"{cp.api}/__admin/mappings",
        json={"id": good, "request": {"url": "/i"}, "response": {"body": "x"}},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def test_save_writes_every_mapping_or_none(wm_server: tuple[ThreadedServer, Path]) -> None:
    server, root = wm_server
    for name in ("first", "second"):
        answer = requests.post(
            f"{server.admin_url}/__admin/mappings",
            json={"id": name, "request": {"url": f"/{name}"}, "response": {"body": name}},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
    # A directory where `first.json` goes: its write fails after `second.json`'s
    # (the newest mapping comes first), which must then be taken back.
    blocker = root / "mappings" / "first.json"
    blocker.mkdir()
    answer = requests.post(f"{server.admin_url}/__admin/mappings/save", timeout=10)
    error = wiremock_error(answer, 500)
    assert error["detail"].startswith(f"cannot save the mappings to {root / 'mappings'}: ")
    assert error["detail"].endswith("(none were saved)")
    assert sorted(p.name for p in (root / "mappings").iterdir()) == ["first.json"]
    blocker.rmdir()
    answer = requests.post(f"{server.admin_url}/__admin/mappings/save", timeout=10)
    assert answer.status_code == 200, answer.text
    assert sorted(p.name for p in (root / "mappings").iterdir()) == ["first.json", "second.json"]
    # and both load again, as saved
    answer = requests.post(f"{server.admin_url}/__admin/mappings/reset", timeout=10)
    assert answer.status_code == 200, answer.text
    for name in ("first", "second"):
        assert requests.get(f"{server.mock_url}/{name}", timeout=10).text == name


# ----------------------------------------------------------------- delays


def delay_error(cp: SessionHandle, delay: dict[str, Any]) -> dict[str, Any]:
    return error_of(post_route(cp, route_with({"type": "raw", "delay": delay})), 422)


@pytest.mark.parametrize(
    ("delay", "location", "message"),
    [
        (
            {"fixed_ms": 1e30},
            "$.response.delay.fixed_ms",
            "`fixed_ms` must be >= 0 and at most 600000 ms (10 minutes), not 1e+30",
        ),
        (
            {"fixed_ms": 600000.5},
            "$.response.delay.fixed_ms",
            "`fixed_ms` must be >= 0 and at most 600000 ms (10 minutes), not 600000.5",
        ),
        (
            {"uniform_ms": [0, 600001]},
            "$.response.delay.uniform_ms[1]",
            "`uniform_ms[1]` must be >= 0 and at most 600000 ms (10 minutes), not 600001",
        ),
        (
            {"uniform_ms": [-1, 5]},
            "$.response.delay.uniform_ms[0]",
            "`uniform_ms[0]` must be >= 0 and at most 600000 ms (10 minutes), not -1",
        ),
        (
            {"lognormal": {"median_ms": 600001, "sigma": 1}},
            "$.response.delay.lognormal.median_ms",
            "`median_ms` must be >= 0 and at most 600000 ms (10 minutes), not 600001",
        ),
        (
            {"lognormal": {"median_ms": 1, "sigma": 1e300}},
            "$.response.delay.lognormal.sigma",
            "`sigma` must be >= 0 and at most 10, not 1e+300",
        ),
        (
            {"lognormal": {"median_ms": 1, "sigma": 10.5}},
            "$.response.delay.lognormal.sigma",
            "`sigma` must be >= 0 and at most 10, not 10.5",
        ),
    ],
)
def test_delay_beyond_its_bound_is_422(
    cp: SessionHandle, delay: dict[str, Any], location: str, message: str
) -> None:
    assert delay_error(cp, delay) == {
        "code": "invalid_input",
        "message": message,
        "location": location,
    }


@pytest.mark.parametrize(
    "delay",
    [
        {"fixed_ms": 600000},
        {"uniform_ms": [600000, 600000]},
        {"lognormal": {"median_ms": 600000, "sigma": 10}},
    ],
)
def test_delays_at_their_bounds_are_accepted(cp: SessionHandle, delay: dict[str, Any]) -> None:
    answer = post_route(cp, route_with({"type": "raw", "delay": delay}))
    assert answer.status_code == 201, answer.text


def test_every_place_a_delay_goes_is_bounded(cp: SessionHandle) -> None:
    long = {"fixed_ms": 600001}
    sequence = {"type": "sequence", "responses": [{"type": "raw", "delay": long}]}
    assert error_of(post_route(cp, route_with(sequence)), 422)["location"] == (
        "$.response.responses[0].delay.fixed_ms"
    )
    outer = {"type": "sequence", "responses": [{"type": "raw"}], "delay": long}
    assert error_of(post_route(cp, route_with(outer)), 422)["location"] == (
        "$.response.delay.fixed_ms"
    )
    fault = {"type": "fault", "fault": "disconnect", "delay": long}
    assert error_of(post_route(cp, route_with(fault)), 422)["location"] == (
        "$.response.delay.fixed_ms"
    )
    settings = requests.put(f"{cp.api}/settings", json={"delay": long}, timeout=10)
    assert error_of(settings, 422)["location"] == "$.delay.fixed_ms"
    dribble = {"type": "raw", "body": "x", "chunked_dribble": {"chunks": 2, "total_ms": 600001}}
    assert error_of(post_route(cp, route_with(dribble)), 422) == {
        "code": "invalid_input",
        "message": "`total_ms` must be >= 0 and at most 600000 ms (10 minutes), not 600001",
        "location": "$.response.chunked_dribble.total_ms",
    }


def test_lognormal_samples_never_overflow_and_stop_at_the_cap() -> None:
    sample = compile_delay(
        wire.Delay(lognormal=wire.LognormalDelay(median_ms=wire.MAX_DELAY_MS, sigma=wire.MAX_SIGMA))
    )
    samples = [sample() for _ in range(2000)]
    assert max(samples) == wire.MAX_DELAY_MS  # half of them are above the median: cut
    assert min(samples) >= 0


@pytest.mark.parametrize(
    ("response", "pointer", "message"),
    [
        (
            {"fixedDelayMilliseconds": 1e30},
            "/response/fixedDelayMilliseconds",
            "`fixed_ms` must be >= 0 and at most 600000 ms (10 minutes), not 1e+30",
        ),
        (
            {"delayDistribution": {"type": "lognormal", "median": 10, "sigma": 1e300}},
            "/response/delayDistribution/sigma",
            "`sigma` must be >= 0 and at most 10, not 1e+300",
        ),
        (
            {"delayDistribution": {"type": "lognormal", "median": 1e9, "sigma": 1}},
            "/response/delayDistribution/median",
            "`median_ms` must be >= 0 and at most 600000 ms (10 minutes), not 1000000000",
        ),
        (
            {"delayDistribution": {"type": "uniform", "lower": 1, "upper": 1e9}},
            "/response/delayDistribution/upper",
            "`uniform_ms[1]` must be >= 0 and at most 600000 ms (10 minutes), not 1000000000",
        ),
        (
            {"delayDistribution": {"type": "fixed", "milliseconds": 1e9}},
            "/response/delayDistribution/milliseconds",
            "`fixed_ms` must be >= 0 and at most 600000 ms (10 minutes), not 1000000000",
        ),
        (
            {"chunkedDribbleDelay": {"numberOfChunks": 2, "totalDuration": 1e9}},
            "/response/chunkedDribbleDelay/totalDuration",
            "`total_ms` must be >= 0 and at most 600000 ms (10 minutes), not 1000000000",
        ),
    ],
)
def test_wiremock_delays_beyond_the_cap_are_422_at_their_pointer(
    cp: SessionHandle, response: dict[str, Any], pointer: str, message: str
) -> None:
    answer = requests.post(
        f"{cp.api}/__admin/mappings",
        json={"request": {"url": "/slow"}, "response": {"body": "x", **response}},
        timeout=10,
    )
    error = wiremock_error(answer, 422)
    assert (error["source"]["pointer"], error["detail"]) == (pointer, message)


def test_wiremock_global_fixed_delay_beyond_the_cap_is_422(cp: SessionHandle) -> None:
    answer = requests.post(f"{cp.api}/__admin/settings", json={"fixedDelay": 1e9}, timeout=10)
    error = wiremock_error(answer, 422)
    assert error["source"] == {"pointer": "/fixedDelay"}


# ----------------------------------------------------------------- session ids

SESSION_RULE = "`id` takes 1-64 of A-Z a-z 0-9 _ . -, not starting with '.', not {!r}"


@pytest.mark.parametrize("bad", [".", "..", ".hidden", "", "a/b", "a b", "x" * 65])
def test_session_id_that_a_url_cannot_carry_is_422(cp_server: ThreadedServer, bad: str) -> None:
    answer = requests.post(f"{cp_server.admin_url}/api/sessions", json={"id": bad}, timeout=10)
    assert error_of(answer, 422) == {
        "code": "invalid_input",
        "message": SESSION_RULE.format(bad),
        "location": "$.id",
    }


@pytest.mark.parametrize("good", ["a.b", "-x", "_", "Z9", "y" * 64])
def test_safe_session_ids_are_accepted_and_reached_by_their_mock_url(
    cp_server: ThreadedServer, good: str
) -> None:
    answer = requests.post(f"{cp_server.admin_url}/api/sessions", json={"id": good}, timeout=10)
    assert answer.status_code == 201, answer.text
    session = answer.json()
    try:
        route = {"method": "GET", "path": "/who", "handler": "who"}
        route["response"] = {"type": "raw", "body": good}  # type: ignore[assignment]
        created = requests.post(f"{session['admin_url']}/routes", json=route, timeout=10)
        assert created.status_code == 201, created.text
        assert requests.get(f"{session['mock_url']}/who", timeout=10).text == good
    finally:
        requests.delete(session["admin_url"], timeout=10)


def test_measuring_depth_never_backtracks(cp: SessionHandle) -> None:
    # Escaped quotes with no string to close: a naive string pattern retries from every
    # quote to the end (minutes for this body); the answer must come at once.
    body = b"[" * (MAX_DEPTH + 1) + b'\\"' * 100_000
    answer = requests.post(f"{cp.api}/routes", data=body, timeout=5)
    assert error_of(answer, 400)["message"] == f"the request body {TOO_DEEP}"
