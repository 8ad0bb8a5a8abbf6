"""`POST .../handlers/{name}/verify`: counts the calls that match its predicates.

As in WireMock and MockServer, `times`/`at_least`/`at_most` apply to the calls that
match `headers`/`query`/`json`/`body`, not to all calls of the handler.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests

from tests.conftest import SessionHandle


def verify(cp: SessionHandle, handler: str, body: Any) -> requests.Response:
    return requests.post(f"{cp.api}/handlers/{handler}/verify", json=body, timeout=10)


def holds(cp: SessionHandle, body: dict[str, Any], handler: str = "h") -> bool:
    answer = verify(cp, handler, body)
    assert answer.status_code in (200, 409), answer.text
    assert answer.json()["ok"] is (answer.status_code == 200)
    return answer.status_code == 200


@pytest.fixture
def called_twice(cp: SessionHandle) -> SessionHandle:
    cp.add_route(method="*", path="/h", handler="h", response={"type": "json"})
    for _ in range(2):
        requests.get(f"{cp.mock_url}/h", timeout=10)
    return cp


# ----------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"times": 2}, True),
        ({"times": 1}, False),
        ({"times": 3}, False),
        ({"times": 0}, False),
        ({"at_least": 2}, True),
        ({"at_least": 1}, True),
        ({"at_least": 3}, False),
        ({"at_most": 2}, True),
        ({"at_most": 5}, True),
        ({"at_most": 1}, False),
        ({"at_least": 1, "at_most": 2}, True),
        ({"at_least": 3, "at_most": 9}, False),
        ({"times": 2, "at_most": 1}, False),
        ({"times": 2, "at_least": 2, "at_most": 2}, True),
        ({}, True),
    ],
    ids=str,
)
def test_count_rules(called_twice: SessionHandle, body: dict[str, Any], ok: bool) -> None:
    assert holds(called_twice, body) is ok


def test_no_count_means_at_least_once(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/h", handler="h", response={"type": "json"})
    never = verify(cp, "h", {})
    assert never.status_code == 409
    assert never.json()["count"] == 0
    assert "at least once" in never.json()["message"]
    requests.get(f"{cp.mock_url}/h", timeout=10)
    assert verify(cp, "h", {}).json() == {"ok": True, "count": 1, "evicted": 0}
    # An empty body is the same as {}.
    empty = requests.post(f"{cp.api}/handlers/h/verify", timeout=10)
    assert empty.status_code == 200 and empty.json()["count"] == 1


def test_times_zero_holds_for_a_handler_never_called(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/h", handler="h")
    assert holds(cp, {"times": 0})
    assert holds(cp, {"at_most": 0})


def test_only_calls_of_the_named_handler_count(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/h", handler="h", response={"type": "json"})
    cp.add_route(method="GET", path="/other", handler="other", response={"type": "json"})
    for _ in range(3):
        requests.get(f"{cp.mock_url}/other", timeout=10)
    requests.get(f"{cp.mock_url}/h", timeout=10)
    assert verify(cp, "h", {"times": 1}).json()["count"] == 1


# ----------------------------------------------------------------- predicates


def test_headers_are_a_subset_with_case_insensitive_names(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/h", handler="h", response={"type": "json"})
    requests.get(f"{cp.mock_url}/h", headers={"X-Tenant": "a", "X-Other": "z"}, timeout=10)
    requests.get(f"{cp.mock_url}/h", headers={"X-Tenant": "b"}, timeout=10)
    assert verify(cp, "h", {"headers": {"x-tenant": "a"}}).json()["count"] == 1
    assert verify(cp, "h", {"headers": {"X-TENANT": "b"}}).json()["count"] == 1
    assert holds(cp, {"headers": {"x-tenant": "a", "x-other": "z"}, "times": 1})
    # Values are case-sensitive.
    assert not holds(cp, {"headers": {"X-Tenant": "A"}})


def test_query_repeated_param_matches_when_any_value_equals(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/h", handler="h", response={"type": "json"})
    requests.get(f"{cp.mock_url}/h?tag=a&tag=b&page=1", timeout=10)
    assert holds(cp, {"query": {"tag": "b"}, "times": 1})
    assert holds(cp, {"query": {"tag": "a", "page": "1"}, "times": 1})
    assert not holds(cp, {"query": {"tag": "c"}})
    assert not holds(cp, {"query": {"missing": "x"}})


def test_json_matches_exactly(cp: SessionHandle) -> None:
    cp.add_route(method="POST", path="/h", handler="h", response={"type": "json"})
    requests.post(f"{cp.mock_url}/h", json={"name": "Tom", "age": 3}, timeout=10)
    requests.post(f"{cp.mock_url}/h", json={"name": "Tom"}, timeout=10)
    requests.post(f"{cp.mock_url}/h", data=b"null", timeout=10)
    assert verify(cp, "h", {"json": {"name": "Tom"}}).json()["count"] == 1
    assert verify(cp, "h", {"json": {"age": 3, "name": "Tom"}}).json()["count"] == 1
    assert verify(cp, "h", {"json": None}).json()["count"] == 1
    assert not holds(cp, {"json": {"name": "tom"}})


def test_body_matches_exactly(cp: SessionHandle) -> None:
    cp.add_route(method="POST", path="/h", handler="h", response={"type": "json"})
    requests.post(f"{cp.mock_url}/h", data=b"hello world", timeout=10)
    assert holds(cp, {"body": "hello world", "times": 1})
    assert not holds(cp, {"body": "hello"})
    assert not holds(cp, {"body": "hello world "})


def test_count_applies_to_calls_matching_all_predicates(cp: SessionHandle) -> None:
    cp.add_route(method="POST", path="/h", handler="h", response={"type": "json"})
    for tenant, name in (("a", "x"), ("a", "y"), ("b", "x"), ("a", "x")):
        httpx.post(f"{cp.mock_url}/h?v=1", json={"name": name}, headers={"X-Tenant": tenant})
    answer = verify(
        cp,
        "h",
        {"headers": {"X-Tenant": "a"}, "json": {"name": "x"}, "query": {"v": "1"}, "times": 2},
    )
    assert answer.json() == {"ok": True, "count": 2, "evicted": 0}


# ----------------------------------------------------------------- the 409 message


def test_failure_message_shows_counts_and_what_differed_in_the_closest_calls(
    cp: SessionHandle,
) -> None:
    cp.add_route(method="POST", path="/users/{id}", handler="save", response={"type": "json"})
    httpx.post(f"{cp.mock_url}/users/1", json={"name": "Tom"}, headers={"X-Tenant": "a"})
    httpx.post(f"{cp.mock_url}/users/2", json={"name": "Tim"}, headers={"X-Tenant": "b"})
    answer = verify(cp, "save", {"times": 1, "headers": {"X-Tenant": "a"}, "json": {"name": "Tim"}})
    assert answer.status_code == 409
    body = answer.json()
    assert body["ok"] is False and body["count"] == 0 and body["evicted"] == 0
    message = body["message"]
    first_line = message.splitlines()[0]
    assert "expected handler 'save' to be called exactly once" in first_line
    assert '{"X-Tenant":"a"}' in first_line and '{"name":"Tim"}' in first_line
    assert "but 0 calls matched (2 calls in all)" in first_line
    assert "Closest calls that did not match:" in message
    # Each call differs in one thing, and the message says which and how.
    assert "POST /users/1" in message and "POST /users/2" in message
    assert '"Tom"' in message and "json" in message
    assert 'X-Tenant: expected equals "a", got b' in message
    assert "evicted" not in message


def test_failure_message_without_predicates_lists_latest_calls(
    called_twice: SessionHandle,
) -> None:
    message = verify(called_twice, "h", {"times": 3}).json()["message"]
    assert message.splitlines()[0] == (
        "expected handler 'h' to be called exactly 3 times, but 2 calls matched."
    )
    assert "Calls received (latest last):" in message
    assert message.count("GET /h -> 200") == 2


def test_failure_message_for_combined_counts(called_twice: SessionHandle) -> None:
    message = verify(called_twice, "h", {"at_least": 3, "at_most": 4}).json()["message"]
    assert "at least 3 times and at most 4 times" in message
    assert "2 calls matched" in message


# ----------------------------------------------------------------- errors


def test_unknown_handler_is_404(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/h", handler="h")
    answer = verify(cp, "nobody", {})
    assert answer.status_code == 404
    assert "'nobody'" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"times": "2"}, "$.times"),
        ({"times": -1}, "$.times"),
        ({"at_least": 3, "at_most": 1}, "$.at_least"),
        ({"headers": {"X-A": 1}}, '$.headers["X-A"]'),
        ({"query": {"q": ["a", "b"]}}, "$.query.q"),
        ({"count": 1}, "$.count"),
        ([], "$"),
    ],
    ids=str,
)
def test_bad_verify_body_is_422(cp: SessionHandle, body: Any, location: str) -> None:
    cp.add_route(method="GET", path="/h", handler="h")
    answer = verify(cp, "h", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["location"] == location


def test_malformed_verify_body_is_400(cp: SessionHandle) -> None:
    cp.add_route(method="GET", path="/h", handler="h")
    answer = requests.post(f"{cp.api}/handlers/h/verify", data=b"{times: 1}", timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"
