"""Journal memory: equal requests share one record, and every reader still sees each
entry whole (its own seq, id and time, its body, headers and path parameters)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import requests

from controlplane.journal import _SHARED_LIMIT, Journal, JournalEntry
from controlplane.matching.paths import compile_path
from tests.conftest import SessionHandle


def _record(journal: Journal, **changes: Any) -> JournalEntry:
    fields: dict[str, Any] = {
        "method": "GET",
        "path": "/hello",
        "query_string": "",
        "raw_headers": ((b"Host", b"127.0.0.1:8080"),),
        "body": b"",
        "route_id": "r1",
        "handler": "hello",
        "path_params": {},
        "status": 200,
        "response_type": "json",
        "delay_ms": 0.0,
        "error": None,
    }
    fields.update(changes)
    return journal.record(**fields)


def test_equal_requests_with_equal_answers_share_one_record() -> None:
    journal = Journal("s", 10)
    # Fresh objects each time, as aiohttp parses them per request.
    first = _record(journal, raw_headers=((b"Host", b"127.0.0.1:" + str(8080).encode()),))
    second = _record(journal, path="".join(["/hel", "lo"]), body=b"x"[:0])
    assert first.request is second.request
    assert (first.seq, second.seq) == (1, 2)
    assert [entry.request for entry in journal] == [first.request, first.request]


def test_a_difference_in_request_or_answer_gets_its_own_record() -> None:
    journal = Journal("s", 20)
    base = _record(journal)
    changed = [
        _record(journal, method="POST"),
        _record(journal, path="/other"),
        _record(journal, query_string="a=1"),
        _record(journal, raw_headers=((b"Host", b"127.0.0.1:8081"),)),
        _record(journal, body=b"{}"),
        _record(journal, route_id="r2"),
        _record(journal, handler="other"),
        _record(journal, status=201),
        _record(journal, response_type="raw"),
        _record(journal, delay_ms=5.0),
        _record(journal, error="sequence_exhausted"),
    ]
    assert all(entry.request is not base.request for entry in changed)
    assert len({id(entry.request) for entry in changed}) == len(changed)


def test_per_request_parts_are_never_shared() -> None:
    journal = Journal("s", 20, body_limit=300)
    long_body = b"b" * 257
    for changes in (
        {"near_misses": [], "route_id": None, "handler": None, "status": 404},
        {"body": long_body},
    ):
        first, second = _record(journal, **changes), _record(journal, **changes)
        assert first.request is not second.request
    [*_, misses, _, body, _] = journal
    assert misses.unanswered and misses.near_misses == []
    assert (body.body, body.body_size, body.body_truncated) == (long_body, 257, False)


def test_a_body_of_256_bytes_is_shared_and_one_more_is_not() -> None:
    journal = Journal("s", 20, body_limit=300)
    for size, shared in ((256, True), (257, False)):
        body = b"b" * size
        first, second = _record(journal, body=body), _record(journal, body=bytes(bytearray(body)))
        assert (first.request is second.request) is shared


def test_path_parameters_are_shared_only_with_the_same_parameters() -> None:
    journal = Journal("s", 20)
    # The same route id and path with other parameters: a route replaced under its id.
    sent = [{"id": "1"}, {"id": "1"}, {"id": "2"}, {"name": "1"}, {}, {}]
    # Fresh dicts each time, as the route's pattern builds them per request.
    entries = [_record(journal, path_params=dict(params)) for params in sent]
    records = [entry.request for entry in entries]
    assert records[1] is records[0] and records[5] is records[4]
    assert len({id(record) for record in records}) == 4
    assert [entry.path_params for entry in journal] == sent


def test_a_record_with_path_parameters_is_shared_only_with_its_routes_next_request() -> None:
    journal = Journal("s", 20)
    sent = [("/items/1", "1"), ("/items/2", "2"), ("/items/1", "1"), ("/items/1", "1")]
    entries = [_record(journal, path=path, path_params={"id": id_}) for path, id_ in sent]
    records = [entry.request for entry in entries]
    # Not kept by value (a new id each request would fill the table): only the last.
    assert records[2] is not records[0]
    assert records[3] is records[2]
    assert [(entry.path, entry.path_params) for entry in journal] == [
        (path, {"id": id_}) for path, id_ in sent
    ]


def test_a_template_hit_shares_its_routes_record_on_every_path() -> None:
    journal = Journal("s", 20)
    pattern = compile_path("/items/{id}", None)
    # Fresh strings each time, as aiohttp parses them per request.
    ids = ["1", "2", "2", "1", "3"]
    entries = [
        _record(journal, path=f"/items/{id_}", path_params={"id": id_}, pattern=pattern)
        for id_ in ids
    ]
    record = entries[0].request
    assert all(entry.request is record for entry in entries)
    assert (record.path, record.path_params, record.pattern) == ("/items/1", {}, pattern)
    # Only a path other than the record's is kept per entry.
    assert [entry.own_path for entry in entries] == [None, "/items/2", "/items/2", None, "/items/3"]
    expected = [(f"/items/{id_}", {"id": id_}) for id_ in ids]
    assert [(entry.path, entry.path_params) for entry in journal] == expected
    assert [(entry.path, entry.path_params) for entry in reversed(journal)] == expected[::-1]
    assert [journal._entries[i].path for i in range(len(ids))] == [path for path, _ in expected]
    assert [entry.view.path for entry in journal] == [path for path, _ in expected]


def test_a_template_hit_gets_its_own_record_when_anything_else_differs() -> None:
    journal = Journal("s", 20)
    pattern = compile_path("/items/{id}", None)
    first = _record(journal, path="/items/1", path_params={"id": "1"}, pattern=pattern)
    # The route replaced under its id: another pattern, its params named otherwise.
    renamed = compile_path("/items/{key}", None)
    others = [
        _record(journal, path="/items/2", path_params={"key": "2"}, pattern=renamed),
        _record(journal, path="/items/3", path_params={"key": "3"}, pattern=renamed, status=201),
        # A route without params (or a pattern without any) keeps the path in its key.
        _record(journal, path="/items/4", pattern=compile_path("/items/4", None)),
        _record(journal, path="/items/5", pattern=compile_path("/items/4", None)),
    ]
    assert len({id(entry.request) for entry in [first, *others]}) == 5
    assert [entry.own_path for entry in others] == [None] * 4
    assert [(entry.path, entry.path_params, entry.status) for entry in journal] == [
        ("/items/1", {"id": "1"}, 200),
        ("/items/2", {"key": "2"}, 200),
        ("/items/3", {"key": "3"}, 201),
        ("/items/4", {}, 200),
        ("/items/5", {}, 200),
    ]


def test_entries_keep_their_own_paths_through_growth_wraps_removal_and_clearing() -> None:
    journal = Journal("s", 40)
    pattern = compile_path("/t/{id}", None)
    for _ in range(3):  # records of their own path: no path column yet
        _record(journal, path="/plain")
    assert journal._entries.paths is None
    for n in range(60):  # the column made at the 4th entry, grown past 16 and 32, wrapped
        if n % 3:
            _record(journal, path=f"/t/{n}", path_params={"id": str(n)}, pattern=pattern)
        else:
            _record(journal, path="/plain")
    expected = [(f"/t/{n}", {"id": str(n)}) if n % 3 else ("/plain", {}) for n in range(20, 60)]
    assert [(entry.path, entry.path_params) for entry in journal] == expected
    journal.remove_where(lambda entry: entry.path.endswith(("1", "2")))
    kept = [item for item in expected if not item[0].endswith(("1", "2"))]
    assert [(entry.path, entry.path_params) for entry in journal] == kept
    copy = Journal("s", 40)
    for entry in journal:
        copy.append(entry)
    assert [(entry.path, entry.path_params) for entry in copy] == kept
    journal.clear()
    assert journal._entries.paths is None
    _record(journal, path="/t/9", path_params={"id": "9"}, pattern=pattern)
    assert [(entry.path, entry.path_params) for entry in journal] == [("/t/9", {"id": "9"})]


def test_a_template_routes_entries_read_as_their_own_requests_over_the_wire(
    cp: SessionHandle,
) -> None:
    cp.add_route(method="GET", path="/items/{id}", handler="item", response={"type": "json"})
    ids = ["1", "2", "3", "2"]
    for id_ in ids:
        requests.get(f"{cp.mock_url}/items/{id_}", timeout=10)
    listed = requests.get(f"{cp.api}/requests", timeout=10).json()["requests"]
    assert [(e["path"], e["path_params"]) for e in listed] == [
        (f"/items/{id_}", {"id": id_}) for id_ in ids
    ]
    assert [e["path_params"] for e in cp.calls("item")] == [{"id": id_} for id_ in ids]
    by_path = requests.get(f"{cp.api}/requests", params={"path": "/items/2"}, timeout=10)
    assert [e["seq"] for e in by_path.json()["requests"]] == [listed[1]["seq"], listed[3]["seq"]]
    newest = requests.get(f"{cp.api}/requests", params={"limit": 2}, timeout=10).json()
    assert [e["path"] for e in newest["requests"]] == ["/items/3", "/items/2"]
    admin = cp.api + "/__admin"
    events = requests.get(f"{admin}/requests", timeout=10).json()["requests"]
    assert [e["request"]["url"] for e in events] == [f"/items/{id_}" for id_ in reversed(ids)]
    by_param: dict[str, object] = {"method": "GET", "urlPathTemplate": "/items/{id}"}
    by_param["pathParameters"] = {"id": {"equalTo": "2"}}
    count = requests.post(f"{admin}/requests/count", json=by_param, timeout=10)
    assert count.json()["count"] == 2
    removed = requests.post(f"{admin}/requests/remove", json={"url": "/items/1"}, timeout=10)
    assert [e["request"]["url"] for e in removed.json()["serveEvents"]] == ["/items/1"]
    left = requests.get(f"{cp.api}/requests", timeout=10).json()["requests"]
    assert [(e["path"], e["path_params"]) for e in left] == [
        (f"/items/{id_}", {"id": id_}) for id_ in ids[1:]
    ]


def _fresh_headers(host: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """A header tuple of new objects, as aiohttp parses one per request."""
    return tuple([(bytes(bytearray(b"Host")), bytes(bytearray(host)))])


def test_records_of_their_own_keep_one_header_tuple_while_the_headers_repeat() -> None:
    journal = Journal("s", 20)
    hosts = [b"a:1", b"a:1", b"b:2", b"b:2", b"a:1"]
    # A new id each request: no record can be shared, the header tuple can.
    entries = [
        _record(
            journal,
            path=f"/items/{i}",
            path_params={"id": str(i)},
            raw_headers=_fresh_headers(host),
        )
        for i, host in enumerate(hosts)
    ]
    held = [entry.raw_headers for entry in entries]
    assert held[1] is held[0] and held[3] is held[2]
    assert held[2] is not held[0] and held[4] is not held[0]
    assert [entry.raw_headers for entry in journal] == [((b"Host", host),) for host in hosts]
    assert [entry.view.headers["Host"] for entry in journal] == [h.decode() for h in hosts]


def test_a_body_cut_to_the_limit_is_shared_only_with_the_same_whole_length() -> None:
    journal = Journal("s", 10, body_limit=2)
    cut = _record(journal, body=b"abc")
    whole = _record(journal, body=b"ab")
    assert cut.request is not whole.request
    assert (cut.body, cut.body_size, cut.body_truncated) == (b"ab", 3, True)
    assert (whole.body, whole.body_size, whole.body_truncated) == (b"ab", 2, False)


def test_entry_time_is_the_recording_time_to_the_microsecond() -> None:
    journal = Journal("s", 10)
    before = time.time()
    entry = _record(journal)
    after = time.time()
    assert before - 1e-6 <= entry.time <= after
    assert entry.time == round(entry.time, 6)
    assert next(iter(journal)) == entry


def test_identical_requests_list_as_separate_entries(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/same", handler="same", response={"type": "json"})
    for _ in range(3):
        requests.get(f"{cp.mock_url}/same", headers={"X-N": "1"}, timeout=10)
    requests.get(f"{cp.mock_url}/same", headers={"X-N": "2"}, timeout=10)
    answer = requests.get(f"{cp.api}/requests", timeout=10)
    entries = answer.json()["requests"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert len({e["id"] for e in entries}) == 4
    times = [datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ") for e in entries]
    assert times == sorted(times)
    assert all(t.replace(tzinfo=UTC) <= datetime.now(UTC) for t in times)
    assert [dict(e["headers"])["X-N"] for e in entries] == ["1", "1", "1", "2"]
    newest = requests.get(f"{cp.api}/requests?limit=1", timeout=10).json()["requests"]
    assert [e["seq"] for e in newest] == [4]
    after = requests.get(f"{cp.api}/requests?after=2", timeout=10).json()["requests"]
    assert [e["seq"] for e in after] == [3, 4]


def test_the_shared_records_are_forgotten_when_too_many_differ() -> None:
    journal = Journal("s", 2 * _SHARED_LIMIT)
    first = _record(journal, path="/p0")
    again = _record(journal, path="/p0")
    for n in range(1, _SHARED_LIMIT + 1):
        _record(journal, path=f"/p{n}")
    later = _record(journal, path="/p0")
    assert again.request is first.request
    assert later.request is not first.request
    assert later.request == first.request


def test_requests_alternating_between_routes_and_bodies_share_by_value() -> None:
    journal = Journal("s", 20)
    sent = [
        {"route_id": "r1", "body": b"a"},
        {"route_id": "r2", "body": b"a"},
        {"route_id": "r1", "body": b"b"},
        {"route_id": "r1", "body": b"a"},
        {"route_id": "r2", "body": b"a"},
        {"route_id": "r1", "body": b"b"},
        {"route_id": None, "handler": None, "status": 404, "body": b"a"},
        {"route_id": None, "handler": None, "status": 404, "body": b"a"},
    ]
    # Fresh objects each time, as aiohttp parses them per request.
    entries = [
        _record(journal, **{**changes, "body": bytes(bytearray(changes["body"]))})
        for changes in sent
    ]
    records = [entry.request for entry in entries]
    assert records[3] is records[0] and records[4] is records[1] and records[5] is records[2]
    assert records[7] is records[6]
    assert len({id(record) for record in records}) == 4
    assert [(e.route_id, e.body, e.status) for e in journal] == [
        (changes["route_id"], changes["body"], changes.get("status", 200)) for changes in sent
    ]
